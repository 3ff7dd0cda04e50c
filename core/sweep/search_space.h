#pragma once
// The hyperparameters of a sweep: which job fields vary and how. Pure data; core/config parses them from
// an experiment file's `hyperparameters:` section, the searchers (searcher.h) draw or enumerate values.
//
// Values travel as YAML text ("0.001", "16", "[rock]", "true"), exactly what ApplyJobConfigOverride takes
// after "path=", so a trial's config is the job config plus one override per hyperparameter.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tutti::sweep {

// Job key path -> YAML value text: one trial's hyperparameters.
using Assignment = std::map<std::string, std::string>;

struct HyperparameterSpec {
  enum class Type {
    kConst,        // always `values[0]`
    kInt,          // an integer in [min, max]
    kDouble,       // a real number in [min, max]
    kLogUniform,   // a real number in [min, max], min > 0, uniform in log(value)
    kCategorical,  // one of `values`
  };
  std::string path;  // the job field it sets, e.g. "train.g_lr"
  Type type = Type::kConst;
  double min = 0;    // kInt, kDouble, kLogUniform (inclusive, finite; kInt: whole numbers within +-2^53)
  double max = 0;
  std::vector<std::string> values;  // kConst (exactly one), kCategorical (at least one): YAML text each
  // Points of this hyperparameter in a grid search: kInt with 0 = every integer in [min, max], n >= 1 = n
  // evenly spaced values rounded to integers (every integer when n exceeds them); kDouble and kLogUniform
  // need >= 1 (evenly spaced from min to max, in log space for kLogUniform; 1 = the midpoint, geometric
  // for kLogUniform; interior points rounded to 12 significant digits, so 1e-4..1e-2 in 3 gives 0.001);
  // kCategorical and kConst use their values and ignore it.
  int grid_count = 0;
};

// "0.001" for 1e-3, "16" for 16 (integers without a decimal point), the shortest text that reads back to
// the same double otherwise (fixed or scientific, whichever is shorter: "1e-05"; the same text as
// core/config's FormatDouble). kInt rounds a fractional value to the nearest integer. The form searchers
// write values in.
std::string FormatValue(double value, HyperparameterSpec::Type type);

}  // namespace tutti::sweep
