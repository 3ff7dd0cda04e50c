#include "worker/run/training_run.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <vector>

#include <torch/torch.h>

#include "core/base/file_util.h"
#include "core/base/interrupt.h"
#include "core/checkpoint/checkpoint.h"
#include "core/config/job_config_yaml.h"
#include "core/data/batch_loader.h"
#include "core/train/trainer_from_config.h"
#include "worker/comm/communicator.h"
#include "worker/run/distributed.h"
#include "worker/run/run_data.h"
#include "worker/run/run_log.h"

namespace tutti {
namespace {

// Rows generated per Generate call during evaluation: bounds the activation memory of large evals.
constexpr int64_t kEvalChunk = 64;

// "section.key: new (checkpoint: old)" for every line that differs between two JobConfigToYaml texts.
// Both come from the same function, so lines correspond one to one.
std::string ConfigDifferences(const std::string& checkpoint_yaml, const std::string& current_yaml) {
  std::istringstream a(checkpoint_yaml), b(current_yaml);
  std::string la, lb, section, out;
  auto trim = [](const std::string& s) {
    size_t start = s.find_first_not_of(' ');
    return start == std::string::npos ? std::string() : s.substr(start);
  };
  while (std::getline(a, la) && std::getline(b, lb)) {
    if (!lb.empty() && lb[0] != ' ' && lb.back() == ':') section = lb.substr(0, lb.size() - 1) + ".";
    if (la == lb) continue;
    const std::string old_line = trim(la);
    const size_t colon = old_line.find(':');
    const std::string old_value = colon == std::string::npos ? old_line : trim(old_line.substr(colon + 1));
    out += absl::StrCat(out.empty() ? "" : "; ", !lb.empty() && lb[0] == ' ' ? section : "", trim(lb),
                        " (checkpoint: ", old_value, ")");
  }
  return out;
}

MetricsOptions MetricsOptionsFor(const ModelConfig& model) {
  MetricsOptions options;
  options.steps_per_bar = model.steps_per_measure;
  options.steps_per_beat = model.steps_per_measure % 4 == 0 ? model.steps_per_measure / 4 : model.steps_per_measure;
  if (model.tracks != 5) {  // not LPD-5: no known drum track, names or tonal pairs
    options.drum_track = -1;
    options.track_names.clear();
    options.tonal_pairs.clear();
    options.tonal_pair_labels.clear();
  }
  return options;
}

std::string FormatRow(const char* name, const MetricsReport& report, double TrackMetrics::*field) {
  std::string row = name;
  for (const TrackMetrics& t : report.tracks) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, " %.2f", t.*field);
    row += buffer;
  }
  return row;
}

}  // namespace

const char* StopReasonName(StopReason reason) {
  switch (reason) {
    case StopReason::kNotStopped: return "not stopped";
    case StopReason::kCompleted: return "completed";
    case StopReason::kTimeLimit: return "time limit";
    case StopReason::kInterrupted: return "interrupted";
  }
  return "?";
}

TrainingRun::TrainingRun(JobConfig config, RunOptions options)
    : config_(std::move(config)), options_(std::move(options)), started_at_(MonotonicSeconds()) {}

TrainingRun::~TrainingRun() = default;

