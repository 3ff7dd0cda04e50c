#pragma once
// Objective metrics of the MuseGAN paper (Dong et al., AAAI 2018), computed on dense binary pianorolls,
// in the form Tutti can measure honestly at its grid (see shared/lpd5.md §5).
//
// Input: `n` samples, each a dense uint8 0/1 pianoroll of shape (tracks, steps, pitches), row-major,
// index ((track * steps) + step) * pitches + pitch; pitch index p is MIDI pitch lowest_pitch + p. Any non-zero
// byte counts as active. Steps split into bars of steps_per_bar; every bar counts once.
//
// Definitions (per track; "bars" are all bars of all samples):
//   empty_bars                      share of bars in which the track has no active cell.
//   used_pitch_classes_true_pc      mean over the track's non-empty bars of the number of distinct TRUE
//                                   pitch classes (MIDI pitch % 12) used in the bar (0-12). Computed for the
//                                   drum track too, but marked: drum "pitches" are instruments, not notes.
//   qualified_notes_ge_32nd_paper   share of notes lasting at least a 32nd note (the paper's 3 steps at 24
//                                   steps per beat). A note is a maximal run of consecutive active steps on
//                                   one pitch within a sample (a run across a bar line is one note). At 4
//                                   steps per beat every note qualifies, so this is always 1.0: reported only
//                                   for continuity with the paper.
//   qualified_notes_ge_8th_standin  share of notes lasting at least an 8th note (2 steps at 4 per beat): the
//                                   non-degenerate stand-in.
//   drum_onsets_on_16th_paper       drum track only: share of drum onsets (a cell active whose previous step
//                                   on that pitch is not) on the 16th-note grid. Always 1.0 at 4 steps per
//                                   beat.
//   drum_onsets_on_8th_standin      drum track only: share of drum onsets on 8th-note positions.
// Note ratios pool all notes (or onsets) of all samples, so each note counts once and no sample is skipped.
//   tonal_distance_true_pc          per track pair: per bar, each track's 12-bin chroma (active cells per true
//                                   pitch class, L1-normalised) is mapped to the 6-D tonal centroid of Harte,
//                                   Sandler & Gasser 2006 (circle of fifths r1 = 1, minor thirds r2 = 1,
//                                   major thirds r3 = 0.5); the Euclidean distance between the two tracks'
//                                   centroids is averaged over the bars where both tracks are non-empty.
//
// CAVEATS, read before comparing numbers:
//   * Fewer than 256 samples give noisy numbers (about 8-18 % spread at 64 samples, 5-11 % at 256); below
//     that the report only catches gross failures.
//   * The paper's code built its "chroma" from 12 bands of ADJACENT SEMITONES, not from pitch classes, so its
//     UPC and TD tables measure a different quantity. Our numbers are NOT comparable to the paper's tables.
//     Compare a generator only against held-out real samples packed by the same segment rule.
//
// All functions are pure and thread-safe.

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/status.h"

namespace tutti {

struct MetricsOptions {
  // Steps per bar (4/4 at 4 steps per beat = 16). The sample's steps must be a multiple of it.
  int steps_per_bar = 16;
  // Steps per beat (a quarter note); must divide steps_per_bar. Note lengths and onset positions are measured
  // in beats: a 32nd is ceil(steps_per_beat / 8) steps (at least 1), an 8th ceil(steps_per_beat / 2); step s
  // is on the 16th grid when 4 * s is a multiple of steps_per_beat, on an 8th position when 2 * s is.
  int steps_per_beat = 4;
  // MIDI pitch of pitch index 0 (LPD-5 samples keep MIDI 24..95). Pitch classes are (lowest_pitch + p) % 12.
  int lowest_pitch = 24;
  // Index of the drum track; -1 when there is none. Drum-pattern metrics are computed for it only.
  int drum_track = 0;
  // Track names, one per track, used in reports; empty = "track0", "track1", ...
  std::vector<std::string> track_names = {"Drums", "Piano", "Guitar", "Bass", "Strings"};
  // Track index pairs for tonal distance, with their labels. Defaults are the paper's six pairs for LPD-5
  // (Drums 0, Piano 1, Guitar 2, Bass 3, Strings 4). Pairs naming a track beyond the sample are an error.
  std::vector<std::pair<int, int>> tonal_pairs = {{3, 2}, {3, 4}, {3, 1}, {2, 4}, {2, 1}, {4, 1}};
  std::vector<std::string> tonal_pair_labels = {"B-G", "B-S", "B-P", "G-S", "G-P", "S-P"};
};

// `options` for samples of a track set other than LPD-5's (names.size() != 5): its track names, its drum track
// (-1: none) and no tonal pairs, since the paper's pairs name LPD-5's tracks. Five tracks keep the defaults.
MetricsOptions WithTracks(MetricsOptions options, const std::vector<std::string>& names, int drum_track);

// Dimensions of one sample (a small local struct, so this library does not depend on core/data).
struct PianorollDims {
  int tracks = 5;
  int steps = 64;
  int pitches = 72;
};

struct TrackMetrics {
  bool is_drum = false;
  double empty_bars = 0;             // share of bars with no note
  double used_pitch_classes = 0;     // true pitch classes per non-empty bar (NaN when every bar is empty)
  double qualified_notes = 0;        // notes >= a 32nd (paper's QN; 1.0 at 4 steps/beat; NaN when no note)
  double qualified_notes_8th = 0;    // notes >= an 8th (stand-in; NaN when no note)
  double drum_pattern = 0;           // drum onsets on the 16th grid (paper's DP; NaN unless drum track)
  double drum_pattern_8th = 0;       // drum onsets on 8th positions (stand-in; NaN unless drum track)
  int64_t bars = 0;                  // bars counted (samples x bars per sample)
  int64_t nonempty_bars = 0;
  int64_t notes = 0;                 // notes counted for the QN ratios
  int64_t drum_onsets = 0;           // onsets counted for the DP ratios (drum track only)
};

struct MetricsReport {
  std::vector<std::string> track_names;
  std::vector<TrackMetrics> tracks;
  // Label ("B-G", ...) -> mean tonal distance over bars where both tracks sound (NaN when there is none).
  std::map<std::string, double> tonal_distance;
  // Label -> number of bars the mean above is taken over.
  std::map<std::string, int64_t> tonal_distance_bars;
  int64_t samples = 0;

