// TrainingRun on real (synthetic LPD-5) packs: bit-exact resume, checkpoint safety, clear errors.

#include "worker/run/training_run.h"

#include <cmath>
#include <filesystem>

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
  options.show_progress = false;
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

  std::vector<std::string> checkpoints = ListCheckpoints(tmp / "out/checkpoints");
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
  EXPECT_EQ(ListCheckpoints(tmp / "out/checkpoints"), std::vector<std::string>{*good});
  EXPECT_EQ(FileSha256(*good), before);
  EXPECT_EQ(run->last_checkpoint(), *good);
}

TEST(TrainingRunTest, HookErrorsStopTheRun) {
  TempDir tmp;
  std::unique_ptr<TrainingRun> run = MustCreate(SmallJobConfig(tmp / "out"));
  ASSERT_NE(run, nullptr);
  run->set_gradient_hook([](Network, torch::nn::Module&, torch::Tensor&) -> Status {
    return absl::UnavailableError("rank 1 went away");
  });
  Status status = run->Run();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_TRUE(ListCheckpoints(tmp / "out/checkpoints").empty());
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
  std::unique_ptr<TrainingRun> run = MustCreate(config, options);
  ASSERT_NE(run, nullptr);
  ASSERT_TRUE(run->Run().ok());
  EXPECT_EQ(run->step(), 2);
  EXPECT_FALSE(std::filesystem::exists(tmp / "out"));
  StatusOr<std::string> path = run->Checkpoint();
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(*path, "");
}

}  // namespace
}  // namespace tutti