StatusOr<std::unique_ptr<TrainingRun>> TrainingRun::Create(JobConfig config, RunOptions options) {
  TUTTI_RETURN_IF_ERROR(ValidateJobConfig(config));
  if (options.world_size < 1 || options.rank < 0 || options.rank >= options.world_size || options.local_ranks < 1) {
    return absl::InvalidArgumentError(absl::StrCat("RunOptions: expected 0 <= rank < world_size and local_ranks >= 1, got rank ",
                                                   options.rank, ", world_size ", options.world_size,
                                                   ", local_ranks ", options.local_ranks));
  }
  if (!(options.max_seconds >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("RunOptions.max_seconds: expected >= 0, got ", options.max_seconds));
  }
  if (options.communicator != nullptr &&
      (options.communicator->rank() != options.rank || options.communicator->size() != options.world_size)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RunOptions: rank / world_size (", options.rank, " / ", options.world_size, ") differ from the communicator's (",
        options.communicator->rank(), " / ", options.communicator->size(), ")"));
  }
  std::unique_ptr<TrainingRun> run(new TrainingRun(std::move(config), std::move(options)));
  const JobConfig& c = run->config_;
  const RunOptions& o = run->options_;
  run->checkpoint_dir_ = ResolveUnderOutputDir(c, c.checkpoint.dir);
  if (o.communicator != nullptr && o.communicator->size() > 1) {
    TUTTI_ASSIGN_OR_RETURN(run->data_parallel_, DataParallel::Create(o.communicator, c.distributed.bucket_mb));
  }

  // Which checkpoint to resume from, decided before the (slower) pack and model set-up; with several
  // ranks rank 0 decides and the others take its answer (protocol step 1 in distributed.h).
  std::string resume_path;
  if (run->is_chief() || !run->data_parallel_) {
    TUTTI_ASSIGN_OR_RETURN(resume_path, run->ChooseResumePath());
  }
  if (run->data_parallel_) {
    TUTTI_ASSIGN_OR_RETURN(resume_path, run->data_parallel_->AgreeOnString(resume_path));
  }

  TUTTI_ASSIGN_OR_RETURN(run->loader_, OpenTrainingLoader(c, o.rank, o.world_size));
  TUTTI_ASSIGN_OR_RETURN(run->trainer_, CreateTrainerFromConfig(c, o.local_ranks, o.rank, o.world_size));
  if (run->data_parallel_) {
    run->data_parallel_->Attach(*run->trainer_, o.gradient_hook);
  } else if (o.gradient_hook) {
    run->trainer_->set_gradient_hook(o.gradient_hook);
  }

  // Fixed evaluation inputs: their own generator, so evaluating never touches the training stream.
  at::Generator eval_gen = at::detail::createCPUGenerator(c.eval.seed);
  run->eval_latents_ = torch::randn({c.eval.samples, c.model.latent_dim}, eval_gen, torch::kFloat32);
  if (c.model.genre_conditional) {
    run->eval_genres_ = torch::arange(int64_t{c.eval.samples}, torch::kInt64)
                            .remainder(static_cast<int64_t>(c.data.genres.size()));
  }

  if (!resume_path.empty()) TUTTI_RETURN_IF_ERROR(run->Resume(resume_path));
  if (run->data_parallel_) {  // protocol steps 3 and 4
    TUTTI_RETURN_IF_ERROR(run->data_parallel_->CheckSameStep(run->step()));
    TUTTI_RETURN_IF_ERROR(run->data_parallel_->BroadcastParameters(*run->trainer_));
  }

  if (run->is_chief()) {
    TUTTI_RETURN_IF_ERROR(CreateDirectories(c.output_dir));
    const std::string config_path = (std::filesystem::path(c.output_dir) / "config.yaml").string();
    TUTTI_RETURN_IF_ERROR(WriteFileAtomically(config_path, JobConfigToYaml(c)));
    const std::string metrics_path = ResolveUnderOutputDir(c, c.train.metrics_file);
    if (!resume_path.empty()) TUTTI_RETURN_IF_ERROR(MetricsLog::DropLinesAfterStep(metrics_path, run->step()));
    TUTTI_ASSIGN_OR_RETURN(run->metrics_log_, MetricsLog::Open(metrics_path));
  }
  return run;
}

StatusOr<std::string> TrainingRun::ChooseResumePath() const {
  const std::vector<std::string> existing = ListCheckpoints(checkpoint_dir_);
  if (options_.resume == "latest") {
    return existing.empty() ? std::string() : existing.back();
  }
  if (!options_.resume.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(options_.resume, ec)) {
      return absl::NotFoundError(absl::StrCat(options_.resume, ": no such checkpoint file (--resume)"));
    }
    return options_.resume;
  }
  if (!existing.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        checkpoint_dir_, " already holds checkpoints of an earlier run (newest: ", existing.back(),
        "). Continue it with --resume latest, or choose another output_dir (--set output_dir=...) or remove them"));
  }
  return std::string();
}

Status TrainingRun::Resume(const std::string& path) {
  TUTTI_ASSIGN_OR_RETURN(CheckpointMeta meta, LoadCheckpoint(path, trainer_.get()));
  Status seek = loader_->Seek({meta.loader_epoch, meta.loader_batch_in_epoch});
  if (!seek.ok()) {
    return Annotate(seek, absl::StrCat(path, ": the stored data position does not fit this run's data (another "
                                             "batch size, world size or pack?)"));
  }
  elapsed_before_ = meta.extra.value("elapsed_s", 0.0);
  last_checkpoint_ = path;
  if (path == CheckpointPath(checkpoint_dir_, meta.step)) last_checkpoint_step_ = meta.step;
  if (is_chief()) {
    const std::string diff = ConfigDifferences(meta.config_yaml, JobConfigToYaml(config_));
    std::fprintf(stderr, "resuming from %s at step %lld\n", path.c_str(), static_cast<long long>(meta.step));
    if (!diff.empty()) std::fprintf(stderr, "note: settings changed since the checkpoint: %s\n", diff.c_str());
  }
  return absl::OkStatus();
}

