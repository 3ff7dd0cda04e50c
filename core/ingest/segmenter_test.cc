#include "core/ingest/segmenter.h"

#include <numeric>

#include "gtest/gtest.h"

namespace tutti {
namespace {

Multitrack EmptyLpd5Song() {
  Multitrack song;
  song.resolution = 24;
  for (const auto& spec : kLpd5TrackSpecs) song.tracks.push_back(Track{spec.name, spec.program, spec.is_drum, {}});
  return song;
}

TEST(Downsample, RoundsHalfToEvenLikeNumpy) {
  Multitrack song = EmptyLpd5Song();
  SparsePianorollBuilder builder;
  for (int step : {3, 9, 15, 21, 4}) builder.Set(step, 60);
  song.tracks[1].pianoroll = builder.Build(100);
  SegmentOptions options;
  DownsampledSong down = Downsample(song, options);
  // 3→0.5→0, 9→1.5→2, 15→2.5→2, 21→3.5→4, 4→0.67→1 (duplicates collapse).
  EXPECT_EQ(down.length, 5);  // last active step + 1, not the source length / 6
  std::vector<uint8_t> dense(static_cast<size_t>(options.sample_cells()));
  std::vector<int64_t> counts = RenderSegment(down, 0, options, dense.data());
  EXPECT_EQ(counts, (std::vector<int64_t>{0, 4, 0, 0, 0}));
  const uint8_t* piano = dense.data() + 64 * 72;
  for (int step : {0, 1, 2, 4}) EXPECT_EQ(piano[step * 72 + (60 - 24)], 1) << step;
  EXPECT_EQ(piano[3 * 72 + (60 - 24)], 0);
}

// A song where every track plays one pitch on every step: all segments qualify.
Multitrack DenseSong(int bars_at_24) {
  Multitrack song = EmptyLpd5Song();
  for (int t = 0; t < kLpd5Tracks; ++t) {
    SparsePianorollBuilder builder;
    builder.AddNote(40 + t, 0, bars_at_24 * 96);
    song.tracks[t].pianoroll = builder.Build(bars_at_24 * 96);
  }
  return song;
}

TEST(SegmentSong, DrawsDistinctBarAlignedSegments) {
  SegmentOptions options;
  Multitrack song = DenseSong(40);  // 40 bars → 36 candidates, draw min(10, 8) = 8
  SegmentResult result = SegmentSong(song, options, 7);
  ASSERT_EQ(result.start_bars.size(), 8u);
  std::vector<int64_t> bars = result.start_bars;
  std::sort(bars.begin(), bars.end());
  EXPECT_EQ(std::unique(bars.begin(), bars.end()), bars.end());
  for (int64_t bar : bars) EXPECT_LT(bar, 36);
  EXPECT_EQ(result.samples.size(), 8u * options.sample_cells());
  // Every track holds its pitch on all 64 steps.
  for (int t = 0; t < kLpd5Tracks; ++t) {
    int64_t sum = std::accumulate(result.samples.begin() + t * 64 * 72, result.samples.begin() + (t + 1) * 64 * 72, 0);
    EXPECT_EQ(sum, 64);
    EXPECT_EQ(result.samples[(t * 64 + 10) * 72 + (40 + t - 24)], 1);
  }
  // Same seed, same draw; another seed, (almost surely) another draw.
  EXPECT_EQ(SegmentSong(song, options, 7).start_bars, result.start_bars);
  EXPECT_NE(SegmentSong(song, options, 8).start_bars, result.start_bars);
}

TEST(SegmentSong, ShortSongsAndSparseTracksGiveReasons) {
  SegmentOptions options;
  EXPECT_EQ(SegmentSong(DenseSong(4), options, 1).no_sample_reason, "shorter than one sample");
  EXPECT_EQ(SegmentSong(DenseSong(5), options, 1).start_bars.size(), 1u);  // 5 bars: one candidate (bar 0)

  Multitrack song = DenseSong(20);
  song.tracks[4].pianoroll = SparsePianoroll{};  // LPD's empty track, stored (0, 128)
  EXPECT_EQ(SegmentSong(song, options, 1).no_sample_reason, "no segment with enough notes in every track");

  // Pitches outside 24..95 do not count towards the threshold.
  Multitrack high = DenseSong(20);
  SparsePianorollBuilder builder;
  builder.AddNote(100, 0, 20 * 96);
  high.tracks[2].pianoroll = builder.Build(20 * 96);
  EXPECT_TRUE(SegmentSong(high, options, 1).start_bars.empty());

  Multitrack four = EmptyLpd5Song();
  four.tracks.pop_back();
  EXPECT_EQ(SegmentSong(four, options, 1).no_sample_reason, "wrong number of tracks");
}

TEST(SegmentSong, WholeSongRuleLetsSparseSegmentsThrough) {
  SegmentOptions options;
  options.rule = NoteRule::kEveryTrackInSong;
  Multitrack song = DenseSong(40);
  // Strings only play in the first bar: the whole-song test passes, most segments are empty for strings.
  SparsePianorollBuilder builder;
  builder.AddNote(60, 0, 96);
  song.tracks[4].pianoroll = builder.Build(40 * 96);
  EXPECT_EQ(SegmentSong(song, options, 3).start_bars.size(), 8u);
  options.rule = NoteRule::kEveryTrackInSegment;
  EXPECT_LE(SegmentSong(song, options, 3).start_bars.size(), 1u);
}

TEST(SongSeed, DependsOnKeyAndSeed) {
  EXPECT_EQ(SongSeed(1, "abc"), SongSeed(1, "abc"));
  EXPECT_NE(SongSeed(1, "abc"), SongSeed(2, "abc"));
  EXPECT_NE(SongSeed(1, "abc"), SongSeed(1, "abd"));
}

}  // namespace
}  // namespace tutti
