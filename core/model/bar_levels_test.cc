// BarLevels (model.bar_levels): one learned level per track and bar, and its place in the generator; and the
// critic's side of empty bars, its batch share of silent bars (model.critic_bar_silence).

#include <cmath>
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

// bar_gate: the same levels scale each bar after the activation instead of shifting it before the norm.
TEST(BarLevelsTest, TheGateStartsAsTheTutorialsAndScalesOneTracksBars) {
  torch::manual_seed(3);
  const torch::Tensor z = torch::randn({8, 128});
  Generator tutorial, gated(GeneratorOptions().bar_levels(true).bar_gate(true));
  DrawAlike(tutorial, gated, 7);
  torch::NoGradGuard no_grad;
  // Training mode, batch statistics: the gate comes after the norm, so the batch's statistics are the tutorial's
  // whatever the levels (in eval mode fresh running statistics leave the untrained bass all zero).
  const torch::Tensor a = tutorial(z);
  EXPECT_TRUE(torch::equal(a, gated(z)));
  ASSERT_GT((a.select(1, 3) > 2.1f).sum().item<int64_t>(), 0);
  ASSERT_GT((a.select(1, 3) > 0.5f).sum().item<int64_t>(), 100);
  // Level -2 on the bass: every cell of its bars times 2 * sigmoid(-2) = 0.238, so a cell needs 2.1 to stay over
  // the 0.5 threshold. The other tracks are untouched.
  gated->bar_levels->level->bias[3] = -2.0f;
  const torch::Tensor b = gated(z);
  const float factor = 2.0f / (1.0f + std::exp(2.0f));
  EXPECT_TRUE(torch::allclose(b.select(1, 3), a.select(1, 3) * factor, 1e-5, 1e-6));
  for (int64_t track : {0, 1, 2, 4}) EXPECT_TRUE(torch::equal(a.select(1, track), b.select(1, track))) << track;
  // A level far down silences the bar whatever its loudest cell, where an added level of the same size leaves the
  // cells the norm puts far above it.
  gated->bar_levels->level->bias[3] = -30.0f;
  EXPECT_LT(gated(z).select(1, 3).max().item<float>(), 1e-6f);
  // Per bar: a level that follows one of the bar's features scales the bars apart.
  gated->bar_levels->level->bias[3] = 0.0f;
  gated->bar_levels->level->weight[3][0] = -4.0f;
  const torch::Tensor c = gated(z).select(1, 3).view({8, 4, 16 * 72}).sum(2);
  const torch::Tensor before = a.select(1, 3).view({8, 4, 16 * 72}).sum(2);
  const torch::Tensor sounding = before > 0;  // relu: a bar may be silent to start with
  ASSERT_GT(sounding.sum().item<int64_t>(), 16);
  const torch::Tensor ratio = c.masked_select(sounding) / before.masked_select(sounding);
  EXPECT_GT((ratio - ratio.mean()).abs().max().item<float>(), 1e-3) << ratio;
  EXPECT_LE(ratio.max().item<float>(), 1.0f + 1e-5f);  // a non-negative feature times -4: at most the start's 1
}

// bar_gate_hard: each bar is silent or exactly as the track wrote it, and the gradient still reaches the levels.
TEST(BarLevelsTest, TheHardGateLeavesABarSilentOrUntouched) {
  const torch::Tensor levels = torch::tensor({0.0f, -1.9f, -2.1f, 3.0f, -50.0f}, torch::requires_grad());
  const torch::Tensor gate = BarLevelsImpl::Gate(levels, /*hard=*/true);
  EXPECT_TRUE(torch::equal(gate.detach(), torch::tensor({1.0f, 1.0f, 0.0f, 1.0f, 0.0f})));
  gate.sum().backward();
  const torch::Tensor soft = torch::sigmoid(levels.detach() + 2.0f);
  EXPECT_TRUE(torch::allclose(levels.grad(), soft * (1 - soft)));
  EXPECT_GT(levels.grad()[2].item<float>(), 0.2f);  // just off: the largest push back on

  torch::manual_seed(4);
  const torch::Tensor z = torch::randn({8, 128});
  Generator tutorial, gated(GeneratorOptions().bar_levels(true).bar_gate(true).bar_gate_hard(true));
  DrawAlike(tutorial, gated, 7);
  const torch::Tensor a = tutorial(z).detach();
  EXPECT_TRUE(torch::equal(a, gated(z).detach()));
  // A level that follows one bar feature: every bass bar is now either all zero or bit for bit the tutorial's.
  {
    torch::NoGradGuard no_grad;
    gated->bar_levels->level->weight[3][0] = -4.0f;
    gated->bar_levels->level->bias[3] = 1.0f;
  }
  const torch::Tensor out = gated(z);
  const torch::Tensor bass = out.select(1, 3).detach().view({8, 4, 16 * 72});
  const torch::Tensor before = a.select(1, 3).view({8, 4, 16 * 72});
  int64_t silenced = 0, kept = 0;
  for (int64_t s = 0; s < 8; ++s) {
    for (int64_t m = 0; m < 4; ++m) {
      if (torch::equal(bass[s][m], before[s][m])) {
        ++kept;
      } else {
        EXPECT_EQ(bass[s][m].abs().max().item<float>(), 0.0f) << s << " " << m;
        ++silenced;
      }
    }
  }
  EXPECT_GT(silenced, 0);
  EXPECT_GT(kept, 0);
  for (int64_t track : {0, 1, 2, 4}) EXPECT_TRUE(torch::equal(a.select(1, track), out.select(1, track).detach()));
  (out * torch::rand_like(out)).sum().backward();
  EXPECT_GT(gated->bar_levels->level->weight.grad().abs().sum().item<float>(), 0);
}

