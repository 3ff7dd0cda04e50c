// TrainingRun on real (synthetic LPD-5) packs: bit-exact resume, checkpoint safety, clear errors, and the
// run-control seam (observer events, control requests).

#include "worker/run/training_run.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/checkpoint/checkpoint.h"
#include "core/config/job_config_yaml.h"
#include "worker/run/run_test_util.h"

namespace tutti {
namespace {

using ::tutti::testing::FileSha256;
using ::tutti::testing::ReadAll;
using ::tutti::testing::SmallJobConfig;
using ::tutti::testing::TempDir;
using ::tutti::testing::WriteAll;

std::unique_ptr<TrainingRun> MustCreate(const JobConfig& config, RunOptions options = {}) {
  StatusOr<std::unique_ptr<TrainingRun>> run = TrainingRun::Create(config, options);
  EXPECT_TRUE(run.ok()) << run.status();
  return run.ok() ? std::move(run).value() : nullptr;
}

// Every named parameter and buffer of `a` equals `b`'s bit for bit.
void ExpectModulesIdentical(const torch::nn::Module& a, const torch::nn::Module& b, const std::string& what) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size()) << what;
  ASSERT_GT(pa.size(), 0u) << what;
  for (const auto& item : pa) {
    ASSERT_TRUE(pb.contains(item.key())) << what << " " << item.key();
    EXPECT_TRUE(torch::equal(item.value(), pb[item.key()])) << what << " parameter " << item.key();
  }
  auto ba = a.named_buffers(), bb = b.named_buffers();
  ASSERT_EQ(ba.size(), bb.size()) << what;
  for (const auto& item : ba) {
    ASSERT_TRUE(bb.contains(item.key())) << what << " " << item.key();
    EXPECT_TRUE(torch::equal(item.value(), bb[item.key()])) << what << " buffer " << item.key();
  }
}

// Records every event, and checks each checkpoint against the file while it exists (pruning may remove
// it later).
class RecordingObserver : public RunObserver {
 public:
  void OnResume(const ResumeReport& r) override {
    events.push_back("resume");
    resumes.push_back(r);
  }
  void OnStep(const StepReport& r) override {
    events.push_back("step");
    steps.push_back(r);
  }
  void OnEvaluation(const EvaluationReport& r) override {
    events.push_back("eval");
    evaluations.push_back(r);
  }
  void OnCheckpoint(const CheckpointReport& r) override {
    events.push_back("checkpoint");
    checkpoints.push_back(r);
    file_sha256.push_back(::tutti::testing::FileSha256(r.path));
    file_size.push_back(static_cast<int64_t>(std::filesystem::file_size(r.path)));
  }
  void OnNote(const std::string& note) override {
    events.push_back("note");
    notes.push_back(note);
  }
  void OnStop(const StopReport& r) override {
    events.push_back("stop");
    stops.push_back(r);
  }
  // Events in order, runs of steps compressed: "step x3 eval checkpoint stop".
  std::string Events() const {
    std::string out;
    for (size_t i = 0; i < events.size();) {
      size_t j = i;
      while (j < events.size() && events[j] == events[i]) ++j;
      out += (out.empty() ? "" : " ") + events[i] + (j - i > 1 ? " x" + std::to_string(j - i) : "");
      i = j;
    }
    return out;
  }

  std::vector<std::string> events;
  std::vector<ResumeReport> resumes;
  std::vector<StepReport> steps;
  std::vector<EvaluationReport> evaluations;
  std::vector<CheckpointReport> checkpoints;
  std::vector<std::string> file_sha256;
  std::vector<int64_t> file_size;
  std::vector<std::string> notes;
  std::vector<StopReport> stops;
};

// Answers Poll(step) from a script (continue where the script says nothing) and records every poll.
class ScriptedControl : public RunControl {
 public:
  explicit ScriptedControl(std::map<int64_t, ControlDecision> script) : script_(std::move(script)) {}
  ControlDecision Poll(int64_t step) override {
    polled.push_back(step);
    auto it = script_.find(step);
    return it == script_.end() ? ControlDecision::Continue() : it->second;
  }
  std::vector<int64_t> polled;

 private:
  std::map<int64_t, ControlDecision> script_;
};

std::vector<int64_t> CheckpointSteps(const std::string& dir) {
  std::vector<int64_t> steps;
  const std::vector<std::string> paths = ListCheckpoints(dir).value();  // not in the range-for: a temporary
  for (const std::string& path : paths) steps.push_back(ReadCheckpointMeta(path)->step);
  return steps;
}

// THE resume test: 10 steps + checkpoint + a fresh TrainingRun resuming + 10 steps == 20 steps straight.
TEST(TrainingRunTest, ResumeIsBitIdenticalToAnUninterruptedRun) {
  TempDir tmp;
  JobConfig straight = SmallJobConfig(tmp / "straight");
  std::unique_ptr<TrainingRun> a = MustCreate(straight);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->Run().ok());
  EXPECT_EQ(a->step(), 20);
  EXPECT_EQ(a->stop_reason(), StopReason::kCompleted);

  JobConfig first_half = SmallJobConfig(tmp / "split");
  first_half.train.steps = 10;
  {
    std::unique_ptr<TrainingRun> b = MustCreate(first_half);
    ASSERT_NE(b, nullptr);
    ASSERT_TRUE(b->Run().ok());
    EXPECT_EQ(b->last_checkpoint(), CheckpointPath(tmp / "split/checkpoints", 10));
  }  // the first process is gone: nothing but the checkpoint carries over
  RunOptions resume;
  resume.resume = "latest";
  std::unique_ptr<TrainingRun> c = MustCreate(SmallJobConfig(tmp / "split"), resume);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->step(), 10);
  ASSERT_TRUE(c->Run().ok());
  EXPECT_EQ(c->step(), 20);

  ExpectModulesIdentical(*a->trainer().generator(), *c->trainer().generator(), "generator");
  ExpectModulesIdentical(*a->trainer().discriminator(), *c->trainer().discriminator(), "discriminator");
  ASSERT_TRUE(a->last_step_metrics().has_value() && c->last_step_metrics().has_value());
  EXPECT_EQ(a->last_step_metrics()->d_loss, c->last_step_metrics()->d_loss);
  ASSERT_TRUE(a->last_metrics().has_value() && c->last_metrics().has_value());
  EXPECT_EQ(a->last_metrics()->ToJson().dump(), c->last_metrics()->ToJson().dump());
}

