#include "core/config/experiment_config_yaml.h"

#include <cmath>
#include <set>

#include <yaml-cpp/yaml.h>

#include "absl/strings/str_cat.h"

#include "core/base/file_util.h"
#include "core/config/internal/field_builders.h"
#include "core/config/internal/field_registry.h"
#include "core/config/internal/schema.h"
#include "core/config/job_config_yaml.h"

namespace tutti {
namespace {

using config_internal::ConfigErrors;
using config_internal::DescribeNode;
using config_internal::Location;
using config_internal::MakeField;
using config_internal::Schema;
using config_internal::SchemaField;
using sweep::HyperparameterSpec;
using Type = HyperparameterSpec::Type;

const char* TypeName(Type t) {
  switch (t) {
    case Type::kConst: return "const";
    case Type::kInt: return "int";
    case Type::kDouble: return "double";
    case Type::kLogUniform: return "log_uniform";
    case Type::kCategorical: return "categorical";
  }
  return "?";
}

// A node as one-line YAML text ("0.001", "[rock, pop]"), the form ApplyJobConfigOverride reads.
std::string NodeText(const YAML::Node& node) {
  YAML::Emitter out;
  out << YAML::Flow << node;
  return out.c_str();
}

// Checks that `text` is a valid value of the job key `path`; the expected phrase otherwise.
bool ValidForJobKey(const std::string& path, const std::string& text, std::string* expected) {
  const config_internal::Field* field = config_internal::FindField(path);
  JobConfig scratch;
  YAML::Node node;
  try {
    node = YAML::Load(text);
  } catch (const YAML::Exception&) {
    *expected = field->expected;
    return false;
  }
  if (field->set(node, &scratch)) return true;
  *expected = field->expected;
  return false;
}

// Parses one `hyperparameters:` entry (key = a job key path).
void ParseHyperparameter(const YAML::Node& key, const YAML::Node& value, const std::string& source,
                         ExperimentConfig* config, ConfigErrors* errors) {
  const std::string path = key.Scalar();
  const std::string where = "hyperparameters." + path;
  const auto& job = config_internal::JobSchema();
  if (job.Find(path) == nullptr) {
    const std::vector<std::string> like = job.PathsLike(path);
    errors->Add(Location(source, key.Mark()) + ": " + where + ": " + path + " is not a job key" +
                (like.empty() ? std::string("; hyperparameters name job keys such as train.g_lr")
                              : "; did you mean " + config_internal::JoinOr(like) + "?"));
    return;
  }
  HyperparameterSpec spec;
  spec.path = path;
  auto invalid_value = [&](const YAML::Node& node, const std::string& field, const std::string& text) {
    std::string expected;
    if (ValidForJobKey(path, text, &expected)) return false;
    errors->Add(Location(source, node.Mark()) + ": " + where + (field.empty() ? "" : "." + field) + ": " + text +
                " is not a valid " + path + ": expected " + expected);
    return true;
  };
  if (!value.IsMap()) {  // shorthand: a constant
    spec.type = Type::kConst;
    spec.values = {NodeText(value)};
    if (value.IsNull()) {
      errors->Add(Location(source, key.Mark()) + ": " + where + ": expected a value or a mapping with a type, got " +
                  DescribeNode(value));
      return;
    }
    if (invalid_value(value, "", spec.values[0])) return;
    config->hyperparameters.push_back(std::move(spec));
    return;
  }
  static const std::vector<std::string> kKeys = {"type", "min", "max", "count", "values", "value"};
  for (const auto& entry : value) {
    const std::string name = entry.first.IsScalar() ? entry.first.Scalar() : "";
    if (std::find(kKeys.begin(), kKeys.end(), name) == kKeys.end()) {
      const std::vector<std::string> like = config_internal::ClosestMatches(name, kKeys);
      errors->Add(Location(source, entry.first.Mark()) + ": " + where + "." + name + ": unknown key" +
                  (like.empty() ? "; valid keys: type, min, max, count, values, value"
                                : "; did you mean " + config_internal::JoinOr(like) + "?"));
      return;
    }
  }
  const YAML::Node type = value["type"];
  std::string type_name;
  if (!type || !config_internal::Decode(type, &type_name)) {
    errors->Add(Location(source, type ? type.Mark() : key.Mark()) + ": " + where +
                ".type: expected one of const, int, double, log_uniform, categorical" +
                (type ? ", got " + DescribeNode(type) : std::string(" (missing)")));
    return;
  }
  static const std::vector<std::pair<std::string, Type>> kTypes = {
      {"const", Type::kConst}, {"int", Type::kInt}, {"double", Type::kDouble}, {"log_uniform", Type::kLogUniform},
      {"log", Type::kLogUniform}, {"categorical", Type::kCategorical}};
  bool known = false;
  for (const auto& [n, t] : kTypes) {
    if (n == type_name) {
      spec.type = t;
      known = true;
    }
  }
  if (!known) {
    errors->Add(Location(source, type.Mark()) + ": " + where +
                ".type: expected one of const, int, double, log_uniform, categorical, got '" + type_name + "'");
    return;
  }
  auto number = [&](const char* field, double* out) {
    const YAML::Node n = value[field];
    if (!n) {
      errors->Add(Location(source, key.Mark()) + ": " + where + ": a " + TypeName(spec.type) + " needs " + field);
      return false;
    }
    if (!config_internal::Decode(n, out)) {
      errors->Add(Location(source, n.Mark()) + ": " + where + "." + field + ": expected a number, got " +
                  DescribeNode(n));
      return false;
    }
    if (spec.type == Type::kInt && std::floor(*out) != *out) {
      errors->Add(Location(source, n.Mark()) + ": " + where + "." + field + ": expected a whole number for an int, got " +
                  DescribeNode(n));
      return false;
    }
    return !invalid_value(n, field, sweep::FormatValue(*out, spec.type));
  };
  switch (spec.type) {
    case Type::kConst: {
      const YAML::Node v = value["value"];
      if (!v) {
        errors->Add(Location(source, key.Mark()) + ": " + where + ": a const needs value");
        return;
      }
      spec.values = {NodeText(v)};
      if (invalid_value(v, "value", spec.values[0])) return;
      break;
    }
    case Type::kCategorical: {
      const YAML::Node v = value["values"];
      if (!v || !v.IsSequence() || v.size() == 0) {
        errors->Add(Location(source, v ? v.Mark() : key.Mark()) + ": " + where +
                    ".values: expected a non-empty list of values" + (v ? ", got " + DescribeNode(v) : std::string("")));
        return;
      }
      for (const YAML::Node& item : v) {
        spec.values.push_back(NodeText(item));
        if (invalid_value(item, "values", spec.values.back())) return;
      }
      break;
    }
    case Type::kInt:
    case Type::kDouble:
    case Type::kLogUniform: {
      bool ok = number("min", &spec.min);
      ok = number("max", &spec.max) && ok;
      if (!ok) return;
      if (spec.min > spec.max) {
        errors->Add(Location(source, value["min"].Mark()) + ": " + where + ": min (" +
                    config_internal::FormatDouble(spec.min) + ") is greater than max (" +
                    config_internal::FormatDouble(spec.max) + ")");
        return;
      }
      if (spec.type == Type::kLogUniform && spec.min <= 0) {
        errors->Add(Location(source, value["min"].Mark()) + ": " + where +
                    ".min: a log_uniform needs min > 0 (the logarithm of " + config_internal::FormatDouble(spec.min) +
                    " is undefined)");
        return;
      }
      break;
    }
  }
  if (const YAML::Node count = value["count"]) {
    int n = 0;
    if (!config_internal::Decode(count, &n) || n < 1) {
      errors->Add(Location(source, count.Mark()) + ": " + where + ".count: expected a positive integer, got " +
                  DescribeNode(count));
      return;
    }
    spec.grid_count = n;
  }
  for (const HyperparameterSpec& other : config->hyperparameters) {
    if (other.path == path) {
      errors->Add(Location(source, key.Mark()) + ": " + where + ": given twice");
      return;
    }
  }
  config->hyperparameters.push_back(std::move(spec));
}

void ParseHyperparameters(const YAML::Node& node, const YAML::Node& key, const std::string& source,
                          ExperimentConfig* config, ConfigErrors* errors) {
  if (node.IsNull()) return;
  if (!node.IsMap()) {
    errors->Add(Location(source, config_internal::ValueMark(node, key)) +
                ": hyperparameters: expected a mapping of job key paths (train.g_lr: {type: ...}), got " +
                DescribeNode(node));
    return;
  }
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) {
      errors->Add(Location(source, entry.first.Mark()) + ": hyperparameters: keys must be job key paths, got " +
                  DescribeNode(entry.first));
      continue;
    }
    ParseHyperparameter(entry.first, entry.second, source, config, errors);
  }
}

