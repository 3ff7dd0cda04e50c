#pragma once
// The run-control seam of a TrainingRun (DESIGN.md section 2): what a run reports (RunObserver) and what it
// can be asked to do between steps (RunControl). Torch-free, so tutti-worker's console output and the
// coordinator client implement it without LibTorch.
//
// Who calls what, on which rank:
//   - Observers are called on rank 0 only (the other ranks of a data-parallel run report nothing), on the
//     thread that drives the TrainingRun, synchronously: a slow observer slows training, so observers that
//     talk to the network queue the event and return (the coordinator client does).
//   - RunControl::Poll is called on rank 0 once before every step. Its answer becomes rank 0's proposal in
//     the per-step agreement of all ranks (distributed.h, step 5), so every rank stops, or skips to a
//     checkpoint, at the same step.
//
// Order of events in one Run(): OnResume (when resuming) ... OnStep for every step (OnEvaluation and
// OnCheckpoint after the step they belong to) ... OnStop exactly once when Run() returns, OK or not.

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace tutti {

// Why Run() returned OK (or kFailed when it returned an error).
enum class StopReason {
  kNotStopped = 0,     // Run() has not finished
  kCompleted = 1,      // train.steps reached
  kTimeLimit = 2,      // RunOptions::max_seconds spent
  kInterrupted = 3,    // InterruptRequested() (Ctrl-C / SIGTERM) on any rank
  kByCoordinator = 4,  // RunControl asked to stop (a user's kill, a lost lease, a pre-timeout signal)
  kPruned = 5,         // RunControl asked to stop because a searcher pruned the trial
  kFailed = 6,         // a step, an evaluation or a checkpoint failed (OnStop only; Run() returns the error)
};
// "completed", "time limit", "interrupted", "stopped by the coordinator", "pruned", "failed", "not stopped".
const char* StopReasonName(StopReason reason);

// One generator step's numbers. Sent for every step; `logged` marks the steps written to the metrics file
// (every train.log_every), whose rates cover the window since the previous logged step.
struct StepReport {
  int64_t step = 0;          // completed generator steps
  int64_t total_steps = 0;   // train.steps
  bool logged = false;
  double d_loss = 0, g_loss = 0, gradient_penalty = 0, wasserstein = 0, d_grad_norm = 0, g_grad_norm = 0;
  double steps_per_s = 0;    // recent training throughput (step time only)
  double elapsed_s = 0;      // training seconds of this run, earlier processes included
  double comm_s = 0;         // data-parallel communication seconds in the window (0 without)
  double comm_share = 0;     // comm_s / step time of the window
  bool data_parallel = false;
  // The same values as the metrics line: {"step", "d_loss", ..., "elapsed_s"[, "comm_s", "comm_share"]}.
  nlohmann::json ToJson() const;
};

struct EvaluationReport {
  int64_t step = 0;
  int samples = 0;
  nlohmann::json metrics;    // MetricsReport::ToJson()
  std::string summary;       // one line for people: "empty_bars 0.00 0.10 ... | used_pitch_classes ..."
};

struct CheckpointReport {
  int64_t step = 0;
  std::string path;          // the ckpt-<step>.tutti file (durable when reported)
  std::string sha256;        // of the whole file
  int64_t size_bytes = 0;
  // The last step metrics and the last evaluation, flattened ("d_loss", "eval.used_pitch_classes.Piano").
  std::map<std::string, double> metrics;
};

struct ResumeReport {
  int64_t step = 0;
  std::string path;          // the checkpoint resumed from
  std::string config_changes;  // "train.g_lr: 0.0001 (checkpoint: 0.001); ..." or ""
};

struct StopReport {
  StopReason reason = StopReason::kNotStopped;
  int64_t step = 0;
  std::string message;          // the error for kFailed, the control's reason for coordinator stops
  std::string last_checkpoint;  // newest checkpoint written or resumed from ("" when none)
};

class RunObserver {
 public:
  virtual ~RunObserver() = default;
  virtual void OnResume(const ResumeReport&) {}
  virtual void OnStep(const StepReport&) {}
  virtual void OnEvaluation(const EvaluationReport&) {}
  virtual void OnCheckpoint(const CheckpointReport&) {}
  // A note for people that is not an event of its own ("wrote the final checkpoint", warnings).
  virtual void OnNote(const std::string&) {}
  virtual void OnStop(const StopReport&) {}
};

// What rank 0 is asked to do after the current step.
struct ControlDecision {
  enum class Action { kContinue, kStop, kCheckpointNow };
  Action action = Action::kContinue;
  // For kStop: kByCoordinator or kPruned (others are treated as kByCoordinator).
  StopReason reason = StopReason::kByCoordinator;
  std::string message;  // why (shown in OnStop)
};

class RunControl {
 public:
  virtual ~RunControl() = default;
  // Called on rank 0 before each step with the number of completed steps. Must be cheap (no I/O: the
  // coordinator client answers from the last heartbeat reply).
  virtual ControlDecision Poll(int64_t step) = 0;
};

// Flattens nested JSON objects and arrays into "a.b.c" -> number (arrays by index, booleans as 0/1, null as
// NaN; strings are skipped). Used for checkpoint metrics and the coordinator's metric points.
std::map<std::string, double> FlattenMetrics(const nlohmann::json& value, const std::string& prefix = "");

}  // namespace tutti
