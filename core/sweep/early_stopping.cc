#include "core/sweep/early_stopping.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <exception>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/sweep/internal/sweep_internal.h"

namespace tutti::sweep {
namespace {

using internal::FormatNumber;

Status Invalid(const char* field, const std::string& expected, const std::string& got) {
  return absl::InvalidArgumentError(absl::StrCat("early_stopping.", field, ": expected ", expected, ", got ", got));
}

const double* Find(const std::map<std::string, double>& values, const std::string& name) {
  auto it = values.find(name);
  return it == values.end() ? nullptr : &it->second;
}

}  // namespace

Status ValidateEarlyStopping(const EarlyStoppingConfig& c) {
  if (!(std::isfinite(c.divergence_threshold) && c.divergence_threshold > 0)) {
    return Invalid("divergence_threshold", "a number > 0", FormatNumber(c.divergence_threshold));
  }
  if (c.divergence_window < 1) {
    return Invalid("divergence_window", "an integer >= 1", std::to_string(c.divergence_window));
  }
  if (c.diversity_metric.empty()) return Invalid("diversity_metric", "a metric name", "''");
  if (!(c.collapse_threshold >= 0 && c.collapse_threshold <= 1)) {  // NaN fails too
    return Invalid("collapse_threshold", "a diversity in [0, 1]", FormatNumber(c.collapse_threshold));
  }
  if (c.collapse_evaluations < 1) {
    return Invalid("collapse_evaluations", "an integer >= 1", std::to_string(c.collapse_evaluations));
  }
  if (c.patience < 0) return Invalid("patience", "an integer >= 0 (0 = off)", std::to_string(c.patience));
  if (!(std::isfinite(c.min_delta) && c.min_delta >= 0)) {
    return Invalid("min_delta", "a number >= 0", FormatNumber(c.min_delta));
  }
  if (c.patience > 0 && c.objective.empty()) {
    return Invalid("objective", "a metric name when patience > 0", "''");
  }
  return absl::OkStatus();
}

std::optional<StopDecision> EarlyStopping::Observe(int64_t step, const std::string& kind,
                                                   const std::map<std::string, double>& values) {
  if (!config_.enabled || stopped_) return std::nullopt;
  std::optional<StopDecision> decision;
  if (kind == "train") {
    // A non-finite loss first: it is the root cause, and it would poison the divergence mean.
    for (const char* name : {"d_loss", "g_loss", "wasserstein"}) {
      const double* v = Find(values, name);
      if (v != nullptr && !std::isfinite(*v)) {
        decision = StopDecision{"non-finite loss", absl::StrCat(name, " is ", FormatNumber(*v), " at step ", step)};
        break;
      }
    }
    const double* w = Find(values, "wasserstein");
    if (!decision && w != nullptr) {
      recent_wasserstein_.push_back(std::fabs(*w));
      while (recent_wasserstein_.size() > static_cast<size_t>(config_.divergence_window)) {
        recent_wasserstein_.pop_front();
      }
      if (recent_wasserstein_.size() == static_cast<size_t>(config_.divergence_window)) {
        double sum = 0;  // summed afresh each time: no drift from a running total
        for (double x : recent_wasserstein_) sum += x;
        const double mean = sum / config_.divergence_window;
        if (mean > config_.divergence_threshold) {
          decision = StopDecision{
              "critic diverged",
              absl::StrCat("mean |wasserstein| ", internal::FormatRounded(mean, 6), " over the last ",
                           config_.divergence_window, " points at step ", step, " > ",
                           FormatNumber(config_.divergence_threshold))};
        }
      }
    }
  } else if (kind == "eval") {
    // Diversity: a missing or non-finite value says nothing, so it neither extends nor breaks the streak.
    const double* d = Find(values, config_.diversity_metric);
    if (d != nullptr && std::isfinite(*d)) {
      low_diversity_streak_ = *d < config_.collapse_threshold ? low_diversity_streak_ + 1 : 0;
      if (low_diversity_streak_ >= config_.collapse_evaluations) {
        decision = StopDecision{
            "generator collapsed",
            absl::StrCat(config_.diversity_metric, " ", FormatNumber(*d), " < ",
                         FormatNumber(config_.collapse_threshold), " at ", low_diversity_streak_,
                         " consecutive evaluations, the last at step ", step)};
      }
    }
    // The objective: an evaluation without it is skipped; a non-finite one counts as not improving.
    const double* o = Find(values, config_.objective);
    if (!decision && config_.patience > 0 && o != nullptr) {
      const bool improved =
          std::isfinite(*o) &&
          (!best_objective_ || (config_.smaller_is_better ? *o < *best_objective_ - config_.min_delta
                                                          : *o > *best_objective_ + config_.min_delta));
      if (improved) {
        best_objective_ = *o;
        best_step_ = step;
        evaluations_since_best_ = 0;
      } else if (++evaluations_since_best_ >= config_.patience) {
        decision = StopDecision{
            "no improvement",
            absl::StrCat(config_.objective, " ", FormatNumber(*o), " at step ", step,
                         best_objective_ ? absl::StrCat(": no improvement on the best ", FormatNumber(*best_objective_),
                                                        " (step ", best_step_, ")")
                                         : std::string(": no finite value yet"),
                         " by more than ", FormatNumber(config_.min_delta), " for ", evaluations_since_best_,
                         " evaluations")};
      }
    }
  }
  if (decision) stopped_ = true;
  return decision;
}

std::string EarlyStopping::SaveState() const {
  // Every stored number is finite (non-finite ones stop the trial or are skipped), so JSON holds it exactly.
  const nlohmann::json state = {
      {"recent_wasserstein", std::vector<double>(recent_wasserstein_.begin(), recent_wasserstein_.end())},
      {"low_diversity_streak", low_diversity_streak_},
      {"best_objective", best_objective_ ? nlohmann::json(*best_objective_) : nlohmann::json()},
      {"best_step", best_step_},
      {"evaluations_since_best", evaluations_since_best_},
      {"stopped", stopped_}};
  return state.dump();
}

Status EarlyStopping::LoadState(const std::string& text) {
  const nlohmann::json state = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (state.is_discarded() || !state.is_object()) {
    return absl::InvalidArgumentError("early stopping state: expected a JSON object, got '" + text.substr(0, 80) + "'");
  }
  try {
    // Everything is read before anything is assigned: a bad state leaves this object as it was.
    std::vector<double> recent = state.at("recent_wasserstein").get<std::vector<double>>();
    const int streak = state.at("low_diversity_streak").get<int>();
    const nlohmann::json& best_json = state.at("best_objective");
    const std::optional<double> best =
        best_json.is_null() ? std::nullopt : std::optional<double>(best_json.get<double>());
    const int64_t best_step = state.at("best_step").get<int64_t>();
    const int since = state.at("evaluations_since_best").get<int>();
    const bool stopped = state.at("stopped").get<bool>();
    // A window saved under a larger divergence_window keeps its newest points.
    const size_t window = static_cast<size_t>(std::max(config_.divergence_window, 1));
    if (recent.size() > window) recent.erase(recent.begin(), recent.end() - static_cast<std::ptrdiff_t>(window));
    recent_wasserstein_.assign(recent.begin(), recent.end());
    low_diversity_streak_ = streak;
    best_objective_ = best;
    best_step_ = best_step;
    evaluations_since_best_ = since;
    stopped_ = stopped;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("early stopping state: ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace tutti::sweep
