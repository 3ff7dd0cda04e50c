#pragma once
// ExperimentManager: runs each experiment's searcher (core/sweep) and early stopping on top of the
// TrialLifecycle — the coordinator's half of a hyperparameter sweep. Plain jobs are experiments with the
// "single" searcher, so every experiment goes through here.
//
// Decisions are durable and replayable. The searcher changes state only on discrete events, each tied to
// something the lifecycle has already made durable:
//   start                      the experiment was stored;
//   "trial T reached length L" T is COMPLETED with stop_reason "completed" at target_steps L;
//   "trial T ended"            T is FAILED, KILLED or COMPLETED by an early stop.
// Reconcile(experiment) compares the trials with the events the searcher has consumed (kept in its saved
// state) and feeds what is missing, so an event is fed exactly once whether it happens while the
// coordinator runs or while it is down. Before carrying out a decision the manager saves the searcher's
// state WITH the operations still to do (write-ahead); operations are idempotent (a kCreate whose trial
// exists is skipped, a kTrainTo of a trial already training that far is skipped, ...), so a crash between
// saving and doing is finished by the next start. A trial's validation value for the searcher is read from
// the stored metrics when it reaches its length, never kept only in memory.
//
// Early stopping (core/sweep/early_stopping.h) watches every metric point a worker reports; its state is
// rebuilt at start by replaying the stored metrics of the trials still running. A stop goes through
// TrialLifecycle::RequestEarlyStop (delivered by the next heartbeat).
//
// Thread-safety: all methods may be called from any thread; one mutex serialises the searchers. Lock order:
// manager, then lifecycle (the lifecycle never calls the manager, except for the can-finish predicate,
// which only reads the manager's done-set under its own small mutex).

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "coordinator/service/clock.h"
#include "coordinator/service/trial_lifecycle.h"
#include "coordinator/store/experiment_store.h"
#include "core/base/status.h"
#include "core/config/experiment_config.h"
#include "core/sweep/early_stopping.h"
#include "core/sweep/searcher.h"

namespace tutti::coord {

class ExperimentManager {
 public:
  // Loads every unfinished experiment's searcher, carries out operations a crash left undone, feeds
  // missing events, and rebuilds early stopping from the stored metrics. Installs the lifecycle's
  // can-finish predicate (an experiment ends only once its searcher is done).
  static StatusOr<std::unique_ptr<ExperimentManager>> Create(ExperimentStore* store, TrialLifecycle* lifecycle,
                                                             const Clock* clock);

  // Stores a new experiment (config = the parsed, resolved experiment) and starts its searcher.
  StatusOr<ExperimentRow> Submit(const ExperimentConfig& config, const std::string& source_name,
                                 const std::string& submitted_yaml, const std::vector<std::string>& overrides,
                                 std::vector<TrialRow>* created);

  // Feeds what happened to the experiment's trials to its searcher (see the file comment). Called after
  // every trial transition (complete, fail, release, expiry) and periodically.
  Status Reconcile(int64_t experiment_id);
  Status ReconcileAll();
  // Reconcile for one trial that just changed (the handlers' fast path: no scan of the experiment).
  Status ReconcileTrial(int64_t trial_id);

  // Metric points a worker reported for a trial (values as stored: eval values prefixed "eval.").
  void OnMetrics(int64_t trial_id, int64_t step, const std::string& kind, const std::map<std::string, double>& values);

  // Raises (or lowers, not below what was created) max_trials of a running sweep.
  Status SetMaxTrials(int64_t experiment_id, int max_trials);

  // A new trial of `parent`'s experiment outside its searcher: the parent's config with `overrides`
  // applied, starting from `checkpoint_id` (0 = the parent's newest checkpoint), lineage recorded.
  StatusOr<TrialRow> Fork(int64_t parent_trial_id, int64_t checkpoint_id, int64_t newest_checkpoint_id,
                          const std::vector<std::string>& overrides);

  // The experiment's config (parsed from its stored YAML), for the handlers (objective names, ...).
  StatusOr<ExperimentConfig> Config(int64_t experiment_id);
  // The searcher's progress 0..1 and whether it is done.
  double Progress(int64_t experiment_id);

 private:
  struct Sweep {
    ExperimentConfig config;
    std::unique_ptr<sweep::Searcher> searcher;
    std::map<int64_t, int64_t> trial_of_request;  // request id -> trial id
    std::map<int64_t, int64_t> reached;            // trial id -> largest length fed to OnLengthReached
    std::set<int64_t> ended;                       // trial ids fed to OnTrialEnded
    std::vector<sweep::Operation> pending;         // decided, maybe not yet carried out
    bool done = false;
  };

  ExperimentManager(ExperimentStore* store, TrialLifecycle* lifecycle, const Clock* clock)
      : store_(store), lifecycle_(lifecycle), clock_(clock) {}

  // The sweep of an experiment, loading it from its row on first use. Callers hold mu_.
  StatusOr<Sweep*> SweepLocked(int64_t experiment_id);
  // Saves the searcher's state (and pending operations) into the experiment's row. Callers hold mu_.
  Status SaveLocked(int64_t experiment_id, const Sweep& sweep);
  // Records `ops` as pending, saves, carries them out, saves again. Callers hold mu_.
  Status DecideLocked(int64_t experiment_id, Sweep* sweep, std::vector<sweep::Operation> ops);
  // Carries out one operation, idempotently; `replaying` = it may have been carried out before a restart.
  Status ApplyLocked(int64_t experiment_id, Sweep* sweep, const sweep::Operation& op, bool replaying);
  Status ReconcileLocked(int64_t experiment_id);
  // The sweep when the experiment is still searching (after carrying out pending operations and starting a
  // never-started searcher); nullptr when it is done. Callers hold mu_.
  StatusOr<Sweep*> LiveSweepLocked(int64_t experiment_id);
  // Feeds what happened to one trial to its searcher, once. Callers hold mu_.
  Status ConsumeLocked(int64_t experiment_id, Sweep* sweep, const TrialRow& trial);
  // The searcher metric's last value at a step <= `step` in the trial's stored eval metrics.
  StatusOr<std::optional<double>> ValidationAt(const Sweep& sweep, int64_t trial_id, int64_t step);
  bool IsDone(int64_t experiment_id) const;

  ExperimentStore* const store_;
  TrialLifecycle* const lifecycle_;
  const Clock* const clock_;

  std::mutex mu_;
  std::map<int64_t, std::unique_ptr<Sweep>> sweeps_;                         // guarded by mu_
  std::mutex early_mu_;  // guards early_ (separate from mu_: metric reports must not wait for searchers)
  std::map<int64_t, std::unique_ptr<sweep::EarlyStopping>> early_;  // trial id -> stopper (null = off)

  // What readers need without waiting for the searchers (metric reports, listings): each experiment's
  // config and its searcher's progress, refreshed after every decision. Guarded by view_mu_.
  struct View {
    std::shared_ptr<const ExperimentConfig> config;
    double progress = 0;
  };
  void PublishLocked(int64_t experiment_id, const Sweep& sweep);
  mutable std::mutex view_mu_;
  std::map<int64_t, View> views_;

  mutable std::mutex done_mu_;
  std::set<int64_t> done_;  // experiments whose searcher is done; guarded by done_mu_ (read by the lifecycle)
};

}  // namespace tutti::coord
