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

// --require: which tracks a segment needs. A song with no strings and no piano (most real MIDI songs lack one).
TEST(TrackRequirement, KeepsSegmentsByTheRuleAndStoresMissingTracksEmpty) {
  Multitrack song = DenseSong(20);
  song.tracks[1].pianoroll = SparsePianoroll{};
  song.tracks[4].pianoroll = SparsePianoroll{};
  SegmentOptions options;
  const std::vector<std::string> names = {"drums", "piano", "guitar", "bass", "strings"};
  SegmentResult every = SegmentSong(song, options, 3);
  EXPECT_TRUE(every.start_bars.empty());
  ASSERT_EQ(every.drawn_cells.size(), 5u);  // 20 bars: min(20 / 4, 8) drawn, none kept
  options.require = ParseTrackRequirement("3", names).value();
  SegmentResult three = SegmentSong(song, options, 3);
  EXPECT_EQ(three.start_bars.size(), 5u);
  // The missing tracks are stored empty, the others as they are.
  const int64_t steps = 64, pitches = 72;
  for (int t = 0; t < kLpd5Tracks; ++t) {
    const auto first = three.samples.begin() + t * steps * pitches;
    EXPECT_EQ(std::accumulate(first, first + steps * pitches, 0), t == 1 || t == 4 ? 0 : 64) << t;
  }
  options.require = ParseTrackRequirement("drums,BASS", names).value();
  EXPECT_EQ(SegmentSong(song, options, 3).start_bars.size(), 5u);
  options.require = ParseTrackRequirement("4", names).value();
  EXPECT_EQ(SegmentSong(song, options, 3).no_sample_reason, "no segment has the tracks the rule requires");
  options.require = ParseTrackRequirement("bass,strings", names).value();
  EXPECT_TRUE(SegmentSong(song, options, 3).start_bars.empty());
  // Every rule sees the same draw: the counts of one pass answer for all of them.
  EXPECT_EQ(CountKeptSegments(every, ParseTrackRequirement("3", names).value(), options.min_cells_per_track), 5);
  EXPECT_EQ(CountKeptSegments(every, TrackRequirement{}, options.min_cells_per_track), 0);
  EXPECT_EQ(CountKeptSegments(every, ParseTrackRequirement("guitar", names).value(), options.min_cells_per_track), 5);
  // The whole-song rule applies the requirement to the song's tracks.
  options.rule = NoteRule::kEveryTrackInSong;
  options.require = ParseTrackRequirement("drums,bass", names).value();
  EXPECT_EQ(SegmentSong(song, options, 3).start_bars.size(), 5u);
  options.require = TrackRequirement{};
  EXPECT_EQ(SegmentSong(song, options, 3).no_sample_reason, "a track has too few notes in the song");
}

TEST(TrackRequirement, ParsesAndDescribes) {
  const std::vector<std::string> names = {"drums", "piano", "guitar", "bass", "strings"};
  EXPECT_TRUE(ParseTrackRequirement("all", names)->EveryTrack());
  EXPECT_TRUE(ParseTrackRequirement("5", names)->EveryTrack());  // one spelling for every track
  EXPECT_TRUE(ParseTrackRequirement("drums,piano,guitar,bass,strings", names)->EveryTrack());
  EXPECT_EQ(ParseTrackRequirement("2", names)->Describe(names, 5), "at least 2 of 5 tracks");
  EXPECT_EQ(ParseTrackRequirement("bass,drums", names)->Describe(names, 5), "drums+bass");
  EXPECT_EQ(TrackRequirement{}.Describe(names, 5), "every track");
  for (const char* bad : {"", "0", "6", "tuba", "drums,drums", "drums,", "99999"}) {
    StatusOr<TrackRequirement> parsed = ParseTrackRequirement(bad, names);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(parsed.status().message().find("expected all, a number of tracks 1-5"), std::string::npos)
        << parsed.status();
  }
}

}  // namespace
}  // namespace tutti