int64_t TrainingRun::step() const { return trainer_->step(); }

void TrainingRun::set_gradient_hook(GradientHook hook) {
  if (data_parallel_) {
    data_parallel_->Attach(*trainer_, std::move(hook));
  } else {
    trainer_->set_gradient_hook(std::move(hook));
  }
}

double TrainingRun::comm_seconds() const { return data_parallel_ ? data_parallel_->comm_seconds() : 0; }

double TrainingRun::ElapsedSeconds() const { return elapsed_before_ + MonotonicSeconds() - started_at_; }

Status TrainingRun::RunStep() {
  if (!failure_.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the run stopped after a failed step: ", std::string(failure_.message())));
  }
  Batch batch = loader_->Next();
  BatchTensors tensors = ToTensors(batch, loader_->shape(), config_.model.genre_conditional);
  loader_->Recycle(std::move(batch));
  StatusOr<StepMetrics> metrics = trainer_->Step(tensors.real, tensors.genre_ids);
  if (!metrics.ok()) {
    failure_ = metrics.status();
    return failure_;
  }
  last_step_ = *metrics;
  return absl::OkStatus();
}

StatusOr<MetricsReport> TrainingRun::Evaluate() {
  const SampleShape shape = ModelSampleShape(config_.model);
  const int64_t n = eval_latents_.size(0);
  std::vector<uint8_t> cells(static_cast<size_t>(n * shape.cells()));
  for (int64_t start = 0; start < n; start += kEvalChunk) {
    const int64_t count = std::min(kEvalChunk, n - start);
    TUTTI_ASSIGN_OR_RETURN(torch::Tensor out,
                           trainer_->Generate(eval_latents_.narrow(0, start, count),
                                              eval_genres_.defined() ? eval_genres_.narrow(0, start, count)
                                                                     : torch::Tensor()));
    torch::Tensor binary = out.gt(config_.sample.threshold).to(torch::kCPU, torch::kUInt8).contiguous();
    std::memcpy(cells.data() + start * shape.cells(), binary.data_ptr<uint8_t>(), static_cast<size_t>(binary.numel()));
  }
  PianorollDims dims{shape.tracks, shape.steps, shape.pitches};
  TUTTI_ASSIGN_OR_RETURN(MetricsReport report,
                         ComputeMetrics(cells.data(), n, dims, MetricsOptionsFor(config_.model)));
  last_metrics_ = report;
  return report;
}

StatusOr<std::string> TrainingRun::Checkpoint() {
  if (!failure_.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("not checkpointing: the run stopped after a failed step (",
                                                      std::string(failure_.message()),
                                                      "); the last good checkpoint is ", last_checkpoint_));
  }
  if (!is_chief()) return std::string();
  CheckpointMeta meta;
  meta.step = step();
  const BatchLoader::Position position = loader_->position();
  meta.loader_epoch = position.epoch;
  meta.loader_batch_in_epoch = position.batch_in_epoch;
  meta.config_yaml = JobConfigToYaml(config_);
  meta.extra["elapsed_s"] = ElapsedSeconds();
  meta.extra["world_size"] = options_.world_size;
  if (last_metrics_) meta.extra["metrics"] = last_metrics_->ToJson();
  if (last_step_) {
    meta.extra["step_metrics"] = {{"d_loss", last_step_->d_loss}, {"g_loss", last_step_->g_loss},
                                  {"gradient_penalty", last_step_->gradient_penalty},
                                  {"wasserstein", last_step_->wasserstein_estimate}};
  }
  const std::string path = CheckpointPath(checkpoint_dir_, meta.step);
  TUTTI_RETURN_IF_ERROR(SaveCheckpoint(path, *trainer_, meta).status());
  PruneCheckpoints(checkpoint_dir_, config_.checkpoint.keep);
  last_checkpoint_ = path;
  last_checkpoint_step_ = meta.step;
  return path;
}

Status TrainingRun::LogStep(const StepMetrics& m, double steps_per_s, double step_seconds, double comm_seconds) {
  nlohmann::json line = {{"step", step()},
                         {"d_loss", m.d_loss},
                         {"g_loss", m.g_loss},
                         {"gradient_penalty", m.gradient_penalty},
                         {"wasserstein", m.wasserstein_estimate},
                         {"d_grad_norm", m.d_grad_norm},
                         {"g_grad_norm", m.g_grad_norm},
                         {"steps_per_s", steps_per_s},
                         {"elapsed_s", ElapsedSeconds()}};
  if (data_parallel_) {
    line["comm_s"] = comm_seconds;
    line["comm_share"] = step_seconds > 0 ? comm_seconds / step_seconds : 0.0;
  }
  return metrics_log_->Append(line);
}

