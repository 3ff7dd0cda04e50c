#pragma once
// TrainingRun: one training process of a job, as a library a coordinator (or tutti-worker's main) drives.
//
//   auto run = TrainingRun::Create(config, options);   // packs opened, trainer built, resume applied
//   run->Run();                                        // or: RunStep / Evaluate / Checkpoint by hand
//
// What Create does, in order: validates the config; opens every pack data.packs_dir/<genre> (a missing
// pack is NotFound naming the path and suggesting `tutti pack`; a pack whose sample shape differs from the
// model's is FailedPrecondition naming the pack and both shapes); builds the BatchLoader (batch_size,
// seed = train.seed, rank, world_size, prefetch_batches) and the GanTrainer (CreateTrainerFromConfig,
// intra-op threads per train.intra_op_threads, 0 = cores / local_ranks); draws the fixed evaluation
// latents from eval.seed; applies options.resume; and, on rank 0, writes the resolved config to
// <output_dir>/config.yaml and (eval.realism) builds the realism reference: the bands of eval.samples real
// TRAINING samples of the job's packs (eval.realism_draws draws, eval.realism_seed; core/metrics/realism.h) and
// the held-out bar (as many held-out samples, scored against them), both once. Several genres: a conditional
// model's evaluation set has genre i % genres for sample i, so each draw takes that many samples from each
// pack; an unconditional model's takes them in proportion to the packs' training sizes. A pack without
// held-out samples skips the bar (an OnNote says so). Other ranks build nothing: they never evaluate.
//
// Resume ("latest" or a path): the checkpoint file's bytes are read (by rank 0 alone when data-parallel,
// which broadcasts them: no shared filesystem needed) and LoadCheckpointFromBytes restores both networks,
// both optimisers, the step and the random stream; then the loader is Seek()ed to the stored position, so
// a resumed run continues bit-for-bit on CPU. Errors name the file: DataLoss for a truncated or corrupted
// checkpoint, FailedPrecondition for one written by a model with other options, InvalidArgument when the
// stored loader position does not fit this data (another batch size or pack). "latest" with no checkpoint
// directory, or an empty one, starts from scratch (so a re-queued trial can always pass it); a checkpoint
// directory that cannot be read (a file in the way, no permission) is an error naming it, never "no
// checkpoint" (a re-queued trial must not silently restart from step 0). A fresh run (no resume) refuses a
// checkpoint directory that already holds checkpoints (FailedPrecondition): writing ckpt-200 beside an
// older run's ckpt-600 would let pruning delete the new one.
//
// Outputs (rank 0 only; other ranks train and write nothing):
//   <output_dir>/config.yaml                     the resolved config, written at Create
//   ResolveUnderOutputDir(train.metrics_file)    JSON lines: every train.log_every steps StepReport::ToJson()
//       {"step","d_loss","g_loss","gradient_penalty","wasserstein","d_grad_norm","g_grad_norm",
//        "steps_per_s","elapsed_s"}, and every eval.every steps {"step","eval":{MetricsReport::ToJson()}},
//       whose "eval" object holds, with eval.realism, "realism": RealismReport::ToJson(false) ({"score",
//       "outside", "metrics", "samples", "heldout_score", "heldout_outside", "heldout_samples", "reference",
//       "per_metric", ...}); the same object is the EvaluationReport's metrics (flattened by the coordinator
//       client to "realism.score", ...), the checkpoint's stored metrics and, under "eval.", its reported ones.
//       On resume, lines for steps after the checkpoint's are dropped first.
//   ResolveUnderOutputDir(checkpoint.dir)/ckpt-<step>.tutti   every checkpoint.every steps, when the control
//       asks, and at the end; the newest checkpoint.keep are kept.
//   RunOptions::observer                         every event (run_observer.h): resume, each step, each
//       evaluation, each checkpoint with its sha256, notes, the stop and its reason. The library prints
//       nothing itself; tutti-worker installs a ConsoleObserver (console_observer.h).
// Requests come in through RunOptions::control, polled on rank 0 before every step (stop with a reason,
// checkpoint now; run_observer.h says exactly when each takes effect).
//
// Data parallelism (RunOptions::communicator with more than one rank; protocol in distributed.h): Create
// agrees on rank 0's resume path and checkpoint bytes, checks that every rank is at rank 0's step and
// broadcasts rank 0's parameters; every step averages gradients and synchronises BatchNorm statistics
// across ranks; Run() agrees on the step decision every step (interrupt on any rank; time limit and the
// control's requests on rank 0) so every rank stops before the same step and no rank waits in a collective
// the others never enter. Errors of Run() then carry "[rank r] step s: " (s = the step being run); the
// caller should Communicator::Abort with them. Metrics lines gain "comm_s" (seconds in gradient averaging
// and BatchNorm allreduces over the window) and "comm_share" (comm_s / step time of the window).
//
// Failure safety: a step that fails (a non-finite loss, a gradient hook error) stops Run() with that
// status and poisons the run: RunStep and Checkpoint refuse from then on (FailedPrecondition), so a
// state that may be half-updated never overwrites a good checkpoint. Checkpoints are written atomically.
//
// Thread-compatibility: one thread drives a TrainingRun. Note that Create sets LibTorch's process-wide
// intra-op thread count (through GanTrainer::Create).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/base/status.h"
#include "core/config/job_config.h"
#include "core/metrics/metrics.h"
#include "core/metrics/realism.h"
#include "core/train/gan_trainer.h"
#include "worker/run/run_observer.h"

