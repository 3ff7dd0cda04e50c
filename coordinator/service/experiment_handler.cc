#include "coordinator/service/experiment_handler.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "coordinator/service/proto_convert.h"
#include "core/config/experiment_config_yaml.h"
#include "core/config/job_config_yaml.h"

namespace tutti::coord {

Status ExperimentHandler::FillTrial(const TrialRow& row, bool with_config, v1::Trial* out) {
  TUTTI_ASSIGN_OR_RETURN(std::optional<CheckpointRow> latest, checkpoints_->Latest(row.id));
  TUTTI_ASSIGN_OR_RETURN(std::optional<CheckpointRow> best, checkpoints_->Best(row.id));
  ToProto(row, latest ? latest->id : 0, with_config, out, best ? best->id : 0);
  StatusOr<ExperimentConfig> config = manager_->Config(row.experiment_id);
  if (config.ok()) {
    auto value = out->last_metrics().find(config->searcher.metric);
    if (value != out->last_metrics().end()) out->set_objective(value->second);
  }
  return absl::OkStatus();
}

Status ExperimentHandler::FillExperiment(const ExperimentRow& row, const std::vector<TrialRow>& trials, bool with_config,
                                         v1::Experiment* out) {
  ToProto(row, CountsOf(row.id, trials), with_config, out);
  StatusOr<ExperimentConfig> config = manager_->Config(row.id);
  if (config.ok()) {
    out->set_description(config->description);
    for (const std::string& label : config->labels) out->add_labels(label);
    out->set_searcher(config->searcher.name);
    out->set_metric(config->searcher.metric);
    out->set_smaller_is_better(config->searcher.smaller_is_better);
    out->set_max_trials(config->searcher.max_trials);
  }
  out->set_progress(manager_->Progress(row.id));
  return absl::OkStatus();
}

std::map<std::string, int64_t> ExperimentHandler::CountsOf(int64_t experiment_id,
                                                           const std::vector<TrialRow>& all) const {
  std::map<std::string, int64_t> counts;
  for (const TrialRow& t : all) {
    if (t.experiment_id == experiment_id) ++counts[StateName(t.state)];
  }
  return counts;
}

Status ExperimentHandler::Submit(const v1::SubmitExperimentRequest& request, v1::SubmitExperimentResponse* response) {
  const std::string source = request.source_name().empty() ? "<submitted job>" : request.source_name();
  if (request.config_yaml().size() > options_.max_config_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": the job file is ", request.config_yaml().size(),
                                                   " bytes; the coordinator accepts at most ", options_.max_config_bytes));
  }
  std::vector<std::string> overrides(request.overrides().begin(), request.overrides().end());
  TUTTI_ASSIGN_OR_RETURN(ExperimentConfig config, ParseExperimentConfig(request.config_yaml(), source, overrides));
  // A relative packs_dir means "beside where I ran `tutti submit`", as it would for a local tutti-worker.
  std::string& packs = config.job.data.packs_dir;
  if (!request.working_directory().empty() && std::filesystem::path(packs).is_relative()) {
    packs = (std::filesystem::path(request.working_directory()) / packs).lexically_normal().string();
  }
  std::vector<TrialRow> created;
  TUTTI_ASSIGN_OR_RETURN(ExperimentRow stored,
                         manager_->Submit(config, source, request.config_yaml(), overrides, &created));
  TUTTI_RETURN_IF_ERROR(FillExperiment(stored, created, true, response->mutable_experiment()));
  for (const TrialRow& t : created) TUTTI_RETURN_IF_ERROR(FillTrial(t, false, response->add_trials()));
  return absl::OkStatus();
}

Status ExperimentHandler::List(const v1::ListExperimentsRequest&, v1::ListExperimentsResponse* response) {
  TUTTI_ASSIGN_OR_RETURN(std::vector<ExperimentRow> rows, store_->ListExperiments());
  const std::vector<TrialRow> trials = lifecycle_->AllTrials();
  for (const ExperimentRow& row : rows) TUTTI_RETURN_IF_ERROR(FillExperiment(row, trials, false, response->add_experiments()));
  return absl::OkStatus();
}

