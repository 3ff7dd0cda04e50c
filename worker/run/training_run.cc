#include "worker/run/training_run.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <vector>

#include <torch/torch.h>

#include "absl/strings/str_join.h"
#include "core/base/file_util.h"
#include "core/base/interrupt.h"
#include "core/checkpoint/checkpoint.h"
#include "core/config/job_config_yaml.h"
#include "core/data/batch_loader.h"
#include "core/data/pack_reader.h"
#include "core/music/track_set.h"
#include "core/sample/binarize.h"
#include "core/train/trainer_from_config.h"
#include "worker/comm/agreement.h"
#include "worker/comm/communicator.h"
#include "worker/run/distributed.h"
#include "worker/run/run_data.h"
#include "worker/run/run_leftovers.h"
#include "worker/run/run_log.h"

namespace tutti {
namespace {

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

std::string FormatFixed(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f", v);
  return buffer;
}

// An accompaniment model's evaluation parts (n, steps, pitches): sample i gets the condition track of a
// held-out sample (a training one where a pack holds none) of data.genres[i % genres], the genre a conditional
// model's evaluation sample i has, drawn with `gen` after the latents, so evaluations compare like with like
// and the latents stay what they were.
// `packs` are the training loader's, in data.genres order.
StatusOr<torch::Tensor> EvaluationParts(const JobConfig& c, const std::vector<std::shared_ptr<const PackReader>>& packs,
                                        int track, at::Generator& gen) {
  const SampleShape shape = ModelSampleShape(c.model);
  const int64_t n = c.eval.samples, part = shape.steps * shape.pitches;
  torch::Tensor parts = torch::empty({n, shape.steps, shape.pitches}, torch::kFloat32);
  std::vector<uint8_t> dense(static_cast<size_t>(shape.cells()));
  for (int64_t i = 0; i < n; ++i) {
    const PackReader& pack = *packs[static_cast<size_t>(i) % packs.size()];
    const Split split = pack.size(Split::kHeldout) > 0 ? Split::kHeldout : Split::kTrain;
    const int64_t available = pack.size(split);
    if (available == 0) {
      return absl::FailedPreconditionError(absl::StrCat(pack.pack_dir(), ": no samples to take the given ",
                                                        c.model.condition_track, " parts of the evaluation from"));
    }
    const int64_t index = torch::randint(available, {1}, gen, torch::kInt64).item<int64_t>();
    pack.CopySample(split, index, dense.data());
    const uint8_t* given = dense.data() + static_cast<size_t>(track) * part;
    float* out = parts[i].data_ptr<float>();
    for (int64_t k = 0; k < part; ++k) out[k] = given[k] ? 1.0f : 0.0f;
  }
  return parts;
}

MetricsOptions MetricsOptionsFor(const ModelConfig& model, const nlohmann::json& track_set) {
  MetricsOptions options;
  options.steps_per_bar = model.steps_per_measure;
  options.steps_per_beat = model.steps_per_measure % 4 == 0 ? model.steps_per_measure / 4 : model.steps_per_measure;
  const TrackSet set = TrackSetFromJson(track_set, model.tracks);  // model.tracks tracks
  return WithTracks(options, set.Names(), set.FirstDrumTrack());
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

// The six losses and norms of a step, as in the metrics line.
nlohmann::json StepMetricsJson(const StepMetrics& m) {
  return {{"d_loss", m.d_loss},
          {"g_loss", m.g_loss},
          {"gradient_penalty", m.gradient_penalty},
          {"wasserstein", m.wasserstein_estimate},
          {"d_grad_norm", m.d_grad_norm},
          {"g_grad_norm", m.g_grad_norm}};
}

// The per-step agreement carries one int64 per rank, reduced with MAX (distributed.h, step 5):
//   code = stop reason * 2 + checkpoint-now flag.
// So the largest stop reason wins (an interrupt beats the time limit, the coordinator's stop beats an
// interrupt, pruning beats a plain stop: the most informative reason is reported), and with no stop anywhere
// the code is rank 0's checkpoint flag. Only these reasons are ever proposed; kCompleted needs no agreement
// (every rank is at the same step) and kFailed is never proposed (a failing rank aborts the job).
static_assert(StopReason::kNotStopped < StopReason::kTimeLimit && StopReason::kTimeLimit < StopReason::kInterrupted &&
                  StopReason::kInterrupted < StopReason::kByCoordinator &&
                  StopReason::kByCoordinator < StopReason::kPruned,
              "the step agreement takes the MAX of the proposals: reasons must be ordered by priority");
int64_t EncodeStep(StopReason stop, bool checkpoint_now) {
  return static_cast<int64_t>(stop) * 2 + (checkpoint_now ? 1 : 0);
}
StatusOr<std::pair<StopReason, bool>> DecodeStep(int64_t code) {
  const int64_t reason = code / 2;
  for (StopReason known : {StopReason::kNotStopped, StopReason::kTimeLimit, StopReason::kInterrupted,
                           StopReason::kByCoordinator, StopReason::kPruned}) {
    if (code >= 0 && reason == static_cast<int64_t>(known)) return std::make_pair(known, code % 2 == 1);
  }
  return absl::InternalError(absl::StrCat("step agreement: unknown decision code ", code,
                                          " (are all ranks running the same tutti-worker build?)"));
}

}  // namespace

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
  // What a run of this job killed with SIGKILL left (temporaries, an orphan checksum) goes first, one note
  // each, before the checkpoint to resume from is chosen (run_leftovers.h). Rank 0 alone writes here.
  if (run->is_chief()) {
    StatusOr<std::vector<std::string>> notes =
        RemoveRunLeftovers(c.output_dir, run->checkpoint_dir_, ResolveUnderOutputDir(c, c.train.metrics_file));
    if (!notes.ok()) notes = std::vector<std::string>{absl::StrCat("warning: ", notes.status().message())};
    if (RunObserver* observer = run->observer()) {
      for (const std::string& note : *notes) observer->OnNote(note);
    }
  }
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
    TUTTI_ASSIGN_OR_RETURN(resume_path, comm::BroadcastString(run->data_parallel_->communicator(), resume_path, 0));
  }