namespace tutti {
namespace comm {
class Communicator;
}  // namespace comm

class BatchLoader;
class DataParallel;
class MetricsLog;

struct RunOptions {
  // "" = start from scratch; a checkpoint file path; or "latest" = the newest checkpoint in the job's
  // checkpoint directory (from scratch when there is none; an error when the directory cannot be read).
  std::string resume;
  // Wall-clock budget of Run() in seconds (0 = none). When it is spent Run() stops after the current step
  // and writes a final checkpoint.
  double max_seconds = 0;
  // Receives every event of the run (run_observer.h), on rank 0 only (ignored on other ranks). Not owned;
  // must outlive the run. Null = none: the library reports only through its files and return values.
  RunObserver* observer = nullptr;
  // Asked before every step what to do (continue, stop with a reason, checkpoint now), on rank 0 only
  // (ignored on other ranks; its answer reaches them through the per-step agreement). Not owned; must
  // outlive the run. Null = always continue.
  RunControl* control = nullptr;
  // Data-parallel position of this process. Each rank loads its own rows of every global batch (see
  // batch_loader.h); only rank 0 logs, evaluates and checkpoints. The collective itself is installed
  // through `gradient_hook`.
  int rank = 0;
  int world_size = 1;
  // Training processes sharing this machine's cores (divides the default intra-op thread count).
  int local_ranks = 1;
  // Called by the trainer after each backward, before the optimiser step (GanTrainer::GradientHook): the
  // seam where a data-parallel communicator averages gradients. Empty = none. With a multi-rank
  // `communicator` it runs after the averaging, on the averaged gradients.
  GradientHook gradient_hook;
  // The job's communicator (not owned; must outlive the run). Null = no collectives: rank and world_size
  // then only pick the loader's rows. When set, rank and world_size must equal its rank() and size()
  // (InvalidArgument otherwise); with size() > 1 the run is data-parallel (see the file comment).
  comm::Communicator* communicator = nullptr;
  // Fault injection for tests (tutti-worker's TUTTI_TEST_* variables): called before each step with the
  // number of the step about to run (1-based). Empty = none.
  std::function<void(int64_t step)> before_step;
};

class TrainingRun {
 public:
  // See the file comment. `config` is validated (ValidateJobConfig) here.
  static StatusOr<std::unique_ptr<TrainingRun>> Create(JobConfig config, RunOptions options = {});

  TrainingRun(const TrainingRun&) = delete;
  TrainingRun& operator=(const TrainingRun&) = delete;
  ~TrainingRun();

  // One generator step (critic_steps critic updates + one generator update) on the next batch. On error
  // the run is poisoned (see above) and the error is returned with the step number.
  Status RunStep();

  // The MuseGAN metrics of eval.samples samples generated (generator in eval mode) from the fixed latents
  // drawn from eval.seed (genre i % genres for conditional models), binarised at sample.threshold.
  // Remembered as last_metrics(); with a realism reference (rank 0, eval.realism) the same samples are also
  // scored against it, remembered as last_realism(). Does not write anything (Run() logs it). Any rank may
  // call it.
  StatusOr<MetricsReport> Evaluate();
  // Evaluate(), then the eval line in the metrics file and OnEvaluation (rank 0's Run()).
  Status EvaluateAndReport(int64_t step);

  // Writes ckpt-<step>.tutti (trainer, loader position, resolved config, last metrics, elapsed time),
  // reports it (OnCheckpoint: path, sha256, size, flattened metrics) and prunes old ones (a failure to
  // prune is an OnNote warning, not an error: the new checkpoint is durable). Returns its path; "" on
  // ranks other than 0, which write nothing. FailedPrecondition once a step has failed.
  StatusOr<std::string> Checkpoint();

  // The loop: RunStep until train.steps, max_seconds, InterruptRequested() or the control's stop; logs
  // every log_every, evaluates every eval.every, checkpoints every checkpoint.every, when the control asks,
  // and always at the end (also when stopped early). Returns OK for any of those stops (see stop_reason())
  // and the first error otherwise, in which case no checkpoint is written after the failure. Reports every
  // event to the observer and ends with exactly one OnStop, OK or not (kFailed with the error's message).
  // With a multi-rank communicator the ranks agree on every decision (see the file comment); without one,
  // each process decides on its own.
  Status Run();