Status ExperimentHandler::Get(const v1::GetExperimentRequest& request, v1::GetExperimentResponse* response) {
  TUTTI_ASSIGN_OR_RETURN(ExperimentRow row, store_->GetExperiment(request.experiment_id()));
  TUTTI_ASSIGN_OR_RETURN(std::vector<TrialRow> trials, lifecycle_->TrialsOf(row.id));
  TUTTI_RETURN_IF_ERROR(FillExperiment(row, trials, true, response->mutable_experiment()));
  for (const TrialRow& t : trials) TUTTI_RETURN_IF_ERROR(FillTrial(t, false, response->add_trials()));
  return absl::OkStatus();
}

Status ExperimentHandler::Kill(const v1::KillExperimentRequest& request, v1::KillExperimentResponse* response) {
  TUTTI_RETURN_IF_ERROR(lifecycle_->KillExperiment(request.experiment_id()));
  TUTTI_RETURN_IF_ERROR(manager_->Reconcile(request.experiment_id()));
  TUTTI_ASSIGN_OR_RETURN(ExperimentRow row, store_->GetExperiment(request.experiment_id()));
  TUTTI_ASSIGN_OR_RETURN(std::vector<TrialRow> trials, lifecycle_->TrialsOf(row.id));
  return FillExperiment(row, trials, false, response->mutable_experiment());
}

Status ExperimentHandler::Pause(const v1::PauseExperimentRequest& request, v1::PauseExperimentResponse* response) {
  TUTTI_RETURN_IF_ERROR(lifecycle_->PauseExperiment(request.experiment_id()));
  TUTTI_ASSIGN_OR_RETURN(ExperimentRow row, store_->GetExperiment(request.experiment_id()));
  TUTTI_ASSIGN_OR_RETURN(std::vector<TrialRow> trials, lifecycle_->TrialsOf(row.id));
  return FillExperiment(row, trials, false, response->mutable_experiment());
}

Status ExperimentHandler::Resume(const v1::ResumeExperimentRequest& request, v1::ResumeExperimentResponse* response) {
  TUTTI_RETURN_IF_ERROR(lifecycle_->ResumeExperiment(request.experiment_id()));
  TUTTI_ASSIGN_OR_RETURN(ExperimentRow row, store_->GetExperiment(request.experiment_id()));
  TUTTI_ASSIGN_OR_RETURN(std::vector<TrialRow> trials, lifecycle_->TrialsOf(row.id));
  return FillExperiment(row, trials, false, response->mutable_experiment());
}

Status ExperimentHandler::Extend(const v1::ExtendExperimentRequest& request, v1::ExtendExperimentResponse* response) {
  TUTTI_RETURN_IF_ERROR(manager_->SetMaxTrials(request.experiment_id(), request.max_trials()));
  TUTTI_ASSIGN_OR_RETURN(ExperimentRow row, store_->GetExperiment(request.experiment_id()));
  TUTTI_ASSIGN_OR_RETURN(std::vector<TrialRow> trials, lifecycle_->TrialsOf(row.id));
  return FillExperiment(row, trials, false, response->mutable_experiment());
}

Status ExperimentHandler::Fork(const v1::ForkTrialRequest& request, v1::ForkTrialResponse* response) {
  TUTTI_ASSIGN_OR_RETURN(TrialRow parent, lifecycle_->GetTrial(request.trial_id()));
  if (request.checkpoint_id() != 0) {
    TUTTI_ASSIGN_OR_RETURN(CheckpointRow c, checkpoints_->Get(request.checkpoint_id()));
    if (c.trial_id != parent.id) {
      return absl::InvalidArgumentError(absl::StrCat("checkpoint ", c.id, " belongs to trial ", c.trial_id,
                                                     ", not to trial ", parent.id, " (tutti checkpoints ", parent.id, ")"));
    }
  }
  TUTTI_ASSIGN_OR_RETURN(std::optional<CheckpointRow> newest, checkpoints_->Latest(parent.id));
  std::vector<std::string> overrides(request.overrides().begin(), request.overrides().end());
  TUTTI_ASSIGN_OR_RETURN(TrialRow child, manager_->Fork(parent.id, request.checkpoint_id(), newest ? newest->id : 0, overrides));
  return FillTrial(child, false, response->mutable_trial());
}

