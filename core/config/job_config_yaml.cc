#include "core/config/job_config_yaml.h"

#include <yaml-cpp/yaml.h>

#include <map>
#include <utility>

#include "core/base/file_util.h"
#include "core/config/internal/field_registry.h"
#include "core/config/internal/yaml_values.h"

namespace tutti {
namespace {

using config_internal::ChildNames;
using config_internal::ClosestMatches;
using config_internal::DescribeNode;
using config_internal::Field;
using config_internal::Fields;
using config_internal::FindField;
using config_internal::IsSection;
using config_internal::JoinOr;
using config_internal::Location;
using config_internal::PathsWithLeafLike;

std::string Join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// "; did you mean train.batch_size?" for an unknown `name` under `prefix`, trying the siblings first and
// then same-named keys in other sections; otherwise the list of keys valid at that level.
std::string UnknownKeyHint(const std::string& prefix, const std::string& name) {
  std::vector<std::string> suggestions;
  for (const std::string& sibling : ClosestMatches(name, ChildNames(prefix))) {
    suggestions.push_back(Join(prefix, sibling));
  }
  if (suggestions.empty()) suggestions = PathsWithLeafLike(name);
  if (!suggestions.empty()) return "; did you mean " + JoinOr(suggestions) + "?";
  std::string valid;
  for (const std::string& child : ChildNames(prefix)) valid += (valid.empty() ? "" : ", ") + child;
  return "; valid keys " + (prefix.empty() ? std::string("at the top level") : "in " + prefix) + ": " + valid;
}

Status ConfigError(const std::string& location, const std::string& message) {
  return absl::InvalidArgumentError(location + ": " + message);
}

// Where to point for a bad value: the value itself, except for an empty value (`key:` with nothing after
// it), whose mark yaml-cpp places at the start of the next line; point at its key instead.
YAML::Mark ValueMark(const YAML::Node& value, const YAML::Node& key) {
  const YAML::Mark mark = value.Mark();
  return value.IsNull() || mark.is_null() || mark.line < 0 ? key.Mark() : mark;
}

// Walks one mapping of the file, setting fields and recursing into sections.
Status ParseMap(const YAML::Node& map, const std::string& prefix, const std::string& source,
                JobConfig* config) {
  std::map<std::string, YAML::Mark> seen;
  for (const auto& entry : map) {
    const YAML::Node& key = entry.first;
    const YAML::Node& value = entry.second;
    if (!key.IsScalar()) {
      return ConfigError(Location(source, key.Mark()), (prefix.empty() ? std::string("top level") : prefix) +
                                                           ": keys must be plain names, got " +
                                                           DescribeNode(key));
    }
    const std::string path = Join(prefix, key.Scalar());
    const auto [first, inserted] = seen.emplace(key.Scalar(), key.Mark());
    if (!inserted) {
      return ConfigError(Location(source, key.Mark()),
                         path + ": duplicate key (first set at " + Location(source, first->second) + ")");
    }
    if (const Field* field = FindField(path)) {
      if (!field->set(value, config)) {
        return ConfigError(Location(source, ValueMark(value, key)),
                           path + ": expected " + field->expected + ", got " + DescribeNode(value));
      }
    } else if (IsSection(path)) {
      if (value.IsNull()) continue;  // "train:" with nothing under it keeps the defaults
      if (!value.IsMap()) {
        return ConfigError(Location(source, ValueMark(value, key)),
                           path + ": expected a mapping of " + path + " keys, got " + DescribeNode(value));
      }
      TUTTI_RETURN_IF_ERROR(ParseMap(value, path, source, config));
    } else {
      return ConfigError(Location(source, key.Mark()),
                         path + ": unknown key" + UnknownKeyHint(prefix, key.Scalar()));
    }
  }
  return absl::OkStatus();
}

// yaml-cpp reports tab indentation as "illegal map value"; say what is actually wrong.
std::string TabHint(const std::string& text) {
  size_t line = 0;
  while (line < text.size()) {
    const size_t indent_end = text.find_first_not_of(' ', line);
    if (indent_end != std::string::npos && text[indent_end] == '\t') {
      return " (tabs are not allowed for indentation in YAML; use spaces)";
    }
    const size_t newline = text.find('\n', line);
    if (newline == std::string::npos) break;
    line = newline + 1;
  }
  return "";
}

std::string Trim(const std::string& s) {
  const size_t begin = s.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(" \t") - begin + 1);
}

}  // namespace