StatusOr<StopReason> TrainingRun::DecideStop(double loop_start) {
  // Completion needs no agreement: every rank is at the same step (checked at Create, kept by lockstep).
  if (step() >= config_.train.steps) return StopReason::kCompleted;
  StopReason reason = StopReason::kNotStopped;
  if (InterruptRequested()) {
    reason = StopReason::kInterrupted;
  } else if ((is_chief() || !data_parallel_) && options_.max_seconds > 0 && MonotonicSeconds() - loop_start >= options_.max_seconds) {
    // Rank 0's clock alone decides: ranks started at different times would otherwise stop apart.
    reason = StopReason::kTimeLimit;
  }
  if (!data_parallel_) return reason;
  // The largest proposal wins; the enum order makes an interrupt beat the time limit.
  static_assert(StopReason::kInterrupted > StopReason::kTimeLimit && StopReason::kTimeLimit > StopReason::kNotStopped);
  TUTTI_ASSIGN_OR_RETURN(int64_t agreed, data_parallel_->AgreeOnMax(static_cast<int64_t>(reason)));
  return static_cast<StopReason>(agreed);
}

// The loop. Step time (RunStep only) drives steps_per_s in the metrics lines and the progress line, so the
// rate is training throughput; evaluations and checkpoints show up in elapsed_s and in the wall clock
// budget instead. Data-parallel: errors carry "[rank r] step s: " (s = the step in progress: step() + 1
// inside RunStep and the stop agreement, step() after it), for the caller's Communicator::Abort.
Status TrainingRun::Run() {
  if (!failure_.ok()) return failure_;
  const JobConfig& c = config_;
  const double start = MonotonicSeconds();
  StatusLine line(c.train.steps, options_.show_progress && is_chief());
  double step_seconds = 0;     // RunStep time since the last metrics line
  double comm_at_window = comm_seconds();
  int64_t steps_in_window = 0;
  double recent_rate = 0;      // steps/s over the last metrics window (or so far)
  auto fail = [&](const Status& status, int64_t at_step) {
    line.Finish();
    return data_parallel_ ? AtRankStep(status, options_.rank, at_step) : status;
  };
  stop_reason_ = StopReason::kNotStopped;
  while (true) {
    StatusOr<StopReason> stop = DecideStop(start);
    if (!stop.ok()) return fail(stop.status(), step() + 1);
    stop_reason_ = *stop;
    if (stop_reason_ != StopReason::kNotStopped) break;

    if (options_.before_step) options_.before_step(step() + 1);
    const double t0 = MonotonicSeconds();
    Status status = RunStep();
    if (!status.ok()) return fail(status, step() + 1);
    step_seconds += MonotonicSeconds() - t0;
    ++steps_in_window;
    const double window_rate = step_seconds > 0 ? steps_in_window / step_seconds : 0;
    const int64_t k = step();
    line.Update(k, steps_in_window >= 5 || recent_rate == 0 ? window_rate : recent_rate, last_step_->d_loss,
                last_step_->g_loss);
    if (!is_chief()) continue;
    if (k % c.train.log_every == 0) {
      recent_rate = window_rate;
      status = LogStep(*last_step_, window_rate, step_seconds, comm_seconds() - comm_at_window);
      if (!status.ok()) return fail(status, k);
      step_seconds = 0;
      steps_in_window = 0;
      comm_at_window = comm_seconds();
    }
    if (k % c.eval.every == 0) {
      StatusOr<MetricsReport> report = Evaluate();
      if (report.ok()) status = metrics_log_->Append({{"step", k}, {"eval", report->ToJson()}});
      if (!report.ok() || !status.ok()) return fail(report.ok() ? status : report.status(), k);
      line.Print(absl::StrCat("eval at step ", k, " (", report->samples, " samples): ",
                              FormatRow("empty_bars", *report, &TrackMetrics::empty_bars), " | ",
                              FormatRow("used_pitch_classes", *report, &TrackMetrics::used_pitch_classes)));
    }
    if (k % c.checkpoint.every == 0) {
      StatusOr<std::string> path = Checkpoint();
      if (!path.ok()) return fail(path.status(), k);
      line.Print("checkpoint " + *path);
    }
  }
  line.Finish();
  // The final checkpoint: whatever stopped the loop (agreed by all ranks), the step reached is saved
  // (unless it already is). Rank 0 only; the others may already be leaving.
  if (is_chief() && last_checkpoint_step_ != step()) {
    StatusOr<std::string> path = Checkpoint();
    if (!path.ok()) return fail(path.status(), step());
  }
  return absl::OkStatus();
}

}  // namespace tutti
