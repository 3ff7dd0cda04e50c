#include "core/config/coordinator_settings.h"

#include <yaml-cpp/yaml.h>

#include "core/base/file_util.h"
#include "core/config/internal/field_builders.h"
#include "core/config/internal/schema.h"

namespace tutti {
namespace {

using config_internal::ConfigErrors;
using config_internal::MakeField;
using config_internal::Schema;
using S = CoordinatorSettings;

const Schema<S>& SettingsSchema() {
  using namespace config_internal;  // NOLINT: the builders and rules
  static const Schema<S>* const schema = new Schema<S>({
      MakeField<S>("home", [](auto& s) -> auto& { return s.home; }, "a directory", kAnyValue),
      MakeField<S>("listen", [](auto& s) -> auto& { return s.listen; }, "host:port", kNonEmptyString),
      MakeField<S>("token_file", [](auto& s) -> auto& { return s.token_file; }, "a file name", kAnyValue),
      MakeField<S>("tls_cert", [](auto& s) -> auto& { return s.tls_cert; }, "a PEM file", kAnyValue),
      MakeField<S>("tls_key", [](auto& s) -> auto& { return s.tls_key; }, "a PEM file", kAnyValue),
      MakeField<S>("lease_seconds", [](auto& s) -> auto& { return s.lease_seconds; }, "a positive number",
                   kPositiveValue),
      MakeField<S>("heartbeat_seconds", [](auto& s) -> auto& { return s.heartbeat_seconds; }, "a positive number",
                   kPositiveValue),
      MakeField<S>("max_restarts", [](auto& s) -> auto& { return s.max_restarts; }, "a non-negative integer",
                   kNonNegativeValue),
      MakeField<S>("max_checkpoint_mb", [](auto& s) -> auto& { return s.max_checkpoint_mb; }, "a positive number",
                   kPositiveValue),
      MakeField<S>("grace_seconds", [](auto& s) -> auto& { return s.grace_seconds; }, "a non-negative number",
                   kNonNegativeValue),
      MakeField<S>("http", [](auto& s) -> auto& { return s.http; }, "host:port", kAnyValue),
      MakeField<S>("samples.max_per_request", [](auto& s) -> auto& { return s.samples.max_per_request; },
                   "a positive integer", kPositiveValue),
      MakeField<S>("samples.max_batch_size", [](auto& s) -> auto& { return s.samples.max_batch_size; },
                   "a positive integer", kPositiveValue),
      MakeField<S>("samples.max_queue_delay_ms", [](auto& s) -> auto& { return s.samples.max_queue_delay_ms; },
                   "a non-negative number", kNonNegativeValue),
      MakeField<S>("samples.deadline_seconds", [](auto& s) -> auto& { return s.samples.deadline_seconds; },
                   "a positive number", kPositiveValue),
      MakeField<S>("samples.cache_mb", [](auto& s) -> auto& { return s.samples.cache_mb; }, "a positive number",
                   kPositiveValue),
      MakeField<S>("samples.device", [](auto& s) -> auto& { return s.samples.device; }, "cpu, cuda or auto",
                   [](const std::string& v) { return v == "cpu" || v == "cuda" || v == "auto"; }),
  });
  return *schema;
}

}  // namespace

Status ValidateCoordinatorSettings(const CoordinatorSettings& s) {
  ConfigErrors errors;
  (void)config_internal::ValidateFields(SettingsSchema(), s, &errors);  // the errors are in `errors`
  if (s.home.empty()) errors.Add("home: a state directory is required (--home or home: in --config)");
  if (s.heartbeat_seconds >= s.lease_seconds) {
    errors.Add("heartbeat_seconds: expected less than lease_seconds (" + config_internal::FormatDouble(s.lease_seconds) +
               "), got " + config_internal::FormatDouble(s.heartbeat_seconds));
  }
  if (s.tls_cert.empty() != s.tls_key.empty()) errors.Add("tls_cert, tls_key: TLS needs both or neither");
  return errors.ToStatus();
}

StatusOr<CoordinatorSettings> ParseCoordinatorSettings(const std::string& yaml_text, const std::string& source_name,
                                                       const std::vector<std::string>& overrides) {
  CoordinatorSettings settings;
  TUTTI_ASSIGN_OR_RETURN(const YAML::Node root,
                         config_internal::LoadMappingDocument(yaml_text, source_name, "home, listen, token_file"));
  ConfigErrors errors;
  config_internal::ParseMapping(SettingsSchema(), root, "", source_name, &settings, &errors);
  for (const std::string& o : overrides) errors.Add(config_internal::ApplyOverride(SettingsSchema(), o, &settings));
  TUTTI_RETURN_IF_ERROR(errors.ToStatus());
  return settings;
}

StatusOr<CoordinatorSettings> LoadCoordinatorSettings(const std::string& path, const std::vector<std::string>& overrides) {
  TUTTI_ASSIGN_OR_RETURN(const std::string text, ReadFileToString(path));
  return ParseCoordinatorSettings(text, path, overrides);
}

std::string CoordinatorSettingsToYaml(const CoordinatorSettings& settings) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  config_internal::EmitFields(SettingsSchema(), settings, &out);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace tutti
