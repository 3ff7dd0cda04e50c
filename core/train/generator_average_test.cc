// train.generator_ema: the averaged generator (generator_average.h) inside GanTrainer.

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/train/gan_trainer.h"
#include "core/train/generator_average.h"
#include "core/train/gan_trainer_test_util.h"

namespace tutti {
namespace {

// One intra-op thread: these tests train several trainers each, and ctest runs torch tests side by side.
TrainOptions AverageOptions(double decay = 0.9) {
  TrainOptions o = SmallOptions();
  o.intra_op_threads = 1;
  o.generator_ema = decay;
  return o;
}

torch::Tensor FlatParameters(const torch::nn::Module& m) {
  std::vector<torch::Tensor> flat;
  for (const auto& p : m.parameters()) flat.push_back(p.detach().reshape({-1}));
  return torch::cat(flat);
}

std::string Checkpoint(const GanTrainer& t) {
  torch::serialize::OutputArchive out;
  EXPECT_TRUE(t.SaveState(out).ok());
  std::stringstream bytes;
  out.save_to(bytes);
  return bytes.str();
}

// The checkpoint's "generator" entry in a bare Generator, as `tutti generate` loads it.
Generator SampledGenerator(const std::string& checkpoint) {
  std::stringstream bytes(checkpoint);
  torch::serialize::InputArchive in, g;
  in.load_from(bytes);
  in.read("generator", g);
  Generator generator;
  generator->load(g);
  generator->eval();
  return generator;
}

TEST(GanTrainerAverageTest, SamplesComeFromTheAverageOfTheLiveWeights) {
  auto t = MakeTrainer(AverageOptions(0.9));
  torch::Tensor expected = FlatParameters(*t->generator());
  for (int64_t i = 0; i < 6; ++i) {
    ASSERT_TRUE(t->Step(RealBatch(i % 3)).ok());
    expected = 0.9 * expected + 0.1 * FlatParameters(*t->generator());
  }
  const std::string checkpoint = Checkpoint(*t);
  Generator sampled = SampledGenerator(checkpoint);
  EXPECT_TRUE(torch::allclose(FlatParameters(*sampled), expected, 1e-5, 1e-7));
  EXPECT_FALSE(torch::allclose(FlatParameters(*sampled), FlatParameters(*t->generator()), 1e-5, 1e-7));
  // What the trainer generates (its evaluations) is what the checkpoint samples, statistics included.
  const torch::Tensor z = torch::randn({5, 128});
  auto generated = t->Generate(z);
  ASSERT_TRUE(generated.ok()) << generated.status();
  EXPECT_TRUE(torch::equal(*generated, sampled->forward(z).detach()));
  // The statistics were measured on the average, not copied from the live generator.
  EXPECT_FALSE(torch::equal(sampled->transconv0->batchnorm->running_var, t->generator()->transconv0->batchnorm->running_var));
  // And training itself did not change: the live weights are those of a run without the average.
  auto plain = MakeTrainer(AverageOptions(0.0));
  RunSteps(*plain, 0, 6);
  EXPECT_TRUE(torch::equal(FlatParameters(*plain->generator()), FlatParameters(*t->generator())));
}

TEST(GeneratorAverageTest, WarmUpShortensOnlyTheEarlyDecay) {
  const torch::Tensor start = torch::zeros({3});
  GeneratorAverage plain(GeneratorOptions(), 0.999, start, 1), warm(GeneratorOptions(), 0.999, start, 1, true);
  for (int64_t t : {0, 10, 5000, 100000}) EXPECT_DOUBLE_EQ(plain.DecayAt(t), 0.999) << t;
  EXPECT_DOUBLE_EQ(warm.DecayAt(0), 0.1);
  EXPECT_DOUBLE_EQ(warm.DecayAt(90), 91.0 / 100.0);
  EXPECT_DOUBLE_EQ(warm.DecayAt(8990), 0.999);  // (1 + t) / (10 + t) reaches the decay here
  EXPECT_DOUBLE_EQ(warm.DecayAt(100000), 0.999);
  // The first update takes 90 % of the live weights, where the fixed decay takes 0.1 %.
  warm.Update(torch::ones({3}), 0);
  plain.Update(torch::ones({3}), 0);
  EXPECT_TRUE(torch::allclose(warm.flat(), torch::full({3}, 0.9)));
  EXPECT_TRUE(torch::allclose(plain.flat(), torch::full({3}, 0.001)));
}

TEST(GanTrainerAverageTest, WarmUpFollowsTheTrainersStep) {
  TrainOptions options = AverageOptions(0.9);
  options.generator_ema_warmup = true;
  auto t = MakeTrainer(options);
  torch::Tensor expected = FlatParameters(*t->generator());
  for (int64_t i = 0; i < 6; ++i) {
    ASSERT_TRUE(t->Step(RealBatch(i % 3)).ok());
    const double decay = std::min(0.9, (1.0 + i) / (10.0 + i));
    expected = decay * expected + (1 - decay) * FlatParameters(*t->generator());
  }
  EXPECT_TRUE(torch::allclose(FlatParameters(*SampledGenerator(Checkpoint(*t))), expected, 1e-5, 1e-7));
}

// Twelve steps straight equal six, a checkpoint and six more: live weights, samples and the stored average.
void ExpectResumeIsBitIdentical(const TrainOptions& options) {
  auto straight = MakeTrainer(options);
  RunSteps(*straight, 0, 12);
  auto first = MakeTrainer(options);
  RunSteps(*first, 0, 6);
  const std::string checkpoint = Checkpoint(*first);
  auto resumed = MakeTrainer(options);
  {
    std::stringstream bytes(checkpoint);
    torch::serialize::InputArchive in;
    in.load_from(bytes);
    const Status s = resumed->LoadState(in);
    ASSERT_TRUE(s.ok()) << s;
  }
  RunSteps(*resumed, 6, 12);
  EXPECT_TRUE(torch::equal(FlatParameters(*straight->generator()), FlatParameters(*resumed->generator())));
  const torch::Tensor z = torch::randn({4, 128});
  EXPECT_TRUE(torch::equal(*straight->Generate(z), *resumed->Generate(z)));
  EXPECT_TRUE(torch::equal(FlatParameters(*SampledGenerator(Checkpoint(*straight))),
                           FlatParameters(*SampledGenerator(Checkpoint(*resumed)))));
}

TEST(GanTrainerAverageTest, ResumeIsBitIdentical) {
  for (const bool warmup : {false, true}) {
    SCOPED_TRACE(warmup ? "with warm-up" : "without warm-up");
    TrainOptions options = AverageOptions();
    options.generator_ema_warmup = warmup;
    ExpectResumeIsBitIdentical(options);
  }
}

TEST(GanTrainerAverageTest, TurningTheAverageOnOrOffAtResume) {
  // A checkpoint without an average starts one from its live weights; one with an average resumes a trainer
  // without it from the live weights (not the average).
  auto plain = MakeTrainer(AverageOptions(0.0));
  RunSteps(*plain, 0, 4);
  auto averaged = MakeTrainer(AverageOptions());
  {
    std::stringstream bytes(Checkpoint(*plain));
    torch::serialize::InputArchive in;
    in.load_from(bytes);
    ASSERT_TRUE(averaged->LoadState(in).ok());
  }
  EXPECT_TRUE(torch::equal(FlatParameters(*SampledGenerator(Checkpoint(*averaged))), FlatParameters(*plain->generator())));
  RunSteps(*averaged, 4, 8);
  auto back = MakeTrainer(AverageOptions(0.0));
  {
    std::stringstream bytes(Checkpoint(*averaged));
    torch::serialize::InputArchive in;
    in.load_from(bytes);
    ASSERT_TRUE(back->LoadState(in).ok());
  }
  EXPECT_TRUE(torch::equal(FlatParameters(*back->generator()), FlatParameters(*averaged->generator())));
}

TEST(GanTrainerAverageTest, AnAccompanimentModelCalibratesAroundRealParts) {
  auto t = MakeTrainer(AverageOptions(), GeneratorOptions().condition_track(3), {});
  RunSteps(*t, 0, 3);
  const torch::Tensor part = RealBatch(7, 6).select(1, 3).contiguous();
  const torch::Tensor z = torch::randn({6, 128});
  auto samples = t->Generate(z, torch::Tensor(), part);
  ASSERT_TRUE(samples.ok()) << samples.status();
  EXPECT_TRUE(torch::equal(samples->select(1, 3), part));
  // The parts the calibration played around travel with the checkpoint: a resumed trainer samples the same.
  auto resumed = MakeTrainer(AverageOptions(), GeneratorOptions().condition_track(3), {});
  {
    std::stringstream bytes(Checkpoint(*t));
    torch::serialize::InputArchive in;
    in.load_from(bytes);
    ASSERT_TRUE(resumed->LoadState(in).ok());
  }
  EXPECT_TRUE(torch::equal(*samples, *resumed->Generate(z, torch::Tensor(), part)));
}

TEST(GeneratorAverageTest, ResetFromTakesTheWeightsAndRefusesAnotherModel) {
  torch::manual_seed(5);
  Generator start, other;
  GeneratorAverage average(GeneratorOptions(), 0.9, FlatParameters(*start), 7);
  ASSERT_FALSE(torch::equal(FlatParameters(*start), FlatParameters(*other)));
  average.ResetFrom(other);
  EXPECT_TRUE(torch::equal(average.flat(), FlatParameters(*other)));
  EXPECT_TRUE(torch::equal(FlatParameters(*average.Model(other)), FlatParameters(*other)));

  Generator bigger(GeneratorOptions().bar_levels(true));
  EXPECT_THROW(average.ResetFrom(bigger), c10::Error);
  EXPECT_TRUE(torch::equal(average.flat(), FlatParameters(*other)));
}

TEST(GanTrainerAverageTest, DecayOutsideTheUnitIntervalIsRefused) {
  for (double decay : {-0.1, 1.0}) {
    auto t = GanTrainer::Create({}, {}, AverageOptions(decay));
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.status().ToString().find("generator_ema must be in [0, 1)"), std::string::npos) << t.status();
  }
}

}  // namespace
}  // namespace tutti
