#include "worker/coord/coordinator_client.h"

#include "core/base/file_util.h"
#include "core/base/interrupt.h"
#include "core/base/sha256.h"

namespace tutti::worker {

CoordinatorClient::CoordinatorClient(std::shared_ptr<rpc::Connection> connection, ClientOptions options)
    : connection_(std::move(connection)),
      options_(options),
      worker_(v1::WorkerService::NewStub(connection_->channel())),
      checkpoints_(v1::CheckpointService::NewStub(connection_->channel())),
      packs_(v1::PackService::NewStub(connection_->channel())) {}

template <typename Call>
Status CoordinatorClient::Retry(const std::string& what, std::chrono::milliseconds timeout, Call&& call) {
  return rpc::CallWithRetry(options_.retry, [&]() -> Status {
    std::unique_ptr<grpc::ClientContext> context = connection_->NewContext(timeout);
    return connection_->FromGrpc(call(context.get()), what);
  });
}

StatusOr<std::optional<Assignment>> CoordinatorClient::Lease(const std::string& worker, int ranks,
                                                            const std::string& adopt_lease_id) {
  v1::LeaseTrialRequest request;
  request.set_worker(worker);
  request.set_ranks(ranks);
  request.set_lease_id(adopt_lease_id);
  // A launched job runs with exactly its world size: only trials that train with that many ranks (or name
  // none) fit it.
  request.set_exact(true);
  request.set_default_ranks(ranks);
  v1::LeaseTrialResponse response;
  TUTTI_RETURN_IF_ERROR(Retry("leasing a trial", options_.call_timeout, [&](grpc::ClientContext* c) {
    return worker_->LeaseTrial(c, request, &response);
  }));
  if (!response.leased()) return std::optional<Assignment>();
  Assignment a;
  a.lease_id = response.lease_id();
  a.trial_id = response.trial().id();
  a.experiment_id = response.trial().experiment_id();
  a.config_yaml = response.trial().config_yaml();
  if (response.has_resume_from()) {
    const v1::Checkpoint& c = response.resume_from();
    a.resume_from = StoredCheckpoint{c.id(), c.step(), c.sha256(), c.size_bytes()};
  }
  a.lease_ttl = std::chrono::milliseconds(response.lease_ttl_ms());
  a.heartbeat_interval = std::chrono::milliseconds(response.heartbeat_interval_ms());
  return std::optional<Assignment>(std::move(a));
}

StatusOr<v1::HeartbeatResponse> CoordinatorClient::Heartbeat(const std::string& lease_id, int64_t trial_id,
                                                             int64_t step) {
  v1::HeartbeatRequest request;
  request.set_lease_id(lease_id);
  request.set_trial_id(trial_id);
  request.set_step(step);
  v1::HeartbeatResponse response;
  // One attempt: the heartbeat thread itself retries on its next beat, and a beat must not hold up the
  // next one for a whole retry budget.
  std::unique_ptr<grpc::ClientContext> context = connection_->NewContext(options_.call_timeout);
  TUTTI_RETURN_IF_ERROR(connection_->FromGrpc(worker_->Heartbeat(context.get(), request, &response), "heartbeat"));
  return response;
}

Status CoordinatorClient::ReportMetrics(const std::string& lease_id, int64_t trial_id,
                                        const std::vector<v1::MetricPoint>& points) {
  v1::ReportMetricsRequest request;
  request.set_lease_id(lease_id);
  request.set_trial_id(trial_id);
  for (const v1::MetricPoint& p : points) *request.add_points() = p;
  v1::ReportMetricsResponse response;
  return Retry("reporting metrics", options_.call_timeout, [&](grpc::ClientContext* c) {
    return worker_->ReportMetrics(c, request, &response);
  });
}

StatusOr<v1::Checkpoint> CoordinatorClient::SendCheckpoint(const v1::ReportCheckpointRequest& header,
                                                           const std::string& bytes) {
  const std::string what = absl::StrCat("checkpoint at step ", header.step());
  v1::ReportCheckpointResponse reported;
  TUTTI_RETURN_IF_ERROR(Retry("reporting the " + what, options_.call_timeout, [&](grpc::ClientContext* c) {
    return worker_->ReportCheckpoint(c, header, &reported);
  }));
  if (!reported.upload_required()) return reported.checkpoint();
  v1::UploadCheckpointResponse uploaded;
  TUTTI_RETURN_IF_ERROR(Retry("uploading the " + what, options_.stream_timeout, [&](grpc::ClientContext* c) {
    std::unique_ptr<grpc::ClientWriter<v1::UploadCheckpointRequest>> writer = worker_->UploadCheckpoint(c, &uploaded);
    v1::UploadCheckpointRequest message;
    *message.mutable_header() = header;
    bool ok = writer->Write(message);
    for (size_t offset = 0; ok && offset < bytes.size(); offset += static_cast<size_t>(rpc::kChunkBytes)) {
      message.set_data(bytes.substr(offset, static_cast<size_t>(rpc::kChunkBytes)));
      ok = writer->Write(message);
    }
    // A failed Write means the server already ended the call: Finish() carries its status.
    if (ok) writer->WritesDone();
    return writer->Finish();
  }));
  return uploaded.checkpoint();
}

Status CoordinatorClient::Complete(const std::string& lease_id, int64_t trial_id, int64_t step,
                                   const std::string& stop_reason, const std::string& message) {
  v1::CompleteTrialRequest request;
  request.set_lease_id(lease_id);
  request.set_trial_id(trial_id);
  request.set_step(step);
  request.set_stop_reason(stop_reason);
  request.set_message(message);
  v1::CompleteTrialResponse response;
  return Retry("completing the trial", options_.call_timeout,
               [&](grpc::ClientContext* c) { return worker_->CompleteTrial(c, request, &response); });
}

Status CoordinatorClient::Release(const std::string& lease_id, int64_t trial_id, int64_t step,
                                  const std::string& reason) {
  v1::ReleaseTrialRequest request;
  request.set_lease_id(lease_id);
  request.set_trial_id(trial_id);
  request.set_step(step);
  request.set_reason(reason);
  v1::ReleaseTrialResponse response;
  return Retry("handing the trial back", options_.call_timeout,
               [&](grpc::ClientContext* c) { return worker_->ReleaseTrial(c, request, &response); });
}

Status CoordinatorClient::Fail(const std::string& lease_id, int64_t trial_id, int64_t step,
                               const std::string& message, bool retryable, const std::string& reason) {
  v1::FailTrialRequest request;
  request.set_lease_id(lease_id);
  request.set_trial_id(trial_id);
  request.set_step(step);
  request.set_message(message);
  request.set_retryable(retryable);
  request.set_reason(reason);
  v1::FailTrialResponse response;
  return Retry("reporting the failure", options_.call_timeout,
               [&](grpc::ClientContext* c) { return worker_->FailTrial(c, request, &response); });
}

Status CoordinatorClient::DownloadCheckpoint(int64_t checkpoint_id, const std::string& path) {
  v1::DownloadCheckpointRequest request;
  request.set_checkpoint_id(checkpoint_id);
  std::string bytes;
  v1::Checkpoint header;
  TUTTI_RETURN_IF_ERROR(Retry(absl::StrCat("downloading checkpoint ", checkpoint_id), options_.stream_timeout,
                              [&](grpc::ClientContext* c) {
                                bytes.clear();
                                std::unique_ptr<grpc::ClientReader<v1::DownloadCheckpointResponse>> reader =
                                    checkpoints_->DownloadCheckpoint(c, request);
                                v1::DownloadCheckpointResponse message;
                                while (reader->Read(&message)) {
                                  if (message.has_header()) {
                                    header = message.header();
                                    bytes.reserve(static_cast<size_t>(header.size_bytes()));
                                  } else {
                                    bytes += message.data();
                                  }
                                }
                                return reader->Finish();
                              }));
  const std::string sha = Sha256Hex(bytes);
  if (static_cast<int64_t>(bytes.size()) != header.size_bytes() || sha != header.sha256()) {
    return absl::DataLossError(absl::StrCat("checkpoint ", checkpoint_id, " from ", address(), ": received ",
                                            bytes.size(), " bytes with sha256 ", sha, ", the coordinator's record says ",
                                            header.size_bytes(), " bytes with sha256 ", header.sha256()));
  }
  return WriteFileAtomically(path, bytes);
}

StatusOr<std::string> CoordinatorClient::DownloadBlob(const std::string& sha256) {
  v1::DownloadBlobRequest request;
  request.set_sha256(sha256);
  std::string bytes;
  int64_t size = -1;
  TUTTI_RETURN_IF_ERROR(Retry(absl::StrCat("downloading pack blob ", sha256), options_.stream_timeout,
                              [&](grpc::ClientContext* c) {
                                bytes.clear();
                                size = -1;
                                std::unique_ptr<grpc::ClientReader<v1::DownloadBlobResponse>> reader =
                                    packs_->DownloadBlob(c, request);
                                v1::DownloadBlobResponse message;
                                while (reader->Read(&message)) {
                                  if (size < 0) {
                                    size = message.size_bytes();
                                    bytes.reserve(static_cast<size_t>(size));
                                  }
                                  bytes += message.data();
                                }
                                return reader->Finish();
                              }));
  if (static_cast<int64_t>(bytes.size()) != size) {
    return absl::DataLossError(absl::StrCat("pack blob ", sha256, " from ", address(), ": received ", bytes.size(),
                                            " of ", size, " bytes"));
  }
  return bytes;
}

}  // namespace tutti::worker