Status ApplyJobConfigOverride(const std::string& assignment, JobConfig* config) {
  const std::string context = "--set " + assignment;
  const size_t eq = assignment.find('=');
  const std::string path = Trim(assignment.substr(0, eq));
  if (eq == std::string::npos || path.empty()) {
    return absl::InvalidArgumentError(context + ": expected key.path=value, e.g. train.batch_size=64");
  }
  const Field* field = FindField(path);
  if (field == nullptr) {
    if (IsSection(path)) {
      std::string keys;
      for (const std::string& child : ChildNames(path))
        keys += (keys.empty() ? "" : ", ") + path + "." + child;
      return absl::InvalidArgumentError(context + ": " + path +
                                        " is a section; set one of its keys: " + keys);
    }
    std::vector<std::string> all;
    for (const Field& f : Fields()) all.push_back(f.path);
    std::vector<std::string> suggestions = ClosestMatches(path, all);
    if (suggestions.empty()) suggestions = PathsWithLeafLike(path.substr(path.rfind('.') + 1));
    return absl::InvalidArgumentError(
        context + ": unknown key " + path +
        (suggestions.empty() ? std::string("; see JobConfigKeyPaths() or any configs/*.yaml for the keys")
                             : "; did you mean " + JoinOr(suggestions) + "?"));
  }
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(context + ": YAML syntax error in the value at column " +
                                      std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (!field->set(value, config)) {
    return absl::InvalidArgumentError(context + ": expected " + field->expected + ", got " +
                                      DescribeNode(value));
  }
  return absl::OkStatus();
}

StatusOr<JobConfig> ParseJobConfig(const std::string& yaml_text, const std::string& source_name,
                                   const std::vector<std::string>& overrides) {
  JobConfig config;
  try {
    std::vector<YAML::Node> documents;
    try {
      documents = YAML::LoadAll(yaml_text);
    } catch (const YAML::ParserException& e) {
      return ConfigError(Location(source_name, e.mark), "YAML syntax error: " + e.msg + TabHint(yaml_text));
    }
    if (documents.size() > 1) {
      return ConfigError(Location(source_name, documents[1].Mark()),
                         "expected one YAML document, found " + std::to_string(documents.size()));
    }
    if (documents.empty() || documents[0].IsNull()) {
      return ConfigError(source_name,
                         "the file is empty; expected a mapping with keys such as name, data, "
                         "model, train (see configs/quickstart.yaml)");
    }
    const YAML::Node& root = documents[0];
    if (!root.IsMap()) {
      return ConfigError(
          Location(source_name, root.Mark()),
          "expected a mapping with keys such as name, data, model, train, got " + DescribeNode(root));
    }
    TUTTI_RETURN_IF_ERROR(ParseMap(root, "", source_name, &config));
  } catch (const YAML::Exception& e) {  // not expected past LoadAll; keep the position if one comes
    return ConfigError(Location(source_name, e.mark), std::string("YAML error: ") + e.msg);
  }
  for (const std::string& assignment : overrides) {
    TUTTI_RETURN_IF_ERROR(ApplyJobConfigOverride(assignment, &config));
  }
  // Field ranges were checked above with their positions; this catches the cross-field rules.
  const Status valid = ValidateJobConfig(config);
  if (!valid.ok()) {
    return Annotate(valid, overrides.empty() ? source_name : source_name + " with --set overrides");
  }
  return config;
}

StatusOr<JobConfig> LoadJobConfig(const std::string& path, const std::vector<std::string>& overrides) {
  TUTTI_ASSIGN_OR_RETURN(const std::string text, ReadFileToString(path));
  return ParseJobConfig(text, path, overrides);
}

std::vector<std::string> JobConfigKeyPaths() {
  std::vector<std::string> paths;
  for (const Field& f : Fields()) paths.push_back(f.path);
  return paths;
}

std::string JobConfigToYaml(const JobConfig& config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  std::string open_section;
  for (const Field& f : Fields()) {
    const size_t dot = f.path.find('.');
    const std::string section = dot == std::string::npos ? "" : f.path.substr(0, dot);
    if (section != open_section) {
      if (!open_section.empty()) out << YAML::EndMap;
      if (!section.empty()) out << YAML::Key << section << YAML::Value << YAML::BeginMap;
      open_section = section;
    }
    out << YAML::Key << f.path.substr(dot + 1) << YAML::Value;  // npos + 1 == 0: the whole path
    f.emit(config, &out);
  }
  if (!open_section.empty()) out << YAML::EndMap;
  out << YAML::EndMap;
  return "# Resolved Tutti job config (every key; relative paths as in core/config/job_config.h).\n" +
         std::string(out.c_str()) + "\n";
}

Status ValidateJobConfig(const JobConfig& config) {
  for (const Field& f : Fields()) {
    if (!f.valid(config)) {
      return absl::InvalidArgumentError(f.path + ": expected " + f.expected + ", got " + f.show(config));
    }
  }
  const DistributedConfig& d = config.distributed;
  if (d.stall_warning_s > d.timeout_s) {
    return absl::InvalidArgumentError(
        "distributed.stall_warning_s: expected at most distributed.timeout_s (" +
        config_internal::FormatDouble(d.timeout_s) + "), got " +
        config_internal::FormatDouble(d.stall_warning_s));
  }
  return absl::OkStatus();
}

bool operator==(const JobConfig& a, const JobConfig& b) {
  for (const Field& f : Fields()) {
    if (!f.same(a, b)) return false;
  }
  return true;
}

}  // namespace tutti