TEST(TrainingRunTest, WritesConfigMetricsAndCheckpoints) {
  TempDir tmp;
  JobConfig config = SmallJobConfig(tmp / "out");
  std::unique_ptr<TrainingRun> run = MustCreate(config);
  ASSERT_NE(run, nullptr);
  ASSERT_TRUE(run->Run().ok());

  StatusOr<JobConfig> written = LoadJobConfig(tmp / "out/config.yaml");
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_TRUE(*written == config);

  std::istringstream lines(ReadAll(tmp / "out/metrics.jsonl"));
  std::string line;
  std::vector<int64_t> loss_steps, eval_steps;
  while (std::getline(lines, line)) {
    nlohmann::json j = nlohmann::json::parse(line);
    if (j.contains("eval")) {
      eval_steps.push_back(j["step"].get<int64_t>());
      EXPECT_EQ(j["eval"]["samples"], 8) << line;
      ASSERT_TRUE(j["eval"]["diversity"].is_number()) << line;  // 0 when every sample is empty, as here
      EXPECT_GE(j["eval"]["diversity"].get<double>(), 0.0);
      EXPECT_LE(j["eval"]["diversity"].get<double>(), 1.0);
      continue;
    }
    loss_steps.push_back(j["step"].get<int64_t>());
    for (const char* key : {"d_loss", "g_loss", "gradient_penalty", "wasserstein", "d_grad_norm", "g_grad_norm",
                            "steps_per_s", "elapsed_s"}) {
      ASSERT_TRUE(j.contains(key) && j[key].is_number()) << key << " in " << line;
    }
    EXPECT_GT(j["steps_per_s"].get<double>(), 0);
  }
  EXPECT_EQ(loss_steps, (std::vector<int64_t>{5, 10, 15, 20}));
  EXPECT_EQ(eval_steps, (std::vector<int64_t>{10, 20}));

  std::vector<std::string> checkpoints = ListCheckpoints(tmp / "out/checkpoints").value();
  ASSERT_EQ(checkpoints.size(), 2u);
  StatusOr<CheckpointMeta> meta = ReadCheckpointMeta(checkpoints.back());
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_EQ(meta->step, 20);
  EXPECT_TRUE(meta->extra.contains("metrics"));
  EXPECT_EQ(meta->config_yaml, JobConfigToYaml(config));

  // A second fresh run into the same directory would interleave with these checkpoints: refused.
  StatusOr<std::unique_ptr<TrainingRun>> again = TrainingRun::Create(config, {});
  ASSERT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition) << again.status();
  EXPECT_NE(again.status().message().find("--resume latest"), std::string::npos) << again.status();
}

// A run whose length is not a multiple of eval.every still ends with an evaluation of its final model
// (searchers rank a trial by its value at the length they gave it).
TEST(TrainingRunTest, AFinishedRunEvaluatesItsFinalModel) {
  TempDir tmp;
  JobConfig config = SmallJobConfig(tmp / "out");
  config.train.steps = 13;
  std::unique_ptr<TrainingRun> run = MustCreate(config);
  ASSERT_NE(run, nullptr);
  ASSERT_TRUE(run->Run().ok());
  std::istringstream lines(ReadAll(tmp / "out/metrics.jsonl"));
  std::vector<int64_t> eval_steps;
  for (std::string line; std::getline(lines, line);) {
    nlohmann::json j = nlohmann::json::parse(line);
    if (j.contains("eval")) eval_steps.push_back(j["step"].get<int64_t>());
  }
  EXPECT_EQ(eval_steps, (std::vector<int64_t>{10, 13}));
  // The final checkpoint carries that evaluation.
  StatusOr<CheckpointMeta> meta = ReadCheckpointMeta(ListCheckpoints(tmp / "out/checkpoints").value().back());
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->step, 13);
  EXPECT_TRUE(meta->extra["metrics"].contains("diversity")) << meta->extra.dump();
}

// A copy of the synthetic rock pack as `packs`/`genre`, its manifest's "packing" object changed by `edit` (when
// given): a pack that claims another layout or track set over the same samples.
void CopyRockPack(const std::string& packs, const std::string& genre,
                  const std::function<void(nlohmann::json& packing)>& edit) {
  namespace fs = std::filesystem;
  const std::string dir = packs + "/" + genre;
  fs::create_directories(dir);
  fs::copy(::tutti::testing::SyntheticPacksDir() + "/rock", dir, fs::copy_options::recursive);
  if (!edit) return;
  nlohmann::json manifest = nlohmann::json::parse(ReadAll(dir + "/manifest.json"));
  edit(manifest["packing"]);
  WriteAll(dir + "/manifest.json", manifest.dump(2));
}

