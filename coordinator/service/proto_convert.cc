#include "coordinator/service/proto_convert.h"

#include <nlohmann/json.hpp>

#include "coordinator/service/checkpoint_registry.h"

namespace tutti::coord {

v1::TrialState ToProto(TrialState state) {
  switch (state) {
    case TrialState::kQueued: return v1::TRIAL_QUEUED;
    case TrialState::kRunning: return v1::TRIAL_RUNNING;
    case TrialState::kCompleted: return v1::TRIAL_COMPLETED;
    case TrialState::kFailed: return v1::TRIAL_FAILED;
    case TrialState::kKilled: return v1::TRIAL_KILLED;
    case TrialState::kPaused: return v1::TRIAL_PAUSED;
  }
  return v1::TRIAL_STATE_UNSPECIFIED;
}

v1::ExperimentState ToProto(ExperimentState state) {
  switch (state) {
    case ExperimentState::kActive: return v1::EXPERIMENT_ACTIVE;
    case ExperimentState::kCompleted: return v1::EXPERIMENT_COMPLETED;
    case ExperimentState::kFailed: return v1::EXPERIMENT_FAILED;
    case ExperimentState::kKilled: return v1::EXPERIMENT_KILLED;
    case ExperimentState::kPaused: return v1::EXPERIMENT_PAUSED;
  }
  return v1::EXPERIMENT_STATE_UNSPECIFIED;
}

std::map<std::string, double> ToMap(const google::protobuf::Map<std::string, double>& values) {
  return std::map<std::string, double>(values.begin(), values.end());
}

void FromMap(const std::map<std::string, double>& values, google::protobuf::Map<std::string, double>* out) {
  out->clear();
  for (const auto& [name, value] : values) (*out)[name] = value;
}

void ToProto(const ExperimentRow& row, const std::map<std::string, int64_t>& trial_counts, bool with_config,
             v1::Experiment* out) {
  out->set_id(row.id);
  out->set_name(row.name);
  out->set_source_name(row.source_name);
  out->set_state(ToProto(row.state));
  out->set_message(row.message);
  out->set_created_ms(row.created_ms);
  out->set_ended_ms(row.ended_ms);
  for (const auto& [state, count] : trial_counts) (*out->mutable_trial_counts())[state] = count;
  if (with_config) out->set_config_yaml(row.config_yaml);
}

void ToProto(const TrialRow& row, int64_t latest_checkpoint_id, bool with_config, v1::Trial* out,
             int64_t best_checkpoint_id) {
  out->set_id(row.id);
  out->set_experiment_id(row.experiment_id);
  out->set_state(ToProto(row.state));
  out->set_step(row.step);
  out->set_target_steps(row.target_steps);
  out->set_restarts(row.restarts);
  out->set_stop_reason(row.stop_reason);
  out->set_message(row.message);
  if (row.state == TrialState::kRunning) {
    out->set_worker(row.lease_worker);
    out->set_lease_expires_ms(row.lease_expires_ms);
  }
  out->set_created_ms(row.created_ms);
  out->set_started_ms(row.started_ms);
  out->set_ended_ms(row.ended_ms);
  out->set_latest_checkpoint_id(latest_checkpoint_id);
  out->set_best_checkpoint_id(best_checkpoint_id);
  out->set_parent_trial_id(row.parent_trial_id);
  out->set_ranks(row.ranks);
  nlohmann::json hparams = nlohmann::json::parse(row.hparams_json, nullptr, false);
  if (hparams.is_object()) {
    for (auto it = hparams.begin(); it != hparams.end(); ++it) {
      (*out->mutable_hparams())[it.key()] = it->is_string() ? it->get<std::string>() : it->dump();
    }
  }
  FromMap(MetricsFromJson(row.last_metrics_json), out->mutable_last_metrics());
  if (with_config) out->set_config_yaml(row.config_yaml);
}

void ToProto(const CheckpointRow& row, int64_t experiment_id, v1::Checkpoint* out) {
  out->set_id(row.id);
  out->set_trial_id(row.trial_id);
  out->set_experiment_id(experiment_id);
  out->set_step(row.step);
  out->set_sha256(row.sha256);
  out->set_size_bytes(row.size_bytes);
  out->set_created_ms(row.created_ms);
  FromMap(MetricsFromJson(row.metrics_json), out->mutable_metrics());
}

}  // namespace tutti::coord