TEST(BarLevelsTest, TheGateTrainsAndNamesItselfInTheFingerprint) {
  Generator g(GeneratorOptions().bar_levels(true).bar_gate(true));
  g->train();
  const torch::Tensor out = g(torch::randn({4, 128}));
  (out * torch::rand_like(out)).sum().backward();
  EXPECT_GT(g->bar_levels->level->weight.grad().abs().sum().item<float>(), 0);
  std::ostringstream text, added;
  g->pretty_print(text);
  Generator(GeneratorOptions().bar_levels(true))->pretty_print(added);
  EXPECT_NE(text.str().find("bar_levels=true, bar_gate=true"), std::string::npos) << text.str();
  EXPECT_EQ(added.str().find("bar_gate"), std::string::npos);
  EXPECT_EQ(DescribeArchitectureDifference(added.str(), text.str()),
            "model.bar_gate: false in the checkpoint, true here");
  EXPECT_NE(ValidateGeneratorOptions(GeneratorOptions().bar_gate(true)).message().find("bar_gate needs bar_levels"),
            std::string::npos);
  const GeneratorOptions binary = GeneratorOptions().bar_levels(true).bar_gate(true).output(OutputActivation::kBinary);
  EXPECT_NE(ValidateGeneratorOptions(binary).message().find("bar_gate needs output relu or sigmoid"),
            std::string::npos);
  std::ostringstream hard;
  Generator(GeneratorOptions().bar_levels(true).bar_gate(true).bar_gate_hard(true))->pretty_print(hard);
  EXPECT_NE(hard.str().find("bar_gate=true, bar_gate_hard=true"), std::string::npos) << hard.str();
  EXPECT_EQ(DescribeArchitectureDifference(hard.str(), text.str()),
            "model.bar_gate_hard: true in the checkpoint, false here");
  EXPECT_NE(ValidateGeneratorOptions(GeneratorOptions().bar_levels(true).bar_gate_hard(true)).message().find(
                "bar_gate_hard needs bar_gate"),
            std::string::npos);
}

// model.bar_level_scale's claim: under Adam a factor s on the map's output moves the levels s times as far per step.
TEST(BarLevelsTest, TheLevelScaleSlowsTheLevelsUnderAdam) {
  torch::manual_seed(4);
  const torch::Tensor bars = torch::rand({3, 256, 4, 1, 1});
  BarLevels full(256, 5), slow(256, 5, 0.1);
  {
    torch::NoGradGuard no_grad;
    full->level->weight.normal_();
    slow->level->weight.copy_(full->level->weight);
    // The same weights give a tenth of the levels.
    EXPECT_TRUE(torch::allclose(slow(bars), full(bars) * 0.1, 1e-6, 1e-6));
  }
  // One Adam step on the same objective of the levels: every weight moves by the learning rate in both (Adam's
  // first step is lr * g / |g|), so the slow levels move a tenth as far.
  auto moved = [&](BarLevels& levels) {
    torch::optim::Adam adam(levels->parameters(), torch::optim::AdamOptions(1e-3).betas({0.5, 0.9}));
    const torch::Tensor before = levels(bars).detach().clone();
    adam.zero_grad();
    (levels(bars) * torch::linspace(-1, 1, 5).view({5, 1, 1})).sum().backward();
    adam.step();
    torch::NoGradGuard no_grad;
    return (levels(bars) - before).abs().mean().item<double>();
  };
  const double full_move = moved(full), slow_move = moved(slow);
  EXPECT_GT(full_move, 1e-4);
  EXPECT_NEAR(slow_move / full_move, 0.1, 0.01);
  std::ostringstream printed;
  slow->pretty_print(printed);
  EXPECT_EQ(printed.str(), "tutti::BarLevels(in_channels=256, tracks=5, scale=0.1)");
}