// Sample layouts come from the packs' manifests: packs of two layouts in one job are refused naming both, and
// a pack whose bars differ from the model's is refused naming the keys to set, even when the step counts agree.
TEST(TrainingRunTest, PacksOfAnotherLayoutAreRefusedNamingBoth) {
  TempDir tmp;
  const std::string packs = tmp / "packs";
  CopyRockPack(packs, "rock", {});
  // "pop" claims 2 bars of 32 steps: the same 64 steps per sample, another layout.
  CopyRockPack(packs, "pop", [](nlohmann::json& packing) {
    packing["segment"]["bars_per_sample"] = 2;
    packing["segment"]["steps_per_bar"] = 32;
  });

  JobConfig config = SmallJobConfig(tmp / "out");
  config.data.packs_dir = packs;
  config.data.genres = {"rock", "pop"};
  StatusOr<std::unique_ptr<TrainingRun>> both = TrainingRun::Create(config, {});
  ASSERT_EQ(both.status().code(), absl::StatusCode::kFailedPrecondition) << both.status();
  const std::string message(both.status().message());
  EXPECT_NE(message.find("4 bars of 16 steps, 5 tracks (Drums, Piano, Guitar, Bass, Strings), 72 pitches"), std::string::npos) << message;
  EXPECT_NE(message.find("2 bars of 32 steps, 5 tracks (Drums, Piano, Guitar, Bass, Strings), 72 pitches"), std::string::npos) << message;

  config.data.genres = {"pop"};
  StatusOr<std::unique_ptr<TrainingRun>> one = TrainingRun::Create(config, {});
  ASSERT_EQ(one.status().code(), absl::StatusCode::kFailedPrecondition) << one.status();
  EXPECT_NE(std::string(one.status().message()).find("set model.measures: 2 and model.steps_per_measure: 32"),
            std::string::npos)
      << one.status();
  config.model.measures = 2;
  config.model.steps_per_measure = 32;
  EXPECT_TRUE(TrainingRun::Create(config, {}).ok()) << "the layout the manifest names is accepted";
}

// A checkpoint records its packs' track set: resuming it on packs of the same shape but other tracks is refused
// naming both.
TEST(TrainingRunTest, ResumingOnPacksOfAnotherTrackSetIsRefused) {
  TempDir tmp;
  JobConfig config = SmallJobConfig(tmp / "out");
  config.train.steps = 10;
  std::unique_ptr<TrainingRun> run = MustCreate(config);
  ASSERT_NE(run, nullptr);
  ASSERT_TRUE(run->Run().ok());
  const std::string packs = tmp / "packs";
  CopyRockPack(packs, "rock", [](nlohmann::json& packing) {
    packing["track_set"] = {
        {"name", "band5"},
        {"tracks", {{{"name", "Drums"}, {"program", 0}, {"drum", true}}, {{"name", "Keys"}, {"program", 0}},
                    {{"name", "Guitar"}, {"program", 24}}, {{"name", "Bass"}, {"program", 32}},
                    {{"name", "Horns"}, {"program", 56}}}}};
  });
  config.data.packs_dir = packs;
  config.train.steps = 20;
  RunOptions resume;
  resume.resume = "latest";
  StatusOr<std::unique_ptr<TrainingRun>> again = TrainingRun::Create(config, resume);
  ASSERT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition) << again.status();
  EXPECT_NE(std::string(again.status().message())
                .find("trained on the tracks Drums, Piano, Guitar, Bass, Strings but the packs hold Drums, Keys, Guitar, "
                      "Bass, Horns"),
            std::string::npos)
      << again.status();
}

// An accompaniment model (model.condition_track) trains around the packs' own parts and is evaluated on
// held-out parts: the evaluation's given track is real data, so its metrics equal a real pack's, and the run's
// evaluations are the same in a second run (the parts are drawn from eval.seed).
TEST(TrainingRunTest, AnAccompanimentModelTrainsAndIsEvaluatedAroundRealParts) {
  TempDir tmp;
  std::vector<std::string> evaluations;
  for (const char* out : {"a", "b"}) {
    JobConfig config = SmallJobConfig(tmp / out);
    config.train.steps = 10;
    config.model.condition_track = "bass";
    std::unique_ptr<TrainingRun> run = MustCreate(config);
    ASSERT_NE(run, nullptr);
    ASSERT_TRUE(run->Run().ok());
    std::istringstream lines(ReadAll(tmp / (std::string(out) + "/metrics.jsonl")));
    for (std::string line; std::getline(lines, line);) {
      nlohmann::json j = nlohmann::json::parse(line);
      if (j.contains("eval")) evaluations.push_back(j["eval"].dump());
    }
  }
  ASSERT_EQ(evaluations.size(), 2u);
  EXPECT_EQ(evaluations[0], evaluations[1]);
  const nlohmann::json eval = nlohmann::json::parse(evaluations[0]);
  EXPECT_TRUE(eval.contains("realism")) << eval.dump();
  EXPECT_NE(evaluations[0].find("Bass"), std::string::npos) << eval.dump();
}

// When the last step is also a periodic checkpoint step, its evaluation still comes first, so that
// checkpoint (the one `tutti best` and checkpoint.best_metric see) carries the objective.
TEST(TrainingRunTest, TheLastStepsPeriodicCheckpointCarriesItsEvaluation) {
  TempDir tmp;
  JobConfig config = SmallJobConfig(tmp / "out");
  config.train.steps = 15;
  config.checkpoint.every = 5;
  std::unique_ptr<TrainingRun> run = MustCreate(config);
  ASSERT_NE(run, nullptr);
  ASSERT_TRUE(run->Run().ok());
  StatusOr<CheckpointMeta> meta = ReadCheckpointMeta(ListCheckpoints(tmp / "out/checkpoints").value().back());
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->step, 15);
  std::map<int64_t, nlohmann::json> evaluations;
  std::istringstream lines(ReadAll(tmp / "out/metrics.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    nlohmann::json j = nlohmann::json::parse(line);
    if (j.contains("eval")) evaluations[j["step"].get<int64_t>()] = j["eval"];
  }
  ASSERT_EQ(evaluations.size(), 2u);  // steps 10 and 15
  ASSERT_TRUE(evaluations.count(15));
  EXPECT_EQ(meta->extra["metrics"], evaluations[15]);
  EXPECT_NE(meta->extra["metrics"], evaluations[10]);
}

