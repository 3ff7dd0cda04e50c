// Formatting of MetricsReport: JSON, a single table and the generated-vs-real comparison.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>

#include "core/metrics/metrics.h"
#include "core/metrics/report_format.h"

namespace tutti {
namespace {

// One per-track metric: its precise key, a short column label and how to read it from TrackMetrics.
struct MetricColumn {
  const char* key;
  const char* label;
  const char* definition;
  std::function<double(const TrackMetrics&)> get;
  bool drum_only;
};

const std::vector<MetricColumn>& Columns() {
  static const std::vector<MetricColumn> kColumns = {
      {"empty_bars", "EB", "share of bars with no note",
       [](const TrackMetrics& m) { return m.empty_bars; }, false},
      {"used_pitch_classes_true_pc", "UPC(true pc)",
       "distinct true pitch classes (MIDI pitch % 12) per non-empty bar; for drums not musically meaningful",
       [](const TrackMetrics& m) { return m.used_pitch_classes; }, false},
      {"qualified_notes_ge_32nd_paper", "QN>=32nd(paper)",
       "share of notes at least a 32nd long (paper's QN); always 1.0 at 4 steps per beat",
       [](const TrackMetrics& m) { return m.qualified_notes; }, false},
      {"qualified_notes_ge_8th_standin", "QN>=8th(stand-in)",
       "share of notes at least an 8th long (stand-in for QN at this grid)",
       [](const TrackMetrics& m) { return m.qualified_notes_8th; }, false},
      {"drum_onsets_on_16th_paper", "DP 16th(paper)",
       "drum track only: share of drum onsets on the 16th grid (paper's DP); always 1.0 at 4 steps per beat",
       [](const TrackMetrics& m) { return m.drum_pattern; }, true},
      {"drum_onsets_on_8th_standin", "DP 8th(stand-in)",
       "drum track only: share of drum onsets on 8th-note positions (stand-in for DP at this grid)",
       [](const TrackMetrics& m) { return m.drum_pattern_8th; }, true},
  };
  return kColumns;
}

constexpr char kTonalKey[] = "tonal_distance_true_pc";
constexpr char kTonalDefinition[] =
    "per track pair: Euclidean distance of Harte et al. 2006 tonal centroids (r1=1, r2=1, r3=0.5) of the "
    "tracks' L1-normalised true-pitch-class chroma per bar, averaged over bars where both tracks sound";
constexpr char kCaveat[] =
    "Caveats: fewer than 256 samples give noisy numbers (8-18 % spread at 64). The paper's UPC and TD used 12 "
    "bands of adjacent semitones, not pitch classes: these numbers are not comparable to the paper's tables.";

using report_format::Fmt;
using report_format::Num;
using report_format::Pad;

std::string Relative(double generated, double real) {
  if (!std::isfinite(generated) || !std::isfinite(real)) return "n/a";
  if (real == 0) return generated == 0 ? "+0.0%" : "n/a";
  return Fmt(100.0 * (generated - real) / std::fabs(real), "%+.1f%%");
}

}  // namespace

nlohmann::json MetricsReport::ToJson() const {
  nlohmann::json out;
  out["samples"] = samples;
  nlohmann::json track_list = nlohmann::json::array();
  for (size_t t = 0; t < tracks.size(); ++t) {
    const TrackMetrics& m = tracks[t];
    nlohmann::json j;
    j["name"] = t < track_names.size() ? track_names[t] : "";
    j["is_drum"] = m.is_drum;
    j["bars"] = m.bars;
    j["nonempty_bars"] = m.nonempty_bars;
    j["notes"] = m.notes;
    if (m.is_drum) j["drum_onsets"] = m.drum_onsets;
    for (const MetricColumn& c : Columns()) {
      if (c.drum_only && !m.is_drum) continue;
      j[c.key] = Num(c.get(m));
    }
    track_list.push_back(std::move(j));
  }
  out["tracks"] = std::move(track_list);
  nlohmann::json td = nlohmann::json::object();
  for (const auto& [label, value] : tonal_distance) {
    const auto bars = tonal_distance_bars.find(label);
    td[label] = {{"mean", Num(value)}, {"bars", bars == tonal_distance_bars.end() ? 0 : bars->second}};
  }
  out[kTonalKey] = std::move(td);
  nlohmann::json definitions;
  for (const MetricColumn& c : Columns()) definitions[c.key] = c.definition;
  definitions[kTonalKey] = kTonalDefinition;
  out["definitions"] = std::move(definitions);
  out["caveat"] = kCaveat;
  return out;
}

std::string MetricsReport::ToTable() const {
  constexpr size_t kName = 10, kCol = 18;
  std::string out = absl::StrCat("Objective metrics over ", samples, " samples\n");
  out += Pad("track", kName, true);
  for (const MetricColumn& c : Columns()) out += Pad(c.label, kCol);
  out += "\n";
  bool drum_upc_marked = false;
  for (size_t t = 0; t < tracks.size(); ++t) {
    const TrackMetrics& m = tracks[t];
    out += Pad(t < track_names.size() ? track_names[t] : "", kName, true);
    for (const MetricColumn& c : Columns()) {
      std::string cell = Fmt(c.get(m));
      if (m.is_drum && std::string(c.key) == "used_pitch_classes_true_pc" && cell != "-") {
        cell += "*";
        drum_upc_marked = true;
      }
      out += Pad(cell, kCol);
    }
    out += "\n";
  }
  if (drum_upc_marked) out += "* drum 'pitches' are instruments: UPC of the drum track is not a pitch measure\n";
  out += "tonal distance (true pitch classes, Harte et al. 2006), mean over bars where both tracks sound:\n";
  for (const auto& [label, value] : tonal_distance) {
    const auto bars = tonal_distance_bars.find(label);
    out += absl::StrCat("  ", Pad(label, 6, true), Fmt(value), "  (",
                        bars == tonal_distance_bars.end() ? 0 : bars->second, " bars)\n");
  }
  out += absl::StrCat(kCaveat, "\n");
  return out;
}

std::string CompareTable(const MetricsReport& generated, const MetricsReport& real) {
  constexpr size_t kName = 16, kMetric = 32, kCol = 12;
  std::string out = absl::StrCat("Objective metrics: generated (", generated.samples, " samples) vs real (",
                                 real.samples, " samples); rel = (generated - real) / |real|\n");
  out += Pad("track", kName, true) + Pad("metric", kMetric, true) + Pad("generated", kCol) + Pad("real", kCol) +
         Pad("rel", kCol) + "\n";
  const size_t n_tracks = std::max(generated.tracks.size(), real.tracks.size());
  for (size_t t = 0; t < n_tracks; ++t) {
    const bool has_g = t < generated.tracks.size(), has_r = t < real.tracks.size();
    const TrackMetrics& any = has_g ? generated.tracks[t] : real.tracks[t];
    const std::vector<std::string>& names = has_g ? generated.track_names : real.track_names;
    std::string name = t < names.size() ? names[t] : absl::StrCat("track", t);
    if (any.is_drum) name += " (drums)";
    for (const MetricColumn& c : Columns()) {
      if (c.drum_only && !any.is_drum) continue;
      const double g = has_g ? c.get(generated.tracks[t]) : std::nan("");
      const double r = has_r ? c.get(real.tracks[t]) : std::nan("");
      out += Pad(name + " ", kName, true) + Pad(c.key, kMetric, true) + Pad(Fmt(g), kCol) + Pad(Fmt(r), kCol) +
             Pad(Relative(g, r), kCol) + "\n";
      name.clear();  // the name once per block keeps the table readable
    }
  }
  out += absl::StrCat(kTonalKey, ":\n");
  std::map<std::string, std::pair<double, double>> pairs;
  for (const auto& [label, v] : generated.tonal_distance) pairs[label] = {v, std::nan("")};
  for (const auto& [label, v] : real.tonal_distance) {
    auto it = pairs.find(label);
    if (it == pairs.end()) {
      pairs[label] = {std::nan(""), v};
    } else {
      it->second.second = v;
    }
  }
  for (const auto& [label, gr] : pairs) {
    out += Pad("", kName, true) + Pad(label, kMetric, true) + Pad(Fmt(gr.first), kCol) +
           Pad(Fmt(gr.second), kCol) + Pad(Relative(gr.first, gr.second), kCol) + "\n";
  }
  if (generated.samples < 256 || real.samples < 256) {
    out += "Warning: fewer than 256 samples on one side; differences under ~10-20 % are noise.\n";
  }
  out += absl::StrCat(kCaveat, "\n");
  return out;
}

}  // namespace tutti