std::vector<SchemaField<ExperimentConfig>> ExperimentFields() {
  using E = ExperimentConfig;
  using namespace config_internal;  // NOLINT: the builders and rules
  std::vector<SchemaField<E>> f = Embed<E, JobConfig>(Fields(), [](auto& e) -> auto& { return e.job; });
  const std::vector<SchemaField<E>> own = {
      MakeField<E>("description", [](auto& e) -> auto& { return e.description; }, "a string", kAnyValue),
      MakeField<E>("labels", [](auto& e) -> auto& { return e.labels; }, "a list of non-empty labels",
                   kNamesWithoutEmpty),
      MakeField<E>("resources.ranks", [](auto& e) -> auto& { return e.resources.ranks; },
                   "a non-negative integer (0 = the agent's --np)", kNonNegativeValue),
      MakeField<E>("searcher.name", [](auto& e) -> auto& { return e.searcher.name; },
                   "one of single, grid, random, asha", OneOfNames({"single", "grid", "random", "asha"})),
      MakeField<E>("searcher.metric", [](auto& e) -> auto& { return e.searcher.metric; }, "a metric name",
                   kNonEmptyString),
      MakeField<E>("searcher.smaller_is_better", [](auto& e) -> auto& { return e.searcher.smaller_is_better; },
                   "true or false", kAnyValue),
      MakeField<E>("searcher.max_trials", [](auto& e) -> auto& { return e.searcher.max_trials; },
                   "a non-negative integer (0 = the searcher's default)", kNonNegativeValue),
      MakeField<E>("searcher.max_concurrent_trials", [](auto& e) -> auto& { return e.searcher.max_concurrent_trials; },
                   "a non-negative integer (0 = no limit)", kNonNegativeValue),
      MakeField<E>("searcher.max_length", [](auto& e) -> auto& { return e.searcher.max_length; },
                   "a non-negative integer (0 = train.steps)", kNonNegativeValue),
      MakeField<E>("searcher.divisor", [](auto& e) -> auto& { return e.searcher.divisor; }, "an integer >= 2",
                   AtLeast(2)),
      MakeField<E>("searcher.max_rungs", [](auto& e) -> auto& { return e.searcher.max_rungs; }, "a positive integer",
                   kPositiveValue),
      MakeField<E>("searcher.seed", [](auto& e) -> auto& { return e.searcher.seed; }, "a non-negative integer",
                   kAnyValue),
      MakeField<E>("early_stopping.enabled", [](auto& e) -> auto& { return e.early_stopping.enabled; },
                   "true or false", kAnyValue),
      MakeField<E>("early_stopping.divergence_threshold",
                   [](auto& e) -> auto& { return e.early_stopping.divergence_threshold; }, "a positive number",
                   kPositiveValue),
      MakeField<E>("early_stopping.divergence_window",
                   [](auto& e) -> auto& { return e.early_stopping.divergence_window; }, "a positive integer",
                   kPositiveValue),
      MakeField<E>("early_stopping.collapse_threshold",
                   [](auto& e) -> auto& { return e.early_stopping.collapse_threshold; }, "a number in [0, 1]",
                   [](double v) { return v >= 0 && v <= 1; }),
      MakeField<E>("early_stopping.collapse_evaluations",
                   [](auto& e) -> auto& { return e.early_stopping.collapse_evaluations; }, "a positive integer",
                   kPositiveValue),
      MakeField<E>("early_stopping.patience", [](auto& e) -> auto& { return e.early_stopping.patience; },
                   "a non-negative integer (0 = off)", kNonNegativeValue),
      MakeField<E>("early_stopping.min_delta", [](auto& e) -> auto& { return e.early_stopping.min_delta; },
                   "a non-negative number", kNonNegativeValue),
      MakeField<E>("max_restarts", [](auto& e) -> auto& { return e.max_restarts; }, "a non-negative integer",
                   kNonNegativeValue),
  };
  f.insert(f.end(), own.begin(), own.end());
  return f;
}