  TUTTI_ASSIGN_OR_RETURN(run->loader_, OpenTrainingLoader(c, o.rank, o.world_size));
  // The tracks the model learns, as the (first) pack records them: checkpoints carry them, so samples get the
  // right names, programs and drum channel (OpenTrainingLoader refused packs of different track sets).
  const TrackSet track_set = TrackSetFromJson(
      run->loader_->packs().front()->manifest().packing.value("track_set", nlohmann::json()), c.model.tracks);
  run->track_set_json_ = TrackSetToJson(track_set);
  TUTTI_ASSIGN_OR_RETURN(run->trainer_, CreateTrainerFromConfig(c, o.local_ranks, o.rank, o.world_size));
  if (c.model.rest_plans && resume_path.empty()) {
    // A resumed run keeps the plans its checkpoint carries (the fingerprint guarantees it has them).
    TUTTI_ASSIGN_OR_RETURN(const torch::Tensor plans, RestPlansFromPacks(c.model, run->loader_->packs()));
    run->trainer_->generator()->rest_plans->Set(plans);
  }
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
  if (const int track = ConditionTrackIndex(c.model); track >= 0) {
    TUTTI_ASSIGN_OR_RETURN(run->eval_given_, EvaluationParts(c, run->loader_->packs(), track, eval_gen));
  }

  if (!resume_path.empty()) {
    // Rank 0 reads the file and sends its bytes, so every rank restores from the same bytes and only
    // rank 0 needs to see the checkpoint directory (protocol step 2). A read error on rank 0 returns
    // here; the caller aborts the job, which frees the ranks waiting in the broadcast.
    std::string bytes;
    if (run->is_chief() || !run->data_parallel_) {
      TUTTI_ASSIGN_OR_RETURN(bytes, ReadFileToString(resume_path));
    }
    if (run->data_parallel_) {
      TUTTI_ASSIGN_OR_RETURN(bytes, comm::BroadcastString(run->data_parallel_->communicator(), bytes, 0));
    }
    TUTTI_RETURN_IF_ERROR(run->Resume(resume_path, bytes));
  }
  if (c.model.rest_plans) {
    // After a resume, so the note says what the model uses, not what the packs hold today.
    if (RunObserver* observer = run->observer()) {
      observer->OnNote(DescribeRestPlans(run->trainer_->generator()->rest_plans->plans, track_set.Names()));
    }
  }
  if (run->data_parallel_) {  // protocol steps 3 and 4
    TUTTI_RETURN_IF_ERROR(run->data_parallel_->CheckSameStep(run->step()));
    TUTTI_RETURN_IF_ERROR(run->data_parallel_->BroadcastParameters(*run->trainer_));
  }

