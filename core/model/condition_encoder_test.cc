// The accompaniment generator (GeneratorOptions::condition_track, condition_encoder.h): the given part comes back
// exactly, it changes what is written for the other tracks, and the encoder learns.

#include "core/model/condition_encoder.h"

#include <sstream>

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/model/networks.h"

namespace tutti {
namespace {

constexpr int64_t kBass = 3;

GeneratorOptions Accompanying() { return GeneratorOptions().condition_track(kBass); }

torch::Tensor RandomPart(int64_t batch, uint64_t seed, double density = 0.05) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return (torch::rand({batch, 64, 72}, gen) < density).to(torch::kFloat);
}

std::string Fingerprint(const GeneratorOptions& options) {
  std::ostringstream s;
  Generator(options)->pretty_print(s);
  return s.str();
}

TEST(ConditionEncoder, FeaturesHaveTheGeneratorsShapesPerBarAndPerBeat) {
  ConditionEncoder encoder(4, 16, 72);
  const ConditionEncoderImpl::Features f = encoder(RandomPart(3, 1));
  EXPECT_EQ(f.per_bar.sizes(), torch::IntArrayRef({3, 256, 4, 1, 1}));
  EXPECT_EQ(f.per_beat.sizes(), torch::IntArrayRef({3, 128, 4, 4, 1}));
  // Each bar's feature reads only that bar: changing bar 2 of the part leaves bars 0, 1 and 3 as they were.
  torch::Tensor part = RandomPart(1, 2);
  torch::Tensor changed = part.clone();
  changed.narrow(1, 32, 16).fill_(1);
  const ConditionEncoderImpl::Features a = encoder(part), b = encoder(changed);
  for (int64_t bar : {0, 1, 3}) {
    EXPECT_TRUE(torch::equal(a.per_bar.select(2, bar), b.per_bar.select(2, bar))) << bar;
  }
  EXPECT_FALSE(torch::equal(a.per_bar.select(2, 2), b.per_bar.select(2, 2)));
  EXPECT_THROW(encoder(torch::zeros({2, 63, 72})), c10::Error);
}

TEST(ConditionalGenerator, ReturnsTheGivenPartExactlyAndWritesTheOthersAroundIt) {
  torch::manual_seed(0);
  Generator g(Accompanying());
  // Training mode: a fresh generator's eval-mode BatchNorm (running statistics at their start values) leaves
  // some tracks all zero whatever the input.
  g->train();
  torch::NoGradGuard no_grad;
  const torch::Tensor z = torch::randn({4, 128});
  const torch::Tensor part_a = RandomPart(4, 3), part_b = RandomPart(4, 4, 0.2);
  const torch::Tensor out_a = g(z, torch::Tensor(), torch::Tensor(), part_a), out_b = g(z, torch::Tensor(), torch::Tensor(), part_b);
  ASSERT_EQ(out_a.sizes(), torch::IntArrayRef({4, 5, 64, 72}));
  EXPECT_TRUE(torch::equal(out_a.select(1, kBass), part_a));
  EXPECT_TRUE(torch::equal(out_b.select(1, kBass), part_b));
  for (int64_t t : {0, 1, 2, 4}) {
    EXPECT_FALSE(torch::allclose(out_a.select(1, t), out_b.select(1, t))) << "track " << t << " ignores the part";
  }
}

TEST(ConditionalGenerator, GradientsReachTheEncoderAndTheGivenPartIsData) {
  Generator g(Accompanying());
  g->train();
  const torch::Tensor part = RandomPart(2, 5).requires_grad_(true);
  g(torch::randn({2, 128}), torch::Tensor(), torch::Tensor(), part).pow(2).sum().backward();
  for (const auto& p : g->condition_encoder->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0) << p.key();
  }
  // The given track of the output is the part itself: its gradient (2 * part) flows straight back to it, on top
  // of what the encoder passes.
  EXPECT_TRUE(part.grad().defined());
}

TEST(ConditionalGenerator, WorksWithAnActiveRefiner) {
  Generator g(Accompanying().refiner(RefinerKind::kDeterministic));
  g->set_refiner_active(true);
  g->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor part = RandomPart(3, 6);
  const torch::Tensor out = g(torch::randn({3, 128}), torch::Tensor(), torch::Tensor(), part);
  EXPECT_TRUE(torch::equal(out.select(1, kBass), part));
  EXPECT_TRUE(torch::equal(out, out.round())) << "binary output";
}

TEST(ConditionalGenerator, RefusesAMissingOrMisshapenPartAndAPartForAPlainModel) {
  Generator g(Accompanying());
  try {
    g(torch::randn({2, 128}));
    FAIL() << "no part given";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace()).find("needs the given part"), std::string::npos) << e.what();
  }
  EXPECT_THROW(g(torch::randn({2, 128}), torch::Tensor(), torch::Tensor(), torch::zeros({3, 64, 72})), c10::Error);
  EXPECT_THROW(g(torch::randn({2, 128}), torch::Tensor(), torch::Tensor(), torch::zeros({2, 64, 71})), c10::Error);
  Generator plain;
  EXPECT_THROW(plain(torch::randn({2, 128}), torch::Tensor(), torch::Tensor(), torch::zeros({2, 64, 72})), c10::Error);
  EXPECT_FALSE(ValidateGeneratorOptions(GeneratorOptions().condition_track(5)).ok());
  EXPECT_FALSE(ValidateGeneratorOptions(GeneratorOptions().condition_track(-2)).ok());
}

TEST(ConditionalGenerator, FingerprintNamesTheConditionTrackAndTheDifferenceNamesItsKey) {
  const std::string plain = Fingerprint(GeneratorOptions()), bass = Fingerprint(Accompanying());
  EXPECT_EQ(plain.find("condition_track"), std::string::npos) << plain;
  EXPECT_NE(bass.find("condition_track=3"), std::string::npos) << bass;
  EXPECT_EQ(DescribeArchitectureDifference(bass, plain), "model.condition_track: 3 in the checkpoint, none here");
}

}  // namespace
}  // namespace tutti
