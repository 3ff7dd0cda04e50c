#include "coordinator/service/checkpoint_handler.h"

#include "coordinator/service/proto_convert.h"

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

}  // namespace tutti::coord