  if (run->is_chief()) {
    if (c.eval.realism) TUTTI_RETURN_IF_ERROR(run->BuildRealism());
    TUTTI_RETURN_IF_ERROR(CreateDirectories(c.output_dir));
    const std::string config_path = (std::filesystem::path(c.output_dir) / "config.yaml").string();
    TUTTI_RETURN_IF_ERROR(WriteFileAtomically(config_path, JobConfigToYaml(c)));
    const std::string metrics_path = ResolveUnderOutputDir(c, c.train.metrics_file);
    // Also from step 0: a run killed before its first checkpoint logged steps that this run logs again.
    TUTTI_RETURN_IF_ERROR(MetricsLog::DropLinesAfterStep(metrics_path, run->step()));
    TUTTI_ASSIGN_OR_RETURN(run->metrics_log_, MetricsLog::Open(metrics_path));
  }
  return run;
}

Status TrainingRun::BuildRealism() {
  const double start = MonotonicSeconds();
  const JobConfig& c = config_;
  const SampleShape shape = ModelSampleShape(c.model);
  const int64_t n = c.eval.samples;
  const size_t genres = c.data.genres.size();
  // The training loader's packs (OpenTrainingLoader checked that they exist and fit the model), in genre order.
  const std::vector<std::shared_ptr<const PackReader>>& packs = loader_->packs();
  // Samples per draw from each pack: a conditional model's evaluation set has genre i % genres for sample i; an
  // unconditional model's training data mixes the packs by size, so its draws do too (largest remainders).
  std::vector<int64_t> per_draw(genres, 0);
  if (c.model.genre_conditional) {
    for (int64_t i = 0; i < n; ++i) ++per_draw[static_cast<size_t>(i) % genres];
  } else {
    int64_t total = 0;
    for (const auto& pack : packs) total += pack->size(Split::kTrain);
    std::vector<std::pair<double, size_t>> remainders;
    int64_t given = 0;
    for (size_t g = 0; g < genres; ++g) {
      const double exact = total > 0 ? static_cast<double>(n) * packs[g]->size(Split::kTrain) / total : 0.0;
      per_draw[g] = static_cast<int64_t>(std::floor(exact));
      given += per_draw[g];
      remainders.emplace_back(-(exact - std::floor(exact)), g);  // largest remainder first, then pack order
    }
    std::sort(remainders.begin(), remainders.end());
    for (size_t k = 0; given < n && k < remainders.size(); ++k, ++given) ++per_draw[remainders[k].second];
  }
  std::vector<RealismPool> train, heldout;
  std::string missing_heldout;
  for (size_t g = 0; g < genres; ++g) {
    const PackReader* pack = packs[g].get();
    auto reader = [pack](Split split) {
      return [pack, split](int64_t i, uint8_t* dense) { pack->CopySample(split, i, dense); };
    };
    train.push_back({pack->size(Split::kTrain), reader(Split::kTrain), per_draw[g],
                     pack->pack_dir() + " train split"});
    heldout.push_back({pack->size(Split::kHeldout), reader(Split::kHeldout), per_draw[g],
                       pack->pack_dir() + " held-out split"});
    if (per_draw[g] > 0 && pack->size(Split::kHeldout) == 0) {
      missing_heldout += (missing_heldout.empty() ? "" : ", ") + pack->pack_dir();
    }
  }
  RealismOptions options;
  options.samples = n;
  options.draws = c.eval.realism_draws;
  options.seed = c.eval.realism_seed;
  StatusOr<RealismReference> reference = RealismReference::Build(
      train, PianorollDims{shape.tracks, shape.steps, shape.pitches}, MetricsOptionsFor(c.model, track_set_json_), options);
  if (!reference.ok()) return Annotate(reference.status(), "eval.realism");
  RealismReport base = RealismReport::FromReference(*reference);
  if (missing_heldout.empty()) {
    TUTTI_ASSIGN_OR_RETURN(base.heldout, reference->ScoreHeldOut(heldout));
  } else {
    base.heldout_note = absl::StrCat("no held-out samples in ", missing_heldout, ": the held-out bar is skipped");
    if (RunObserver* o = observer()) o->OnNote("realism: " + base.heldout_note);
  }
  realism_ = *std::move(reference);
  realism_base_ = std::move(base);
  realism_build_s_ = MonotonicSeconds() - start;
  return absl::OkStatus();
}