TEST(TrainingRunTest, TimeBudgetStopsWithAFinalCheckpoint) {
  TempDir tmp;
  JobConfig config = SmallJobConfig(tmp / "out");
  config.train.steps = 1000000;
  config.checkpoint.every = 1000000;
  RunOptions options;
  options.max_seconds = 1.0;
  std::unique_ptr<TrainingRun> run = MustCreate(config, options);
  ASSERT_NE(run, nullptr);
  ASSERT_TRUE(run->Run().ok());
  EXPECT_EQ(run->stop_reason(), StopReason::kTimeLimit);
  EXPECT_GT(run->step(), 0);
  StatusOr<CheckpointMeta> meta = ReadCheckpointMeta(run->last_checkpoint());
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_EQ(meta->step, run->step());
}

// Writes a 10-step checkpoint into `dir` and returns its path.
std::string TenStepCheckpoint(const std::string& dir) {
  JobConfig config = SmallJobConfig(dir);
  config.train.steps = 10;
  std::unique_ptr<TrainingRun> run = MustCreate(config);
  EXPECT_TRUE(run != nullptr && run->Run().ok());
  return run != nullptr ? run->last_checkpoint() : "";
}

TEST(TrainingRunTest, DamagedOrForeignCheckpointsAreRefusedNamingTheFile) {
  TempDir tmp;
  const std::string good = TenStepCheckpoint(tmp / "good");
  ASSERT_FALSE(good.empty());
  const std::string bytes = ReadAll(good);

  const std::string flipped = tmp / "flipped.tutti";
  std::string damaged = bytes;
  damaged[damaged.size() - 100] ^= 0x01;
  WriteAll(flipped, damaged);
  const std::string truncated = tmp / "truncated.tutti";
  WriteAll(truncated, bytes.substr(0, bytes.size() / 2));

  for (const std::string& path : {flipped, truncated}) {
    RunOptions options;
    options.resume = path;
    StatusOr<std::unique_ptr<TrainingRun>> run = TrainingRun::Create(SmallJobConfig(tmp / "resumed"), options);
    ASSERT_EQ(run.status().code(), absl::StatusCode::kDataLoss) << run.status();
    EXPECT_NE(run.status().message().find(path), std::string::npos) << run.status();
  }

  JobConfig other = SmallJobConfig(tmp / "other");
  other.model.latent_dim = 64;
  RunOptions options;
  options.resume = good;
  StatusOr<std::unique_ptr<TrainingRun>> run = TrainingRun::Create(other, options);
  ASSERT_EQ(run.status().code(), absl::StatusCode::kFailedPrecondition) << run.status();
  EXPECT_NE(run.status().message().find(good), std::string::npos) << run.status();

  options.resume = tmp / "no-such.tutti";
  run = TrainingRun::Create(SmallJobConfig(tmp / "resumed"), options);
  ASSERT_EQ(run.status().code(), absl::StatusCode::kNotFound) << run.status();
}

