// CreateSearcher (the config checks, then one of the four searchers) and AshaRungLengths.

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "core/sweep/internal/sweep_internal.h"
#include "core/sweep/searcher.h"

namespace tutti::sweep {
namespace {

Status ExpectAtLeast(const char* field, int64_t value, int64_t minimum, const char* note = "") {
  if (value >= minimum) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("searcher.", field, ": expected an integer >= ", minimum, note, ", got ", value));
}

// "rungs of 0.625, 2.5 and 10 steps" (the exact quotients: the integer lengths would hide the problem).
std::string RungList(const SearcherConfig& config) {
  std::vector<std::string> parts;
  for (int k = 0; k < config.max_rungs; ++k) {
    const double length = static_cast<double>(config.max_length) /
                          std::pow(static_cast<double>(config.divisor), config.max_rungs - 1 - k);
    parts.push_back(internal::FormatRounded(length, 6));
  }
  if (parts.size() > 6) {  // a long list says nothing more: the first two and the last
    return absl::StrCat("rungs of ", parts[0], ", ", parts[1], ", ... and ", parts.back(), " steps");
  }
  std::string list = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) absl::StrAppend(&list, i + 1 == parts.size() ? " and " : ", ", parts[i]);
  return absl::StrCat("rungs of ", list, " steps");
}

Status ValidateAsha(const SearcherConfig& config) {
  TUTTI_RETURN_IF_ERROR(ExpectAtLeast("max_trials", config.max_trials, 1));
  TUTTI_RETURN_IF_ERROR(ExpectAtLeast("divisor", config.divisor, 2));
  TUTTI_RETURN_IF_ERROR(ExpectAtLeast("max_rungs", config.max_rungs, 1));
  if (config.metric.empty()) {
    return absl::InvalidArgumentError("searcher.metric: expected the name of a metric to rank trials by, got ''");
  }
  // The first rung trains floor(max_length / divisor^(max_rungs-1)) steps: at least 1 exactly when
  // max_length >= divisor^(max_rungs-1). Repeated integer division avoids overflowing the power.
  int64_t first = config.max_length;
  for (int k = 1; k < config.max_rungs && first > 0; ++k) first /= config.divisor;
  if (first < 1) {
    return absl::InvalidArgumentError(absl::StrCat("searcher.max_length: ", config.max_length,
                                                   " steps cannot hold ", config.max_rungs, " rungs with divisor ",
                                                   config.divisor, " (", RungList(config),
                                                   "; the first must train at least 1 step)"));
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<int64_t> AshaRungLengths(const SearcherConfig& config) {
  // Rung k trains floor(max_length / divisor^(max_rungs-1-k)) steps, computed top-down as
  // length_k = floor(length_{k+1} / divisor) (nested floors of integer divisions equal the floor of the
  // whole quotient). With divisor >= 2 and length_{k+1} >= 1, length_k <= length_{k+1} / 2 < length_{k+1}:
  // the lengths strictly increase and the last is max_length exactly. Out-of-range configs (which
  // CreateSearcher refuses) are clamped to max_rungs >= 1 and divisor >= 2; their low rungs may be 0.
  const int rungs = std::max(config.max_rungs, 1);
  const int64_t divisor = std::max(config.divisor, 2);
  std::vector<int64_t> lengths(static_cast<size_t>(rungs));
  lengths.back() = config.max_length;
  for (int k = rungs - 2; k >= 0; --k) lengths[static_cast<size_t>(k)] = lengths[static_cast<size_t>(k) + 1] / divisor;
  return lengths;
}

StatusOr<std::unique_ptr<Searcher>> CreateSearcher(const SearcherConfig& config,
                                                   const std::vector<HyperparameterSpec>& space) {
  using Kind = SearcherConfig::Kind;
  TUTTI_RETURN_IF_ERROR(ExpectAtLeast("max_length", config.max_length, 1));
  TUTTI_RETURN_IF_ERROR(ExpectAtLeast("max_concurrent_trials", config.max_concurrent_trials, 0, " (0 = no limit)"));
  TUTTI_RETURN_IF_ERROR(internal::ValidateSpace(space));
  switch (config.kind) {
    case Kind::kSingle: {
      if (config.max_trials != 0 && config.max_trials != 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            "searcher.max_trials: single runs one trial; expected 1 (or 0), got ", config.max_trials));
      }
      for (const HyperparameterSpec& spec : space) {
        if (internal::Varies(spec)) {
          return absl::InvalidArgumentError(absl::StrCat("searcher: single runs one trial; hyperparameter ",
                                                         spec.path, " varies (", internal::TypeName(spec.type),
                                                         ")"));
        }
      }
      return internal::NewSingleSearcher(config, space);
    }
    case Kind::kGrid: {
      TUTTI_ASSIGN_OR_RETURN(std::vector<Assignment> points, GridPoints(space));
      if (config.max_trials != 0 && config.max_trials != static_cast<int64_t>(points.size())) {
        return absl::InvalidArgumentError(absl::StrCat("searcher.max_trials: a grid runs each of its ",
                                                       points.size(), " points once; expected 0 or ",
                                                       points.size(), ", got ", config.max_trials));
      }
      return internal::NewGridSearcher(config, std::move(points));
    }
    case Kind::kRandom:
      TUTTI_RETURN_IF_ERROR(ExpectAtLeast("max_trials", config.max_trials, 1));
      return internal::NewRandomSearcher(config, space);
    case Kind::kAsha:
      TUTTI_RETURN_IF_ERROR(ValidateAsha(config));
      return internal::NewAshaSearcher(config, space);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("searcher.name: expected single, grid, random or asha, got ", static_cast<int>(config.kind)));
}

}  // namespace tutti::sweep