nlohmann::json TrainingRun::LastEvaluationJson() const {
  nlohmann::json j = last_metrics_->ToJson();
  if (last_realism_) j["realism"] = last_realism_->ToJson(/*heldout_per_metric=*/false);
  // Mean pairwise Jaccard distance of the probe samples (core/metrics/metrics.h): early stopping's
  // generator-collapse signal.
  j["diversity"] = std::isfinite(last_diversity_) ? nlohmann::json(last_diversity_) : nlohmann::json(nullptr);
  return j;
}

StatusOr<std::string> TrainingRun::ChooseResumePath() const {
  if (!options_.resume.empty() && options_.resume != "latest") {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(options_.resume, ec)) {
      return absl::NotFoundError(absl::StrCat(options_.resume, ": no such checkpoint file (--resume)"));
    }
    return options_.resume;
  }
  // A missing directory lists as empty; an unreadable one is an error (never "no checkpoint": a re-queued
  // trial would restart from step 0 and, worse, later prune its own good checkpoints away).
  StatusOr<std::vector<std::string>> listed = ListCheckpoints(checkpoint_dir_);
  if (!listed.ok()) {
    return Annotate(listed.status(), options_.resume == "latest" ? "--resume latest" : "checking for earlier checkpoints");
  }
  const std::vector<std::string>& existing = *listed;
  if (options_.resume == "latest") {
    return existing.empty() ? std::string() : existing.back();
  }
  if (!existing.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        checkpoint_dir_, " already holds checkpoints of an earlier run (newest: ", existing.back(),
        "). Continue it with --resume latest, or choose another output_dir (--set output_dir=...) or remove them"));
  }
  return std::string();
}

Status TrainingRun::Resume(const std::string& path, const std::string& bytes) {
  TUTTI_ASSIGN_OR_RETURN(CheckpointMeta meta, LoadCheckpointFromBytes(bytes, path, trainer_.get()));
  // Same shape, other instruments (a custom map of five tracks after LPD-5's, say) would train on silently: the
  // checkpoint's track set must be the packs'. Checkpoints from before track sets were LPD-5's.
  const int tracks = config_.model.tracks;
  const std::vector<std::string> trained =
      TrackSetFromJson(meta.extra.value("track_set", nlohmann::json()), tracks).Names();
  const std::vector<std::string> packed = TrackSetFromJson(track_set_json_, tracks).Names();
  if (trained != packed) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": the checkpoint was trained on the tracks ", absl::StrJoin(trained, ", "), " but the packs hold ",
        absl::StrJoin(packed, ", "), " (tutti pack --track-set): resume with packs of the checkpoint's track set"));
  }
  Status seek = loader_->Seek({meta.loader_epoch, meta.loader_batch_in_epoch});
  if (!seek.ok()) {
    return Annotate(seek, absl::StrCat(path, ": the stored data position does not fit this run's data (another "
                                             "batch size, world size or pack?)"));
  }
  elapsed_before_ = meta.extra.value("elapsed_s", 0.0);
  last_checkpoint_ = path;
  if (path == CheckpointPath(checkpoint_dir_, meta.step)) last_checkpoint_step_ = meta.step;
  if (RunObserver* o = observer()) {
    ResumeReport report;
    report.step = meta.step;
    report.path = path;
    report.config_changes = ConfigDifferences(meta.config_yaml, JobConfigToYaml(config_));
    o->OnResume(report);
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
  // The chunked generate-and-threshold path of `tutti generate` and the sample service (core/sample), on
  // the live trainer's generator.
  GenerateFn generate = [this](const at::Tensor& latents, const at::Tensor& genre_ids, const at::Tensor& given) {
    return trainer_->Generate(latents, genre_ids, given);
  };
  TUTTI_RETURN_IF_ERROR(GenerateBinary(generate, eval_latents_, eval_genres_, eval_given_, shape.cells(),
                                       config_.sample.threshold,
                                       cells.data(), "evaluation")
                            .status());
  PianorollDims dims{shape.tracks, shape.steps, shape.pitches};
  TUTTI_ASSIGN_OR_RETURN(MetricsReport report,
                         ComputeMetrics(cells.data(), n, dims, MetricsOptionsFor(config_.model, track_set_json_)));
  last_diversity_ = SampleDiversity(cells.data(), n, shape.cells());
  last_evaluated_step_ = step();
  if (realism_) {
    // Scored from the report just computed: the reference's options are MetricsOptionsFor(config_.model) too.
    TUTTI_ASSIGN_OR_RETURN(RealismResult generated, realism_->Score(report));
    RealismReport realism = *realism_base_;
    realism.generated = std::move(generated);
    last_realism_ = std::move(realism);
  }
  last_metrics_ = report;
  return report;
}

