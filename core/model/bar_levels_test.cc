// BarLevels (model.bar_levels): one learned level per track and bar, and its place in the generator.

#include <sstream>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/model/bar_levels.h"
#include "core/model/model_options.h"
#include "core/model/model_test_util.h"
#include "core/model/networks.h"

namespace tutti {
namespace {

TEST(BarLevelsTest, OneLevelPerTrackAndBar) {
  torch::manual_seed(1);
  BarLevels levels(256, 5);
  torch::NoGradGuard no_grad;
  const torch::Tensor bars = torch::rand({3, 256, 4, 1, 1});
  // Zero to start with: the tutorial's output.
  EXPECT_EQ(levels(bars).abs().max().item<float>(), 0);
  levels->level->weight.normal_();
  const torch::Tensor out = levels(bars);
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{5, 3, 4}));
  // Track 2 of sample 1 in bar 3 is that track's linear map of that bar's features.
  const torch::Tensor expected = (levels->level->weight.select(0, 2) * bars.select(0, 1).select(1, 3).flatten()).sum();
  EXPECT_NEAR(out[2][1][3].item<float>(), expected.item<float>(), 1e-3);
  EXPECT_GT((out.select(2, 0) - out.select(2, 1)).abs().max().item<float>(), 1e-3);
}

TEST(BarLevelsTest, TheGeneratorStartsAsTheTutorialsAndCanSilenceATrack) {
  torch::manual_seed(2);
  const torch::Tensor z = torch::randn({8, 128});
  Generator tutorial, levels(GeneratorOptions().bar_levels(true));
  DrawAlike(tutorial, levels, 7);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(tutorial(z), levels(z)));
  // In eval mode (fixed BatchNorm statistics) a level far above zero fills the track's bars and one far below
  // leaves them empty; the other tracks do not change.
  tutorial->eval();
  levels->eval();
  const torch::Tensor a = tutorial(z);
  levels->bar_levels->level->bias[3] = 100.0f;
  EXPECT_GT(levels(z).select(1, 3).min().item<float>(), 0.5f);
  levels->bar_levels->level->bias[3] = -100.0f;
  const torch::Tensor b = levels(z);
  EXPECT_EQ(b.select(1, 3).max().item<float>(), 0.0f);
  for (int64_t track : {0, 1, 2, 4}) EXPECT_TRUE(torch::equal(a.select(1, track), b.select(1, track))) << track;
}

TEST(BarLevelsTest, TrainsAndNamesItselfInTheFingerprint) {
  Generator g(GeneratorOptions().bar_levels(true));
  g->train();
  const torch::Tensor out = g(torch::randn({4, 128}));
  (out * torch::rand_like(out)).sum().backward();
  ASSERT_TRUE(g->bar_levels);
  EXPECT_GT(g->bar_levels->level->weight.grad().abs().sum().item<float>(), 0);
  std::ostringstream text, tutorial;
  g->pretty_print(text);
  Generator()->pretty_print(tutorial);
  EXPECT_NE(text.str().find("bar_levels=true"), std::string::npos) << text.str();
  EXPECT_EQ(tutorial.str().find("bar_levels"), std::string::npos);
  EXPECT_EQ(DescribeArchitectureDifference(tutorial.str(), text.str()),
            "model.bar_levels: false in the checkpoint, true here");
  EXPECT_NE(ValidateGeneratorOptions(GeneratorOptions().bar_levels(true).grouped_tracks(false)).message().find(
                "bar_levels needs grouped_tracks"),
            std::string::npos);
}

}  // namespace
}  // namespace tutti
