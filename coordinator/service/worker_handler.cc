#include "coordinator/service/worker_handler.h"

#include <algorithm>

#include "coordinator/service/proto_convert.h"

namespace tutti::coord {

CheckpointAnnouncement AnnouncementOf(const v1::ReportCheckpointRequest& request) {
  CheckpointAnnouncement a;
  a.lease_id = request.lease_id();
  a.trial_id = request.trial_id();
  a.step = request.step();
  a.sha256 = request.sha256();
  a.size_bytes = request.size_bytes();
  a.metrics = ToMap(request.metrics());
  return a;
}

Status WorkerHandler::LeaseTrial(const v1::LeaseTrialRequest& request, v1::LeaseTrialResponse* response) {
  LeaseGrant grant;
  if (!request.lease_id().empty()) {
    TUTTI_ASSIGN_OR_RETURN(grant, lifecycle_->Adopt(request.lease_id(), request.worker()));
  } else {
    TrialLifecycle::LeaseAsk ask;
    ask.worker = request.worker();
    ask.free_ranks = request.ranks();
    ask.default_ranks = request.default_ranks() > 0 ? request.default_ranks()
                        : request.exact()           ? request.ranks()
                                                    : 1;
    ask.exact = request.exact();
    ask.max_ranks = request.max_ranks();
    TUTTI_ASSIGN_OR_RETURN(TrialLifecycle::LeaseResult result, lifecycle_->LeaseNext(ask));
    response->set_unfit_trial_id(result.unfit_trial_id);
    response->set_unfit_ranks(result.unfit_ranks);
    if (!result.grant) {
      response->set_leased(false);
      return absl::OkStatus();
    }
    grant = *std::move(result.grant);
  }
  response->set_leased(true);
  response->set_lease_id(grant.lease_id);
  TUTTI_ASSIGN_OR_RETURN(std::optional<CheckpointRow> latest, checkpoints_->Latest(grant.trial.id));
  // A fork starts from its parent's checkpoint until it has one of its own.
  if (!latest && grant.trial.resume_checkpoint_id != 0) {
    StatusOr<CheckpointRow> from = checkpoints_->Get(grant.trial.resume_checkpoint_id);
    if (from.ok()) latest = *from;
  }
  ToProto(grant.trial, latest ? latest->id : 0, true, response->mutable_trial());
  response->mutable_trial()->set_ranks(grant.trial.ranks);
  if (latest) ToProto(*latest, grant.trial.experiment_id, response->mutable_resume_from());
  response->set_lease_ttl_ms(lifecycle_->options().lease_ttl_ms);
  response->set_heartbeat_interval_ms(lifecycle_->options().heartbeat_interval_ms);
  return absl::OkStatus();
}

Status WorkerHandler::Heartbeat(const v1::HeartbeatRequest& request, v1::HeartbeatResponse* response) {
  TUTTI_ASSIGN_OR_RETURN(HeartbeatReply reply,
                         lifecycle_->Heartbeat(request.lease_id(), request.trial_id(), request.step()));
  switch (reply.control) {
    case HeartbeatReply::Control::kContinue: response->set_control(v1::CONTROL_CONTINUE); break;
    case HeartbeatReply::Control::kStop: response->set_control(v1::CONTROL_STOP); break;
    case HeartbeatReply::Control::kCheckpointNow: response->set_control(v1::CONTROL_CHECKPOINT_NOW); break;
  }
  response->set_reason(reply.reason);
  response->set_lease_ttl_ms(lifecycle_->options().lease_ttl_ms);
  return absl::OkStatus();
}

Status WorkerHandler::ReportMetrics(const v1::ReportMetricsRequest& request, v1::ReportMetricsResponse* response) {
  if (request.points_size() > options_.max_points_per_report) {
    return absl::InvalidArgumentError(absl::StrCat("ReportMetrics: ", request.points_size(),
                                                   " points in one call; at most ", options_.max_points_per_report));
  }
  TUTTI_RETURN_IF_ERROR(lifecycle_->CheckLease(request.lease_id(), request.trial_id()).status());
  std::vector<MetricRow> rows;
  rows.reserve(static_cast<size_t>(request.points_size()));
  int64_t step = 0;
  std::map<std::string, double> latest;
  const int64_t now = clock_->NowMs();
  for (const v1::MetricPoint& p : request.points()) {
    if (p.kind() != "train" && p.kind() != "eval") {
      return absl::InvalidArgumentError(absl::StrCat("ReportMetrics: point at step ", p.step(),
                                                     ": kind: expected \"train\" or \"eval\", got \"", p.kind(), "\""));
    }
    if (p.step() < 0) {
      return absl::InvalidArgumentError(absl::StrCat("ReportMetrics: step: expected >= 0, got ", p.step()));
    }
    MetricRow row;
    row.trial_id = request.trial_id();
    row.step = p.step();
    row.kind = p.kind();
    const std::map<std::string, double> values = ToMap(p.values());
    row.values_json = MetricsToJson(values);
    row.time_ms = p.time_ms() > 0 ? p.time_ms() : now;
    rows.push_back(std::move(row));
    step = std::max(step, p.step());
    // Training lines keep their names; evaluations are "eval.<name>" (as in checkpoint metrics).
    for (const auto& [name, value] : values) latest[p.kind() == "eval" ? "eval." + name : name] = value;
  }
  if (!rows.empty()) TUTTI_RETURN_IF_ERROR(store_->AppendMetrics(rows));
  TUTTI_RETURN_IF_ERROR(lifecycle_->RecordProgress(request.lease_id(), request.trial_id(), step, latest));
  // Early stopping sees every point (eval values under "eval.", as the stored last metrics have them).
  for (const v1::MetricPoint& p : request.points()) {
    std::map<std::string, double> values;
    for (const auto& [name, value] : p.values()) values[p.kind() == "eval" ? "eval." + name : name] = value;
    manager_->OnMetrics(request.trial_id(), p.step(), p.kind(), values);
  }
  response->set_stored(static_cast<int32_t>(rows.size()));
  return absl::OkStatus();
}

Status WorkerHandler::ReportCheckpoint(const v1::ReportCheckpointRequest& request,
                                       v1::ReportCheckpointResponse* response) {
  TUTTI_ASSIGN_OR_RETURN(CheckpointRegistry::ReportResult result, checkpoints_->Report(AnnouncementOf(request)));
  response->set_upload_required(result.upload_required);
  if (result.checkpoint) {
    TUTTI_ASSIGN_OR_RETURN(TrialRow trial, lifecycle_->GetTrial(request.trial_id()));
    ToProto(*result.checkpoint, trial.experiment_id, response->mutable_checkpoint());
  }
  return absl::OkStatus();
}

Status WorkerHandler::UploadSession::OnMessage(const v1::UploadCheckpointRequest& message) {
  if (failed_) return absl::FailedPreconditionError("upload already failed");
  Status status;
  if (message.has_header()) {
    if (upload_ != nullptr) {
      status = absl::InvalidArgumentError("UploadCheckpoint: a second header in one stream");
    } else {
      StatusOr<TrialRow> trial = handler_->lifecycle_->GetTrial(message.header().trial_id());
      StatusOr<std::unique_ptr<CheckpointRegistry::Upload>> upload =
          trial.ok() ? handler_->checkpoints_->BeginUpload(AnnouncementOf(message.header()))
                     : StatusOr<std::unique_ptr<CheckpointRegistry::Upload>>(trial.status());
      if (upload.ok()) {
        upload_ = *std::move(upload);
        experiment_id_ = trial->experiment_id;
      } else {
        status = upload.status();
      }
    }
  } else if (upload_ == nullptr) {
    status = absl::InvalidArgumentError("UploadCheckpoint: the first message must be the header");
  } else {
    status = upload_->Append(message.data().data(), message.data().size());
  }
  if (!status.ok()) {
    failed_ = true;
    upload_.reset();
  }
  return status;
}

Status WorkerHandler::UploadSession::Finish(v1::UploadCheckpointResponse* response) {
  if (failed_) return absl::FailedPreconditionError("upload already failed");
  if (upload_ == nullptr) return absl::DataLossError("UploadCheckpoint: the stream ended before its header");
  std::unique_ptr<CheckpointRegistry::Upload> upload = std::move(upload_);
  TUTTI_ASSIGN_OR_RETURN(CheckpointRow row, upload->Finish());
  ToProto(row, experiment_id_, response->mutable_checkpoint());
  return absl::OkStatus();
}

Status WorkerHandler::CompleteTrial(const v1::CompleteTrialRequest& request, v1::CompleteTrialResponse* response) {
  TUTTI_ASSIGN_OR_RETURN(TrialRow row, lifecycle_->Complete(request.lease_id(), request.trial_id(), request.step(),
                                                            request.stop_reason(), request.message()));
  TUTTI_RETURN_IF_ERROR(manager_->ReconcileTrial(row.id));
  TUTTI_ASSIGN_OR_RETURN(row, lifecycle_->GetTrial(row.id));
  TUTTI_ASSIGN_OR_RETURN(std::optional<CheckpointRow> latest, checkpoints_->Latest(row.id));
  ToProto(row, latest ? latest->id : 0, false, response->mutable_trial());
  return absl::OkStatus();
}

Status WorkerHandler::ReleaseTrial(const v1::ReleaseTrialRequest& request, v1::ReleaseTrialResponse* response) {
  TUTTI_ASSIGN_OR_RETURN(TrialRow row,
                         lifecycle_->Release(request.lease_id(), request.trial_id(), request.step(), request.reason()));
  TUTTI_RETURN_IF_ERROR(manager_->ReconcileTrial(row.id));
  TUTTI_ASSIGN_OR_RETURN(std::optional<CheckpointRow> latest, checkpoints_->Latest(row.id));
  ToProto(row, latest ? latest->id : 0, false, response->mutable_trial());
  return absl::OkStatus();
}

Status WorkerHandler::FailTrial(const v1::FailTrialRequest& request, v1::FailTrialResponse* response) {
  TUTTI_ASSIGN_OR_RETURN(TrialRow row, lifecycle_->Fail(request.lease_id(), request.trial_id(), request.step(),
                                                        request.message(), request.retryable(), request.reason()));
  TUTTI_RETURN_IF_ERROR(manager_->ReconcileTrial(row.id));
  TUTTI_ASSIGN_OR_RETURN(std::optional<CheckpointRow> latest, checkpoints_->Latest(row.id));
  ToProto(row, latest ? latest->id : 0, false, response->mutable_trial());
  return absl::OkStatus();
}

}  // namespace tutti::coord
