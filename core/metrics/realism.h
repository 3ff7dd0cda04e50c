#pragma once
// The realism measure (issue 19, item 1): is each objective metric of a generated set inside the band that
// real data of the same genre spans at the same sample count N? Default objective of hyperparameter sweeps
// ("eval.realism.score", smaller is better). Torch-free, pure computation: samples come in through a
// caller-supplied reader, nothing here touches files.
//
// THE METRIC VECTOR. Candidates, in this order, with the keys of MetricsReport::ToJson (metrics.h defines
// each quantity precisely):
//   per track t (name = MetricsOptions::track_names[t], "track<t>" when none):
//     "<t>.empty_bars"                       EB
//     "<t>.used_pitch_classes_true_pc"       UPC over TRUE pitch classes (for the drum track this counts
//                                            drum-instrument pitch classes: not a musical measure, but a
//                                            distribution statistic all the same)
//     "<t>.qualified_notes_ge_32nd_paper"    the paper's QN (always 1.0 at 4 steps per beat)
//     "<t>.qualified_notes_ge_8th_standin"   QN stand-in: notes >= an 8th
//   the drum track only:
//     "<t>.drum_onsets_on_16th_paper"        the paper's DP (always 1.0 at 4 steps per beat)
//     "<t>.drum_onsets_on_8th_standin"       DP stand-in: drum onsets on 8th positions
//   per tonal pair p (label = MetricsOptions::tonal_pair_labels[p]):
//     "<p>.tonal_distance_true_pc"           TD
// A candidate is CONSTANT AT THE GRID, and left out of the vector (listed in the report, never scored), when
// both (a) every one of the R real draws gives the same value (a zero-width band, no draw NaN) and (b) it
// gives that same value on every probe set where it is defined, and is defined on at least one: five fixed
// sets of 8 synthetic rolls (all-empty, and cells on at random with probability 0.002, 0.02, 0.2 and 0.6,
// from a fixed seed, so the vector never depends on RealismOptions::seed). (b)
// tells a metric that cannot vary at this grid (the paper's QN and DP at 4 steps per beat: every note is
// >= a 32nd, every step is on the 16th grid) from one that merely does not vary in this genre's data (e.g.
// EB = 0 when the packer kept only bars where every track plays): the latter stays in the vector with a
// zero-width band, so a generator that breaks it is caught. For LPD-5 at 4 steps per beat the vector holds
// 5 EB + 5 UPC + 5 QN>=8th + 1 DP 8th + 6 TD = 22 metrics.
//
// THE BAND (RealismReference::Build). The pool is the genre's real TRAINING samples (at most
// RealismOptions::max_pool of them, chosen at random when there are more). Each sample's additive sums
// (MetricSums) are computed once; a draw only adds N of them and forms the ratios, so R draws cost R x N
// additions, not R x N metric passes. A draw takes N samples WITHOUT replacement when the pool holds at least
// 20 N samples (the finite-pool correction then narrows the band by under 3 %), and WITH replacement (a
// bootstrap of the pool) otherwise, where drawing without would understate the spread of a fresh set of N.
// Per metric the band is the 2.5 %, 50 % and 97.5 % quantiles of the draws' finite values (linear
// interpolation between order statistics: q(p) = x[floor(h)] + (h - floor(h)) (x[floor(h)+1] - x[floor(h)])
// with h = (k - 1) p over the k sorted values, numpy's default); draws where the metric is NaN (e.g. UPC of a
// track silent in all N samples) are counted apart (nan_draws).
// Randomness: one std::mt19937_64 seeded with RealismOptions::seed (fully specified by the standard), our
// own rejection-sampled uniform index and partial Fisher-Yates (std::shuffle and the std distributions are
// implementation-defined), consumed in a fixed order (pool choice per pool, then draw after draw, pool after
// pool): the same inputs and seed give bit-identical bands with any standard library.
//
// SCORING (RealismReference::Score). For each metric of the vector, with value v of the scored set:
//   * finite v, band with finite draws: OUTSIDE when v < low - eps or v > high + eps (eps = kRealismEpsilon,
//     so a value on a zero-width band is inside and one off it is outside); distance =
//     min(kRealismDistanceCap, |v - median| / max((high - low) / 2, eps)): the distance to the real median
//     in band half-widths (a value at a band edge is near 1; the median need not be centred, so distance > 1
//     and outside are not the same test).
//   * v NaN (the scored set leaves the metric undefined, e.g. UPC of a track empty in every bar): inside
//     with distance 0 when at least 2.5 % of the real draws were NaN too (real sets of N do that as often),
//     otherwise OUTSIDE at distance kRealismDistanceCap.
//   * finite v but every real draw NaN: OUTSIDE at distance kRealismDistanceCap.
// Distances are capped so that one wild metric cannot dominate the mean. The result: the count outside
// (lower is better), the number of metrics, and the continuous score = the mean distance (lower is better;
// a searcher minimises it).
//
// THE BAR A PERFECT GENERATOR WOULD MEET (RealismReference::ScoreHeldOut): the same count and score for N
// held-out real samples chosen at random (seeded by the reference's seed), or all of them, with a note, when
// the held-out split has fewer than N (a smaller set is noisier, so that bar is harder than it should be).
// Read it as what real music of OTHER SONGS scores, not as "5 % outside": packs hold out whole songs and a
// song's samples are alike, so a held-out set is a sample of few songs and sits further from the training
// distribution than N independent samples do. Measured on real rock (shared/lpd5-real: 1,724 training samples
// of 327 songs, 223 held-out of 36): at N = 256 the held-out bar is 5-7 of 22 metrics outside, score ~0.8
// (realism seeds 0-4), while random subsets of the training split score ~1-2 of 22, ~0.45. A generator's
// samples are independent draws, so the band is the right yardstick for them.
//
// Thread-safety: a built RealismReference is immutable; its const methods may run concurrently. The
// SampleReader callbacks are called from the calling thread only.

