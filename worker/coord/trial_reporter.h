#pragma once
// TrialReporter: rank 0's link between a TrainingRun and the coordinator for one leased trial. It is the
// run's RunObserver (metrics, evaluations, checkpoints) and its RunControl (stop, prune, checkpoint now),
// and it keeps the lease alive.
//
// Threads. The training thread only queues: OnStep/OnEvaluation append metric points, OnCheckpoint reads
// the checkpoint file into memory (a few MB; the file may be pruned locally before it is sent) and queues
// it; Poll reads the last control. A sender thread sends the queue in order (metric points in batches,
// checkpoints as report + upload) with retries; a heartbeat thread beats every heartbeat_interval. So a
// coordinator that is unreachable for a while costs no training: the queue waits and the run goes on. The
// lease survives as long as heartbeats get through within the lease's TTL; evaluations and checkpoint
// writes on the training thread never delay a heartbeat.
//
// Control. A heartbeat reply of STOP or PRUNE makes every later Poll answer kStop (kByCoordinator or
// kPruned, with the coordinator's reason); CHECKPOINT_NOW is answered once. A call refused because the
// lease is no longer held (FAILED_PRECONDITION: it expired, or the trial was taken over) also stops the run
// (kByCoordinator, "lease lost: ..."), drops what is queued, and makes Finish report nothing: the trial
// belongs to someone else now.
//
// Finish() waits until the queue is sent (the final checkpoint included), then ends the lease according to
// the stop: completed / stopped by the coordinator / pruned -> CompleteTrial; interrupted or time limit ->
// ReleaseTrial (the trial is queued again and resumes from its newest checkpoint); failed -> FailTrial.
//
// Thread-safety: the RunObserver/RunControl methods are called from the training thread; Start, Finish and
// the destructor from the thread that owns the reporter.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "worker/coord/coordinator_client.h"
#include "worker/run/run_observer.h"

namespace tutti::worker {

struct ReporterOptions {
  // Metric points wait at most this long before they are sent (they also go when a batch is full).
  std::chrono::milliseconds metrics_interval{1000};
  // Points per ReportMetrics call.
  size_t max_points_per_report = 500;
  // How long Finish waits for the queue (the final checkpoint's upload included) to get through.
  std::chrono::milliseconds finish_timeout{600'000};
};

class TrialReporter final : public RunObserver, public RunControl {
 public:
  // `client` must outlive the reporter. `log` receives one line per notable event (lease lost, coordinator
  // unreachable / reachable again, upload failures); may be empty.
  TrialReporter(CoordinatorClient* client, Assignment assignment, ReporterOptions options,
                std::function<void(const std::string&)> log);
  ~TrialReporter() override;

  // Starts the heartbeat and sender threads.
  void Start();

  void OnStep(const StepReport& report) override;
  void OnEvaluation(const EvaluationReport& report) override;
  void OnCheckpoint(const CheckpointReport& report) override;
  ControlDecision Poll(int64_t step) override;

  // See the file comment. `retryable` is used for kFailed stops. OK when the lease was lost (nothing to
  // report; the trial continues elsewhere) — lease_lost() tells. Errors: the queue could not be sent
  // within finish_timeout, or the final call failed.
  Status Finish(const StopReport& stop, bool retryable);

  bool lease_lost() const { return lease_lost_.load(); }
  const Assignment& assignment() const { return assignment_; }
  // Checkpoints the coordinator recorded (for messages and tests).
  int checkpoints_sent() const { return checkpoints_sent_.load(); }

 private:
  struct Item {
    std::optional<v1::MetricPoint> point;
    std::optional<v1::ReportCheckpointRequest> checkpoint;
    std::string bytes;  // the checkpoint file
  };

  void HeartbeatLoop();
  void SenderLoop();
  // A call failed: lease lost (stop, drop the queue) or something else (log). True when the lease is lost.
  bool HandleFailure(const Status& status, const std::string& what);
  void Log(const std::string& line) const {
    if (log_) log_(line);
  }

  CoordinatorClient* const client_;
  const Assignment assignment_;
  const ReporterOptions options_;
  const std::function<void(const std::string&)> log_;

  std::atomic<int64_t> step_{0};
  std::atomic<bool> lease_lost_{false};
  std::atomic<int> checkpoints_sent_{0};

  mutable std::mutex mu_;
  std::condition_variable wake_;
  // Guarded by mu_.
  std::deque<Item> queue_;
  bool sending_ = false;           // the sender holds items taken from the queue
  bool stopping_ = false;          // threads should exit
  std::optional<ControlDecision> stop_;  // a stop the coordinator asked for (or a lost lease)
  bool checkpoint_now_ = false;
  bool unreachable_ = false;       // the last heartbeat failed for a transient reason
  std::string last_send_error_;

  std::thread heartbeat_;
  std::thread sender_;
};

// Whether a run that failed with `status` may succeed when run again (a dead rank, a timeout, a lost
// connection) rather than failing the same way (bad config, bad data, a diverged model).
bool IsRetryableFailure(const Status& status);

}  // namespace tutti::worker
