// GridPoints: each hyperparameter's axis, then their product in spec order (the last varies fastest).

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "core/sweep/internal/sweep_internal.h"
#include "core/sweep/searcher.h"

namespace tutti::sweep {
namespace {

using Type = HyperparameterSpec::Type;

// Drops repeated texts, keeping first occurrences in order (two grid points that format alike would be
// the same trial twice).
std::vector<std::string> Distinct(const std::vector<std::string>& values) {
  std::set<std::string> seen;
  std::vector<std::string> out;
  for (const std::string& v : values) {
    if (seen.insert(v).second) out.push_back(v);
  }
  return out;
}

double Round(double v) { return internal::RoundToDigits(v, internal::kGridDigits); }

// `n` evenly spaced reals from lo to hi (both exact); 1 = the midpoint. With `round`, interior points are
// rounded to kGridDigits (12) significant digits (and kept within [lo, hi]) so 0.1..0.3 in 3 gives 0.2, not
// 0.20000000000000001.
std::vector<double> Spaced(double lo, double hi, int n, bool round) {
  auto interior = [&](double v) { return round ? std::min(std::max(Round(v), lo), hi) : v; };
  if (n == 1) return {interior(lo + (hi - lo) / 2)};
  std::vector<double> out;
  for (int i = 0; i < n; ++i) {
    if (i == 0) {
      out.push_back(lo);
    } else if (i == n - 1) {
      out.push_back(hi);
    } else {
      out.push_back(interior(lo + (hi - lo) * i / (n - 1)));
    }
  }
  return out;
}

// One hyperparameter's grid values (YAML text), for a spec ValidateSpace accepted.
StatusOr<std::vector<std::string>> Axis(const HyperparameterSpec& spec) {
  const std::string key = "hyperparameters." + spec.path;
  if (spec.grid_count > internal::kMaxGridPoints) {
    return absl::InvalidArgumentError(absl::StrCat(key, ": expected grid_count <= ", internal::kMaxGridPoints,
                                                   ", got ", spec.grid_count));
  }
  std::vector<std::string> values;
  switch (spec.type) {
    case Type::kConst:
      return std::vector<std::string>{spec.values.at(0)};
    case Type::kCategorical:
      return Distinct(spec.values);
    case Type::kInt: {
      const int64_t lo = static_cast<int64_t>(spec.min), hi = static_cast<int64_t>(spec.max);
      const int64_t every = hi - lo + 1;  // bounds are within +-2^53: no overflow
      if (spec.grid_count == 0 || spec.grid_count >= every) {
        if (every > internal::kMaxGridPoints) {
          return absl::InvalidArgumentError(absl::StrCat(
              key, ": a grid over every integer in [", lo, ", ", hi, "] has ", every, " points, more than ",
              internal::kMaxGridPoints, "; set grid_count"));
        }
        for (int64_t v = lo; v <= hi; ++v) values.push_back(std::to_string(v));
        return values;
      }
      // grid_count evenly spaced reals, each rounded to the nearest integer (halves up); duplicates dropped.
      for (double v : Spaced(spec.min, spec.max, spec.grid_count, /*round=*/false)) {
        values.push_back(FormatValue(std::floor(v + 0.5), Type::kInt));
      }
      return Distinct(values);
    }
    case Type::kDouble:
    case Type::kLogUniform: {
      if (spec.grid_count < 1) {
        return absl::InvalidArgumentError(absl::StrCat(key, ": a grid needs count >= 1 (grid points) for a ",
                                                       internal::TypeName(spec.type), ", got ", spec.grid_count));
      }
      if (spec.type == Type::kDouble) {
        for (double v : Spaced(spec.min, spec.max, spec.grid_count, /*round=*/true)) {
          values.push_back(FormatValue(v, spec.type));
        }
      } else {
        // Evenly spaced in log(value): Spaced over the logs, then exp rounded to 12 digits (1e-4..1e-2 in 3
        // gives 0.001); the ends are the bounds exactly and a single point is the geometric mean.
        const std::vector<double> logs =
            Spaced(std::log(spec.min), std::log(spec.max), spec.grid_count, /*round=*/false);
        for (size_t i = 0; i < logs.size(); ++i) {
          double v = Round(std::exp(logs[i]));
          if (spec.grid_count > 1 && i == 0) v = spec.min;
          if (spec.grid_count > 1 && i + 1 == logs.size()) v = spec.max;
          values.push_back(FormatValue(std::min(std::max(v, spec.min), spec.max), spec.type));
        }
      }
      return Distinct(values);
    }
  }
  return absl::InvalidArgumentError(key + ": unknown hyperparameter type");
}

}  // namespace

StatusOr<std::vector<Assignment>> GridPoints(const std::vector<HyperparameterSpec>& space) {
  TUTTI_RETURN_IF_ERROR(internal::ValidateSpace(space));
  if (space.empty()) {
    return absl::InvalidArgumentError("hyperparameters: a grid needs at least one hyperparameter, got none");
  }
  std::vector<std::vector<std::string>> axes;
  int64_t size = 1;
  std::string shape;  // "train.g_lr 3 x model.width 4" for the too-large message
  for (const HyperparameterSpec& spec : space) {
    TUTTI_ASSIGN_OR_RETURN(std::vector<std::string> axis, Axis(spec));
    size *= static_cast<int64_t>(axis.size());  // each factor <= kMaxGridPoints and size <= it: no overflow
    absl::StrAppend(&shape, shape.empty() ? "" : " x ", spec.path, " ", axis.size());
    if (size > internal::kMaxGridPoints) {
      return absl::InvalidArgumentError(absl::StrCat("hyperparameters: the grid has more than ",
                                                     internal::kMaxGridPoints, " points (", shape, ")"));
    }
    axes.push_back(std::move(axis));
  }
  // Odometer over the axes: the last digit turns fastest.
  std::vector<Assignment> points;
  points.reserve(static_cast<size_t>(size));
  std::vector<size_t> digit(axes.size(), 0);
  for (int64_t p = 0; p < size; ++p) {
    Assignment a;
    for (size_t i = 0; i < axes.size(); ++i) a[space[i].path] = axes[i][digit[i]];
    points.push_back(std::move(a));
    for (size_t i = axes.size(); i-- > 0;) {
      if (++digit[i] < axes[i].size()) break;
      digit[i] = 0;
    }
  }
  return points;
}

}  // namespace tutti::sweep