  // Completed generator steps (resumed runs count from the checkpoint's step).
  int64_t step() const;
  // Why the last Run() returned: kNotStopped before, a stop reason after an OK return, kFailed after an
  // error.
  StopReason stop_reason() const { return stop_reason_; }
  // StopReport::message of the last Run() (the control's message, the error's, ...; "" when none).
  const std::string& stop_message() const { return stop_message_; }
  // Path of the newest checkpoint written or resumed from ("" when none).
  const std::string& last_checkpoint() const { return last_checkpoint_; }
  const std::optional<MetricsReport>& last_metrics() const { return last_metrics_; }
  // The realism of the last evaluation, with the held-out bar (absent before one, on ranks other than 0 and
  // without eval.realism).
  const std::optional<RealismReport>& last_realism() const { return last_realism_; }
  // The reference built at Create (null on ranks other than 0 and without eval.realism), and the seconds its
  // bands and held-out bar took.
  const RealismReference* realism_reference() const { return realism_ ? &*realism_ : nullptr; }
  double realism_build_seconds() const { return realism_build_s_; }
  const std::optional<StepMetrics>& last_step_metrics() const { return last_step_; }
  const JobConfig& config() const { return config_; }

  // Seconds this process spent in gradient averaging and BatchNorm allreduces (0 without data parallelism).
  double comm_seconds() const;

  // Replaces the gradient hook (see RunOptions::gradient_hook; averaging across ranks stays installed).
  void set_gradient_hook(GradientHook hook);

  // The trainer (for tests and for tools that sample from a live run). Do not step it directly: the loader
  // position would no longer match the trainer's step.
  GanTrainer& trainer() { return *trainer_; }

 private:
  // What every rank does before the next step (the agreed result of DecideStep).
  struct StepDecision {
    StopReason stop = StopReason::kNotStopped;  // kNotStopped: run the step
    bool checkpoint_now = false;                // checkpoint after the step (rank 0 writes it)
    std::string message;                        // for OnStop (rank 0)
  };

  TrainingRun(JobConfig config, RunOptions options);
  // Restores the checkpoint `bytes` (read from `path`, which names it in errors) and reports OnResume.
  Status Resume(const std::string& path, const std::string& bytes);
  // options_.resume as a file path ("" = from scratch); errors as described in the file comment.
  StatusOr<std::string> ChooseResumePath() const;
  // The body of Run(); Run() adds the OnStop.
  Status RunLoop();
  // Local checks and rank 0's control, then (data-parallel) the agreement of all ranks.
  StatusOr<StepDecision> DecideStep(double loop_start);
  bool is_chief() const { return options_.rank == 0; }
  // Builds realism_ and realism_base_ (see the file comment).
  Status BuildRealism();
  // The last evaluation's metrics JSON with its "realism" object (what the eval line, the observer and the
  // checkpoint get). Precondition: last_metrics_ is set.
  nlohmann::json LastEvaluationJson() const;
  // The observer when this rank reports (rank 0), else null.
  RunObserver* observer() const { return is_chief() ? options_.observer : nullptr; }
  double ElapsedSeconds() const;

  // Constant after Create.
  const JobConfig config_;
  const RunOptions options_;
  std::string checkpoint_dir_;
  std::unique_ptr<GanTrainer> trainer_;
  std::unique_ptr<BatchLoader> loader_;
  std::unique_ptr<DataParallel> data_parallel_;  // set when the communicator has several ranks
  torch::Tensor eval_latents_, eval_genres_;  // fixed evaluation inputs (genres undefined if unconditional)
  nlohmann::json track_set_json_;  // the packs' track set (core/music/track_set.h), written into checkpoints
  torch::Tensor eval_given_;  // accompaniment models: the given part of each evaluation sample (else undefined)
  std::optional<RealismReference> realism_;   // rank 0 with eval.realism only
  std::optional<RealismReport> realism_base_;  // the reference's settings and the held-out bar, no generated set
  double realism_build_s_ = 0;

  // State of the loop.
  Status failure_;                        // first failed step; non-OK poisons the run
  StopReason stop_reason_ = StopReason::kNotStopped;
  std::string stop_message_;              // StopReport::message of an OK stop
  std::string last_checkpoint_;
  int64_t last_checkpoint_step_ = -1;
  std::optional<MetricsReport> last_metrics_;
  std::optional<RealismReport> last_realism_;  // scored with last_metrics_
  double last_diversity_ = 0;                  // SampleDiversity of the last evaluation's samples
  int64_t last_evaluated_step_ = -1;
  std::optional<StepMetrics> last_step_;
  double elapsed_before_ = 0;             // training seconds of earlier processes (from the checkpoint)
  double started_at_ = 0;                 // monotonic seconds when this process's Run() began
  std::unique_ptr<MetricsLog> metrics_log_;  // rank 0 only
};

}  // namespace tutti