#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/status.h"
#include "core/metrics/metrics.h"

namespace tutti {

// Tolerance of the outside test and floor of a band's half-width (metrics are O(1): shares, 0-12 pitch
// classes, tonal distances below 3).
inline constexpr double kRealismEpsilon = 1e-9;
// Largest distance one metric contributes (a NaN or a value far off its band).
inline constexpr double kRealismDistanceCap = 10.0;
// The minimum number of draws for a band worth trusting at the 2.5 / 97.5 % quantiles.
inline constexpr int kRealismRecommendedDraws = 200;

// Copies sample `index` (0 <= index < the pool's size) of a pool as dense 0/1 bytes (PianorollDims cells) to
// `dense_out`. Called from the building thread only.
using SampleReader = std::function<void(int64_t index, uint8_t* dense_out)>;

// A set of real samples and how many of them each draw takes.
struct RealismPool {
  int64_t size = 0;     // samples in the pool (>= 1)
  SampleReader read;
  // Samples of this pool in each draw (>= 0). Several pools: one per genre of a conditional model's
  // evaluation set (genre g gets the count of evaluation samples i with i % genres == g); their sum is N.
  int64_t per_draw = 0;
  // Names the pool in messages and notes ("packs/rock train split").
  std::string name;
};

struct RealismOptions {
  // N, the samples of one draw, for the single-pool Build (the multi-pool Build takes the pools' per_draw).
  // Set it to the size of the sets that will be scored (eval.samples): a band is only valid at its own N.
  // 256 or more gives steady numbers (shared/lpd5.md §5).
  int64_t samples = 256;
  // R, random draws per band (>= 1). The issue asks for >= 200 (kRealismRecommendedDraws); with fewer the
  // 2.5 / 97.5 % quantiles rest on a handful of extreme draws. Cost grows linearly (R x N additions).
  int draws = kRealismRecommendedDraws;
  // Seed of the pool choice, the draws and the held-out subset.
  uint64_t seed = 0;
  // At most this many samples of each pool are summarised (chosen at random when a pool is larger). The
  // per-sample pass dominates the build cost (~tens of microseconds per sample); 16384 keeps worker
  // start-up under a second or so while the finite-pool effect on a band at N = 256 stays under 1 %.
  int64_t max_pool = 16384;
};

// One metric of the vector and its band.
struct RealismBand {
  std::string name;       // "Drums.empty_bars", "B-G.tonal_distance_true_pc" (see the file comment)
  double low = 0;         // 2.5 % quantile of the draws' finite values (NaN when none is finite)
  double median = 0;      // 50 %
  double high = 0;        // 97.5 %
  int nan_draws = 0;      // draws where the metric was NaN
  int draws = 0;
};

// One metric of a scored set.
struct RealismMetricResult {
  std::string name;
  double value = 0;       // the scored set's value (NaN when undefined)
  double low = 0, median = 0, high = 0;  // the band
  bool outside = false;
  double distance = 0;    // |value - median| in band half-widths, capped (file comment)
};

// A scored set.
struct RealismResult {
  std::vector<RealismMetricResult> metrics;  // the vector's metrics, in its order
  int outside = 0;                           // metrics outside their band
  int metric_count = 0;                      // metrics.size()
  double score = 0;                          // mean distance (0 when there are no metrics)
  int64_t samples = 0;                       // samples in the scored set
  std::string note;                          // "" or e.g. the held-out split was smaller than N
};

class RealismReference {
 public:
  // Builds the bands from the pools (see the file comment). N = the sum of the pools' per_draw.
  // InvalidArgument when: no pool, a pool with size < 1, per_draw < 0 or no reader; N < 1; draws < 1;
  // max_pool < 1; or dims / metrics_options that ComputeMetrics rejects. The readers must fill exactly
  // dims' cells per call.
  static StatusOr<RealismReference> Build(const std::vector<RealismPool>& pools, const PianorollDims& dims,
                                          const MetricsOptions& metrics_options, const RealismOptions& options);
  // One pool of `pool_size` samples; N = options.samples.
  static StatusOr<RealismReference> Build(int64_t pool_size, const SampleReader& read, const PianorollDims& dims,
                                          const MetricsOptions& metrics_options, const RealismOptions& options);