TEST(BarLevelsTest, TheLevelScaleStartsAsTheTutorialsAndNamesItselfInTheFingerprint) {
  torch::manual_seed(5);
  const torch::Tensor z = torch::randn({4, 128});
  Generator tutorial, slow(GeneratorOptions().bar_levels(true).bar_gate(true).bar_level_scale(0.1));
  DrawAlike(tutorial, slow, 8);
  {
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::equal(tutorial(z), slow(z)));
  }
  std::ostringstream text, plain;
  slow->pretty_print(text);
  Generator(GeneratorOptions().bar_levels(true).bar_gate(true).bar_level_scale(1.0))->pretty_print(plain);
  EXPECT_NE(text.str().find("bar_levels=true, bar_level_scale=0.1, bar_gate=true"), std::string::npos) << text.str();
  EXPECT_EQ(plain.str().find("bar_level_scale"), std::string::npos) << plain.str();
  EXPECT_EQ(DescribeArchitectureDifference(plain.str(), text.str()),
            "model.bar_level_scale: 1 in the checkpoint, 0.1 here");
  EXPECT_NE(ValidateGeneratorOptions(GeneratorOptions().bar_level_scale(0.5)).message().find(
                "bar_level_scale needs bar_levels"),
            std::string::npos);
  for (const double bad : {0.0, -1.0, std::nan("")}) {
    EXPECT_NE(ValidateGeneratorOptions(GeneratorOptions().bar_levels(true).bar_level_scale(bad)).message().find(
                  "bar_level_scale must be a positive number"),
              std::string::npos)
        << bad;
  }
}

TEST(CriticBarSilenceTest, TheCriticReadsEachTracksShareOfSilentBarsInTheBatch) {
  torch::manual_seed(8);
  Discriminator plain, silence(DiscriminatorOptions().bar_silence(true));
  ASSERT_EQ(silence->dense->weight.size(1), plain->dense->weight.size(1) + 5);
  const torch::Tensor a = (torch::rand({4, 5, 64, 72}) > 0.9).to(torch::kFloat);
  // The same batch with the guitar (track 2) silent in bar 1 of samples 1-3; sample 0 is unchanged.
  torch::Tensor b = a.clone();
  b.narrow(0, 1, 3).select(1, 2).narrow(1, 16, 16).zero_();
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(plain(a).narrow(0, 0, 1), plain(b).narrow(0, 0, 1), 1e-5, 1e-6));
  // Sample 0's score moves by the guitar's feature weight times the share of bars that fell silent: 3 of 16.
  const float moved = (silence(b) - silence(a))[0][0].item<float>();
  const float weight = silence->dense->weight[0][256 + 2].item<float>();
  EXPECT_NEAR(moved, weight * 3.0f / 16.0f, 1e-5f);
  // Real then fake in one pass (two spread groups) score as two separate calls.
  const torch::Tensor both = silence(torch::cat({a, b}), torch::Tensor(), /*spread_groups=*/2);
  EXPECT_TRUE(torch::allclose(both.narrow(0, 0, 4), silence(a), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(both.narrow(0, 4, 4), silence(b), 1e-5, 1e-6));
  // A generated bar is as silent as its loudest cell is under 1: a bar of sample 1 at 0.25 everywhere counts 3/4.
  torch::Tensor quiet = a.clone();
  quiet.narrow(0, 1, 1).select(1, 2).narrow(1, 16, 16).fill_(0.25f);
  EXPECT_NEAR((silence(quiet) - silence(a))[0][0].item<float>(), weight * 0.75f / 16.0f, 1e-5f);

  std::ostringstream text, before;
  silence->pretty_print(text);
  plain->pretty_print(before);
  EXPECT_NE(text.str().find("bar_silence=true"), std::string::npos) << text.str();
  EXPECT_EQ(DescribeArchitectureDifference(before.str(), text.str()),
            "model.critic_bar_silence: false in the checkpoint, true here");
}

TEST(CriticBarSilenceTest, TheGradientPenaltyDifferentiatesThroughIt) {
  torch::manual_seed(9);
  Discriminator d(DiscriminatorOptions().bar_silence(true));
  // Loudest cells under 1, where the feature has a gradient (a bar whose loudest cell is over 1 has none).
  const torch::Tensor x = torch::rand({3, 5, 64, 72}).mul(0.9).requires_grad_(true);
  const torch::Tensor grad = torch::autograd::grad({d(x).sum()}, {x}, {}, true, true)[0];
  grad.pow(2).sum().backward();
  int64_t with_gradient = 0;
  for (const auto& p : d->parameters()) {
    if (!p.grad().defined()) continue;
    ASSERT_TRUE(torch::isfinite(p.grad()).all().item<bool>());
    ++with_gradient;
  }
  EXPECT_GT(with_gradient, 10);
  EXPECT_GT(d->dense->weight.grad().narrow(1, 256, 5).abs().sum().item<float>(), 0);
}

}  // namespace
}  // namespace tutti