Status TrainingRun::EvaluateAndReport(int64_t k) {
  TUTTI_ASSIGN_OR_RETURN(MetricsReport metrics, Evaluate());
  EvaluationReport evaluation;
  evaluation.step = k;
  evaluation.samples = static_cast<int>(metrics.samples);
  evaluation.metrics = LastEvaluationJson();
  TUTTI_RETURN_IF_ERROR(metrics_log_->Append({{"step", k}, {"eval", evaluation.metrics}}));
  if (RunObserver* o = observer()) {
    evaluation.summary = absl::StrCat(FormatRow("empty_bars", metrics, &TrackMetrics::empty_bars), " | ",
                                      FormatRow("used_pitch_classes", metrics, &TrackMetrics::used_pitch_classes));
    if (last_realism_) absl::StrAppend(&evaluation.summary, " | ", last_realism_->ConsoleSummary());
    if (std::isfinite(last_diversity_)) absl::StrAppend(&evaluation.summary, " | diversity ", FormatFixed(last_diversity_));
    // Observers (the coordinator) get each metric's value and distance; the band itself stays in the file.
    if (evaluation.metrics.contains("realism") && evaluation.metrics["realism"].contains("per_metric")) {
      for (nlohmann::json& m : evaluation.metrics["realism"]["per_metric"]) {
        for (const char* key : {"low", "median", "high"}) m.erase(key);
      }
    }
    o->OnEvaluation(evaluation);
  }
  return absl::OkStatus();
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
  meta.extra["track_set"] = track_set_json_;
  if (last_metrics_) meta.extra["metrics"] = LastEvaluationJson();
  if (last_step_) {
    meta.extra["step_metrics"] = {{"d_loss", last_step_->d_loss}, {"g_loss", last_step_->g_loss},
                                  {"gradient_penalty", last_step_->gradient_penalty},
                                  {"wasserstein", last_step_->wasserstein_estimate}};
  }
  const std::string path = CheckpointPath(checkpoint_dir_, meta.step);
  TUTTI_ASSIGN_OR_RETURN(const std::string sha256, SaveCheckpoint(path, *trainer_, meta));
  last_checkpoint_ = path;
  last_checkpoint_step_ = meta.step;
  RunObserver* o = observer();
  if (o != nullptr) {
    CheckpointReport report;
    report.step = meta.step;
    report.path = path;
    report.sha256 = sha256;
    const StatusOr<uint64_t> size = FileSize(path);
    report.size_bytes = size.ok() ? static_cast<int64_t>(*size) : -1;  // -1: could not stat a file just written
    if (last_step_) report.metrics = FlattenMetrics(StepMetricsJson(*last_step_));
    report.metrics["elapsed_s"] = meta.extra["elapsed_s"].get<double>();
    if (last_metrics_) {
      for (const auto& [key, value] : FlattenMetrics(LastEvaluationJson(), "eval")) report.metrics[key] = value;
    }
    o->OnCheckpoint(report);
  }
  // Pruning comes after the report (an observer that uploads checkpoints sees each one while it exists;
  // it must copy or link what it needs before returning). Failing to remove old files loses nothing.
  Status pruned = PruneCheckpoints(checkpoint_dir_, config_.checkpoint.keep);
  if (!pruned.ok() && o != nullptr) {
    o->OnNote(absl::StrCat("warning: old checkpoints were not pruned (checkpoint.keep ", config_.checkpoint.keep,
                           "): ", std::string(pruned.message())));
  }
  return path;
}

