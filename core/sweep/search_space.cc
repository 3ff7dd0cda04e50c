#include "core/sweep/search_space.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <set>
#include <string>

#include "core/sweep/internal/sweep_internal.h"

namespace tutti::sweep {
namespace internal {
namespace {

// Bounds of a kInt: every whole number up to 2^53 is a double, so draws and grid points stay exact.
constexpr double kMaxIntBound = 9007199254740992.0;  // 2^53

std::string Key(const HyperparameterSpec& spec) { return "hyperparameters." + spec.path; }

}  // namespace

const char* TypeName(HyperparameterSpec::Type type) {
  switch (type) {
    case HyperparameterSpec::Type::kConst: return "const";
    case HyperparameterSpec::Type::kInt: return "int";
    case HyperparameterSpec::Type::kDouble: return "double";
    case HyperparameterSpec::Type::kLogUniform: return "log_uniform";
    case HyperparameterSpec::Type::kCategorical: return "categorical";
  }
  return "?";
}

std::string FormatNumber(double value) {
  // The same as core/config's FormatDouble (which sweep must not depend on): std::to_chars without a
  // precision is the shortest text that round-trips, fixed or scientific whichever is shorter (fixed on a
  // tie), locale-independent and fixed by the standard, so every standard library gives the same text.
  if (!std::isfinite(value)) return std::isnan(value) ? "nan" : (value > 0 ? "inf" : "-inf");
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  if (ec != std::errc()) return "?";
  return std::string(buf, ptr);
}

std::string FormatRounded(double value, int digits) {
  if (!std::isfinite(value)) return FormatNumber(value);
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::general, digits);
  if (ec != std::errc()) return "?";
  // Round-trip form of the rounded value: drops the trailing zeros "%g" would keep in exponent forms.
  double rounded = 0;
  std::from_chars(buf, ptr, rounded);
  return FormatNumber(rounded);
}

double RoundToDigits(double value, int digits) {
  if (!std::isfinite(value)) return value;
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::general, digits);
  if (ec != std::errc()) return value;
  double rounded = value;
  std::from_chars(buf, ptr, rounded);
  return rounded;
}

Status ValidateSpace(const std::vector<HyperparameterSpec>& space) {
  using Type = HyperparameterSpec::Type;
  std::set<std::string> seen;
  for (size_t i = 0; i < space.size(); ++i) {
    const HyperparameterSpec& spec = space[i];
    if (spec.path.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("hyperparameters: entry ", i + 1, " of ", space.size(), " has an empty path"));
    }
    const std::string key = Key(spec);
    if (!seen.insert(spec.path).second) {
      return absl::InvalidArgumentError(key + ": listed twice; each job field can vary only one way");
    }
    if (spec.grid_count < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(key, ": expected grid_count >= 0 (0 = default), got ", spec.grid_count));
    }
    switch (spec.type) {
      case Type::kConst:
        if (spec.values.size() != 1) {
          return absl::InvalidArgumentError(
              absl::StrCat(key, ": a const needs exactly one value, got ", spec.values.size()));
        }
        break;
      case Type::kCategorical:
        if (spec.values.empty()) {
          return absl::InvalidArgumentError(key + ": a categorical needs at least one value, got none");
        }
        break;
      case Type::kInt:
      case Type::kDouble:
      case Type::kLogUniform: {
        const std::string type = TypeName(spec.type);
        for (auto [name, bound] : {std::pair<const char*, double>{"min", spec.min}, {"max", spec.max}}) {
          if (!std::isfinite(bound)) {
            return absl::InvalidArgumentError(
                absl::StrCat(key, ": expected a finite ", name, ", got ", FormatNumber(bound)));
          }
          if (spec.type == Type::kInt && bound != std::floor(bound)) {
            return absl::InvalidArgumentError(absl::StrCat(key, ": an int needs whole-number bounds, got ", name,
                                                           " ", FormatNumber(bound)));
          }
          if (spec.type == Type::kInt && std::fabs(bound) > kMaxIntBound) {
            return absl::InvalidArgumentError(absl::StrCat(key, ": an int needs bounds within +-2^53, got ",
                                                           name, " ", FormatNumber(bound)));
          }
        }
        if (spec.min > spec.max) {
          return absl::InvalidArgumentError(absl::StrCat(key, ": expected min <= max, got min ",
                                                         FormatNumber(spec.min), " > max ", FormatNumber(spec.max)));
        }
        if (spec.type == Type::kLogUniform && spec.min <= 0) {
          return absl::InvalidArgumentError(
              absl::StrCat(key, ": a ", type, " needs min > 0, got ", FormatNumber(spec.min)));
        }
        break;
      }
      default:
        return absl::InvalidArgumentError(
            absl::StrCat(key, ": unknown hyperparameter type ", static_cast<int>(spec.type)));
    }
  }
  return absl::OkStatus();
}

bool Varies(const HyperparameterSpec& spec) {
  switch (spec.type) {
    case HyperparameterSpec::Type::kConst: return false;
    case HyperparameterSpec::Type::kCategorical:
      return std::set<std::string>(spec.values.begin(), spec.values.end()).size() > 1;
    default: return true;  // even min == max: the user asked for a range
  }
}

std::string DrawValue(const HyperparameterSpec& spec, Rng& rng) {
  using Type = HyperparameterSpec::Type;
  switch (spec.type) {
    case Type::kConst: return spec.values.at(0);
    case Type::kInt:
      return FormatValue(static_cast<double>(rng.UniformInt(static_cast<int64_t>(spec.min),
                                                            static_cast<int64_t>(spec.max))),
                         spec.type);
    case Type::kDouble: {
      // u < 1, but min + u * (max - min) can still round up to max (or past it): clamp, bounds are inclusive.
      const double v = spec.min + rng.UniformUnit() * (spec.max - spec.min);
      return FormatValue(std::min(std::max(v, spec.min), spec.max), spec.type);
    }
    case Type::kLogUniform: {
      const double lo = std::log(spec.min), hi = std::log(spec.max);
      const double v = std::exp(lo + rng.UniformUnit() * (hi - lo));
      return FormatValue(std::min(std::max(v, spec.min), spec.max), spec.type);
    }
    case Type::kCategorical:
      return spec.values.at(static_cast<size_t>(rng.UniformInt(0, static_cast<int64_t>(spec.values.size()) - 1)));
  }
  return "";
}

Assignment DrawAssignment(const std::vector<HyperparameterSpec>& space, Rng& rng) {
  Assignment assignment;
  for (const HyperparameterSpec& spec : space) assignment[spec.path] = DrawValue(spec, rng);
  return assignment;
}

}  // namespace internal

std::string FormatValue(double value, HyperparameterSpec::Type type) {
  if (type == HyperparameterSpec::Type::kInt && std::isfinite(value) && std::fabs(value) < 9.2e18) {
    // Whole numbers as integers ("16", never "1.6e+01"); a fractional value rounds half away from zero.
    return std::to_string(static_cast<long long>(std::llround(value)));
  }
  return internal::FormatNumber(value);
}

}  // namespace tutti::sweep
