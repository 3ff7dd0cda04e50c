#include "core/metrics/realism.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

namespace tutti {
namespace realism_internal {

double Quantile(const std::vector<double>& sorted, double p) {
  const double h = static_cast<double>(sorted.size() - 1) * p;
  const size_t lo = static_cast<size_t>(std::floor(h));
  if (lo + 1 >= sorted.size()) return sorted.back();
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[lo + 1] - sorted[lo]);
}

uint64_t UniformIndex(std::mt19937_64& rng, uint64_t n) {
  // (0 - n) % n = 2^64 mod n: the values in [that, 2^64) are a whole number of runs of n, so x % n is
  // uniform over them; the few below are rejected.
  const uint64_t threshold = (uint64_t{0} - n) % n;
  while (true) {
    const uint64_t x = rng();
    if (x >= threshold) return x % n;
  }
}

}  // namespace realism_internal

namespace {

using realism_internal::Quantile;
using realism_internal::UniformIndex;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kLowQuantile = 0.025, kMedianQuantile = 0.5, kHighQuantile = 0.975;
// A NaN of the scored set is inside when at least this share of the real draws is NaN too.
constexpr double kNanInsideShare = 0.025;
// Draw without replacement when a pool holds at least this many times the samples a draw takes.
constexpr int64_t kWithoutReplacementFactor = 20;
// The constancy probes: fixed, independent of RealismOptions::seed so the vector never depends on it.
constexpr uint64_t kProbeSeed = 0x7475747469ULL;  // "tutti"
constexpr int kProbeSamples = 8;
constexpr double kProbeDensities[] = {0.0, 0.002, 0.02, 0.2, 0.6};
// The held-out subset's stream, apart from the draws' (the golden-ratio constant).
constexpr uint64_t kHeldOutStream = 0x9E3779B97F4A7C15ULL;

// One candidate metric: a TrackMetrics field of one track, or a tonal pair's distance.
struct Candidate {
  std::string name;
  int track = -1;
  double TrackMetrics::*field = nullptr;  // null for a tonal pair
  std::string pair;
};

std::vector<Candidate> Candidates(int tracks, const MetricsOptions& o) {
  std::vector<Candidate> out;
  for (int t = 0; t < tracks; ++t) {
    const std::string track =
        static_cast<int>(o.track_names.size()) == tracks ? o.track_names[t] : absl::StrCat("track", t);
    auto add = [&](const char* key, double TrackMetrics::*field) {
      out.push_back(Candidate{absl::StrCat(track, ".", key), t, field, ""});
    };
    add("empty_bars", &TrackMetrics::empty_bars);
    add("used_pitch_classes_true_pc", &TrackMetrics::used_pitch_classes);
    add("qualified_notes_ge_32nd_paper", &TrackMetrics::qualified_notes);
    add("qualified_notes_ge_8th_standin", &TrackMetrics::qualified_notes_8th);
    if (t == o.drum_track) {
      add("drum_onsets_on_16th_paper", &TrackMetrics::drum_pattern);
      add("drum_onsets_on_8th_standin", &TrackMetrics::drum_pattern_8th);
    }
  }
  for (const std::string& label : o.tonal_pair_labels) {
    out.push_back(Candidate{absl::StrCat(label, ".tonal_distance_true_pc"), -1, nullptr, label});
  }
  return out;
}

double ValueOf(const Candidate& c, const MetricsReport& report) {
  if (c.field != nullptr) {
    return c.track < static_cast<int>(report.tracks.size()) ? report.tracks[c.track].*c.field : kNaN;
  }
  const auto it = report.tonal_distance.find(c.pair);
  return it == report.tonal_distance.end() ? kNaN : it->second;
}

// A uniformly random `k`-subset of [0, n) (k <= n), ascending (so pages of a mapped pack are read in
// order). Partial Fisher-Yates over the identity permutation.
std::vector<int64_t> RandomSubset(std::mt19937_64& rng, int64_t n, int64_t k) {
  std::vector<int64_t> index(static_cast<size_t>(n));
  std::iota(index.begin(), index.end(), int64_t{0});
  for (int64_t i = 0; i < k; ++i) {
    const int64_t j = i + static_cast<int64_t>(UniformIndex(rng, static_cast<uint64_t>(n - i)));
    std::swap(index[i], index[j]);
  }
  index.resize(static_cast<size_t>(k));
  std::sort(index.begin(), index.end());
  return index;
}

// The sums of each listed sample of a pool, one MetricSums per sample.
StatusOr<std::vector<MetricSums>> SumEach(const RealismPool& pool, const std::vector<int64_t>& indices,
                                          const PianorollDims& dims, const MetricsOptions& options) {
  const int64_t cells = int64_t{dims.tracks} * dims.steps * dims.pitches;
  std::vector<uint8_t> scratch(static_cast<size_t>(cells));
  std::vector<MetricSums> rows;
  rows.reserve(indices.size());
  for (int64_t index : indices) {
    pool.read(index, scratch.data());
    MetricSums sums;
    TUTTI_RETURN_IF_ERROR(AccumulateMetricSums(scratch.data(), 1, dims, options, &sums));
    rows.push_back(std::move(sums));
  }
  return rows;
}

// Scores one value against one band (the rules of the header comment).
RealismMetricResult ScoreOne(const RealismBand& band, double v) {
  RealismMetricResult m;
  m.name = band.name;
  m.value = v;
  m.low = band.low;
  m.median = band.median;
  m.high = band.high;
  const bool band_defined = std::isfinite(band.median);
  if (std::isnan(v)) {
    const bool real_nan_often = band.draws > 0 && band.nan_draws >= kNanInsideShare * band.draws;
    m.outside = !real_nan_often;
    m.distance = real_nan_often ? 0.0 : kRealismDistanceCap;
    return m;
  }
  if (!band_defined) {
    m.outside = true;
    m.distance = kRealismDistanceCap;
    return m;
  }
  m.outside = v < band.low - kRealismEpsilon || v > band.high + kRealismEpsilon;
  const double half_width = std::max((band.high - band.low) / 2.0, kRealismEpsilon);
  m.distance = std::min(kRealismDistanceCap, std::fabs(v - band.median) / half_width);
  return m;
}

}  // namespace