  // Scores a generated (or any) set's report: `report` must come from ComputeMetrics with this reference's
  // dims and metrics options (InvalidArgument naming the mismatch otherwise: another track count, a missing
  // tonal pair). A report of another sample count than N is scored all the same, with a note.
  StatusOr<RealismResult> Score(const MetricsReport& report) const;
  // ComputeMetrics of `n` dense samples with this reference's options, then Score.
  StatusOr<RealismResult> ScoreSamples(const uint8_t* samples, int64_t n) const;
  // The bar a perfect generator would meet: scores per_draw samples of each held-out pool, chosen at random
  // without replacement (seeded by the reference's seed), or the whole pool when it holds fewer, saying so in
  // the result's note. `pools` must match Build's in number and order (per_draw is taken from Build's, the
  // given ones are ignored). FailedPrecondition naming the pool when one is empty (size 0).
  StatusOr<RealismResult> ScoreHeldOut(const std::vector<RealismPool>& pools) const;
  // One held-out pool (single-pool references).
  StatusOr<RealismResult> ScoreHeldOut(int64_t pool_size, const SampleReader& read) const;

  // The vector's metrics and their bands, in order.
  const std::vector<RealismBand>& bands() const { return bands_; }
  // Candidates left out as constant at this grid, with their (only) value: "Drums.qualified_notes_ge_32nd_paper".
  const std::vector<std::pair<std::string, double>>& constant_metrics() const { return constant_; }
  int64_t samples() const { return samples_; }          // N
  int draws() const { return draws_; }                  // R
  uint64_t seed() const { return seed_; }
  int64_t pool_total() const { return pool_total_; }    // samples in the pools
  int64_t pool_used() const { return pool_used_; }      // samples summarised (<= max_pool per pool)
  bool with_replacement() const { return with_replacement_; }  // any pool drawn with replacement
  const PianorollDims& dims() const { return dims_; }
  const MetricsOptions& metrics_options() const { return metrics_options_; }