StatusOr<TrainingRun::StepDecision> TrainingRun::DecideStep(double loop_start) {
  StepDecision decision;
  // Completion needs no agreement: every rank is at the same step (checked at Create, kept by lockstep).
  if (step() >= config_.train.steps) {
    decision.stop = StopReason::kCompleted;
    return decision;
  }
  StopReason proposal = StopReason::kNotStopped;
  bool checkpoint_now = false;
  std::string control_message;
  if (InterruptRequested()) {
    proposal = StopReason::kInterrupted;
  } else if ((is_chief() || !data_parallel_) && options_.max_seconds > 0 &&
             MonotonicSeconds() - loop_start >= options_.max_seconds) {
    // Rank 0's clock alone decides: ranks started at different times would otherwise stop apart.
    proposal = StopReason::kTimeLimit;
  }
  if (is_chief() && options_.control != nullptr) {
    const ControlDecision asked = options_.control->Poll(step());
    if (asked.action == ControlDecision::Action::kStop) {
      // kByCoordinator and kPruned are above every local reason, so the control's stop is the proposal.
      proposal = asked.reason == StopReason::kPruned ? StopReason::kPruned : StopReason::kByCoordinator;
      control_message = asked.message;
    } else if (asked.action == ControlDecision::Action::kCheckpointNow) {
      checkpoint_now = true;
    }
  }
  int64_t agreed = EncodeStep(proposal, checkpoint_now);
  if (data_parallel_) {
    TUTTI_ASSIGN_OR_RETURN(agreed, comm::AllreduceMax(data_parallel_->communicator(), agreed));
  }
  TUTTI_ASSIGN_OR_RETURN(const auto decoded, DecodeStep(agreed));
  decision.stop = decoded.first;
  decision.checkpoint_now = decoded.second;
  switch (decision.stop) {
    case StopReason::kTimeLimit:
      decision.message = absl::StrCat("the time budget of ", options_.max_seconds, " s is spent");
      break;
    case StopReason::kInterrupted:
      decision.message = data_parallel_ ? "Ctrl-C or SIGTERM on a rank" : "Ctrl-C or SIGTERM";
      break;
    case StopReason::kByCoordinator:
    case StopReason::kPruned:
      decision.message = control_message;  // only rank 0 proposes these, and only rank 0 reports
      break;
    default:
      break;
  }
  return decision;
}

Status TrainingRun::Run() {
  Status status = RunLoop();
  if (!status.ok()) {
    stop_reason_ = StopReason::kFailed;
    stop_message_ = std::string(status.message());
  }
  if (RunObserver* o = observer()) {
    StopReport report;
    report.reason = stop_reason_;
    report.step = step();
    report.message = stop_message_;
    report.last_checkpoint = last_checkpoint_;
    o->OnStop(report);
  }
  return status;
}