StatusOr<RealismReference> RealismReference::Build(int64_t pool_size, const SampleReader& read,
                                                   const PianorollDims& dims, const MetricsOptions& metrics_options,
                                                   const RealismOptions& options) {
  RealismPool pool;
  pool.size = pool_size;
  pool.read = read;
  pool.per_draw = options.samples;
  pool.name = "the pool";
  return Build(std::vector<RealismPool>{pool}, dims, metrics_options, options);
}

StatusOr<RealismReference> RealismReference::Build(const std::vector<RealismPool>& pools, const PianorollDims& dims,
                                                   const MetricsOptions& metrics_options,
                                                   const RealismOptions& options) {
  auto bad = [](const std::string& what) { return absl::InvalidArgumentError("realism reference: " + what); };
  if (pools.empty()) return bad("no pool of real samples");
  int64_t n = 0;
  for (const RealismPool& pool : pools) {
    if (pool.size < 1) return bad(absl::StrCat(pool.name, ": expected at least 1 sample, got ", pool.size));
    if (pool.per_draw < 0) return bad(absl::StrCat(pool.name, ": per_draw must be >= 0, got ", pool.per_draw));
    if (!pool.read) return bad(absl::StrCat(pool.name, ": no sample reader"));
    n += pool.per_draw;
  }
  if (n < 1) return bad(absl::StrCat("a draw must take at least 1 sample (N), got ", n));
  if (options.draws < 1) return bad(absl::StrCat("draws (R) must be >= 1, got ", options.draws));
  if (options.max_pool < 1) return bad(absl::StrCat("max_pool must be >= 1, got ", options.max_pool));
  MetricSums empty;  // also checks dims and metrics options, as ComputeMetrics would
  TUTTI_RETURN_IF_ERROR(AccumulateMetricSums(nullptr, 0, dims, metrics_options, &empty));

  RealismReference ref;
  ref.dims_ = dims;
  ref.metrics_options_ = metrics_options;
  ref.samples_ = n;
  ref.draws_ = options.draws;
  ref.seed_ = options.seed;

  // 1. Per pool: the samples summarised (all, or max_pool at random), each sample's sums once.
  std::mt19937_64 rng(options.seed);
  struct PoolRows {
    std::vector<MetricSums> rows;
    std::vector<int64_t> order;  // the partial Fisher-Yates state of draws without replacement
    bool replace = false;
    int64_t per_draw = 0;
  };
  std::vector<PoolRows> pool_rows(pools.size());
  for (size_t p = 0; p < pools.size(); ++p) {
    const RealismPool& pool = pools[p];
    std::vector<int64_t> indices;
    if (pool.size > options.max_pool) {
      indices = RandomSubset(rng, pool.size, options.max_pool);
    } else {
      indices.resize(static_cast<size_t>(pool.size));
      std::iota(indices.begin(), indices.end(), int64_t{0});
    }
    TUTTI_ASSIGN_OR_RETURN(pool_rows[p].rows, SumEach(pool, indices, dims, metrics_options));
    const int64_t m = static_cast<int64_t>(indices.size());
    pool_rows[p].order.resize(static_cast<size_t>(m));
    std::iota(pool_rows[p].order.begin(), pool_rows[p].order.end(), int64_t{0});
    pool_rows[p].per_draw = pool.per_draw;
    pool_rows[p].replace = pool.per_draw > 0 && m < kWithoutReplacementFactor * pool.per_draw;
    ref.pool_total_ += pool.size;
    ref.pool_used_ += m;
    ref.with_replacement_ = ref.with_replacement_ || pool_rows[p].replace;
    ref.per_draw_.push_back(pool.per_draw);
  }

  // 2. R draws: add N samples' sums, form the ratios, read off every candidate.
  const std::vector<Candidate> candidates = Candidates(dims.tracks, metrics_options);
  std::vector<std::vector<double>> values(candidates.size());  // [candidate][draw]
  for (std::vector<double>& v : values) v.reserve(static_cast<size_t>(options.draws));
  for (int r = 0; r < options.draws; ++r) {
    MetricSums total = empty;
    for (PoolRows& pool : pool_rows) {
      const uint64_t m = pool.rows.size();
      for (int64_t i = 0; i < pool.per_draw; ++i) {
        if (pool.replace) {
          total.Add(pool.rows[UniformIndex(rng, m)]);
        } else {
          // Partial Fisher-Yates continuing from the last draw's permutation: each prefix is a uniformly
          // random subset whatever permutation it starts from.
          const uint64_t j = static_cast<uint64_t>(i) + UniformIndex(rng, m - static_cast<uint64_t>(i));
          std::swap(pool.order[i], pool.order[j]);
          total.Add(pool.rows[pool.order[i]]);
        }
      }
    }
    const MetricsReport report = ReportFromSums(total, metrics_options);
    for (size_t c = 0; c < candidates.size(); ++c) values[c].push_back(ValueOf(candidates[c], report));
  }

  // 3. The probe sets: the same candidates on synthetic rolls, to tell "cannot vary at this grid" apart.
  std::vector<std::vector<double>> probe_values(candidates.size());
  {
    std::mt19937_64 probe_rng(kProbeSeed);
    const int64_t cells = int64_t{dims.tracks} * dims.steps * dims.pitches;
    std::vector<uint8_t> rolls(static_cast<size_t>(cells * kProbeSamples));
    for (double density : kProbeDensities) {
      for (uint8_t& cell : rolls) {
        const double u = static_cast<double>(probe_rng() >> 11) * 0x1.0p-53;  // [0, 1), 53 random bits
        cell = u < density ? 1 : 0;
      }
      TUTTI_ASSIGN_OR_RETURN(const MetricsReport report,
                             ComputeMetrics(rolls.data(), kProbeSamples, dims, metrics_options));
      for (size_t c = 0; c < candidates.size(); ++c) probe_values[c].push_back(ValueOf(candidates[c], report));
    }
  }

  // 4. Bands, and the constant candidates left out.
  for (size_t c = 0; c < candidates.size(); ++c) {
    RealismBand band;
    band.name = candidates[c].name;
    band.draws = options.draws;
    std::vector<double> finite;
    for (double v : values[c]) {
      if (std::isfinite(v)) {
        finite.push_back(v);
      } else {
        ++band.nan_draws;
      }
    }
    std::sort(finite.begin(), finite.end());
    if (finite.empty()) {
      band.low = band.median = band.high = kNaN;
    } else {
      band.low = Quantile(finite, kLowQuantile);
      band.median = Quantile(finite, kMedianQuantile);
      band.high = Quantile(finite, kHighQuantile);
    }
    bool constant = band.nan_draws == 0 && !finite.empty() && finite.back() - finite.front() <= kRealismEpsilon;
    if (constant) {
      int defined = 0;
      for (double v : probe_values[c]) {
        if (!std::isfinite(v)) continue;
        ++defined;
        if (std::fabs(v - band.median) > kRealismEpsilon) constant = false;
      }
      constant = constant && defined > 0;
    }
    if (constant) {
      ref.constant_.emplace_back(band.name, band.median);
    } else {
      ref.bands_.push_back(std::move(band));
    }
  }
  return ref;
}

