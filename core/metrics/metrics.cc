#include "core/metrics/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace tutti {
namespace metrics_internal {

// Harte, Sandler & Gasser 2006: pitch class l sits at angle l*7pi/6 on the circle of fifths, l*3pi/2 on the
// circle of minor thirds and l*2pi/3 on the circle of major thirds; the centroid is the chroma-weighted mean.
// The sines and cosines are tabulated once (the same expressions, so the same values as computing them in
// place): the metrics pass computes a centroid per track and bar, and the trigonometry dominated its cost.
std::array<double, 6> TonalCentroid(const std::array<double, 12>& chroma) {
  constexpr double kPi = 3.14159265358979323846;
  constexpr double kR1 = 1.0, kR2 = 1.0, kR3 = 0.5;
  static const std::array<std::array<double, 6>, 12> kBasis = [] {
    std::array<std::array<double, 6>, 12> basis{};
    for (int l = 0; l < 12; ++l) {
      basis[l] = {std::sin(l * 7.0 * kPi / 6.0), std::cos(l * 7.0 * kPi / 6.0), std::sin(l * 3.0 * kPi / 2.0),
                  std::cos(l * 3.0 * kPi / 2.0), std::sin(l * 2.0 * kPi / 3.0), std::cos(l * 2.0 * kPi / 3.0)};
    }
    return basis;
  }();
  std::array<double, 6> centroid{};
  double total = 0;
  for (double c : chroma) total += c;
  if (total <= 0) return centroid;
  for (int l = 0; l < 12; ++l) {
    const double w = chroma[l] / total;
    if (w == 0) continue;
    const std::array<double, 6>& e = kBasis[l];
    centroid[0] += w * kR1 * e[0];
    centroid[1] += w * kR1 * e[1];
    centroid[2] += w * kR2 * e[2];
    centroid[3] += w * kR2 * e[3];
    centroid[4] += w * kR3 * e[4];
    centroid[5] += w * kR3 * e[5];
  }
  return centroid;
}

double CentroidDistance(const std::array<double, 6>& a, const std::array<double, 6>& b) {
  double sum = 0;
  for (int d = 0; d < 6; ++d) sum += (a[d] - b[d]) * (a[d] - b[d]);
  return std::sqrt(sum);
}

double TonalDistance(const std::array<double, 12>& chroma_a, const std::array<double, 12>& chroma_b) {
  return CentroidDistance(TonalCentroid(chroma_a), TonalCentroid(chroma_b));
}

}  // namespace metrics_internal

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double Ratio(int64_t num, int64_t den) { return den > 0 ? static_cast<double>(num) / den : kNaN; }

