#pragma once
// CoordinatorClient: the worker's side of the worker protocol (proto/tutti/v1/worker_service.proto) plus
// checkpoint downloads, with a deadline on every call and retries with backoff for transient failures
// (UNAVAILABLE, DEADLINE_EXCEEDED, ...), so a coordinator that restarts or is briefly unreachable costs a
// few retries, not a trial. Non-transient errors (a lost lease: FAILED_PRECONDITION) come back at once.
//
// Torch-free. Thread-safe: calls may come from several threads at once (the heartbeat thread, the sender
// thread and the training thread each use it).

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "proto/client/channel.h"
#include "tutti/v1/checkpoint_service.grpc.pb.h"
#include "tutti/v1/pack_service.grpc.pb.h"
#include "tutti/v1/worker_service.grpc.pb.h"

namespace tutti::worker {

struct ClientOptions {
  // Deadline of one unary call.
  std::chrono::milliseconds call_timeout{10'000};
  // Deadline of one upload or download stream (per checkpoint).
  std::chrono::milliseconds stream_timeout{600'000};
  // Retrying transient errors of one call stops after this long.
  rpc::RetryPolicy retry{std::chrono::milliseconds(200), std::chrono::milliseconds(5'000),
                         std::chrono::milliseconds(120'000)};
};

// A checkpoint the coordinator holds.
struct StoredCheckpoint {
  int64_t id = 0;
  int64_t step = 0;
  std::string sha256;
  int64_t size_bytes = 0;
};

// What LeaseTrial handed out.
struct Assignment {
  std::string lease_id;
  int64_t trial_id = 0;
  int64_t experiment_id = 0;
  std::string config_yaml;                       // the trial's resolved job config
  std::optional<StoredCheckpoint> resume_from;   // latest checkpoint, when it has one
  std::chrono::milliseconds lease_ttl{30'000};
  std::chrono::milliseconds heartbeat_interval{5'000};
};

class CoordinatorClient {
 public:
  CoordinatorClient(std::shared_ptr<rpc::Connection> connection, ClientOptions options = {});

  const std::string& address() const { return connection_->address(); }
  const ClientOptions& options() const { return options_; }

  // A queued trial (nullopt when none is queued), or the trial of `adopt_lease_id` when given.
  StatusOr<std::optional<Assignment>> Lease(const std::string& worker, int ranks, const std::string& adopt_lease_id = "");
  // Heartbeat: the control and its reason.
  StatusOr<v1::HeartbeatResponse> Heartbeat(const std::string& lease_id, int64_t trial_id, int64_t step);
  Status ReportMetrics(const std::string& lease_id, int64_t trial_id, const std::vector<v1::MetricPoint>& points);
  // Announces and, when the coordinator asks for them, uploads the bytes (chunks of rpc::kChunkBytes).
  // Returns the stored record.
  StatusOr<v1::Checkpoint> SendCheckpoint(const v1::ReportCheckpointRequest& header, const std::string& bytes);
  Status Complete(const std::string& lease_id, int64_t trial_id, int64_t step, const std::string& stop_reason,
                  const std::string& message);
  Status Release(const std::string& lease_id, int64_t trial_id, int64_t step, const std::string& reason);
  // `reason`: a short code for `tutti trials` ("non-finite loss"; "" = "failed").
  Status Fail(const std::string& lease_id, int64_t trial_id, int64_t step, const std::string& message, bool retryable,
              const std::string& reason = "");
  // Downloads a checkpoint into `path` (written atomically) and checks its sha256 against the record:
  // DataLoss naming the checkpoint when the bytes differ.
  Status DownloadCheckpoint(int64_t checkpoint_id, const std::string& path);
  // A registered pack's blob (PackService.DownloadBlob), whole, under the retry policy. The caller checks
  // its sha256 (core/data/pack_cache.h does); only a short stream is refused here (DataLoss).
  StatusOr<std::string> DownloadBlob(const std::string& sha256);

 private:
  // Runs `call` (one attempt, given a fresh context) under the retry policy; `what` names the call.
  template <typename Call>
  Status Retry(const std::string& what, std::chrono::milliseconds timeout, Call&& call);

  const std::shared_ptr<rpc::Connection> connection_;
  const ClientOptions options_;
  const std::unique_ptr<v1::WorkerService::Stub> worker_;
  const std::unique_ptr<v1::CheckpointService::Stub> checkpoints_;
  const std::unique_ptr<v1::PackService::Stub> packs_;
};

}  // namespace tutti::worker