const Schema<ExperimentConfig>& ExperimentSchema() {
  static const Schema<ExperimentConfig>* const schema = new Schema<ExperimentConfig>(
      ExperimentFields(), {{"hyperparameters", [](const YAML::Node& node, const YAML::Node& key,
                                                  const std::string& source, ExperimentConfig* config,
                                                  ConfigErrors* errors) {
                              ParseHyperparameters(node, key, source, config, errors);
                            }}});
  return *schema;
}

}  // namespace

Status CheckFitsRanks(const ExperimentConfig& config, int available_ranks, const std::string& source_name) {
  if (available_ranks <= 0 || config.resources.ranks <= available_ranks) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      source_name, ": resources.ranks: each trial needs ", config.resources.ranks, " ranks, more than the ",
      available_ranks, " the workers give (tutti agent --ranks ", available_ranks,
      "); its trials would wait in the queue for a bigger worker"));
}

sweep::SearcherConfig ToSearcherConfig(const ExperimentConfig& config) {
  sweep::SearcherConfig s;
  const std::string& name = config.searcher.name;
  s.kind = name == "grid"     ? sweep::SearcherConfig::Kind::kGrid
           : name == "random" ? sweep::SearcherConfig::Kind::kRandom
           : name == "asha"   ? sweep::SearcherConfig::Kind::kAsha
                              : sweep::SearcherConfig::Kind::kSingle;
  s.metric = config.searcher.metric;
  s.smaller_is_better = config.searcher.smaller_is_better;
  s.max_trials = config.searcher.max_trials;
  if (s.kind == sweep::SearcherConfig::Kind::kSingle && s.max_trials == 0) s.max_trials = 1;
  s.max_concurrent_trials = config.searcher.max_concurrent_trials;
  s.max_length = config.searcher.max_length > 0 ? config.searcher.max_length : config.job.train.steps;
  s.divisor = config.searcher.divisor;
  s.max_rungs = config.searcher.max_rungs;
  s.seed = config.searcher.seed;
  return s;
}