Status CheckArguments(const uint8_t* samples, int64_t n, const PianorollDims& dims, const MetricsOptions& o) {
  auto bad = [](const std::string& what) { return absl::InvalidArgumentError("ComputeMetrics: " + what); };
  if (dims.tracks <= 0 || dims.steps <= 0 || dims.pitches <= 0) {
    return bad(absl::StrCat("dims must be positive, got (", dims.tracks, ", ", dims.steps, ", ", dims.pitches,
                            ")"));
  }
  if (n < 0) return bad(absl::StrCat("sample count must be >= 0, got ", n));
  if (n > 0 && samples == nullptr) return bad(absl::StrCat("null sample data for ", n, " samples"));
  if (o.steps_per_bar <= 0 || dims.steps % o.steps_per_bar != 0) {
    return bad(absl::StrCat("steps (", dims.steps, ") must be a positive multiple of steps_per_bar (",
                            o.steps_per_bar, ")"));
  }
  if (o.steps_per_beat <= 0 || o.steps_per_bar % o.steps_per_beat != 0) {
    return bad(absl::StrCat("steps_per_beat (", o.steps_per_beat, ") must divide steps_per_bar (",
                            o.steps_per_bar, ")"));
  }
  if (o.lowest_pitch < 0) return bad(absl::StrCat("lowest_pitch must be >= 0, got ", o.lowest_pitch));
  if (o.drum_track < -1 || o.drum_track >= dims.tracks) {
    return bad(absl::StrCat("drum_track must be -1 or in [0, ", dims.tracks, "), got ", o.drum_track));
  }
  if (!o.track_names.empty() && static_cast<int>(o.track_names.size()) != dims.tracks) {
    return bad(absl::StrCat("expected ", dims.tracks, " track names (or none), got ", o.track_names.size()));
  }
  if (o.tonal_pair_labels.size() != o.tonal_pairs.size()) {
    return bad(absl::StrCat("expected one label per tonal pair (", o.tonal_pairs.size(), "), got ",
                            o.tonal_pair_labels.size()));
  }
  for (size_t i = 0; i < o.tonal_pairs.size(); ++i) {
    const auto& [a, b] = o.tonal_pairs[i];
    if (a < 0 || a >= dims.tracks || b < 0 || b >= dims.tracks) {
      return bad(absl::StrCat("tonal pair ", o.tonal_pair_labels[i], " = (", a, ", ", b,
                              ") names a track outside [0, ", dims.tracks, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

void MetricSums::Add(const MetricSums& other) {
  if (tracks.empty() && tonal_distance_sum.empty() && samples == 0) {
    *this = other;
    return;
  }
  if (other.tracks.size() != tracks.size() || other.tonal_distance_sum.size() != tonal_distance_sum.size() ||
      other.tonal_distance_bars.size() != tonal_distance_bars.size()) {
    std::fprintf(stderr, "MetricSums::Add: sums of %zu tracks / %zu pairs added to %zu tracks / %zu pairs\n",
                 other.tracks.size(), other.tonal_distance_sum.size(), tracks.size(), tonal_distance_sum.size());
    std::abort();
  }
  samples += other.samples;
  for (size_t t = 0; t < tracks.size(); ++t) {
    Track& a = tracks[t];
    const Track& b = other.tracks[t];
    a.bars += b.bars;
    a.nonempty_bars += b.nonempty_bars;
    a.pitch_classes += b.pitch_classes;
    a.notes += b.notes;
    a.notes_32nd += b.notes_32nd;
    a.notes_8th += b.notes_8th;
    a.onsets += b.onsets;
    a.onsets_16th += b.onsets_16th;
    a.onsets_8th += b.onsets_8th;
  }
  for (size_t i = 0; i < tonal_distance_sum.size(); ++i) {
    tonal_distance_sum[i] += other.tonal_distance_sum[i];
    tonal_distance_bars[i] += other.tonal_distance_bars[i];
  }
}

Status AccumulateMetricSums(const uint8_t* samples, int64_t n, const PianorollDims& dims,
                            const MetricsOptions& options, MetricSums* out) {
  TUTTI_RETURN_IF_ERROR(CheckArguments(samples, n, dims, options));
  const int tracks = dims.tracks, steps = dims.steps, pitches = dims.pitches;
  const size_t n_pairs = options.tonal_pairs.size();
  const bool fresh = out->tracks.empty() && out->tonal_distance_sum.empty() && out->samples == 0;
  if (!fresh && (out->tracks.size() != static_cast<size_t>(tracks) || out->tonal_distance_sum.size() != n_pairs)) {
    return absl::InvalidArgumentError(absl::StrCat("AccumulateMetricSums: sums of ", out->tracks.size(),
                                                   " tracks and ", out->tonal_distance_sum.size(),
                                                   " tonal pairs cannot take samples of ", tracks, " tracks and ",
                                                   n_pairs, " pairs"));
  }
  MetricSums& sums = *out;
  if (fresh) {
    sums.tracks.assign(tracks, MetricSums::Track{});
    sums.tonal_distance_sum.assign(n_pairs, 0.0);
    sums.tonal_distance_bars.assign(n_pairs, 0);
  }
  const int bars = steps / options.steps_per_bar;
  const int spb = options.steps_per_beat;
  const int min_32nd = std::max(1, (spb + 7) / 8);
  const int min_8th = std::max(1, (spb + 1) / 2);
  const int64_t track_cells = int64_t{steps} * pitches;
  const int64_t sample_cells = track_cells * tracks;

  // Per sample: each track and bar's chroma, whether the bar is non-empty and its tonal centroid (the pairs use it).
  std::vector<std::array<double, 12>> chroma(static_cast<size_t>(tracks) * bars);
  std::vector<char> nonempty(static_cast<size_t>(tracks) * bars);
  std::vector<std::array<double, 6>> centroid(static_cast<size_t>(tracks) * bars);  // of the non-empty bars
  std::vector<int> pitch_class(pitches);
  for (int p = 0; p < pitches; ++p) pitch_class[p] = (options.lowest_pitch + p) % 12;
  std::vector<int> run(pitches);  // length so far of the note sounding on each pitch (0 = none)
  const int groups = (pitches + 7) / 8;
  std::vector<uint8_t> sounding(static_cast<size_t>(groups));  // bit k of group g: run[8g + k] > 0

  for (int64_t s = 0; s < n; ++s) {
    const uint8_t* sample = samples + s * sample_cells;
    for (int t = 0; t < tracks; ++t) {
      const uint8_t* roll = sample + t * track_cells;
      MetricSums::Track& sum = sums.tracks[t];
      const bool is_drum = t == options.drum_track;
      sum.bars += bars;
      // One pass over the steps. Bars: chroma (active cells per true pitch class), emptiness, pitch classes
      // used. Notes: maximal runs of active steps per pitch (across bar lines); drum onsets: each run's first
      // step.
      auto end_note = [&](int p) {
        ++sum.notes;
        if (run[p] >= min_32nd) ++sum.notes_32nd;
        if (run[p] >= min_8th) ++sum.notes_8th;
        run[p] = 0;
      };
      std::fill(run.begin(), run.end(), 0);
      std::fill(sounding.begin(), sounding.end(), 0);
      for (int b = 0; b < bars; ++b) {
        std::array<double, 12>& c = chroma[static_cast<size_t>(t) * bars + b];
        c.fill(0.0);
        bool any = false;
        for (int step = b * options.steps_per_bar; step < (b + 1) * options.steps_per_bar; ++step) {
          const uint8_t* row = roll + int64_t{step} * pitches;
          // Eight pitches at a time: a group with no active cell and no note sounding has nothing to do, and
          // in real rolls most groups of most rows are such.
          for (int g = 0; g < groups; ++g) {
            const int first = g * 8, count = std::min(8, pitches - first);
            uint64_t cells = 0;
            std::memcpy(&cells, row + first, static_cast<size_t>(count));
            if (cells == 0 && sounding[g] == 0) continue;
            for (int k = 0; k < count; ++k) {
              const int p = first + k;
              const uint8_t bit = static_cast<uint8_t>(1u << k);
              if (row[p] == 0) {
                if (sounding[g] & bit) {
                  end_note(p);
                  sounding[g] = static_cast<uint8_t>(sounding[g] & ~bit);
                }
                continue;
              }
              c[pitch_class[p]] += 1.0;
              any = true;
              if (run[p] == 0) {
                sounding[g] = static_cast<uint8_t>(sounding[g] | bit);
                if (is_drum) {
                  ++sum.onsets;
                  if ((4 * step) % spb == 0) ++sum.onsets_16th;
                  if ((2 * step) % spb == 0) ++sum.onsets_8th;
                }
              }
              ++run[p];
            }
          }
        }
        nonempty[static_cast<size_t>(t) * bars + b] = any;
        if (!any) continue;
        if (n_pairs > 0) centroid[static_cast<size_t>(t) * bars + b] = metrics_internal::TonalCentroid(c);
        ++sum.nonempty_bars;
        for (double v : c) sum.pitch_classes += v > 0 ? 1 : 0;
      }
      for (int p = 0; p < pitches; ++p) {
        if (run[p] > 0) end_note(p);  // notes held to the end of the sample
      }
    }
    for (size_t i = 0; i < n_pairs; ++i) {
      const auto [a, b] = options.tonal_pairs[i];
      for (int bar = 0; bar < bars; ++bar) {
        const size_t ia = static_cast<size_t>(a) * bars + bar, ib = static_cast<size_t>(b) * bars + bar;
        if (!nonempty[ia] || !nonempty[ib]) continue;
        sums.tonal_distance_sum[i] += metrics_internal::CentroidDistance(centroid[ia], centroid[ib]);
        ++sums.tonal_distance_bars[i];
      }
    }
  }
  sums.samples += n;
  return absl::OkStatus();
}

MetricsReport ReportFromSums(const MetricSums& sums, const MetricsOptions& options) {
  MetricsReport report;
  report.samples = sums.samples;
  for (size_t t = 0; t < sums.tracks.size(); ++t) {
    report.track_names.push_back(options.track_names.size() != sums.tracks.size() ? absl::StrCat("track", t)
                                                                                  : options.track_names[t]);
    const MetricSums::Track& sum = sums.tracks[t];
    TrackMetrics m;
    m.is_drum = static_cast<int>(t) == options.drum_track;
    m.bars = sum.bars;
    m.nonempty_bars = sum.nonempty_bars;
    m.empty_bars = Ratio(m.bars - sum.nonempty_bars, m.bars);
    m.used_pitch_classes = Ratio(sum.pitch_classes, sum.nonempty_bars);
    m.notes = sum.notes;
    m.qualified_notes = Ratio(sum.notes_32nd, sum.notes);
    m.qualified_notes_8th = Ratio(sum.notes_8th, sum.notes);
    m.drum_onsets = sum.onsets;
    m.drum_pattern = m.is_drum ? Ratio(sum.onsets_16th, sum.onsets) : kNaN;
    m.drum_pattern_8th = m.is_drum ? Ratio(sum.onsets_8th, sum.onsets) : kNaN;
    report.tracks.push_back(m);
  }
  for (size_t i = 0; i < options.tonal_pair_labels.size(); ++i) {
    const std::string& label = options.tonal_pair_labels[i];
    const int64_t bars = i < sums.tonal_distance_bars.size() ? sums.tonal_distance_bars[i] : 0;
    report.tonal_distance[label] = bars > 0 ? sums.tonal_distance_sum[i] / static_cast<double>(bars) : kNaN;
    report.tonal_distance_bars[label] = bars;
  }
  return report;
}

double SampleDiversity(const uint8_t* samples, int64_t n, int64_t cells, int64_t max_samples) {
  const int64_t m = std::min(n, max_samples);
  if (m < 2 || samples == nullptr || cells <= 0) return std::numeric_limits<double>::quiet_NaN();
  // Each sample as the sorted list of its active cells: pairs then cost the size of their notes, not of
  // the whole roll (a sample is ~1-3 % active).
  std::vector<std::vector<int32_t>> active(static_cast<size_t>(m));
  for (int64_t i = 0; i < m; ++i) {
    const uint8_t* s = samples + i * cells;
    for (int64_t c = 0; c < cells; ++c) {
      if (s[c] != 0) active[static_cast<size_t>(i)].push_back(static_cast<int32_t>(c));
    }
  }
  double total = 0;
  int64_t pairs = 0;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = i + 1; j < m; ++j) {
      const std::vector<int32_t>& a = active[static_cast<size_t>(i)];
      const std::vector<int32_t>& b = active[static_cast<size_t>(j)];
      size_t x = 0, y = 0, both = 0;
      while (x < a.size() && y < b.size()) {
        if (a[x] == b[y]) {
          ++both;
          ++x;
          ++y;
        } else if (a[x] < b[y]) {
          ++x;
        } else {
          ++y;
        }
      }
      const size_t either = a.size() + b.size() - both;
      total += either == 0 ? 0.0 : 1.0 - static_cast<double>(both) / static_cast<double>(either);
      ++pairs;
    }
  }
  return total / static_cast<double>(pairs);
}

StatusOr<MetricsReport> ComputeMetrics(const uint8_t* samples, int64_t n, const PianorollDims& dims,
                                       const MetricsOptions& options) {
  MetricSums sums;
  TUTTI_RETURN_IF_ERROR(AccumulateMetricSums(samples, n, dims, options, &sums));
  return ReportFromSums(sums, options);
}

MetricsOptions WithTracks(MetricsOptions options, const std::vector<std::string>& names, int drum_track) {
  if (names.size() == 5) return options;
  options.track_names = names;
  options.drum_track = drum_track;
  options.tonal_pairs.clear();
  options.tonal_pair_labels.clear();
  return options;
}

}  // namespace tutti
