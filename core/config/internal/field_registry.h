#pragma once
// Internal to core/config: the one table of JobConfig fields. Parsing, --set overrides, printing,
// validation and equality all walk this table, so adding a field to JobConfig means adding one line to
// field_registry.cc (and a test that the example configs still parse).

#include <functional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/config/job_config.h"

namespace tutti::config_internal {

struct Field {
  // Dotted key path as written in YAML and --set: "train.batch_size". At most one level of section.
  std::string path;
  // What a valid value is, completing "expected ...": "a positive integer", "one of auto, mpi, nccl".
  std::string expected;
  // Decodes `node` and stores it when its type and range are right; false (config untouched) otherwise.
  std::function<bool(const YAML::Node&, JobConfig*)> set;
  // True when the current value is in range (for configs built in code).
  std::function<bool(const JobConfig&)> valid;
  // The current value as it reads in messages ("16", "'rock'").
  std::function<std::string(const JobConfig&)> show;
  // Writes the current value (the key has already been written).
  std::function<void(const JobConfig&, YAML::Emitter*)> emit;
  // Field-wise equality of two configs.
  std::function<bool(const JobConfig&, const JobConfig&)> same;
};

// Every field, grouped by section in file order. Built once; safe to call from any thread.
const std::vector<Field>& Fields();

// The field with this exact path, or nullptr.
const Field* FindField(const std::string& path);

// True when `path` names a section ("train"), i.e. some field path starts with "path.".
bool IsSection(const std::string& path);

// Names directly under `prefix` ("" = top level): fields and sections, in file order, without duplicates.
std::vector<std::string> ChildNames(const std::string& prefix);

// Full paths of fields whose last component is close to `leaf` ("batch_size" -> train.batch_size).
std::vector<std::string> PathsWithLeafLike(const std::string& leaf);

}  // namespace tutti::config_internal
