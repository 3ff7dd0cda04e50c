#pragma once
// TrialLifecycle: the coordinator's state machine for experiments, trials and leases — the one place that
// decides which worker runs what, for how long, and what happens when a worker goes away.
//
//   submit ─► QUEUED ──LeaseNext──► RUNNING ──Complete──► COMPLETED (or KILLED when a user's kill stopped it)
//                ▲                     │ ├─Fail(not retryable)─► FAILED
//                │                     │ ├─Release (Ctrl-C, pre-timeout) ─► QUEUED (not a restart)
//                └── restarts + 1 ◄────┘ └─lease expired / Fail(retryable) ─► QUEUED, or FAILED after
//                                                                             options.max_restarts
//   KillTrial: QUEUED ─► KILLED at once; RUNNING: the next heartbeat answers STOP, the worker stops,
//   uploads its final checkpoint and completes (KILLED); an expired lease of a killed trial ends KILLED.
//
// Leases. LeaseNext hands out the queued trial with the smallest id and a random lease id; the lease runs
// for lease_ttl_ms after the grant and after every heartbeat. Every worker call names its lease; a lease
// that is no longer held (expired, released, or its trial ended) is refused with FailedPrecondition
// "lease <id> of trial <t> is no longer held (...)" and changes nothing, so a stale worker can neither
// report over a newer one nor end a trial another worker now runs.
//
// Durability. The store is the truth; this class keeps a cache of every trial (for the queue, the lease
// index and fast reads) and writes through: each transition writes the new row first and updates the cache
// only when the write succeeded, so a failing store (full disk) leaves both unchanged. Create() rebuilds the
// cache from the store and expires, at once, leases that ran out while the coordinator was down; leases
// still valid are kept (their worker may still be training and will heartbeat). Heartbeats are persisted
// (they move the lease's expiry); metric progress (step, last metrics) is kept in memory and persisted
// with the next heartbeat or transition.
//
// Thread-safety: every method may be called from any thread; one mutex serialises state changes (store
// writes happen under it, so transitions are totally ordered).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "coordinator/service/clock.h"
#include "coordinator/store/experiment_store.h"
#include "core/base/status.h"

namespace tutti::coord {

struct LifecycleOptions {
  // A lease expires this long after its grant or last heartbeat.
  int64_t lease_ttl_ms = 30'000;
  // How often workers are told to heartbeat (a few beats fit in one TTL, so one lost beat costs nothing).
  int64_t heartbeat_interval_ms = 5'000;
  // Re-queues after a lost lease or a retryable failure before a trial is FAILED for good.
  int max_restarts = 5;
};

// Stop reasons a trial ends with (TrialRow::stop_reason).
inline constexpr char kReasonCompleted[] = "completed";
inline constexpr char kReasonKilled[] = "killed";
inline constexpr char kReasonByCoordinator[] = "stopped by the coordinator";
inline constexpr char kReasonPruned[] = "pruned";
inline constexpr char kReasonFailed[] = "failed";
inline constexpr char kReasonTooManyRestarts[] = "too many restarts";

struct LeaseGrant {
  std::string lease_id;
  TrialRow trial;
};

struct HeartbeatReply {
  enum class Control { kContinue, kStop, kCheckpointNow };
  Control control = Control::kContinue;
  std::string reason;
};

class TrialLifecycle {
 public:
  static StatusOr<std::unique_ptr<TrialLifecycle>> Create(ExperimentStore* store, const Clock* clock,
                                                          LifecycleOptions options);

  const LifecycleOptions& options() const { return options_; }
  // Called with one line per transition ("trial 3 leased by host:12 (lease 9f...)"), under the lifecycle's
  // lock: keep it fast (the coordinator prints it). Set before serving.
  void set_event_log(std::function<void(const std::string&)> log) { log_ = std::move(log); }

  // --- experiments and trials (users) ---
  // Stores the experiment and its trials (QUEUED) and returns the stored experiment; `created` receives
  // the stored trials.
  StatusOr<ExperimentRow> Submit(ExperimentRow experiment, std::vector<TrialRow> trials,
                                 std::vector<TrialRow>* created);
  // See the file comment. Idempotent; NotFound naming the id.
  Status KillExperiment(int64_t experiment_id);
  Status KillTrial(int64_t trial_id);
  // Asks the worker of a running trial to write a checkpoint now (delivered by the next heartbeat).
  // FailedPrecondition when the trial is not running.
  Status RequestCheckpoint(int64_t trial_id);
  StatusOr<TrialRow> GetTrial(int64_t trial_id) const;
  StatusOr<std::vector<TrialRow>> TrialsOf(int64_t experiment_id) const;
  // Every trial, by id (from the cache).
  std::vector<TrialRow> AllTrials() const;

