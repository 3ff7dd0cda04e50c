#pragma once
// WorkerHandler: the WorkerService calls (worker_service.proto) as a plain class. Uploads are a session
// object the gRPC adapter feeds message by message, so the handler never sees a stream type.
//
// Thread-safety: all methods may be called concurrently; an UploadSession belongs to one thread.

#include <memory>

#include "coordinator/service/checkpoint_registry.h"
#include "coordinator/service/experiment_manager.h"
#include "coordinator/service/trial_lifecycle.h"
#include "coordinator/store/experiment_store.h"
#include "core/base/status.h"
#include "tutti/v1/worker_service.pb.h"

namespace tutti::coord {

struct WorkerHandlerOptions {
  // Metric points accepted in one ReportMetrics call.
  int max_points_per_report = 10'000;
};

class WorkerHandler {
 public:
  WorkerHandler(ExperimentStore* store, TrialLifecycle* lifecycle, CheckpointRegistry* checkpoints,
                ExperimentManager* manager, const Clock* clock, WorkerHandlerOptions options = {})
      : store_(store),
        lifecycle_(lifecycle),
        checkpoints_(checkpoints),
        manager_(manager),
        clock_(clock),
        options_(options) {}

  Status LeaseTrial(const v1::LeaseTrialRequest& request, v1::LeaseTrialResponse* response);
  Status Heartbeat(const v1::HeartbeatRequest& request, v1::HeartbeatResponse* response);
  Status ReportMetrics(const v1::ReportMetricsRequest& request, v1::ReportMetricsResponse* response);
  Status ReportCheckpoint(const v1::ReportCheckpointRequest& request, v1::ReportCheckpointResponse* response);
  Status CompleteTrial(const v1::CompleteTrialRequest& request, v1::CompleteTrialResponse* response);
  Status ReleaseTrial(const v1::ReleaseTrialRequest& request, v1::ReleaseTrialResponse* response);
  Status FailTrial(const v1::FailTrialRequest& request, v1::FailTrialResponse* response);

  // One UploadCheckpoint stream: Begin with the header, Append every data chunk, then Finish.
  class UploadSession {
   public:
    // InvalidArgument when the first message is not a header or a header arrives twice.
    Status OnMessage(const v1::UploadCheckpointRequest& message);
    // DataLoss when the stream ended early (no header, fewer bytes than announced).
    Status Finish(v1::UploadCheckpointResponse* response);

   private:
    friend class WorkerHandler;
    explicit UploadSession(WorkerHandler* handler) : handler_(handler) {}
    WorkerHandler* const handler_;
    std::unique_ptr<CheckpointRegistry::Upload> upload_;
    int64_t experiment_id_ = 0;
    bool failed_ = false;
  };
  std::unique_ptr<UploadSession> StartUpload() { return std::unique_ptr<UploadSession>(new UploadSession(this)); }

 private:
  ExperimentStore* const store_;
  TrialLifecycle* const lifecycle_;
  CheckpointRegistry* const checkpoints_;
  ExperimentManager* const manager_;
  const Clock* const clock_;
  const WorkerHandlerOptions options_;
};

// The announcement in a ReportCheckpointRequest.
CheckpointAnnouncement AnnouncementOf(const v1::ReportCheckpointRequest& request);

}  // namespace tutti::coord