  // Machine-readable form. Keys carry the precise metric names used in the header comment, a "definitions"
  // object explains each, and NaN is written as null.
  nlohmann::json ToJson() const;
  // Fixed-width text table, one row per track, then the tonal distances, then the caveats.
  std::string ToTable() const;
};

// Computes the metrics of `n` samples stored contiguously at `samples` (n * tracks * steps * pitches bytes).
// InvalidArgument (naming expected vs got) when the dims or options are inconsistent: non-positive dims,
// steps not a multiple of steps_per_bar, steps_per_beat not dividing steps_per_bar, a drum track or
// tonal pair out of range, track_names or tonal_pair_labels of the wrong length, n < 0, or null data with
// n > 0. n == 0 gives a report whose ratios are NaN.
// The diversity of a set of samples (GAN-aware early stopping watches it for generator collapse): the mean
// Jaccard distance 1 - |A ∩ B| / |A ∪ B| over active cells between the binarised samples of every pair
// among the first `max_samples` (two empty samples: distance 0). Identical samples give 0; real LPD-5
// segments give about 0.9. `cells` = cells per sample; NaN when fewer than 2 samples.
double SampleDiversity(const uint8_t* samples, int64_t n, int64_t cells, int64_t max_samples = 64);

StatusOr<MetricsReport> ComputeMetrics(const uint8_t* samples, int64_t n, const PianorollDims& dims,
                                       const MetricsOptions& options = {});

// Additive statistics behind a report, for callers that aggregate many subsets of one set of samples (the
// realism reference, realism.h, sums per-sample statistics instead of re-reading samples): every ratio of
// ComputeMetrics is formed from these sums alone, and the sums of a set of samples are the sums of its
// samples' sums, so ReportFromSums(sum over a subset) is ComputeMetrics of that subset (up to the order in
// which the tonal-distance doubles are added).
struct MetricSums {
  struct Track {
    int64_t bars = 0;            // bars counted
    int64_t nonempty_bars = 0;
    int64_t pitch_classes = 0;   // distinct true pitch classes, summed over non-empty bars
    int64_t notes = 0, notes_32nd = 0, notes_8th = 0;     // notes, and those >= a 32nd / an 8th
    int64_t onsets = 0, onsets_16th = 0, onsets_8th = 0;  // drum track only: onsets, on the 16th / 8th grid
  };
  int64_t samples = 0;
  std::vector<Track> tracks;                 // one per track
  std::vector<double> tonal_distance_sum;    // per tonal pair (options order): summed over bars where both sound
  std::vector<int64_t> tonal_distance_bars;  // per tonal pair: those bars

  // Adds `other`. Precondition: both empty-initialised or of the same tracks and pairs (aborts otherwise).
  void Add(const MetricSums& other);
};

// Adds the sums of `n` samples (laid out as for ComputeMetrics) to `*sums`, which is sized on first use
// (an empty MetricSums) and must otherwise come from the same dims and options. Same argument checks and
// errors as ComputeMetrics; `sums` is unchanged on error.
Status AccumulateMetricSums(const uint8_t* samples, int64_t n, const PianorollDims& dims,
                            const MetricsOptions& options, MetricSums* sums);

// The report of the samples whose sums are `sums`. Precondition: `options` are the ones the sums were
// accumulated with (so they are valid for sums.tracks.size() tracks). An empty `sums` (no samples) gives
// NaN ratios, as ComputeMetrics with n == 0 does.
MetricsReport ReportFromSums(const MetricSums& sums, const MetricsOptions& options);

// Two reports side by side for the training bench: per track and metric, generated, real and the relative
// difference (generated - real) / |real| in percent ("n/a" where either side is NaN or only real is 0); tracks
// are matched by position and the tonal pairs by label. Notes the sample counts and the < 256 caveat.
std::string CompareTable(const MetricsReport& generated, const MetricsReport& real);

// Building blocks, exposed for tests.
namespace metrics_internal {
// The 6-D tonal centroid of a 12-bin chroma (any non-negative weights; normalised by their sum here).
// All zeros for an all-zero chroma.
std::array<double, 6> TonalCentroid(const std::array<double, 12>& chroma);
// Euclidean distance of two centroids.
double CentroidDistance(const std::array<double, 6>& a, const std::array<double, 6>& b);
// Euclidean distance of the centroids of two chromas.
double TonalDistance(const std::array<double, 12>& chroma_a, const std::array<double, 12>& chroma_b);
}  // namespace metrics_internal

}  // namespace tutti
