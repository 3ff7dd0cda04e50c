// GeneratorModel: the generator alone, loaded from a real checkpoint, gives exactly what the full trainer
// gives; refuses damaged or mismatched files naming them; is safe to call from several threads.

#include "core/sample/checkpoint_sampler.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <thread>

#include "core/base/file_util.h"
#include "core/checkpoint/checkpoint.h"
#include "core/config/job_config_yaml.h"
#include "core/data/data_test_util.h"
#include "core/sample/sample_test_util.h"
#include "core/train/trainer_from_config.h"

namespace tutti {
namespace {

using ::tutti::testing::MakeCheckpoint;
using ::tutti::testing::SmallSampleConfig;
using ::tutti::testing::TempDir;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// What `tutti generate` did before GeneratorModel existed: the whole trainer restored by LoadCheckpoint,
// the same latents (one CPU generator seeded with `seed`, (n, latent_dim) at once), GanTrainer::Generate.
torch::Tensor TrainerOutput(const std::string& checkpoint, const JobConfig& config, int64_t n, uint64_t seed,
                            int64_t genre_index) {
  StatusOr<std::unique_ptr<GanTrainer>> trainer = CreateTrainerFromConfig(config);
  EXPECT_TRUE(trainer.ok()) << trainer.status();
  StatusOr<CheckpointMeta> loaded = LoadCheckpoint(checkpoint, trainer->get());
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::Tensor latents = torch::randn({n, static_cast<int64_t>(config.model.latent_dim)}, gen, torch::kFloat);
  torch::Tensor genres;
  if (genre_index >= 0) genres = torch::full({n}, genre_index, torch::kInt64);
  StatusOr<torch::Tensor> out = (*trainer)->Generate(latents, genres);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : torch::Tensor();
}

class GeneratorModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    checkpoint_ = MakeCheckpoint(tmp_ / "ckpt", SmallSampleConfig(false), 2);
    ASSERT_FALSE(checkpoint_.empty());
  }
  TempDir tmp_;
  std::string checkpoint_;
};

// 70 samples: two chunks of the 64-row loop against one unchunked trainer call.
TEST_F(GeneratorModelTest, GivesExactlyWhatTheFullTrainerGives) {
  const JobConfig config = SmallSampleConfig(false);
  StatusOr<std::unique_ptr<GeneratorModel>> model = GeneratorModel::Load(checkpoint_);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->step(), 2);
  EXPECT_EQ((*model)->name(), checkpoint_);
  EXPECT_EQ((*model)->device(), "cpu");
  EXPECT_EQ((*model)->shape(), (SampleShape{5, 64, 72}));
  EXPECT_TRUE((*model)->config() == config);

  const int64_t n = 70;
  const torch::Tensor expected = TrainerOutput(checkpoint_, config, n, /*seed=*/5, -1);
  ASSERT_TRUE(expected.defined());
  StatusOr<std::vector<float>> raw = (*model)->GenerateRaw(n, 5);
  ASSERT_TRUE(raw.ok()) << raw.status();
  const torch::Tensor got = torch::from_blob(raw->data(), expected.sizes(), torch::kFloat);
  EXPECT_TRUE(torch::equal(got, expected)) << "max |diff| " << (got - expected).abs().max().item<float>();

  // The thresholded form is exactly `raw > threshold`.
  const double threshold = 0.02;
  StatusOr<GeneratedSamples> samples = (*model)->Generate(n, 5, "", threshold);
  ASSERT_TRUE(samples.ok()) << samples.status();
  EXPECT_EQ(samples->n, n);
  EXPECT_EQ(samples->step, 2);
  EXPECT_EQ(samples->genre, "rock");
  EXPECT_EQ(samples->genre_index, -1);
  EXPECT_EQ(samples->threshold, threshold);
  const torch::Tensor binary = torch::from_blob(samples->binary.data(), expected.sizes(), torch::kUInt8);
  EXPECT_TRUE(torch::equal(binary, expected.gt(threshold).to(torch::kUInt8)));
  EXPECT_EQ(samples->max_value, expected.max().item<float>());
  EXPECT_GT(samples->active_fraction, 0);
  EXPECT_DOUBLE_EQ(samples->active_fraction, expected.gt(threshold).sum().item<double>() / expected.numel());

  // GenerateFromCheckpoint is the same thing in one call; the config's threshold is the default.
  SampleRequest request;
  request.checkpoint = checkpoint_;
  request.n = n;
  request.seed = 5;
  request.threshold = threshold;
  StatusOr<GeneratedSamples> once = GenerateFromCheckpoint(request);
  ASSERT_TRUE(once.ok()) << once.status();
  EXPECT_EQ(once->binary, samples->binary);
  StatusOr<GeneratedSamples> defaults = (*model)->Generate(1, 5);
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->threshold, config.sample.threshold);
}

