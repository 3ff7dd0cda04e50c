#include "core/ingest/segmenter.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"

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
std::vector<int64_t> CellsInSong(const DownsampledSong& song, const SegmentOptions& options) {
  std::vector<int64_t> counts;
  for (const Track& track : song.song->tracks) {
    int64_t count = 0;
    for (int row = 0; row < options.pitches; ++row) {
      const int pitch = options.lowest_pitch + row;
      if (pitch < 0 || pitch >= kMidiPitches) continue;
      ForEachStepInRange(song, track.pianoroll, pitch, 0, song.length, [&](int64_t) { ++count; });
    }
    counts.push_back(count);
  }
  return counts;
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
  const bool by_song = options.rule == NoteRule::kEveryTrackInSong;
  const std::vector<int64_t> song_cells = by_song ? CellsInSong(down, options) : std::vector<int64_t>();
  if (by_song) {
    result.drawn_cells.assign(static_cast<size_t>(n_draw), song_cells);
    if (!options.require.Satisfied(song_cells, options.min_cells_per_track)) {
      result.no_sample_reason = options.require.EveryTrack()
                                    ? "a track has too few notes in the song"
                                    : "the song does not have the tracks the rule requires";
      return result;
    }
  }
  const int64_t cells = options.sample_cells();
  std::vector<uint8_t> buffer(static_cast<size_t>(cells));
  for (int64_t i = 0; i < n_draw; ++i) {
    int64_t bar = candidates[static_cast<size_t>(i)];
    std::vector<int64_t> counts = RenderSegment(down, bar, options, buffer.data());
    if (!by_song) {
      const bool keep = options.require.Satisfied(counts, options.min_cells_per_track);
      result.drawn_cells.push_back(std::move(counts));
      if (!keep) continue;
    }
    result.start_bars.push_back(bar);
    result.samples.insert(result.samples.end(), buffer.begin(), buffer.end());
  }
  if (result.start_bars.empty()) {
    result.no_sample_reason = options.require.EveryTrack() ? "no segment with enough notes in every track"
                                                           : "no segment has the tracks the rule requires";
  }
  return result;
}

int64_t CountKeptSegments(const SegmentResult& result, const TrackRequirement& rule, int min_cells_per_track) {
  int64_t kept = 0;
  for (const std::vector<int64_t>& cells : result.drawn_cells) kept += rule.Satisfied(cells, min_cells_per_track);
  return kept;
}

bool TrackRequirement::Satisfied(const std::vector<int64_t>& cells_per_track, int min_cells_per_track) const {
  int there = 0;
  for (int64_t cells : cells_per_track) there += cells >= min_cells_per_track;
  if (EveryTrack()) return there == static_cast<int>(cells_per_track.size());
  if (there < at_least) return false;
  for (int t : tracks) {
    if (t < 0 || t >= static_cast<int>(cells_per_track.size()) || cells_per_track[static_cast<size_t>(t)] < min_cells_per_track) {
      return false;
    }
  }
  return true;
}

std::string TrackRequirement::Describe(const std::vector<std::string>& names, int track_count) const {
  if (EveryTrack()) return "every track";
  std::string named;
  for (int t : tracks) {
    const std::string name = t >= 0 && t < static_cast<int>(names.size()) ? names[static_cast<size_t>(t)] : std::to_string(t);
    named += (named.empty() ? "" : "+") + name;
  }
  if (at_least == 0) return named;
  const std::string count = "at least " + std::to_string(at_least) + " of " + std::to_string(track_count) + " tracks";
  return named.empty() ? count : count + " incl. " + named;
}

StatusOr<TrackRequirement> ParseTrackRequirement(const std::string& text, const std::vector<std::string>& names) {
  auto lower = [](std::string v) {
    for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return v;
  };
  std::string known;
  for (const std::string& name : names) known += (known.empty() ? "" : ", ") + lower(name);
  const auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat("--require ", text, ": ", why, " (expected all, a number of tracks 1-",
                                                   names.size(), ", or track names from ", known, ", comma-separated)"));
  };
  TrackRequirement rule;
  if (text.empty()) return bad("empty");
  if (lower(text) == "all") return rule;
  if (std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    if (text.size() > 4) return bad("too many tracks");
    const int k = std::stoi(text);
    if (k < 1 || k > static_cast<int>(names.size())) return bad("not a track count of this track set");
    // K = every track is the default rule, spelled one way only (manifests compare rules).
    if (k < static_cast<int>(names.size())) rule.at_least = k;
    return rule;
  }
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const std::string name = lower(text.substr(start, end - start));
    int index = -1;
    for (size_t t = 0; t < names.size(); ++t) {
      if (lower(names[t]) == name) index = static_cast<int>(t);
    }
    if (index < 0) return bad("no track named '" + name + "'");
    if (std::find(rule.tracks.begin(), rule.tracks.end(), index) != rule.tracks.end()) return bad("'" + name + "' twice");
    rule.tracks.push_back(index);
    start = end + 1;
  }
  std::sort(rule.tracks.begin(), rule.tracks.end());
  if (rule.tracks.size() == names.size()) rule.tracks.clear();  // every track, named one by one
  return rule;
}

}  // namespace tutti
