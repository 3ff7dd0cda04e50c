#include "core/config/job_config_yaml.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <utility>

#include "core/base/file_util.h"
#include "core/config/internal/field_registry.h"
#include "core/config/internal/yaml_values.h"

namespace tutti {
namespace {

using config_internal::ConfigErrors;
using config_internal::Field;
using config_internal::Fields;
using config_internal::JobSchema;

// InvalidArgument "<key>: <name> is not in <of_key> (<why>)" for the first of `tracks` not in `of` (both sorted).
Status CheckTracksWithin(const std::vector<int64_t>& tracks, const std::vector<int64_t>& of, const std::string& key,
                         const std::string& of_key, const std::string& why) {
  for (const int64_t track : tracks) {
    if (std::binary_search(of.begin(), of.end(), track)) continue;
    const std::string name = track < static_cast<int64_t>(std::size(kConditionTrackNames))
                                 ? kConditionTrackNames[track]
                                 : absl::StrCat("track ", track);
    return absl::InvalidArgumentError(absl::StrCat(key, ": ", name, " is not in ", of_key, " (", why, ")"));
  }
  return absl::OkStatus();
}

// The gates (held_release, bar_gate, harmony_gate) multiply the activation's output by fractions; on binary 0/1
// notes that would leave fractional notes, so each needs a real-valued output.
Status CheckGateOnRealOutput(const std::string& key, bool gate_on, const ModelConfig& model) {
  if (!gate_on || model.output != "binary") return absl::OkStatus();
  return absl::InvalidArgumentError(
      key + ": needs model.output relu or sigmoid (a gate on binary 0/1 notes would leave fractions)");
}

}  // namespace

Status ApplyJobConfigOverride(const std::string& assignment, JobConfig* config) {
  return config_internal::ApplyOverride(JobSchema(), assignment, config);
}

StatusOr<JobConfig> ParseJobConfig(const std::string& yaml_text, const std::string& source_name,
                                   const std::vector<std::string>& overrides) {
  JobConfig config;
  TUTTI_ASSIGN_OR_RETURN(const YAML::Node root,
                         config_internal::LoadMappingDocument(yaml_text, source_name, "name, data, model, train"));
  ConfigErrors errors;
  try {
    config_internal::ParseMapping(JobSchema(), root, "", source_name, &config, &errors);
  } catch (const YAML::Exception& e) {  // not expected past loading; keep the position if one comes
    errors.Add(config_internal::Location(source_name, e.mark) + ": YAML error: " + e.msg);
  }
  TUTTI_RETURN_IF_ERROR(errors.ToStatus());
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
  config_internal::EmitFields(JobSchema(), config, &out);
  out << YAML::EndMap;
  return "# Resolved Tutti job config (every key; relative paths as in core/config/job_config.h).\n" +
         std::string(out.c_str()) + "\n";
}

std::string PinnedPackSha(const DataConfig& data, const std::string& genre) {
  for (const std::string& pin : data.pack_pins) {
    const size_t eq = pin.rfind('=');
    if (eq != std::string::npos && pin.compare(0, eq, genre) == 0 && eq == genre.size()) return pin.substr(eq + 1);
  }
  return "";
}

Status ValidateJobConfig(const JobConfig& config) {
  TUTTI_RETURN_IF_ERROR(config_internal::ValidateFields(JobSchema(), config));
  if (!config.data.pack_pins.empty()) {
    for (const std::string& genre : config.data.genres) {
      if (PinnedPackSha(config.data, genre).empty()) {
        return absl::InvalidArgumentError("data.pack_pins: no pin for genre \"" + genre +
                                          "\" of data.genres (expected an entry \"" + genre + "=<manifest sha256>\")");
      }
    }
  }
  TUTTI_RETURN_IF_ERROR(HeldTrackIndices(config.model).status());
  TUTTI_RETURN_IF_ERROR(HarmonyTrackIndices(config.model).status());
  if (config.model.held_on_eighths && config.model.held_tracks.empty()) {
    return absl::InvalidArgumentError("model.held_on_eighths: needs model.held_tracks (the tracks whose notes hold)");
  }
  if (config.model.held_detail && config.model.held_tracks.empty()) {
    return absl::InvalidArgumentError("model.held_detail: needs model.held_tracks (the tracks whose notes hold)");
  }
  if (config.model.held_release && !config.model.held_on_eighths) {
    return absl::InvalidArgumentError(
        "model.held_release: needs model.held_on_eighths true (it ends held notes a 16th early)");
  }
  TUTTI_RETURN_IF_ERROR(CheckGateOnRealOutput("model.held_release", config.model.held_release, config.model));
  TUTTI_ASSIGN_OR_RETURN(const std::vector<int64_t> released, HeldReleaseTrackIndices(config.model));
  if (!released.empty() && !config.model.held_release) {
    return absl::InvalidArgumentError("model.held_release_tracks: needs model.held_release true (the gate it narrows)");
  }
  const std::vector<int64_t> held = HeldTrackIndices(config.model).value();  // checked above
  TUTTI_RETURN_IF_ERROR(CheckTracksWithin(released, held, "model.held_release_tracks", "model.held_tracks",
                                          "only held notes can end early"));
  TUTTI_ASSIGN_OR_RETURN(const std::vector<int64_t> late, HeldReleaseLateTrackIndices(config.model));
  if (!late.empty() && !config.model.held_release) {
    return absl::InvalidArgumentError(
        "model.held_release_late_tracks: needs model.held_release true (the gate it moves to the beat's end)");
  }
  TUTTI_RETURN_IF_ERROR(CheckTracksWithin(late, released.empty() ? held : released, "model.held_release_late_tracks",
                                          released.empty() ? "model.held_tracks" : "model.held_release_tracks",
                                          "only gated tracks can be gated late"));
  if (config.model.bar_gate && !config.model.bar_levels) {
    return absl::InvalidArgumentError("model.bar_gate: needs model.bar_levels true (the levels it scales bars by)");
  }
  if (config.model.bar_gate_hard && !config.model.bar_gate) {
    return absl::InvalidArgumentError("model.bar_gate_hard: needs model.bar_gate true (the gate it makes 0 or 1)");
  }
  TUTTI_RETURN_IF_ERROR(CheckGateOnRealOutput("model.bar_gate", config.model.bar_gate, config.model));
  if (config.model.bar_level_scale != 1.0 && !config.model.bar_levels) {
    return absl::InvalidArgumentError("model.bar_level_scale: needs model.bar_levels true (the levels it scales)");
  }
  if (config.model.harmony_gate_lower_only && !config.model.harmony_gate) {
    return absl::InvalidArgumentError("model.harmony_gate_lower_only: needs model.harmony_gate true (the gate it bounds)");
  }
  if (config.model.harmony_gate && config.model.harmony_tracks.empty()) {
    return absl::InvalidArgumentError("model.harmony_gate: needs model.harmony_tracks");
  }
  TUTTI_RETURN_IF_ERROR(CheckGateOnRealOutput("model.harmony_gate", config.model.harmony_gate, config.model));
  TUTTI_ASSIGN_OR_RETURN(const std::vector<int64_t> root, HarmonyRootTrackIndices(config.model));
  if (!root.empty() && !config.model.harmony_gate) {
    return absl::InvalidArgumentError("model.harmony_root_tracks: needs model.harmony_gate true (the gate it sharpens)");
  }
  TUTTI_RETURN_IF_ERROR(CheckTracksWithin(root, HarmonyTrackIndices(config.model).value(), "model.harmony_root_tracks",
                                          "model.harmony_tracks", "only tracks on the shared chroma have a root"));
  if (config.model.harmony_after_norm && config.model.harmony_tracks.empty()) {
    return absl::InvalidArgumentError("model.harmony_after_norm: needs model.harmony_tracks");
  }
  if (config.train.generator_ema_warmup && config.train.generator_ema == 0) {
    return absl::InvalidArgumentError(
        "train.generator_ema_warmup: needs train.generator_ema > 0 (the average it warms up)");
  }
  if (config.model.harmony_gain != 1.0 && config.model.harmony_tracks.empty()) {
    return absl::InvalidArgumentError("model.harmony_gain: needs model.harmony_tracks (the tracks it scales)");
  }
  if (!config.model.harmony_tracks.empty() && config.model.pitches != 72) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model.harmony_tracks: needs model.pitches 72 (six octaves of 12 pitch classes), got model.pitches ",
        config.model.pitches));
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
