// Printing of RealismReport: JSON for machines, the per-metric table and one-line summaries for people.
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/metrics/realism.h"
#include "core/metrics/report_format.h"

namespace tutti {
namespace {

using report_format::Fmt;
using report_format::Num;
using report_format::Pad;

constexpr char kDefinition[] =
    "For each objective metric not constant at this grid (per track EB, UPC over true pitch classes, notes >= an "
    "8th; drum onsets on 8th positions; tonal distance per track pair), the band real data spans at the same N: "
    "2.5-97.5 % quantiles over R seeded random draws of N real training samples. outside = the count of metrics "
    "outside their band (NaN counts as outside unless >= 2.5 % of real draws are NaN); score = mean over metrics "
    "of |value - band median| / band half-width, capped at 10 (lower is better). heldout_* = the same for N "
    "held-out real samples: the bar a perfect generator would meet.";

}  // namespace

RealismReport RealismReport::FromReference(const RealismReference& reference) {
  RealismReport report;
  report.reference_samples = reference.samples();
  report.draws = reference.draws();
  report.seed = reference.seed();
  report.pool_total = reference.pool_total();
  report.pool_used = reference.pool_used();
  report.with_replacement = reference.with_replacement();
  for (const auto& [name, value] : reference.constant_metrics()) {
    report.constant_metrics.push_back(absl::StrCat(name, " = ", Fmt(value, "%g")));
  }
  report.bands = reference.bands();
  return report;
}

nlohmann::json RealismReport::ToJson(bool heldout_per_metric) const {
  nlohmann::json out;
  const nlohmann::json null(nullptr);
  out["score"] = generated ? Num(generated->score) : null;
  out["outside"] = generated ? nlohmann::json(generated->outside) : null;
  out["metrics"] = static_cast<int64_t>(bands.size());
  out["samples"] = generated ? nlohmann::json(generated->samples) : null;
  out["heldout_score"] = heldout ? Num(heldout->score) : null;
  out["heldout_outside"] = heldout ? nlohmann::json(heldout->outside) : null;
  out["heldout_samples"] = heldout ? heldout->samples : int64_t{0};
  std::string held_note = heldout_note;
  if (heldout && !heldout->note.empty()) held_note += (held_note.empty() ? "" : "; ") + heldout->note;
  if (!held_note.empty()) out["heldout_note"] = held_note;
  if (generated && !generated->note.empty()) out["note"] = generated->note;
  out["reference"] = {{"samples", reference_samples}, {"draws", draws},         {"seed", seed},
                      {"pool", pool_total},           {"pool_used", pool_used}, {"with_replacement", with_replacement},
                      {"constant_metrics", constant_metrics}};
  nlohmann::json list = nlohmann::json::array();
  for (size_t i = 0; i < bands.size(); ++i) {
    const RealismBand& band = bands[i];
    nlohmann::json m = {{"name", band.name}, {"low", Num(band.low)}, {"median", Num(band.median)},
                        {"high", Num(band.high)}};
    if (generated && i < generated->metrics.size()) {
      m["value"] = Num(generated->metrics[i].value);
      m["outside"] = generated->metrics[i].outside;
      m["distance"] = generated->metrics[i].distance;
    }
    if (heldout_per_metric && heldout && i < heldout->metrics.size()) {
      m["heldout_value"] = Num(heldout->metrics[i].value);
      m["heldout_outside"] = heldout->metrics[i].outside;
      m["heldout_distance"] = heldout->metrics[i].distance;
    }
    list.push_back(std::move(m));
  }
  out["per_metric"] = std::move(list);
  out["definition"] = kDefinition;
  return out;
}

std::string RealismReport::ToTable() const {
  constexpr size_t kName = 40, kVal = 10, kBand = 22, kOut = 4, kDist = 7;
  std::string out = absl::StrCat(
      "Realism: ", generated ? absl::StrCat(generated->samples, " generated samples") : std::string("no generated set"),
      " against the band of ", draws, " draws of ", reference_samples, " real training samples (pool ", pool_used,
      pool_used == pool_total ? std::string() : absl::StrCat(" of ", pool_total), ", drawn ",
      with_replacement ? "with" : "without", " replacement, seed ", seed, ")\n");
  out += Pad("metric", kName, true) + Pad("generated", kVal) + Pad("band [low, high]", kBand) + Pad("median", kVal) +
         Pad("out", kOut) + Pad("dist", kDist) + Pad("held-out", kVal) + Pad("out", kOut) + Pad("dist", kDist) + "\n";
  auto cells = [&](const std::optional<RealismResult>& r, size_t i) {
    if (!r || i >= r->metrics.size()) return Pad("", kVal) + Pad("", kOut) + Pad("", kDist);
    const RealismMetricResult& m = r->metrics[i];
    return Pad(Fmt(m.value), kVal) + Pad(m.outside ? "*" : "", kOut) + Pad(Fmt(m.distance, "%.2f"), kDist);
  };
  for (size_t i = 0; i < bands.size(); ++i) {
    const RealismBand& band = bands[i];
    const std::string generated_cells = cells(generated, i);
    out += Pad(band.name, kName, true) + generated_cells.substr(0, kVal) +
           Pad(absl::StrCat("[", Fmt(band.low), ", ", Fmt(band.high), "]"), kBand) + Pad(Fmt(band.median), kVal) +
           generated_cells.substr(kVal) + cells(heldout, i) + "\n";
  }
  out += "* = outside the band; dist = |value - median| / band half-width, capped at 10\n";
  if (!constant_metrics.empty()) {
    out += "left out as constant at this grid (real draws and probe rolls alike): ";
    for (size_t i = 0; i < constant_metrics.size(); ++i) out += (i ? ", " : "") + constant_metrics[i];
    out += "\n";
  }
  if (draws < kRealismRecommendedDraws) {
    out += absl::StrCat("note: ", draws, " draws (< ", kRealismRecommendedDraws,
                        "): the band's 2.5 / 97.5 % quantiles are rough\n");
  }
  if (generated && !generated->note.empty()) out += "note: " + generated->note + "\n";
  if (!heldout_note.empty()) out += "held-out: " + heldout_note + "\n";
  if (heldout && !heldout->note.empty()) out += "held-out: " + heldout->note + "\n";
  out += Summary() + "\n";
  return out;
}

std::string RealismReport::Summary() const {
  const size_t n = bands.size();
  const std::string held_count = heldout ? absl::StrCat(heldout->outside, " of ", n) : std::string("none");
  const std::string held_score = heldout ? Fmt(heldout->score, "%.2f") : std::string("none");
  if (!generated) {
    return absl::StrCat("realism (held-out real samples only): ", held_count, " metrics outside the real band; score ",
                        held_score);
  }
  return absl::StrCat("realism: ", generated->outside, " of ", n, " metrics outside the real band (held-out real: ",
                      held_count, "); score ", Fmt(generated->score, "%.2f"), " (held-out real: ", held_score, ")");
}

std::string RealismReport::ConsoleSummary() const {
  const size_t n = bands.size();
  const std::string real = heldout ? absl::StrCat("real ", heldout->outside, "/", n, ", ", Fmt(heldout->score, "%.2f"))
                                   : std::string("no held-out bar");
  if (!generated) return absl::StrCat("realism: no generated set (", real, ")");
  return absl::StrCat("realism ", generated->outside, "/", n, " outside, score ", Fmt(generated->score, "%.2f"), " (",
                      real, ")");
}

}  // namespace tutti