TEST_F(GeneratorModelTest, ConditionalModelsGenerateTheAskedGenre) {
  const JobConfig config = SmallSampleConfig(true);
  const std::string checkpoint = MakeCheckpoint(tmp_ / "conditional", config, 1);
  ASSERT_FALSE(checkpoint.empty());
  StatusOr<std::unique_ptr<GeneratorModel>> model = GeneratorModel::Load(checkpoint);
  ASSERT_TRUE(model.ok()) << model.status();
  for (int64_t index : {0, 1}) {
    const torch::Tensor expected = TrainerOutput(checkpoint, config, 3, 9, index);
    StatusOr<std::vector<float>> raw = (*model)->GenerateRaw(3, 9, config.data.genres[static_cast<size_t>(index)]);
    ASSERT_TRUE(raw.ok()) << raw.status();
    EXPECT_TRUE(torch::equal(torch::from_blob(raw->data(), expected.sizes(), torch::kFloat), expected)) << index;
  }
  StatusOr<GeneratedSamples> pop = (*model)->Generate(2, 1, "", std::nullopt, /*default_genre=*/"pop");
  ASSERT_TRUE(pop.ok()) << pop.status();
  EXPECT_EQ(pop->genre, "pop");
  EXPECT_EQ(pop->genre_index, 1);
  StatusOr<GeneratedSamples> jazz = (*model)->Generate(2, 1, "jazz");
  EXPECT_EQ(jazz.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(std::string(jazz.status().message()), "rock, pop")) << jazz.status();
  EXPECT_EQ((*model)->Generate(0, 1).status().code(), absl::StatusCode::kInvalidArgument);
}

// Loading touches nothing process-wide (the sample service loads models while other work runs).
TEST_F(GeneratorModelTest, LoadingLeavesTheThreadCountAlone) {
  at::set_num_threads(1);
  StatusOr<std::unique_ptr<GeneratorModel>> model = GeneratorModel::Load(checkpoint_);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(at::get_num_threads(), 1);
}

TEST_F(GeneratorModelTest, BytesLoadLikeTheFileAndErrorsNameTheSource) {
  StatusOr<std::string> bytes = ReadFileToString(checkpoint_);
  ASSERT_TRUE(bytes.ok());
  StatusOr<std::unique_ptr<GeneratorModel>> from_file = GeneratorModel::Load(checkpoint_);
  StatusOr<std::unique_ptr<GeneratorModel>> from_bytes = GeneratorModel::LoadFromBytes(*bytes, "blob 1234");
  ASSERT_TRUE(from_file.ok() && from_bytes.ok()) << from_bytes.status();
  EXPECT_EQ((*from_bytes)->name(), "blob 1234");
  EXPECT_EQ((*from_file)->GenerateRaw(4, 2).value(), (*from_bytes)->GenerateRaw(4, 2).value());

  std::string damaged = *bytes;
  damaged[damaged.size() - 100] ^= 0x5a;
  StatusOr<std::unique_ptr<GeneratorModel>> bad = GeneratorModel::LoadFromBytes(damaged, "blob 1234");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss) << bad.status();
  EXPECT_TRUE(Contains(std::string(bad.status().message()), "blob 1234: corrupted checkpoint")) << bad.status();
  const std::string truncated = tmp_ / "truncated.tutti";
  ASSERT_TRUE(WriteFileAtomically(truncated, bytes->substr(0, bytes->size() / 2)).ok());
  bad = GeneratorModel::Load(truncated);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss) << bad.status();
  EXPECT_TRUE(Contains(std::string(bad.status().message()), truncated)) << bad.status();
  bad = GeneratorModel::Load(tmp_ / "missing.tutti");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kNotFound) << bad.status();
  EXPECT_TRUE(Contains(std::string(bad.status().message()), tmp_ / "missing.tutti")) << bad.status();
  bad = GeneratorModel::Load(checkpoint_, "tpu");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << bad.status();
}

// A checkpoint whose weights are not the model its config describes (here: a latent_dim 64 config stored
// with latent_dim 128 weights) is FailedPrecondition naming the file, not a silent load.
TEST_F(GeneratorModelTest, AGeneratorThatDoesNotFitItsConfigIsRefused) {
  JobConfig config = SmallSampleConfig(false);
  StatusOr<std::unique_ptr<GanTrainer>> trainer = CreateTrainerFromConfig(config);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  JobConfig claimed = config;
  claimed.model.latent_dim = 64;
  CheckpointMeta meta;
  meta.config_yaml = JobConfigToYaml(claimed);
  const std::string path = CheckpointPath(tmp_ / "mismatch", 0);
  ASSERT_TRUE(SaveCheckpoint(path, **trainer, meta).ok());
  StatusOr<std::unique_ptr<GeneratorModel>> model = GeneratorModel::Load(path);
  EXPECT_EQ(model.status().code(), absl::StatusCode::kFailedPrecondition) << model.status();
  EXPECT_TRUE(Contains(std::string(model.status().message()), path + ": ")) << model.status();
}

// Generate is const and thread-safe: four threads at once give what one thread gives, call by call.
TEST_F(GeneratorModelTest, ConcurrentCallsGiveTheSerialResults) {
  StatusOr<std::unique_ptr<GeneratorModel>> model = GeneratorModel::Load(checkpoint_);
  ASSERT_TRUE(model.ok()) << model.status();
  const GeneratorModel& m = **model;
  std::vector<std::vector<float>> serial(4), parallel(4);
  for (uint64_t i = 0; i < 4; ++i) serial[i] = m.GenerateRaw(9, 100 + i).value();
  std::vector<std::thread> threads;
  for (uint64_t i = 0; i < 4; ++i) {
    threads.emplace_back([&m, &parallel, i] {
      for (int repeat = 0; repeat < 3; ++repeat) {
        StatusOr<std::vector<float>> raw = m.GenerateRaw(9, 100 + i);
        if (raw.ok()) parallel[i] = *std::move(raw);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(serial[i], parallel[i]) << "seed " << 100 + i;
  EXPECT_NE(serial[0], serial[1]);
}

}  // namespace
}  // namespace tutti