  // --- the worker protocol ---
  // The queued trial with the smallest id, now RUNNING under a new lease; nullopt when none is queued.
  StatusOr<std::optional<LeaseGrant>> LeaseNext(const std::string& worker, int ranks);
  // The lease an agent took, now held by `worker` (the training process it started).
  StatusOr<LeaseGrant> Adopt(const std::string& lease_id, const std::string& worker);
  // The trial when `lease_id` holds it (FailedPrecondition otherwise; NotFound for an unknown trial).
  StatusOr<TrialRow> CheckLease(const std::string& lease_id, int64_t trial_id) const;
  StatusOr<HeartbeatReply> Heartbeat(const std::string& lease_id, int64_t trial_id, int64_t step);
  // Remembers the worker's progress (step and the latest value of each metric; merged into
  // last_metrics_json). In memory until the next heartbeat or transition.
  Status RecordProgress(const std::string& lease_id, int64_t trial_id, int64_t step,
                        const std::map<std::string, double>& latest);
  // `stop_reason` is kReasonCompleted, kReasonByCoordinator or kReasonPruned (InvalidArgument otherwise).
  // A trial a user killed ends KILLED whatever the reason.
  StatusOr<TrialRow> Complete(const std::string& lease_id, int64_t trial_id, int64_t step,
                              const std::string& stop_reason, const std::string& message);
  StatusOr<TrialRow> Release(const std::string& lease_id, int64_t trial_id, int64_t step, const std::string& reason);
  StatusOr<TrialRow> Fail(const std::string& lease_id, int64_t trial_id, int64_t step, const std::string& message,
                          bool retryable);

  // Expires every lease past its time (the server calls this about twice a second). Returns how many.
  int ExpireLeases();

  // Bumped on every change to a trial (transitions, heartbeats, progress): followers wait on it.
  uint64_t version() const;
  // Blocks until version() != `seen` or `timeout_ms` passed; returns the current version.
  uint64_t WaitForChange(uint64_t seen, int64_t timeout_ms) const;

 private:
  TrialLifecycle(ExperimentStore* store, const Clock* clock, LifecycleOptions options)
      : store_(store), clock_(clock), options_(options) {}

  // The row of a lease-checked trial; callers hold mu_.
  StatusOr<TrialRow> CheckLeaseLocked(const std::string& lease_id, int64_t trial_id) const;
  // Writes `row` (with pending metric values merged in, so the caller sees what was stored) to the store
  // and then the cache (queue and lease index follow the row's state and lease). Callers hold mu_.
  Status WriteTrialLocked(TrialRow& row);
  // A running trial lost its worker (lease expiry or a retryable failure): re-queue it, or end it.
  TrialRow RequeueOrEnd(TrialRow row, const std::string& why) const;
  // Sets the experiment's final state once all its trials ended. Callers hold mu_.
  Status MaybeFinishExperimentLocked(int64_t experiment_id);
  int ExpireLeasesLocked();
  // `row` with the values in latest_ merged into last_metrics_json. Callers hold mu_.
  TrialRow WithLatestLocked(TrialRow row) const;
  void BumpLocked();
  void Log(const std::string& line) const {
    if (log_) log_(line);
  }

  // Constant after Create.
  ExperimentStore* const store_;  // not owned
  const Clock* const clock_;      // not owned
  const LifecycleOptions options_;
  std::function<void(const std::string&)> log_;

  mutable std::mutex mu_;
  // Guarded by mu_.
  std::map<int64_t, TrialRow> trials_;            // every trial, by id
  std::set<int64_t> queue_;                       // ids of QUEUED trials
  std::map<std::string, int64_t> leases_;         // lease id -> trial id, for RUNNING trials
  std::set<int64_t> checkpoint_requested_;        // running trials to ask for a checkpoint
  // Metric values reported since the trial's row was last written (RecordProgress is the hot path of
  // metric reports: merging into the row's JSON happens only when the row is written or read).
  std::map<int64_t, std::map<std::string, double>> latest_;
  uint64_t version_ = 0;
  mutable std::condition_variable changed_;
};

// A fresh lease id: 32 random hex digits.
std::string NewLeaseId();

}  // namespace tutti::coord