 private:
  RealismReference() = default;

  // Constant after Build.
  PianorollDims dims_;
  MetricsOptions metrics_options_;
  std::vector<RealismBand> bands_;
  std::vector<std::pair<std::string, double>> constant_;
  std::vector<int64_t> per_draw_;  // per pool
  int64_t samples_ = 0;
  int draws_ = 0;
  uint64_t seed_ = 0;
  int64_t pool_total_ = 0;
  int64_t pool_used_ = 0;
  bool with_replacement_ = false;
};

// What people and the sweep see: a generated set's result beside the held-out bar, with the reference's
// settings. Either result may be absent (no checkpoint; no held-out samples).
struct RealismReport {
  std::optional<RealismResult> generated;
  std::optional<RealismResult> heldout;
  std::string heldout_note;  // why the bar is missing or partial ("" when neither)
  // Copied from the reference (FromReference).
  int64_t reference_samples = 0;
  int draws = 0;
  uint64_t seed = 0;
  int64_t pool_total = 0;
  int64_t pool_used = 0;
  bool with_replacement = false;
  std::vector<std::string> constant_metrics;  // "name = value"
  std::vector<RealismBand> bands;

  static RealismReport FromReference(const RealismReference& reference);

  // JSON (NaN written as null):
  //   {"score", "outside", "metrics", "samples",           the generated set (score/outside/samples null
  //                                                         when there is none; metrics = the vector's size)
  //    "heldout_score", "heldout_outside", "heldout_samples"   the bar (null / 0 when there is none)
  //    "heldout_note", "note"                               strings, only when not empty
  //    "reference": {"samples", "draws", "seed", "pool", "pool_used", "with_replacement",
  //                  "constant_metrics": ["Drums.qualified_notes_ge_32nd_paper = 1", ...]},
  //    "per_metric": [{"name", "low", "median", "high", "value", "outside", "distance",
  //                    and with heldout_per_metric "heldout_value", "heldout_outside", "heldout_distance"}],
  //    "definition": "..."}
  // FlattenMetrics turns it into "realism.score", "realism.outside", "realism.metrics",
  // "realism.heldout_score", "realism.heldout_outside", "realism.per_metric.Drums.empty_bars.distance", ...
  nlohmann::json ToJson(bool heldout_per_metric = true) const;
  // For people: a heading, one row per metric (name, generated, band [low, high], median, '*' when
  // outside, distance, and the same three for the held-out bar), the constant metrics left out, notes, and
  // Summary() as the last line.
  std::string ToTable() const;
  // "realism: 3 of 22 metrics outside the real band (held-out real: 1 of 22); score 0.84 (held-out real:
  // 0.52)"; parts about a missing set read "no generated samples" / "held-out real: none".
  std::string Summary() const;
  // The console's eval-line form: "realism 3/22 outside, score 0.84 (real 1/22, 0.52)".
  std::string ConsoleSummary() const;
};

namespace realism_internal {
// The p-quantile (0 <= p <= 1) of `sorted` (ascending, finite, non-empty) by linear interpolation
// (see the file comment).
double Quantile(const std::vector<double>& sorted, double p);
// A uniform integer in [0, n) (n >= 1) from `rng`'s raw 64-bit outputs, by rejection: no modulo bias, and
// the same sequence with every standard library (unlike std::uniform_int_distribution).
uint64_t UniformIndex(std::mt19937_64& rng, uint64_t n);
}  // namespace realism_internal

}  // namespace tutti
