#pragma once
// GAN-aware early stopping: watches one trial's metric points and says when to stop it, with a reason
// code people see in `tutti trials`. Pure logic (no I/O, no clock); the coordinator feeds every point a
// worker reports and stops the trial through its next heartbeat.
//
// Rules, each with its reason code (and the message it gives):
//   "critic diverged"     the mean |wasserstein| (the critic's Wasserstein estimate) over the last
//                         `divergence_window` training points exceeds `divergence_threshold` (a critic that
//                         runs away from the generator: the tutorial's stable runs stay below ~20). Checked
//                         once the window is full; training points without "wasserstein" do not count.
//                         "mean |wasserstein| 312.5 over the last 5 points at step 400 > 100" (the mean to 6
//                         significant digits);
//   "generator collapsed" the evaluation's diversity (`diversity_metric`, see below) is strictly below
//                         `collapse_threshold` at `collapse_evaluations` consecutive evaluations; an
//                         evaluation without a finite diversity neither extends nor breaks the streak.
//                         "eval.diversity 0.01 < 0.05 at 2 consecutive evaluations, the last at step 400";
//   "no improvement"      the objective (`objective`, `smaller_is_better`) has not improved on its best by
//                         more than `min_delta` for `patience` consecutive evaluations (0 = rule off). The
//                         first finite value is the first best; an evaluation without the objective is
//                         skipped; a NaN or infinite objective counts as an evaluation that did not improve.
//                         "eval.realism.score 0.5 at step 900: no improvement on the best 0.42 (step 300) by
//                         more than 0 for 3 evaluations";
//   "non-finite loss"     a training point with a NaN or infinite d_loss, g_loss or wasserstein (workers
//                         also fail such a step themselves; this catches it from the metrics too).
//                         "g_loss is nan at step 120".
// Order: on a training point "non-finite loss" is checked before "critic diverged" (a NaN is the root cause
// and never enters the window); on an evaluation "generator collapsed" before "no improvement". Points of
// any other kind, and every point while `enabled` is false, are ignored. Numbers in messages are the
// shortest text that reads back to the same double.
// The diversity of an evaluation (computed by the worker over its fixed probe latents and reported as
// "eval.diversity") is the mean Jaccard distance between the binarised samples of all pairs of probe
// samples: 1 - |A ∩ B| / |A ∪ B| over active cells (two empty samples: distance 0). Identical samples give 0;
// real LPD-5 segments give ~0.9.
//
// Thread-compatibility: one EarlyStopping per trial, one thread at a time.

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "core/base/status.h"

namespace tutti::sweep {

struct EarlyStoppingConfig {
  bool enabled = true;
  std::string objective = "eval.realism.score";
  bool smaller_is_better = true;
  double divergence_threshold = 100;
  int divergence_window = 5;
  std::string diversity_metric = "eval.diversity";
  double collapse_threshold = 0.05;
  int collapse_evaluations = 2;
  int patience = 0;
  double min_delta = 0;
};

// InvalidArgument naming the key ("early_stopping.divergence_window: expected an integer >= 1, got 0"):
// divergence_threshold > 0, divergence_window >= 1, diversity_metric not empty, collapse_threshold in
// [0, 1], collapse_evaluations >= 1, patience >= 0, min_delta >= 0 (finite numbers), objective not empty
// when patience > 0. Checked whether or not `enabled` is set. EarlyStopping assumes a valid config.
Status ValidateEarlyStopping(const EarlyStoppingConfig& config);

struct StopDecision {
  std::string code;     // one of the reason codes above
  std::string message;  // "mean |wasserstein| 312.5 over the last 5 points at step 400 > 100"
};

class EarlyStopping {
 public:
  explicit EarlyStopping(EarlyStoppingConfig config) : config_(std::move(config)) {}
  // One reported point: kind "train" or "eval", values by name ("wasserstein", "eval.realism.score" —
  // eval values carry the "eval." prefix as the coordinator stores them). Returns the first rule that
  // fires; nullopt otherwise. After a decision the trial is stopped; later points return nullopt.
  std::optional<StopDecision> Observe(int64_t step, const std::string& kind, const std::map<std::string, double>& values);

  // The state (for a coordinator restart): JSON text; LoadState restores it exactly (on an EarlyStopping
  // with the same config). InvalidArgument for text that does not parse as such a state; then nothing
  // changes.
  std::string SaveState() const;
  Status LoadState(const std::string& state);

 private:
  EarlyStoppingConfig config_;
  std::deque<double> recent_wasserstein_;
  int low_diversity_streak_ = 0;
  std::optional<double> best_objective_;
  int64_t best_step_ = 0;  // the step of best_objective_ (for the message)
  int evaluations_since_best_ = 0;
  bool stopped_ = false;
};

}  // namespace tutti::sweep