sweep::EarlyStoppingConfig ToEarlyStoppingConfig(const ExperimentConfig& config) {
  sweep::EarlyStoppingConfig e;
  const EarlyStoppingSection& s = config.early_stopping;
  e.enabled = s.enabled;
  e.objective = config.searcher.metric;
  e.smaller_is_better = config.searcher.smaller_is_better;
  e.divergence_threshold = s.divergence_threshold;
  e.divergence_window = s.divergence_window;
  e.collapse_threshold = s.collapse_threshold;
  e.collapse_evaluations = s.collapse_evaluations;
  e.patience = s.patience;
  e.min_delta = s.min_delta;
  return e;
}

Status ValidateExperimentConfig(const ExperimentConfig& config) {
  ConfigErrors errors;
  errors.Add(ValidateJobConfig(config.job));
  (void)config_internal::ValidateFields(ExperimentSchema(), config, &errors);  // the errors are in `errors`
  for (const HyperparameterSpec& h : config.hyperparameters) {
    if (h.path == "train.steps") {
      errors.Add("hyperparameters.train.steps: the searcher sets each trial's train.steps (searcher.max_length); "
                 "vary something else");
    }
  }
  errors.Add(sweep::ValidateEarlyStopping(ToEarlyStoppingConfig(config)));
  if (errors.empty()) errors.Add(sweep::CreateSearcher(ToSearcherConfig(config), config.hyperparameters).status());
  return errors.ToStatus();
}