StatusOr<RealismResult> RealismReference::Score(const MetricsReport& report) const {
  auto bad = [](const std::string& what) { return absl::InvalidArgumentError("realism score: " + what); };
  if (static_cast<int>(report.tracks.size()) != dims_.tracks) {
    return bad(absl::StrCat("expected a report of ", dims_.tracks, " tracks (as the reference), got ",
                            report.tracks.size()));
  }
  for (const std::string& label : metrics_options_.tonal_pair_labels) {
    if (report.tonal_distance.count(label) == 0) {
      return bad(absl::StrCat("the report has no tonal distance for pair ", label, " (the reference has)"));
    }
  }
  if (metrics_options_.drum_track >= 0 && !report.tracks[metrics_options_.drum_track].is_drum) {
    return bad(absl::StrCat("expected track ", metrics_options_.drum_track,
                            " to be the drum track (as the reference)"));
  }
  const std::vector<Candidate> candidates = Candidates(dims_.tracks, metrics_options_);
  RealismResult result;
  result.samples = report.samples;
  double total = 0;
  size_t next = 0;
  for (const RealismBand& band : bands_) {
    while (next < candidates.size() && candidates[next].name != band.name) ++next;
    const double v = next < candidates.size() ? ValueOf(candidates[next], report) : kNaN;
    RealismMetricResult m = ScoreOne(band, v);
    result.outside += m.outside ? 1 : 0;
    total += m.distance;
    result.metrics.push_back(std::move(m));
  }
  result.metric_count = static_cast<int>(result.metrics.size());
  result.score = result.metrics.empty() ? 0.0 : total / static_cast<double>(result.metrics.size());
  if (report.samples != samples_) {
    result.note = absl::StrCat(report.samples, " samples scored against bands for N = ", samples_,
                               " (a band is only exact at its own N; smaller sets spread wider)");
  }
  return result;
}