// The loop. Step time (RunStep only) drives steps_per_s in the metrics lines and the step reports, so the
// rate is training throughput; evaluations and checkpoints show up in elapsed_s and in the wall clock
// budget instead. Data-parallel: errors carry "[rank r] step s: " (s = the step in progress: step() + 1
// inside RunStep and the step agreement, step() after it), for the caller's Communicator::Abort.
Status TrainingRun::RunLoop() {
  if (!failure_.ok()) return failure_;
  const JobConfig& c = config_;
  const double start = MonotonicSeconds();
  double step_seconds = 0;     // RunStep time since the last metrics line
  double comm_at_window = comm_seconds();
  int64_t steps_in_window = 0;
  double recent_rate = 0;      // steps/s over the last metrics window (or so far)
  auto fail = [&](const Status& status, int64_t at_step) {
    return data_parallel_ ? AtRankStep(status, options_.rank, at_step) : status;
  };
  stop_reason_ = StopReason::kNotStopped;
  stop_message_.clear();
  while (true) {
    StatusOr<StepDecision> decision = DecideStep(start);
    if (!decision.ok()) return fail(decision.status(), step() + 1);
    if (decision->stop != StopReason::kNotStopped) {
      stop_reason_ = decision->stop;
      stop_message_ = decision->message;
      break;
    }

    if (options_.before_step) options_.before_step(step() + 1);
    const double t0 = MonotonicSeconds();
    Status status = RunStep();
    if (!status.ok()) return fail(status, step() + 1);
    step_seconds += MonotonicSeconds() - t0;
    ++steps_in_window;
    if (!is_chief()) continue;  // the other ranks log, evaluate and checkpoint nothing
    const int64_t k = step();
    const double window_rate = step_seconds > 0 ? steps_in_window / step_seconds : 0;
    StepReport report;
    report.step = k;
    report.total_steps = c.train.steps;
    report.logged = k % c.train.log_every == 0;
    report.d_loss = last_step_->d_loss;
    report.g_loss = last_step_->g_loss;
    report.gradient_penalty = last_step_->gradient_penalty;
    report.wasserstein = last_step_->wasserstein_estimate;
    report.d_grad_norm = last_step_->d_grad_norm;
    report.g_grad_norm = last_step_->g_grad_norm;
    // Logged steps carry the window's own rate (the metrics line's); in between, a window of fewer than
    // 5 steps is too noisy, so the last logged window's rate stands in.
    report.steps_per_s = report.logged || steps_in_window >= 5 || recent_rate == 0 ? window_rate : recent_rate;
    report.elapsed_s = ElapsedSeconds();
    report.data_parallel = data_parallel_ != nullptr;
    report.comm_s = comm_seconds() - comm_at_window;
    report.comm_share = step_seconds > 0 ? report.comm_s / step_seconds : 0.0;
    if (report.logged) {
      // The metrics line is the report itself, so the file and the observer cannot disagree.
      status = metrics_log_->Append(report.ToJson());
      if (!status.ok()) return fail(status, k);
      recent_rate = window_rate;
      step_seconds = 0;
      steps_in_window = 0;
      comm_at_window = comm_seconds();
    }
    if (RunObserver* o = observer()) o->OnStep(report);
    // The last step is always evaluated, before its checkpoint, so the final checkpoint carries the
    // objective (checkpoint.best_metric, `tutti best`) even when train.steps is no multiple of eval.every.
    if (k % c.eval.every == 0 || k == c.train.steps) {
      status = EvaluateAndReport(k);
      if (!status.ok()) return fail(status, k);
    }
    // The control's "checkpoint now" was agreed before this step: this step is the one checkpointed.
    if (k % c.checkpoint.every == 0 || decision->checkpoint_now) {
      StatusOr<std::string> path = Checkpoint();
      if (!path.ok()) return fail(path.status(), k);
    }
  }
  // A run that reached train.steps ends evaluated (a searcher ranks trials by their value at the length it
  // gave them, which need not be a multiple of eval.every): the loop evaluated its last step; this covers a
  // run resumed at train.steps that ran no step. Rank 0 only.
  if (is_chief() && stop_reason_ == StopReason::kCompleted && last_evaluated_step_ != step()) {
    Status status = EvaluateAndReport(step());
    if (!status.ok()) return fail(status, step());
  }
  // The final checkpoint: whatever stopped the loop (agreed by all ranks), the step reached is saved
  // (unless it already is). Rank 0 only; the others may already be leaving.
  if (is_chief() && last_checkpoint_step_ != step()) {
    StatusOr<std::string> path = Checkpoint();
    if (!path.ok()) return fail(path.status(), step());
  }
  return absl::OkStatus();
}

}  // namespace tutti