// A step that fails (here: NaN gradients injected through the gradient hook, as a broken allreduce or a
// NaN batch would produce) stops the run and never overwrites the last good checkpoint.
TEST(TrainingRunTest, FailedStepNeverOverwritesTheLastGoodCheckpoint) {
  TempDir tmp;
  JobConfig config = SmallJobConfig(tmp / "out");
  config.checkpoint.every = 1;  // Run() would checkpoint after every step, were it to carry on
  auto poison = std::make_shared<bool>(false);
  RunOptions options;
  options.gradient_hook = [poison](Network network, torch::nn::Module&, torch::Tensor& grads) -> Status {
    if (*poison && network == Network::kDiscriminator) grads.fill_(std::nan(""));
    return absl::OkStatus();
  };
  std::unique_ptr<TrainingRun> run = MustCreate(config, options);
  ASSERT_NE(run, nullptr);
  ASSERT_TRUE(run->RunStep().ok());
  ASSERT_TRUE(run->RunStep().ok());
  StatusOr<std::string> good = run->Checkpoint();
  ASSERT_TRUE(good.ok()) << good.status();
  const std::string before = FileSha256(*good);

  *poison = true;
  Status failed = run->Run();
  ASSERT_EQ(failed.code(), absl::StatusCode::kInternal) << failed;
  EXPECT_NE(failed.message().find("non-finite"), std::string::npos) << failed;
  EXPECT_EQ(run->step(), 2);
  EXPECT_EQ(run->Checkpoint().status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(run->RunStep().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(run->Run().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(ListCheckpoints(tmp / "out/checkpoints").value(), std::vector<std::string>{*good});
  EXPECT_EQ(FileSha256(*good), before);
  EXPECT_EQ(run->last_checkpoint(), *good);
}

TEST(TrainingRunTest, HookErrorsStopTheRun) {
  TempDir tmp;
  RecordingObserver observer;
  RunOptions options;
  options.observer = &observer;
  std::unique_ptr<TrainingRun> run = MustCreate(SmallJobConfig(tmp / "out"), options);
  ASSERT_NE(run, nullptr);
  run->set_gradient_hook([](Network, torch::nn::Module&, torch::Tensor&) -> Status {
    return absl::UnavailableError("rank 1 went away");
  });
  Status status = run->Run();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_TRUE(ListCheckpoints(tmp / "out/checkpoints").value().empty());
  // The observer hears of the failure exactly once, with the error, and of nothing else.
  EXPECT_EQ(run->stop_reason(), StopReason::kFailed);
  EXPECT_EQ(observer.Events(), "stop");
  ASSERT_EQ(observer.stops.size(), 1u);
  EXPECT_EQ(observer.stops[0].reason, StopReason::kFailed);
  EXPECT_EQ(observer.stops[0].step, 0);
  EXPECT_EQ(observer.stops[0].message, std::string(status.message()));
  EXPECT_NE(observer.stops[0].message.find("rank 1 went away"), std::string::npos) << observer.stops[0].message;
  EXPECT_EQ(observer.stops[0].last_checkpoint, "");
}

TEST(TrainingRunTest, MissingPackNamesThePathAndTuttiPack) {
  TempDir tmp;
  JobConfig config = SmallJobConfig(tmp / "out");
  config.data.genres = {"rock", "jazz"};
  StatusOr<std::unique_ptr<TrainingRun>> run = TrainingRun::Create(config, {});
  ASSERT_EQ(run.status().code(), absl::StatusCode::kNotFound) << run.status();
  const std::string message(run.status().message());
  EXPECT_NE(message.find(config.data.packs_dir + "/jazz"), std::string::npos) << message;
  EXPECT_NE(message.find("tutti pack"), std::string::npos) << message;
}

TEST(TrainingRunTest, PackShapeMismatchNamesBothShapes) {
  TempDir tmp;
  JobConfig config = SmallJobConfig(tmp / "out");
  config.model.pitches = 84;
  StatusOr<std::unique_ptr<TrainingRun>> run = TrainingRun::Create(config, {});
  ASSERT_EQ(run.status().code(), absl::StatusCode::kFailedPrecondition) << run.status();
  const std::string message(run.status().message());
  EXPECT_NE(message.find("/rock"), std::string::npos) << message;
  EXPECT_NE(message.find("(5, 64, 72)"), std::string::npos) << message;
  EXPECT_NE(message.find("(5, 64, 84)"), std::string::npos) << message;
}

TEST(TrainingRunTest, RanksOtherThanZeroWriteNothing) {
  TempDir tmp;
  JobConfig config = SmallJobConfig(tmp / "out");
  config.train.steps = 2;
  // No communicator here, so no BatchNorm allreduce: per-rank statistics (the trainer refuses to step
  // with synchronised BatchNorm and nothing to synchronise through).
  config.distributed.sync_batchnorm = false;
  RunOptions options;
  options.rank = 1;
  options.world_size = 2;
  // Observers and controls are rank 0's: here they are neither called nor obeyed.
  RecordingObserver observer;
  ScriptedControl control({{0, ControlDecision::Stop(StopReason::kPruned, "")}});
  options.observer = &observer;
  options.control = &control;
  std::unique_ptr<TrainingRun> run = MustCreate(config, options);
  ASSERT_NE(run, nullptr);
  ASSERT_TRUE(run->Run().ok());
  EXPECT_EQ(run->step(), 2);
  EXPECT_TRUE(observer.events.empty());
  EXPECT_TRUE(control.polled.empty());
  EXPECT_EQ(run->realism_reference(), nullptr);  // only rank 0 evaluates, so only it builds the bands
  EXPECT_FALSE(std::filesystem::exists(tmp / "out"));
  StatusOr<std::string> path = run->Checkpoint();
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(*path, "");
}

// Every event, in order, with the numbers the files hold: steps 1..20 (metrics lines every 5 are the logged
// reports), evaluations at 10 and 20, checkpoints at 10 and 20 whose sha256 and size are the files', one
// OnStop. Then a resumed run reports where it resumed from and what changed.
TEST(TrainingRunTest, ObserverSeesEveryEventInOrder) {
  TempDir tmp;
  JobConfig config = SmallJobConfig(tmp / "out");
  RecordingObserver observer;
  RunOptions options;
  options.observer = &observer;
  std::unique_ptr<TrainingRun> run = MustCreate(config, options);
  ASSERT_NE(run, nullptr);
  ASSERT_TRUE(run->Run().ok());
  EXPECT_EQ(observer.Events(), "step x10 eval checkpoint step x10 eval checkpoint stop");

  ASSERT_EQ(observer.steps.size(), 20u);
  std::vector<nlohmann::json> logged;
  for (size_t i = 0; i < observer.steps.size(); ++i) {
    const StepReport& r = observer.steps[i];
    EXPECT_EQ(r.step, static_cast<int64_t>(i) + 1);
    EXPECT_EQ(r.total_steps, 20);
    EXPECT_EQ(r.logged, r.step % 5 == 0) << r.step;
    EXPECT_GT(r.steps_per_s, 0) << r.step;
    EXPECT_FALSE(r.data_parallel);
    if (r.logged) logged.push_back(r.ToJson());
  }
  EXPECT_EQ(observer.steps.back().d_loss, run->last_step_metrics()->d_loss);
  // The metrics file's loss lines are exactly the logged reports.
  std::vector<nlohmann::json> lines;
  std::istringstream in(ReadAll(tmp / "out/metrics.jsonl"));
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line);
    if (!j.contains("eval")) lines.push_back(j);
  }
  EXPECT_EQ(lines, logged);

  ASSERT_EQ(observer.evaluations.size(), 2u);
  EXPECT_EQ(observer.evaluations[1].step, 20);
  EXPECT_EQ(observer.evaluations[1].samples, 8);
  // The MuseGAN metrics with the realism measure beside them (EvaluationsCarryTheRealismMeasure checks it).
  nlohmann::json want = run->last_metrics()->ToJson();
  ASSERT_TRUE(run->last_realism().has_value());
  want["realism"] = run->last_realism()->ToJson(/*heldout_per_metric=*/false);
  want["diversity"] = observer.evaluations[1].metrics["diversity"];
  // Observers get each metric's value and distance; the band (low, median, high) stays in the file.
  for (nlohmann::json& m : want["realism"]["per_metric"]) {
    for (const char* key : {"low", "median", "high"}) m.erase(key);
  }
  EXPECT_EQ(observer.evaluations[1].metrics.dump(), want.dump());
  EXPECT_NE(observer.evaluations[1].summary.find("empty_bars "), std::string::npos) << observer.evaluations[1].summary;
  EXPECT_NE(observer.evaluations[1].summary.find(" | used_pitch_classes "), std::string::npos);

  ASSERT_EQ(observer.checkpoints.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const CheckpointReport& c = observer.checkpoints[i];
    EXPECT_EQ(c.step, 10 * static_cast<int64_t>(i + 1));
    EXPECT_EQ(c.path, CheckpointPath(tmp / "out/checkpoints", c.step));
    EXPECT_EQ(c.sha256, observer.file_sha256[i]);
    EXPECT_EQ(c.size_bytes, observer.file_size[i]);
    EXPECT_EQ(c.metrics.count("d_loss"), 1u);
    EXPECT_EQ(c.metrics.count("elapsed_s"), 1u);
    EXPECT_EQ(c.metrics.count("eval.tracks.Piano.used_pitch_classes_true_pc"), 1u);
    EXPECT_EQ(c.metrics.at("eval.samples"), 8);
  }
  EXPECT_EQ(observer.checkpoints[1].metrics.at("d_loss"), run->last_step_metrics()->d_loss);

  ASSERT_EQ(observer.stops.size(), 1u);
  EXPECT_EQ(observer.stops[0].reason, StopReason::kCompleted);
  EXPECT_EQ(observer.stops[0].step, 20);
  EXPECT_EQ(observer.stops[0].last_checkpoint, CheckpointPath(tmp / "out/checkpoints", 20));
  EXPECT_TRUE(observer.notes.empty());

  // Resumed with a changed setting: OnResume at Create, before any step.
  JobConfig more = config;
  more.train.steps = 22;
  more.train.g_lr = 0.0005;
  RecordingObserver resumed;
  options.observer = &resumed;
  options.resume = "latest";
  std::unique_ptr<TrainingRun> again = MustCreate(more, options);
  ASSERT_NE(again, nullptr);
  ASSERT_EQ(resumed.resumes.size(), 1u);
  EXPECT_EQ(resumed.resumes[0].step, 20);
  EXPECT_EQ(resumed.resumes[0].path, CheckpointPath(tmp / "out/checkpoints", 20));
  EXPECT_NE(resumed.resumes[0].config_changes.find("train.g_lr: "), std::string::npos)
      << resumed.resumes[0].config_changes;
  EXPECT_NE(resumed.resumes[0].config_changes.find("train.steps: 22 (checkpoint: 20)"), std::string::npos)
      << resumed.resumes[0].config_changes;
  ASSERT_TRUE(again->Run().ok());
  // 24 is not a multiple of eval.every: a finished run evaluates its final model once more.
  EXPECT_EQ(resumed.Events(), "resume step x2 eval checkpoint stop");
  EXPECT_EQ(resumed.steps.front().step, 21);
}

// The control stops the run before the step after the one it was polled at, with its reason and message;
// the step reached is checkpointed as at any stop.
TEST(TrainingRunTest, ControlStopsTheRunWithItsReason) {
  for (StopReason reason : {StopReason::kByCoordinator, StopReason::kPruned}) {
    TempDir tmp;
    JobConfig config = SmallJobConfig(tmp / "out");
    RecordingObserver observer;
    ScriptedControl control({{3, ControlDecision::Stop(reason, "asked at step 3")}});
    RunOptions options;
    options.observer = &observer;
    options.control = &control;
    std::unique_ptr<TrainingRun> run = MustCreate(config, options);
    ASSERT_NE(run, nullptr);
    ASSERT_TRUE(run->Run().ok());
    EXPECT_EQ(run->step(), 3);
    EXPECT_EQ(run->stop_reason(), reason);
    EXPECT_EQ(control.polled, (std::vector<int64_t>{0, 1, 2, 3}));
    EXPECT_EQ(observer.Events(), "step x3 checkpoint stop");
    ASSERT_EQ(observer.stops.size(), 1u);
    EXPECT_EQ(observer.stops[0].reason, reason);
    EXPECT_EQ(observer.stops[0].message, "asked at step 3");
    EXPECT_EQ(observer.stops[0].step, 3);
    EXPECT_EQ(observer.stops[0].last_checkpoint, CheckpointPath(tmp / "out/checkpoints", 3));
    EXPECT_EQ(CheckpointSteps(tmp / "out/checkpoints"), std::vector<int64_t>{3});
  }
}

// "Checkpoint now" at Poll(4) checkpoints step 5 and the run goes on; a request on a step that gets a
// periodic checkpoint anyway writes it once; the control is not polled once train.steps is reached.
TEST(TrainingRunTest, ControlCheckpointNowCheckpointsTheNextStepAndGoesOn) {
  TempDir tmp;
  JobConfig config = SmallJobConfig(tmp / "out");
  config.train.steps = 8;
  config.checkpoint.every = 6;
  config.eval.every = 1000;
  RecordingObserver observer;
  ScriptedControl control({{4, ControlDecision::CheckpointNow()}, {5, ControlDecision::CheckpointNow()}});
  RunOptions options;
  options.observer = &observer;
  options.control = &control;
  std::unique_ptr<TrainingRun> run = MustCreate(config, options);
  ASSERT_NE(run, nullptr);
  ASSERT_TRUE(run->Run().ok());
  EXPECT_EQ(run->stop_reason(), StopReason::kCompleted);
  EXPECT_EQ(control.polled, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(CheckpointSteps(tmp / "out/checkpoints"), (std::vector<int64_t>{5, 6, 8}));
  EXPECT_EQ(observer.Events(), "step x5 checkpoint step checkpoint step x2 eval checkpoint stop");
}

// --resume latest when the checkpoint directory cannot be read must fail naming it, not restart from
// step 0. (Root ignores chmod 000, so the directory is a regular file here: ENOTDIR.)
TEST(TrainingRunTest, ResumeLatestFailsWhenTheCheckpointDirectoryCannotBeRead) {
  TempDir tmp;
  JobConfig config = SmallJobConfig(tmp / "out");
  ASSERT_TRUE(std::filesystem::create_directories(tmp / "out"));
  const std::string dir = tmp / "out/checkpoints";
  WriteAll(dir, "not a directory");
  RunOptions options;
  options.resume = "latest";
  StatusOr<std::unique_ptr<TrainingRun>> run = TrainingRun::Create(config, options);
  ASSERT_EQ(run.status().code(), absl::StatusCode::kFailedPrecondition) << run.status();
  const std::string message(run.status().message());
  EXPECT_NE(message.find("--resume latest: " + dir + ": cannot list the checkpoint directory"), std::string::npos)
      << message;
  // A fresh run cannot check for an earlier run's checkpoints either.
  run = TrainingRun::Create(config, {});
  EXPECT_EQ(run.status().code(), absl::StatusCode::kFailedPrecondition) << run.status();
  EXPECT_NE(std::string(run.status().message()).find(dir), std::string::npos) << run.status();
}

// Issue 19: every evaluation carries the realism measure, in the metrics file's eval line, in the
// EvaluationReport (whose flattened keys the coordinator receives as "eval.realism.score", ...), on the console
// line and in the checkpoint's reported metrics.
TEST(TrainingRunTest, EvaluationsCarryTheRealismMeasure) {
  TempDir tmp;
  JobConfig config = SmallJobConfig(tmp / "out");
  config.train.steps = 10;
  RecordingObserver observer;
  RunOptions options;
  options.observer = &observer;
  std::unique_ptr<TrainingRun> run = MustCreate(config, options);
  ASSERT_NE(run, nullptr);
  const RealismReference* reference = run->realism_reference();
  ASSERT_NE(reference, nullptr);
  EXPECT_EQ(reference->samples(), 8);  // eval.samples
  EXPECT_EQ(reference->draws(), 200);  // eval.realism_draws' default
  EXPECT_GT(reference->bands().size(), 10u);
  ASSERT_TRUE(run->Run().ok());

  nlohmann::json eval_line;
  std::istringstream in(ReadAll(tmp / "out/metrics.jsonl"));
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line);
    if (j.contains("eval")) eval_line = j;
  }
  ASSERT_TRUE(eval_line.contains("eval")) << "no eval line";
  EXPECT_EQ(eval_line["step"], 10);
  ASSERT_TRUE(eval_line["eval"].contains("realism")) << eval_line.dump();
  const nlohmann::json& realism = eval_line["eval"]["realism"];
  for (const char* key : {"score", "outside", "metrics", "samples", "heldout_score", "heldout_outside",
                          "heldout_samples", "reference", "per_metric", "definition"}) {
    EXPECT_TRUE(realism.contains(key)) << key << " in " << realism.dump();
  }
  EXPECT_TRUE(realism["score"].is_number());
  EXPECT_TRUE(realism["heldout_score"].is_number());
  EXPECT_EQ(realism["metrics"], reference->bands().size());
  EXPECT_EQ(realism["samples"], 8);
  EXPECT_EQ(realism["reference"]["samples"], 8);
  EXPECT_EQ(realism["reference"]["draws"], 200);
  ASSERT_EQ(realism["per_metric"].size(), reference->bands().size());
  EXPECT_EQ(realism["per_metric"][0]["name"], "Drums.empty_bars");
  EXPECT_TRUE(realism["per_metric"][0].contains("distance"));
  EXPECT_FALSE(realism["per_metric"][0].contains("heldout_value"));  // the bar's detail stays out of each line

  ASSERT_EQ(observer.evaluations.size(), 1u);
  const EvaluationReport& evaluation = observer.evaluations[0];
  nlohmann::json file_copy = eval_line["eval"];
  for (nlohmann::json& m : file_copy["realism"]["per_metric"]) {
    for (const char* key : {"low", "median", "high"}) m.erase(key);  // the band stays in the file
  }
  EXPECT_EQ(evaluation.metrics, file_copy);
  const std::map<std::string, double> flat = FlattenMetrics(evaluation.metrics);
  for (const char* key : {"realism.score", "realism.outside", "realism.metrics", "realism.heldout_score",
                          "realism.heldout_outside", "realism.per_metric.Drums.empty_bars.distance"}) {
    EXPECT_EQ(flat.count(key), 1u) << key;
  }
  ASSERT_TRUE(run->last_realism().has_value() && run->last_realism()->generated.has_value());
  EXPECT_EQ(flat.at("realism.score"), run->last_realism()->generated->score);
  EXPECT_EQ(flat.at("realism.outside"), run->last_realism()->generated->outside);
  EXPECT_EQ(flat.at("realism.metrics"), static_cast<double>(reference->bands().size()));
  EXPECT_TRUE(std::isfinite(flat.at("realism.heldout_score")));
  const std::regex console(
      R"( \| realism \d+/\d+ outside, score \d+\.\d\d \(real \d+/\d+, \d+\.\d\d\) \| diversity \d\.\d\d$)");
  EXPECT_TRUE(std::regex_search(evaluation.summary, console)) << evaluation.summary;

  ASSERT_FALSE(observer.checkpoints.empty());
  EXPECT_EQ(observer.checkpoints.back().metrics.at("eval.realism.score"), flat.at("realism.score"));
  StatusOr<CheckpointMeta> meta = ReadCheckpointMeta(observer.checkpoints.back().path);
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_TRUE(meta->extra["metrics"].contains("realism"));
}

