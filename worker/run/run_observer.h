#pragma once
// The run-control seam of a TrainingRun (DESIGN.md section 2): what a run reports (RunObserver) and what it
// can be asked to do between steps (RunControl). Torch-free, so tutti-worker's console output and the
// coordinator client implement it without LibTorch.
//
// Who calls what, on which rank:
//   - Observers are called on rank 0 only (the other ranks of a data-parallel run report nothing), on the
//     thread that drives the TrainingRun, synchronously: a slow observer slows training, so observers that
//     talk to the network queue the event and return (the coordinator client does).
//   - RunControl::Poll is called on rank 0 once before every step that is to run (not once train.steps is
//     reached). Its answer becomes rank 0's proposal in the per-step agreement of all ranks (distributed.h,
//     step 5), so every rank stops before the same step, and a requested checkpoint is of one agreed step.
//   - Installed through RunOptions::observer / RunOptions::control (not owned; ignored on other ranks).
//
// Order of events: OnResume during TrainingRun::Create (when resuming). Then, per Run(): OnStep after every
// step (after its metrics line is written), OnEvaluation and OnCheckpoint after the OnStep of the step they
// belong to (evaluation first), then — when the run reached train.steps — the final evaluation (unless
// that step was already evaluated, so the last checkpoint always carries an objective) and the final
// checkpoint's OnCheckpoint (unless that step already has one), then OnStop exactly once when Run() returns, OK or not. Checkpoint() called by hand also reports
// OnCheckpoint. OnNote may come at any point.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

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
  kFailed = 6,         // a step, an evaluation, a checkpoint or a collective failed (Run() returns the error)
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
  // The last step's losses and the last evaluation, flattened: "d_loss", "g_loss", "gradient_penalty",
  // "wasserstein", "d_grad_norm", "g_grad_norm", "elapsed_s", "eval.samples",
  // "eval.tracks.Piano.used_pitch_classes_true_pc", "eval.tonal_distance.B-G.mean", "eval.diversity",
  // "eval.realism.score", "eval.realism.outside", ... (absent before any).
  std::map<std::string, double> metrics;
};

struct ResumeReport {
  int64_t step = 0;
  std::string path;          // the checkpoint resumed from
  std::string config_changes;  // "train.g_lr: 0.0001 (checkpoint: 0.001); ..." or ""
};

struct StopReport {
  StopReason reason = StopReason::kNotStopped;
  int64_t step = 0;             // completed steps when Run() returned
  // The error's message for kFailed ("[rank r] step s: ..." when data-parallel); ControlDecision::message
  // for kByCoordinator / kPruned; a short explanation for kTimeLimit and kInterrupted; "" for kCompleted.
  std::string message;
  std::string last_checkpoint;  // newest checkpoint written or resumed from ("" when none)
};

// Every method has an empty default, so an observer overrides what it needs. Called synchronously on the
// thread driving the run (see the file comment); implementations must not call back into the TrainingRun.
class RunObserver {
 public:
  virtual ~RunObserver() = default;
  virtual void OnResume(const ResumeReport&) {}
  virtual void OnStep(const StepReport&) {}
  virtual void OnEvaluation(const EvaluationReport&) {}
  virtual void OnCheckpoint(const CheckpointReport&) {}
  // A note for people that is not an event of its own: warnings such as "old checkpoints in <dir> could
  // not be removed: ...". One line, no trailing newline.
  virtual void OnNote(const std::string&) {}
  virtual void OnStop(const StopReport&) {}
};

// Forwards every event to each of several observers, in the order given (e.g. the console and the
// coordinator client). The observers are not owned; null entries are skipped.
class FanOutObserver final : public RunObserver {
 public:
  explicit FanOutObserver(std::vector<RunObserver*> observers) : observers_(std::move(observers)) {}
  void OnResume(const ResumeReport& r) override { ForEach([&](RunObserver& o) { o.OnResume(r); }); }
  void OnStep(const StepReport& r) override { ForEach([&](RunObserver& o) { o.OnStep(r); }); }
  void OnEvaluation(const EvaluationReport& r) override { ForEach([&](RunObserver& o) { o.OnEvaluation(r); }); }
  void OnCheckpoint(const CheckpointReport& r) override { ForEach([&](RunObserver& o) { o.OnCheckpoint(r); }); }
  void OnNote(const std::string& note) override { ForEach([&](RunObserver& o) { o.OnNote(note); }); }
  void OnStop(const StopReport& r) override { ForEach([&](RunObserver& o) { o.OnStop(r); }); }

 private:
  template <typename Fn>
  void ForEach(Fn&& fn) {
    for (RunObserver* o : observers_) {
      if (o != nullptr) fn(*o);
    }
  }
  const std::vector<RunObserver*> observers_;  // constant after construction
};

// What rank 0 is asked to do, decided before the step about to run (the one after `step` in Poll(step)).
//   kContinue       nothing.
//   kStop           no further step runs, on any rank: Run() writes the final checkpoint of `step` (unless
//                   it has one) and returns OK with stop_reason() == `reason`; OnStop carries `message`.
//                   When an interrupt or the time limit comes at the same step, the coordinator's reason wins
//                   (larger StopReason values win the agreement).
//   kCheckpointNow  the step about to run is checkpointed once it has run (a periodic checkpoint of that
//                   step counts), and the loop goes on. Poll(k) -> ckpt-<k+1>.
struct ControlDecision {
  enum class Action { kContinue, kStop, kCheckpointNow };
  Action action = Action::kContinue;
  // For kStop: kByCoordinator or kPruned (others are treated as kByCoordinator).
  StopReason reason = StopReason::kByCoordinator;
  std::string message;  // why (shown in OnStop)

  static ControlDecision Continue() { return {}; }
  static ControlDecision Stop(StopReason reason, std::string message) {
    return {Action::kStop, reason, std::move(message)};
  }
  static ControlDecision CheckpointNow() { return {Action::kCheckpointNow, StopReason::kByCoordinator, ""}; }
};

class RunControl {
 public:
  virtual ~RunControl() = default;
  // Called on rank 0 before each step with the number of completed steps (see the file comment). Must be
  // cheap (no I/O: the coordinator client answers from the last heartbeat reply).
  virtual ControlDecision Poll(int64_t step) = 0;
};

// Flattens nested JSON into "a.b.c" -> number, for checkpoint metrics and the coordinator's metric points:
//   objects      keys joined with "." (prefix first, when not "");
//   arrays       of objects that all have a distinct, non-empty string "name" use that name as the key
//                component (MetricsReport::ToJson's "tracks":[{"name":"Piano","empty_bars":0.2}] ->
//                "tracks.Piano.empty_bars"); any other array uses the index ("a.0", "a.1");
//   numbers      as doubles; booleans 0 / 1; null NaN (MetricsReport writes NaN as null);
//   strings      skipped (so the "name" fields themselves, "definitions" and "caveat" add nothing).
// A number, boolean or null at the top is stored under `prefix` (nothing when `prefix` is "").
std::map<std::string, double> FlattenMetrics(const nlohmann::json& value, const std::string& prefix = "");

}  // namespace tutti
