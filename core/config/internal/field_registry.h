#pragma once
// Internal to core/config: the one table of JobConfig fields. Parsing, --set overrides, printing,
// validation and equality all walk this table, so adding a field to JobConfig means adding one line to
// field_registry.cc (and a test that the example configs still parse).

#include <functional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/config/internal/schema.h"
#include "core/config/job_config.h"

namespace tutti::config_internal {

// A JobConfig field: the generic SchemaField (schema.h) rooted at JobConfig.
using Field = SchemaField<JobConfig>;

// Every field, grouped by section in file order. Built once; safe to call from any thread.
const std::vector<Field>& Fields();

// The JobConfig schema over Fields() (job_schema.cc). Built once; safe to call from any thread.
const Schema<JobConfig>& JobSchema();

// The field with this exact path, or nullptr.
const Field* FindField(const std::string& path);

// True when `path` names a section ("train"), i.e. some field path starts with "path.".
bool IsSection(const std::string& path);

// Names directly under `prefix` ("" = top level): fields and sections, in file order, without duplicates.
std::vector<std::string> ChildNames(const std::string& prefix);

// Full paths of fields whose last component is close to `leaf` ("batch_size" -> train.batch_size).
std::vector<std::string> PathsWithLeafLike(const std::string& leaf);

}  // namespace tutti::config_internal
