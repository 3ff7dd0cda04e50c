#include "core/metrics/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tutti {
namespace metrics_internal {

// Harte, Sandler & Gasser 2006: pitch class l sits at angle l*7pi/6 on the circle of fifths, l*3pi/2 on the
// circle of minor thirds and l*2pi/3 on the circle of major thirds; the centroid is the chroma-weighted mean.
std::array<double, 6> TonalCentroid(const std::array<double, 12>& chroma) {
  constexpr double kPi = 3.14159265358979323846;
  constexpr double kR1 = 1.0, kR2 = 1.0, kR3 = 0.5;
  std::array<double, 6> centroid{};
  double total = 0;
  for (double c : chroma) total += c;
  if (total <= 0) return centroid;
  for (int l = 0; l < 12; ++l) {
    const double w = chroma[l] / total;
    if (w == 0) continue;
    centroid[0] += w * kR1 * std::sin(l * 7.0 * kPi / 6.0);
    centroid[1] += w * kR1 * std::cos(l * 7.0 * kPi / 6.0);
    centroid[2] += w * kR2 * std::sin(l * 3.0 * kPi / 2.0);
    centroid[3] += w * kR2 * std::cos(l * 3.0 * kPi / 2.0);
    centroid[4] += w * kR3 * std::sin(l * 2.0 * kPi / 3.0);
    centroid[5] += w * kR3 * std::cos(l * 2.0 * kPi / 3.0);
  }
  return centroid;
}

double TonalDistance(const std::array<double, 12>& chroma_a, const std::array<double, 12>& chroma_b) {
  const std::array<double, 6> a = TonalCentroid(chroma_a);
  const std::array<double, 6> b = TonalCentroid(chroma_b);
  double sum = 0;
  for (int d = 0; d < 6; ++d) sum += (a[d] - b[d]) * (a[d] - b[d]);
  return std::sqrt(sum);
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

// Running sums for one track over all samples.
struct TrackSums {
  int64_t nonempty_bars = 0;
  int64_t pitch_classes = 0;  // summed over non-empty bars
  int64_t notes = 0, notes_32nd = 0, notes_8th = 0;
  int64_t onsets = 0, onsets_16th = 0, onsets_8th = 0;
};

}  // namespace

StatusOr<MetricsReport> ComputeMetrics(const uint8_t* samples, int64_t n, const PianorollDims& dims,
                                       const MetricsOptions& options) {
  TUTTI_RETURN_IF_ERROR(CheckArguments(samples, n, dims, options));
  const int tracks = dims.tracks, steps = dims.steps, pitches = dims.pitches;
  const int bars = steps / options.steps_per_bar;
  const int spb = options.steps_per_beat;
  const int min_32nd = std::max(1, (spb + 7) / 8);
  const int min_8th = std::max(1, (spb + 1) / 2);
  const int64_t track_cells = int64_t{steps} * pitches;
  const int64_t sample_cells = track_cells * tracks;

  std::vector<TrackSums> sums(tracks);
  const size_t n_pairs = options.tonal_pairs.size();
  std::vector<double> td_sum(n_pairs, 0.0);
  std::vector<int64_t> td_bars(n_pairs, 0);
  // Per sample: chroma[track][bar] and whether the bar is non-empty, kept for the tonal distances.
  std::vector<std::array<double, 12>> chroma(static_cast<size_t>(tracks) * bars);
  std::vector<char> nonempty(static_cast<size_t>(tracks) * bars);

  for (int64_t s = 0; s < n; ++s) {
    const uint8_t* sample = samples + s * sample_cells;
    for (int t = 0; t < tracks; ++t) {
      const uint8_t* roll = sample + t * track_cells;
      TrackSums& sum = sums[t];
      // Bars: chroma (active cells per true pitch class), emptiness, pitch classes used.
      for (int b = 0; b < bars; ++b) {
        std::array<double, 12>& c = chroma[static_cast<size_t>(t) * bars + b];
        c.fill(0.0);
        bool any = false;
        for (int step = b * options.steps_per_bar; step < (b + 1) * options.steps_per_bar; ++step) {
          const uint8_t* row = roll + int64_t{step} * pitches;
          for (int p = 0; p < pitches; ++p) {
            if (row[p] == 0) continue;
            c[(options.lowest_pitch + p) % 12] += 1.0;
            any = true;
          }
        }
        nonempty[static_cast<size_t>(t) * bars + b] = any;
        if (!any) continue;
        ++sum.nonempty_bars;
        for (double v : c) sum.pitch_classes += v > 0 ? 1 : 0;
      }
      // Notes: maximal runs of active steps per pitch; drum onsets: the first step of each run.
      const bool is_drum = t == options.drum_track;
      for (int p = 0; p < pitches; ++p) {
        int run = 0;
        for (int step = 0; step <= steps; ++step) {
          const bool active = step < steps && roll[int64_t{step} * pitches + p] != 0;
          if (active) {
            if (run == 0 && is_drum) {
              ++sum.onsets;
              if ((4 * step) % spb == 0) ++sum.onsets_16th;
              if ((2 * step) % spb == 0) ++sum.onsets_8th;
            }
            ++run;
            continue;
          }
          if (run > 0) {
            ++sum.notes;
            if (run >= min_32nd) ++sum.notes_32nd;
            if (run >= min_8th) ++sum.notes_8th;
          }
          run = 0;
        }
      }
    }
    for (size_t i = 0; i < n_pairs; ++i) {
      const auto [a, b] = options.tonal_pairs[i];
      for (int bar = 0; bar < bars; ++bar) {
        const size_t ia = static_cast<size_t>(a) * bars + bar, ib = static_cast<size_t>(b) * bars + bar;
        if (!nonempty[ia] || !nonempty[ib]) continue;
        td_sum[i] += metrics_internal::TonalDistance(chroma[ia], chroma[ib]);
        ++td_bars[i];
      }
    }
  }

  MetricsReport report;
  report.samples = n;
  for (int t = 0; t < tracks; ++t) {
    report.track_names.push_back(options.track_names.empty() ? absl::StrCat("track", t)
                                                             : options.track_names[t]);
    const TrackSums& sum = sums[t];
    TrackMetrics m;
    m.is_drum = t == options.drum_track;
    m.bars = n * bars;
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
  for (size_t i = 0; i < n_pairs; ++i) {
    const std::string& label = options.tonal_pair_labels[i];
    report.tonal_distance[label] = td_bars[i] > 0 ? td_sum[i] / static_cast<double>(td_bars[i]) : kNaN;
    report.tonal_distance_bars[label] = td_bars[i];
  }
  return report;
}

}  // namespace tutti
