#pragma once
// ExperimentHandler: the ExperimentService calls as a plain class (no gRPC): request proto in, reply proto
// out, Status as the result. The gRPC adapter (coordinator/server) only forwards and maps the Status.
//
// Thread-safety: all methods may be called concurrently.

#include <functional>
#include <memory>

#include "coordinator/service/checkpoint_registry.h"
#include "coordinator/service/experiment_manager.h"
#include "coordinator/service/trial_lifecycle.h"
#include "coordinator/store/experiment_store.h"
#include "core/base/status.h"
#include "tutti/v1/experiment_service.pb.h"

namespace tutti::coord {

struct ExperimentHandlerOptions {
  // Largest job file accepted (bytes).
  size_t max_config_bytes = 1 << 20;
  // Metric points per StreamTrialMetrics message.
  int stream_batch = 500;
  // How long a follower waits for news before checking again whether its client left (ms).
  int64_t follow_poll_ms = 1000;
};

class ExperimentHandler {
 public:
  ExperimentHandler(ExperimentStore* store, TrialLifecycle* lifecycle, CheckpointRegistry* checkpoints,
                    ExperimentManager* manager, ExperimentHandlerOptions options = {})
      : store_(store), lifecycle_(lifecycle), checkpoints_(checkpoints), manager_(manager), options_(options) {}

  // INVALID_ARGUMENT "<source_name>:<line>:<col>: <key>: ..." for config errors (the worker's messages).
  Status Submit(const v1::SubmitExperimentRequest& request, v1::SubmitExperimentResponse* response);
  Status List(const v1::ListExperimentsRequest& request, v1::ListExperimentsResponse* response);
  Status Get(const v1::GetExperimentRequest& request, v1::GetExperimentResponse* response);
  Status Kill(const v1::KillExperimentRequest& request, v1::KillExperimentResponse* response);
  Status ListTrials(const v1::ListTrialsRequest& request, v1::ListTrialsResponse* response);
  Status GetTrial(const v1::GetTrialRequest& request, v1::GetTrialResponse* response);
  Status KillTrial(const v1::KillTrialRequest& request, v1::KillTrialResponse* response);
  Status Pause(const v1::PauseExperimentRequest& request, v1::PauseExperimentResponse* response);
  Status Resume(const v1::ResumeExperimentRequest& request, v1::ResumeExperimentResponse* response);
  Status Extend(const v1::ExtendExperimentRequest& request, v1::ExtendExperimentResponse* response);
  Status Fork(const v1::ForkTrialRequest& request, v1::ForkTrialResponse* response);
  // Calls `write` for every batch (see the proto); stops when it returns false (the client left) or when
  // `cancelled` says so. Returns OK at the end of the data (not following) or of the trial (following).
  Status StreamMetrics(const v1::StreamTrialMetricsRequest& request,
                       const std::function<bool(const v1::StreamTrialMetricsResponse&)>& write,
                       const std::function<bool()>& cancelled);

 private:
  Status FillTrial(const TrialRow& row, bool with_config, v1::Trial* out);
  Status FillExperiment(const ExperimentRow& row, const std::vector<TrialRow>& trials, bool with_config,
                        v1::Experiment* out);
  std::map<std::string, int64_t> CountsOf(int64_t experiment_id, const std::vector<TrialRow>& all) const;

  ExperimentStore* const store_;
  TrialLifecycle* const lifecycle_;
  CheckpointRegistry* const checkpoints_;
  ExperimentManager* const manager_;
  const ExperimentHandlerOptions options_;
};

}  // namespace tutti::coord
