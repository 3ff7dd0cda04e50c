#pragma once
// Songs → training samples, the MuseGAN tutorial's recipe (../shared/lpd5.md §3):
//
//   1. Binarise (value > 0) and move every active cell at step t to round(t · target / source)
//      (numpy's round: half to even), which is what pypianoroll's Multitrack.set_resolution does — not
//      "keep every 6th step", which would drop short notes. The song's length after that is its last
//      active step + 1 over all tracks and all 128 pitches (set_resolution sizes each track that way,
//      stack() pads to the longest).
//   2. n_bars = length // steps_per_bar. Candidate starts are bars 0 … n_bars − bars_per_sample − 1;
//      pick min(n_bars // bars_per_sample, max_samples_per_song) of them at random without replacement.
//      Bars are counted every steps_per_bar steps, never from `downbeat` (LPD sets it only at step 0).
//   3. Crop pitches [lowest_pitch, lowest_pitch + pitches) and keep a segment only if every track has at
//      least min_cells_per_track active cells in it (kEveryTrackInSegment, our default), or — the
//      original project's rule — if every track has that many in the whole song (kEveryTrackInSong).
//
// Memory follows the number of active cells, never the song's length. Deterministic for a seed.

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/music/multitrack.h"

namespace tutti {

enum class NoteRule {
  kEveryTrackInSegment,  // each track of the segment has >= min_cells_per_track cells
  kEveryTrackInSong,     // the original project's test on the whole song (lets empty segments through)
};

// Which tracks a segment needs (`tutti pack --require`). A track is there when it has >= min_cells_per_track
// cells: in the segment (NoteRule::kEveryTrackInSegment) or in the whole song (kEveryTrackInSong). A track that
// is not there is stored as it is (usually empty): the rule decides which segments are kept, never their content.
//   every track (at_least = 0, no names): the tutorial's rule, kept as the default for comparability with MuseGAN;
//   at least K of the tracks (at_least = K);
//   a named set (tracks): each of these must be there, the others may be missing;
//   at_least and tracks together: both.
struct TrackRequirement {
  int at_least = 0;
  std::vector<int> tracks;  // track indices, ascending, no repeats

  bool EveryTrack() const { return at_least == 0 && tracks.empty(); }
  // Whether tracks with these cell counts meet the rule.
  bool Satisfied(const std::vector<int64_t>& cells_per_track, int min_cells_per_track) const;
  // "every track", "at least 3 of 5 tracks", "drums+bass", "at least 3 of 5 tracks incl. drums+bass", with
  // `names` per track index.
  std::string Describe(const std::vector<std::string>& names, int track_count) const;
  friend bool operator==(const TrackRequirement& a, const TrackRequirement& b) {
    return a.at_least == b.at_least && a.tracks == b.tracks;
  }
};

// Parses --require: "all" (every track), an integer K in [1, track count], or comma-separated track names
// (any case, from `names`). InvalidArgument naming the value and what was expected.
StatusOr<TrackRequirement> ParseTrackRequirement(const std::string& text, const std::vector<std::string>& names);

struct SegmentOptions {
  int beat_resolution = 4;          // target steps per beat (LPD has 24)
  int steps_per_bar = 16;           // 4/4 at 4 steps per beat
  int bars_per_sample = 4;          // a sample is 4 bars = 64 steps
  int lowest_pitch = 24;            // MIDI pitch of the sample's first row
  int pitches = 72;                 // 24..95
  int tracks = kLpd5Tracks;         // songs must have exactly this many tracks
  int max_samples_per_song = 8;     // upper bound on segments drawn per song
  int min_cells_per_track = 10;     // the note test's threshold
  NoteRule rule = NoteRule::kEveryTrackInSegment;
  TrackRequirement require;         // which tracks must be there (default: every track)

  int sample_steps() const { return steps_per_bar * bars_per_sample; }
  int64_t sample_cells() const { return int64_t{tracks} * sample_steps() * pitches; }
};

// A song after step 1, computed lazily: the song's CSC columns are sorted by time and the step mapping is
// monotonic, so a segment is found per pitch by binary search and nothing proportional to the whole song is
// built. Refers to the song it was made from, which must outlive it.
struct DownsampledSong {
  const Multitrack* song = nullptr;
  int64_t target = 1;      // target resolution (steps per beat)
  int64_t source = 1;      // the song's resolution
  int64_t length = 0;      // last active step + 1 after downsampling, over all tracks and pitches

  // round(source_step · target / source), half to even. numpy computes t · (target / source) in double
  // and rounds half to even; for the resolutions LPD and MIDI use the double product of a tie is exactly
  // k + 0.5 and of a non-tie is far from it, so exact integer arithmetic gives the same steps (the real-data
  // test checks this against numpy) at a fraction of the cost of a floating-point round per cell.
  int64_t Map(int64_t source_step) const {
    const int64_t scaled = source_step * target;
    int64_t quotient = scaled / source;
    const int64_t twice_remainder = 2 * (scaled % source);
    if (twice_remainder > source || (twice_remainder == source && (quotient & 1))) ++quotient;
    return quotient;
  }
};

// Step 1. `song.resolution` is the source resolution (24 for LPD). Cost: O(tracks · 128).
DownsampledSong Downsample(const Multitrack& song, const SegmentOptions& options);

// Writes the dense sample of bars [start_bar, start_bar + bars_per_sample) into `out`
// (sample_cells() bytes, 0/1, index ((track·steps)+step)·pitches+pitch). Returns the active-cell count
// per track.
std::vector<int64_t> RenderSegment(const DownsampledSong& song, int64_t start_bar, const SegmentOptions& options,
                                   uint8_t* out);

// Why a song gave no sample (empty = it gave some).
struct SegmentResult {
  std::vector<int64_t> start_bars;   // bars of the kept segments, in drawn order
  std::vector<uint8_t> samples;      // start_bars.size() × sample_cells() dense bytes
  std::string no_sample_reason;      // set when start_bars is empty
  // Cells per track of every drawn segment, kept or not, in drawn order (under kEveryTrackInSong: of the whole
  // song, once per drawn segment): what any other TrackRequirement would have kept (CountKeptSegments).
  std::vector<std::vector<int64_t>> drawn_cells;
};

// Segments of `result` that `rule` would keep (its drawn segments meeting the rule).
int64_t CountKeptSegments(const SegmentResult& result, const TrackRequirement& rule, int min_cells_per_track);

// Steps 1–3 for one song. `seed` should mix the packing seed with the song's identity (md5) so that the
// result does not depend on the order songs are processed in.
SegmentResult SegmentSong(const Multitrack& song, const SegmentOptions& options, uint64_t seed);

// Stable 64-bit seed for a song: FNV-1a of the md5 mixed with the packing seed.
uint64_t SongSeed(uint64_t packing_seed, const std::string& song_key);

}  // namespace tutti