// The bands are built at Create on rank 0 (ranks other than 0: RanksOtherThanZeroWriteNothing), from
// eval.realism_seed: the same seed gives the same bands. eval.realism: false builds nothing and logs none.
TEST(TrainingRunTest, RealismBandsAreSeededAndCanBeTurnedOff) {
  TempDir tmp;
  JobConfig config = SmallJobConfig(tmp / "out");
  auto timed_create = [](const JobConfig& c, double* seconds) {
    const auto start = std::chrono::steady_clock::now();
    std::unique_ptr<TrainingRun> run = MustCreate(c);
    *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return run;
  };
  double with_s = 0, again_s = 0, without_s = 0;
  std::unique_ptr<TrainingRun> a = timed_create(config, &with_s);
  std::unique_ptr<TrainingRun> b = timed_create(config, &again_s);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_NE(a->realism_reference(), nullptr);
  const std::vector<RealismBand>& bands_a = a->realism_reference()->bands();
  const std::vector<RealismBand>& bands_b = b->realism_reference()->bands();
  ASSERT_EQ(bands_a.size(), bands_b.size());
  for (size_t i = 0; i < bands_a.size(); ++i) {
    EXPECT_EQ(bands_a[i].low, bands_b[i].low) << bands_a[i].name;
    EXPECT_EQ(bands_a[i].high, bands_b[i].high) << bands_a[i].name;
  }
  JobConfig reseeded = config;
  reseeded.eval.realism_seed = 9;
  reseeded.eval.realism_draws = 50;
  std::unique_ptr<TrainingRun> c = MustCreate(reseeded);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->realism_reference()->draws(), 50);
  bool differs = false;
  for (size_t i = 0; i < bands_a.size(); ++i) {
    differs = differs || bands_a[i].low != c->realism_reference()->bands()[i].low;
  }
  EXPECT_TRUE(differs);

  JobConfig off = config;
  off.eval.realism = false;
  off.train.steps = 10;
  std::unique_ptr<TrainingRun> d = timed_create(off, &without_s);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->realism_reference(), nullptr);
  ASSERT_TRUE(d->Run().ok());
  EXPECT_FALSE(d->last_realism().has_value());
  const std::string lines = ReadAll(tmp / "out/metrics.jsonl");
  EXPECT_NE(lines.find("\"eval\""), std::string::npos);
  EXPECT_EQ(lines.find("realism"), std::string::npos) << lines;
  // For the record, not asserted: what the bands add to Create on the synthetic pack.
  std::printf("Create: %.3f s / %.3f s with realism (bands and bar %.3f s), %.3f s without\n", with_s, again_s,
              a->realism_build_seconds(), without_s);
}

