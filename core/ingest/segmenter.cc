#include "core/ingest/segmenter.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace tutti {

DownsampledSong Downsample(const Multitrack& song, const SegmentOptions& options) {
  DownsampledSong out;
  out.song = &song;
  out.target = options.beat_resolution;
  out.source = std::max(1, song.resolution);
  int64_t last = -1;
  for (const Track& track : song.tracks) {
    const SparsePianoroll& roll = track.pianoroll;
    for (int p = 0; p < kMidiPitches; ++p) {
      // Binarise (value > 0): the last active cell of the column decides its length.
      for (int32_t i = roll.indptr[p + 1] - 1; i >= roll.indptr[p]; --i) {
        if (roll.velocities[i] == 0) continue;
        last = std::max(last, out.Map(roll.steps[i]));
        break;
      }
    }
  }
  out.length = last + 1;
  return out;
}

namespace {

// Visits the downsampled steps in [first, end) of one track's pitch column, each distinct step once.
template <typename Visit>
void ForEachStepInRange(const DownsampledSong& song, const SparsePianoroll& roll, int pitch, int64_t first,
                        int64_t end, Visit visit) {
  const int32_t* begin = roll.steps.data() + roll.indptr[pitch];
  const int32_t* stop = roll.steps.data() + roll.indptr[pitch + 1];
  const int32_t* it = std::partition_point(begin, stop, [&](int32_t t) { return song.Map(t) < first; });
  int64_t previous = -1;
  for (; it != stop; ++it) {
    int64_t step = song.Map(*it);
    if (step >= end) break;
    if (roll.velocities[it - roll.steps.data()] == 0 || step == previous) continue;
    previous = step;
    visit(step);
  }
}

}  // namespace

std::vector<int64_t> RenderSegment(const DownsampledSong& song, int64_t start_bar, const SegmentOptions& options,
                                   uint8_t* out) {
  const int steps = options.sample_steps();
  const int64_t first_step = start_bar * options.steps_per_bar;
  std::fill(out, out + options.sample_cells(), uint8_t{0});
  const size_t tracks = std::min<size_t>(song.song->tracks.size(), static_cast<size_t>(options.tracks));
  std::vector<int64_t> counts(tracks, 0);
  for (size_t t = 0; t < tracks; ++t) {
    const SparsePianoroll& roll = song.song->tracks[t].pianoroll;
    uint8_t* track_out = out + static_cast<int64_t>(t) * steps * options.pitches;
    for (int row = 0; row < options.pitches; ++row) {
      const int pitch = options.lowest_pitch + row;
      if (pitch < 0 || pitch >= kMidiPitches) continue;
      ForEachStepInRange(song, roll, pitch, first_step, first_step + steps, [&](int64_t step) {
        track_out[(step - first_step) * options.pitches + row] = 1;
        ++counts[t];
      });
    }
  }
  return counts;
}

uint64_t SongSeed(uint64_t packing_seed, const std::string& song_key) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : song_key) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  // splitmix64 finaliser so nearby seeds give unrelated streams.
  uint64_t z = hash ^ (packing_seed + 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

namespace {

// Cells of each track inside the cropped pitch range over the whole song (for kEveryTrackInSong).
bool EveryTrackHasEnoughInSong(const DownsampledSong& song, const SegmentOptions& options) {
  for (const Track& track : song.song->tracks) {
    int64_t count = 0;
    for (int row = 0; row < options.pitches; ++row) {
      const int pitch = options.lowest_pitch + row;
      if (pitch < 0 || pitch >= kMidiPitches) continue;
      ForEachStepInRange(song, track.pianoroll, pitch, 0, song.length, [&](int64_t) { ++count; });
    }
    if (count < options.min_cells_per_track) return false;
  }
  return true;
}

}  // namespace

SegmentResult SegmentSong(const Multitrack& song, const SegmentOptions& options, uint64_t seed) {
  SegmentResult result;
  if (static_cast<int>(song.tracks.size()) != options.tracks) {
    result.no_sample_reason = "wrong number of tracks";
    return result;
  }
  DownsampledSong down = Downsample(song, options);
  const int64_t n_bars = down.length / options.steps_per_bar;
  const int64_t n_candidates = n_bars - options.bars_per_sample;
  if (n_candidates <= 0) {
    result.no_sample_reason = "shorter than one sample";
    return result;
  }
  const int64_t n_draw =
      std::min<int64_t>(n_bars / options.bars_per_sample, options.max_samples_per_song);
  // Draw without replacement: a partial Fisher–Yates over the candidate bars.
  std::vector<int64_t> candidates(static_cast<size_t>(n_candidates));
  std::iota(candidates.begin(), candidates.end(), 0);
  std::mt19937_64 rng(seed);
  for (int64_t i = 0; i < n_draw; ++i) {
    std::uniform_int_distribution<int64_t> pick(i, n_candidates - 1);
    std::swap(candidates[static_cast<size_t>(i)], candidates[static_cast<size_t>(pick(rng))]);
  }
  if (options.rule == NoteRule::kEveryTrackInSong && !EveryTrackHasEnoughInSong(down, options)) {
    result.no_sample_reason = "a track has too few notes in the song";
    return result;
  }
  const int64_t cells = options.sample_cells();
  std::vector<uint8_t> buffer(static_cast<size_t>(cells));
  for (int64_t i = 0; i < n_draw; ++i) {
    int64_t bar = candidates[static_cast<size_t>(i)];
    std::vector<int64_t> counts = RenderSegment(down, bar, options, buffer.data());
    if (options.rule == NoteRule::kEveryTrackInSegment &&
        *std::min_element(counts.begin(), counts.end()) < options.min_cells_per_track) {
      continue;
    }
    result.start_bars.push_back(bar);
    result.samples.insert(result.samples.end(), buffer.begin(), buffer.end());
  }
  if (result.start_bars.empty()) result.no_sample_reason = "no segment with enough notes in every track";
  return result;
}

}  // namespace tutti
