#pragma once
// TrialLifecycle: the coordinator's state machine for experiments, trials and leases — the one place that
// decides which worker runs what, for how long, and what happens when a worker goes away.
//
//   submit ─► QUEUED ──LeaseNext──► RUNNING ──Complete──► COMPLETED (or KILLED when a user's kill stopped it)
//                ▲                     │ ├─Fail(not retryable)─► FAILED
//                │                     │ ├─Release (Ctrl-C, pre-timeout) ─► QUEUED (not a restart)
//                └── restarts + 1 ◄────┘ └─lease expired / Fail(retryable) ─► QUEUED, or FAILED after
//                                                                             the trial's max_restarts
//   Stop requests, delivered as STOP by the next heartbeat (the worker stops, uploads its final checkpoint
//   and completes; the request decides where the trial goes):
//     kill   (KillTrial)        QUEUED ─► KILLED at once; RUNNING ─► KILLED
//     pause  (PauseExperiment)  RUNNING ─► QUEUED (its experiment's trials are not leased until resumed)
//     early  (RequestEarlyStop) QUEUED ─► COMPLETED at once; RUNNING ─► COMPLETED, stop_reason = the code
//   A searcher (experiment_manager.h) moves finished trials on: Continue (COMPLETED/PAUSED ─► QUEUED with a
//   longer target: an ASHA promotion), Park (COMPLETED ─► PAUSED: waiting for one), Close (PAUSED ─►
//   COMPLETED with its reason). AddTrial queues a new trial of an existing experiment.
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

// Stop reasons a trial ends with (TrialRow::stop_reason). Early stops use their own codes
// (core/sweep/early_stopping.h: "critic diverged", ...).
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

  // Decides whether an experiment whose trials all ended is finished (its searcher has nothing more to
  // run). Empty = always. Called under the lifecycle's lock: must not call back into the lifecycle.
  void set_experiment_can_finish(std::function<bool(int64_t experiment_id)> can_finish) {
    can_finish_ = std::move(can_finish);
  }

  // --- experiments and trials (users) ---
  // Stores the experiment and its trials (QUEUED) and returns the stored experiment; `created` receives
  // the stored trials.
  StatusOr<ExperimentRow> Submit(ExperimentRow experiment, std::vector<TrialRow> trials,
                                 std::vector<TrialRow>* created);
  // See the file comment. Idempotent; NotFound naming the id.
  Status KillExperiment(int64_t experiment_id);
  Status KillTrial(int64_t trial_id);
  // Pause: running trials checkpoint and go back to the queue, no trial of the experiment is leased until
  // Resume. Idempotent; FailedPrecondition for an experiment that ended.
  Status PauseExperiment(int64_t experiment_id);
  Status ResumeExperiment(int64_t experiment_id);
  // Early stop with a reason code and detail (see the file comment). No-op for a trial that ended.
  Status RequestEarlyStop(int64_t trial_id, const std::string& code, const std::string& detail);
  // Queues a new trial of an existing experiment (a searcher's or a fork); an experiment that had ended
  // becomes active again. Returns the stored row.
  StatusOr<TrialRow> AddTrial(TrialRow row);
  // Searcher moves (see the file comment). FailedPrecondition when the trial is in another state.
  StatusOr<TrialRow> Continue(int64_t trial_id, int64_t target_steps, const std::string& config_yaml,
                              const std::string& message);
  StatusOr<TrialRow> Park(int64_t trial_id, const std::string& message);
  StatusOr<TrialRow> Close(int64_t trial_id, const std::string& stop_reason, const std::string& message);
  // Sets the final state of an experiment whose trials all ended (when can_finish allows).
  Status MaybeFinishExperiment(int64_t experiment_id);
  // Asks the worker of a running trial to write a checkpoint now (delivered by the next heartbeat).
  // FailedPrecondition when the trial is not running.
  Status RequestCheckpoint(int64_t trial_id);
  StatusOr<TrialRow> GetTrial(int64_t trial_id) const;
  StatusOr<std::vector<TrialRow>> TrialsOf(int64_t experiment_id) const;
  // Every trial, by id (from the cache).
  std::vector<TrialRow> AllTrials() const;

  // --- the worker protocol ---
  // What a worker can take: up to `free_ranks` ranks (exactly that many when `exact`: a launched job's
  // world size), `default_ranks` for trials that name none.
  struct LeaseAsk {
    std::string worker;
    int free_ranks = 0;        // 0 = any
    int default_ranks = 1;
    bool exact = false;
    int max_ranks = 0;         // the most this worker could ever give (0 = free_ranks); for `unfit`
  };
  struct LeaseResult {
    std::optional<LeaseGrant> grant;
    // The oldest queued trial passed over because it needs more ranks than max_ranks: its id and ranks
    // (set whether or not another trial was leased).
    int64_t unfit_trial_id = 0;
    int unfit_ranks = 0;
  };
  // The queued trial with the smallest id that fits (and whose experiment is not paused), now RUNNING
  // under a new lease, its `ranks` set to what it trains with.
  StatusOr<LeaseResult> LeaseNext(const LeaseAsk& ask);
  // LeaseNext for one rank-agnostic worker (tests, simple callers).
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
  // `reason`: the stop reason code of a non-retryable failure ("non-finite loss"; "" = "failed").
  StatusOr<TrialRow> Fail(const std::string& lease_id, int64_t trial_id, int64_t step, const std::string& message,
                          bool retryable, const std::string& reason = "");

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
  // Where a stopped trial goes, by its stop request (Complete / Release). Callers hold mu_.
  void ApplyStopRequestLocked(TrialRow* row, const std::string& default_reason, const std::string& message);
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
  std::set<int64_t> paused_experiments_;          // their trials are not leased
  std::function<bool(int64_t)> can_finish_;
  // Metric values reported since the trial's row was last written (RecordProgress is the hot path of
  // metric reports: merging into the row's JSON happens only when the row is written or read).
  std::map<int64_t, std::map<std::string, double>> latest_;
  uint64_t version_ = 0;
  mutable std::condition_variable changed_;
};

// A fresh lease id: 32 random hex digits.
std::string NewLeaseId();

}  // namespace tutti::coord