Status ApplyExperimentOverride(const std::string& assignment, ExperimentConfig* config) {
  return config_internal::ApplyOverride(ExperimentSchema(), assignment, config);
}

StatusOr<ExperimentConfig> ParseExperimentConfig(const std::string& yaml_text, const std::string& source_name,
                                                 const std::vector<std::string>& overrides) {
  ExperimentConfig config;
  TUTTI_ASSIGN_OR_RETURN(const YAML::Node root,
                         config_internal::LoadMappingDocument(yaml_text, source_name,
                                                              "name, data, train, hyperparameters, searcher"));
  ConfigErrors errors;
  try {
    config_internal::ParseMapping(ExperimentSchema(), root, "", source_name, &config, &errors);
  } catch (const YAML::Exception& e) {
    errors.Add(Location(source_name, e.mark) + ": YAML error: " + e.msg);
  }
  for (const std::string& assignment : overrides) errors.Add(ApplyExperimentOverride(assignment, &config));
  TUTTI_RETURN_IF_ERROR(errors.ToStatus());
  const Status valid = ValidateExperimentConfig(config);
  if (!valid.ok()) return Annotate(valid, overrides.empty() ? source_name : source_name + " with --set overrides");
  return config;
}

StatusOr<ExperimentConfig> LoadExperimentConfig(const std::string& path, const std::vector<std::string>& overrides) {
  TUTTI_ASSIGN_OR_RETURN(const std::string text, ReadFileToString(path));
  return ParseExperimentConfig(text, path, overrides);
}

std::string ExperimentConfigToYaml(const ExperimentConfig& config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  config_internal::EmitFields(ExperimentSchema(), config, &out);
  out << YAML::Key << "hyperparameters" << YAML::Value << YAML::BeginMap;
  for (const HyperparameterSpec& h : config.hyperparameters) {
    out << YAML::Key << h.path << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "type" << YAML::Value << TypeName(h.type);
    if (h.type == Type::kConst) {
      out << YAML::Key << "value" << YAML::Value << YAML::Load(h.values[0]);
    } else if (h.type == Type::kCategorical) {
      out << YAML::Key << "values" << YAML::Value << YAML::BeginSeq;
      for (const std::string& v : h.values) out << YAML::Load(v);
      out << YAML::EndSeq;
    } else {
      out << YAML::Key << "min" << YAML::Value << sweep::FormatValue(h.min, h.type);
      out << YAML::Key << "max" << YAML::Value << sweep::FormatValue(h.max, h.type);
    }
    if (h.grid_count > 0) out << YAML::Key << "count" << YAML::Value << h.grid_count;
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  out << YAML::EndMap;
  return "# Resolved Tutti experiment config (every key; see configs/reference.yaml).\n" + std::string(out.c_str()) +
         "\n";
}

StatusOr<JobConfig> TrialJobConfig(const ExperimentConfig& config, const sweep::Assignment& hparams, int64_t length) {
  JobConfig job = config.job;
  for (const auto& [path, value] : hparams) {
    Status s = ApplyJobConfigOverride(path + "=" + value, &job);
    if (!s.ok()) return Annotate(s, "hyperparameters." + path);
  }
  if (length > 0) job.train.steps = length;
  TUTTI_RETURN_IF_ERROR(ValidateJobConfig(job));
  return job;
}

std::vector<std::string> ExperimentConfigKeyPaths() { return ExperimentSchema().KeyPaths(); }

}  // namespace tutti
