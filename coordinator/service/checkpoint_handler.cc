#include "coordinator/service/checkpoint_handler.h"

#include <cmath>
#include <set>

#include "absl/strings/str_join.h"
#include "coordinator/service/proto_convert.h"
#include "core/config/job_config_yaml.h"

namespace tutti::coord {

StatusOr<int64_t> CheckpointHandler::ExperimentOf(int64_t trial_id) {
  TUTTI_ASSIGN_OR_RETURN(TrialRow trial, lifecycle_->GetTrial(trial_id));
  return trial.experiment_id;
}

Status CheckpointHandler::List(const v1::ListCheckpointsRequest& request, v1::ListCheckpointsResponse* response) {
  if ((request.trial_id() != 0) == (request.experiment_id() != 0)) {
    return absl::InvalidArgumentError("ListCheckpoints: give exactly one of trial_id and experiment_id");
  }
  std::vector<CheckpointRow> rows;
  if (request.trial_id() != 0) {
    TUTTI_ASSIGN_OR_RETURN(rows, checkpoints_->ListForTrial(request.trial_id()));
  } else {
    TUTTI_ASSIGN_OR_RETURN(rows, checkpoints_->ListForExperiment(request.experiment_id()));
  }
  for (const CheckpointRow& row : rows) {
    TUTTI_ASSIGN_OR_RETURN(int64_t experiment_id, ExperimentOf(row.trial_id));
    ToProto(row, experiment_id, response->add_checkpoints());
  }
  return absl::OkStatus();
}

Status CheckpointHandler::Get(const v1::GetCheckpointRequest& request, v1::GetCheckpointResponse* response) {
  TUTTI_ASSIGN_OR_RETURN(CheckpointRow row, checkpoints_->Get(request.checkpoint_id()));
  TUTTI_ASSIGN_OR_RETURN(int64_t experiment_id, ExperimentOf(row.trial_id));
  ToProto(row, experiment_id, response->mutable_checkpoint());
  return absl::OkStatus();
}

StatusOr<CheckpointHandler::Download> CheckpointHandler::OpenDownload(const v1::DownloadCheckpointRequest& request) {
  TUTTI_ASSIGN_OR_RETURN(CheckpointRow row, checkpoints_->Get(request.checkpoint_id()));
  TUTTI_ASSIGN_OR_RETURN(int64_t experiment_id, ExperimentOf(row.trial_id));
  Download download;
  ToProto(row, experiment_id, &download.header);
  TUTTI_ASSIGN_OR_RETURN(download.reader, checkpoints_->OpenBytes(row));
  return download;
}

Status CheckpointHandler::Delete(const v1::DeleteCheckpointRequest& request, v1::DeleteCheckpointResponse*) {
  return checkpoints_->Delete(request.checkpoint_id());
}

Status CheckpointHandler::Best(const v1::BestCheckpointRequest& request, v1::BestCheckpointResponse* response) {
  const std::string metric = request.metric().empty() ? "eval.realism.score" : request.metric();
  const bool larger = request.metric().empty() ? false : request.larger_is_better();
  if (request.genre().empty()) return absl::InvalidArgumentError("BestCheckpoint: a genre is required");
  std::set<std::string> genres_seen;
  std::optional<CheckpointRow> best;
  TrialRow best_trial;
  double best_value = 0;
  int candidates = 0;
  for (const TrialRow& trial : lifecycle_->AllTrials()) {
    StatusOr<JobConfig> config = ParseJobConfig(trial.config_yaml, absl::StrCat("trial ", trial.id));
    if (!config.ok()) continue;
    for (const std::string& g : config->data.genres) genres_seen.insert(g);
    const std::vector<std::string>& genres = config->data.genres;
    const bool trains_it = (genres.size() == 1 && genres[0] == request.genre()) ||
                           (config->model.genre_conditional &&
                            std::find(genres.begin(), genres.end(), request.genre()) != genres.end());
    if (!trains_it) continue;
    TUTTI_ASSIGN_OR_RETURN(std::vector<CheckpointRow> rows, checkpoints_->ListForTrial(trial.id));
    for (const CheckpointRow& row : rows) {
      const std::map<std::string, double> metrics = MetricsFromJson(row.metrics_json);
      auto it = metrics.find(metric);
      if (it == metrics.end() || !std::isfinite(it->second)) continue;
      ++candidates;
      const bool better = !best || (larger ? it->second > best_value : it->second < best_value) ||
                          (it->second == best_value && row.id > best->id);
      if (better) {
        best = row;
        best_trial = trial;
        best_value = it->second;
      }
    }
  }
  if (!best) {
    if (genres_seen.count(request.genre()) == 0) {
      return absl::NotFoundError(absl::StrCat("no trial trains genre '", request.genre(), "'",
                                              genres_seen.empty() ? std::string(" (no trials yet)")
                                                                  : absl::StrCat("; genres: ", absl::StrJoin(genres_seen, ", "))));
    }
    return absl::NotFoundError(absl::StrCat("no stored checkpoint of genre '", request.genre(), "' carries ", metric,
                                            " yet (trials evaluate every eval.every steps)"));
  }
  ToProto(*best, best_trial.experiment_id, response->mutable_checkpoint());
  response->set_value(best_value);
  ToProto(best_trial, 0, false, response->mutable_trial());
  StatusOr<ExperimentRow> experiment = store_->GetExperiment(best_trial.experiment_id);
  if (experiment.ok()) response->set_experiment_name(experiment->name);
  response->set_candidates(candidates);
  return absl::OkStatus();
}

}  // namespace tutti::coord