StatusOr<RealismResult> RealismReference::ScoreSamples(const uint8_t* samples, int64_t n) const {
  TUTTI_ASSIGN_OR_RETURN(const MetricsReport report, ComputeMetrics(samples, n, dims_, metrics_options_));
  return Score(report);
}

StatusOr<RealismResult> RealismReference::ScoreHeldOut(int64_t pool_size, const SampleReader& read) const {
  RealismPool pool;
  pool.size = pool_size;
  pool.read = read;
  pool.name = "the held-out split";
  return ScoreHeldOut(std::vector<RealismPool>{pool});
}

StatusOr<RealismResult> RealismReference::ScoreHeldOut(const std::vector<RealismPool>& pools) const {
  if (pools.size() != per_draw_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("realism held-out bar: expected ", per_draw_.size(),
                                                   " held-out pools (one per reference pool), got ", pools.size()));
  }
  std::mt19937_64 rng(seed_ ^ kHeldOutStream);
  MetricSums total;
  TUTTI_RETURN_IF_ERROR(AccumulateMetricSums(nullptr, 0, dims_, metrics_options_, &total));
  std::string note;
  const int64_t cells = int64_t{dims_.tracks} * dims_.steps * dims_.pitches;
  std::vector<uint8_t> scratch(static_cast<size_t>(cells));
  for (size_t p = 0; p < pools.size(); ++p) {
    const RealismPool& pool = pools[p];
    const int64_t wanted = per_draw_[p];
    if (wanted == 0) continue;
    if (pool.size < 1) {
      return absl::FailedPreconditionError(
          absl::StrCat(pool.name, ": no held-out samples, so there is no held-out bar"));
    }
    if (!pool.read) return absl::InvalidArgumentError(absl::StrCat(pool.name, ": no sample reader"));
    const int64_t take = std::min(wanted, pool.size);
    if (take < wanted) {
      note += absl::StrCat(note.empty() ? "" : "; ", "all ", pool.size, " samples of ", pool.name, " (fewer than the ",
                           wanted, " a draw takes: a smaller set spreads wider, so this bar is harder to meet)");
    }
    for (int64_t index : RandomSubset(rng, pool.size, take)) {
      pool.read(index, scratch.data());
      TUTTI_RETURN_IF_ERROR(AccumulateMetricSums(scratch.data(), 1, dims_, metrics_options_, &total));
    }
  }
  TUTTI_ASSIGN_OR_RETURN(RealismResult result, Score(ReportFromSums(total, metrics_options_)));
  if (!note.empty()) result.note = note;  // says more than the generic sample-count note
  return result;
}

}  // namespace tutti