// A pack without held-out samples: the bands still come from the training split; the bar is skipped with a
// note, and the eval line says so.
TEST(TrainingRunTest, RealismWithoutHeldOutSamplesSkipsTheBarWithANote) {
  TempDir tmp;
  SynthCorpusOptions synth;
  synth.out_dir = tmp / "lpd";
  synth.songs = 12;
  synth.genres = {"rock"};
  ASSERT_TRUE(WriteSyntheticLpd(synth, /*show_progress=*/false).ok());
  LpdIndexOptions index_options;
  index_options.root = synth.out_dir;
  StatusOr<LpdIndex> index = LpdIndex::Open(index_options);
  ASSERT_TRUE(index.ok()) << index.status();
  PackOptions pack;
  pack.threads = 1;
  pack.show_progress = false;
  pack.heldout_fraction = 0;
  ASSERT_TRUE(PackLpdGenres(*index, {"rock"}, tmp / "packs", pack).ok());

  JobConfig config = SmallJobConfig(tmp / "out");
  config.data.packs_dir = tmp / "packs";
  config.train.steps = 10;
  RecordingObserver observer;
  RunOptions options;
  options.observer = &observer;
  std::unique_ptr<TrainingRun> run = MustCreate(config, options);
  ASSERT_NE(run, nullptr);
  ASSERT_EQ(observer.notes.size(), 1u);
  EXPECT_NE(observer.notes[0].find("realism: no held-out samples in " + tmp / "packs/rock"), std::string::npos)
      << observer.notes[0];
  ASSERT_TRUE(run->Run().ok());
  ASSERT_EQ(observer.evaluations.size(), 1u);
  const nlohmann::json& realism = observer.evaluations[0].metrics["realism"];
  EXPECT_TRUE(realism["score"].is_number());
  EXPECT_TRUE(realism["heldout_score"].is_null());
  EXPECT_EQ(realism["heldout_samples"], 0);
  EXPECT_NE(realism["heldout_note"].get<std::string>().find("the held-out bar is skipped"), std::string::npos);
  EXPECT_NE(observer.evaluations[0].summary.find("(no held-out bar)"), std::string::npos)
      << observer.evaluations[0].summary;
}

}  // namespace
}  // namespace tutti