Status ExperimentHandler::ListTrials(const v1::ListTrialsRequest& request, v1::ListTrialsResponse* response) {
  TUTTI_ASSIGN_OR_RETURN(std::vector<TrialRow> trials, lifecycle_->TrialsOf(request.experiment_id()));
  for (const TrialRow& t : trials) TUTTI_RETURN_IF_ERROR(FillTrial(t, false, response->add_trials()));
  return absl::OkStatus();
}

Status ExperimentHandler::GetTrial(const v1::GetTrialRequest& request, v1::GetTrialResponse* response) {
  TUTTI_ASSIGN_OR_RETURN(TrialRow row, lifecycle_->GetTrial(request.trial_id()));
  return FillTrial(row, true, response->mutable_trial());
}

Status ExperimentHandler::KillTrial(const v1::KillTrialRequest& request, v1::KillTrialResponse* response) {
  TUTTI_RETURN_IF_ERROR(lifecycle_->KillTrial(request.trial_id()));
  TUTTI_ASSIGN_OR_RETURN(TrialRow row, lifecycle_->GetTrial(request.trial_id()));
  TUTTI_RETURN_IF_ERROR(manager_->Reconcile(row.experiment_id));
  return FillTrial(row, false, response->mutable_trial());
}

Status ExperimentHandler::StreamMetrics(const v1::StreamTrialMetricsRequest& request,
                                        const std::function<bool(const v1::StreamTrialMetricsResponse&)>& write,
                                        const std::function<bool()>& cancelled) {
  const int64_t trial_id = request.trial_id();
  TUTTI_RETURN_IF_ERROR(lifecycle_->GetTrial(trial_id).status());
  int64_t after = request.after_step();
  while (true) {
    // The state is read before the metrics: a trial that had ended before this read reported all its
    // metrics before ending (workers flush before they complete), so an empty read after it means done.
    const uint64_t version = lifecycle_->version();
    TUTTI_ASSIGN_OR_RETURN(TrialRow trial, lifecycle_->GetTrial(trial_id));
    TUTTI_ASSIGN_OR_RETURN(std::vector<MetricRow> rows, store_->ReadMetrics(trial_id, after, options_.stream_batch));
    // A batch cut at the limit may end in the middle of a step's points (train and eval share a step):
    // leave that step for the next read so `after` never skips a point.
    if (static_cast<int>(rows.size()) == options_.stream_batch && rows.front().step != rows.back().step) {
      const int64_t last = rows.back().step;
      while (!rows.empty() && rows.back().step == last) rows.pop_back();
    }
    if (!rows.empty()) {
      v1::StreamTrialMetricsResponse batch;
      batch.set_trial_state(ToProto(trial.state));
      for (const MetricRow& row : rows) {
        v1::MetricPoint* p = batch.add_points();
        p->set_step(row.step);
        p->set_kind(row.kind);
        p->set_time_ms(row.time_ms);
        FromMap(MetricsFromJson(row.values_json), p->mutable_values());
      }
      after = rows.back().step;
      if (!write(batch)) return absl::OkStatus();
      continue;
    }
    if (!request.follow() || IsTerminal(trial.state)) {
      v1::StreamTrialMetricsResponse last;
      last.set_trial_state(ToProto(trial.state));
      write(last);  // tells a follower how the trial ended
      return absl::OkStatus();
    }
    if (cancelled && cancelled()) return absl::CancelledError("the client stopped following");
    lifecycle_->WaitForChange(version, options_.follow_poll_ms);
  }
}

}  // namespace tutti::coord
