// HeldSteps (model.held_tracks): the step layer that lets pitched tracks hold notes, and its place in the
// generator.

#include <sstream>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/model/held_steps.h"
#include "core/model/model_options.h"
#include "core/model/model_test_util.h"
#include "core/model/networks.h"

namespace tutti {
namespace {

TEST(HeldStepsTest, EachEighthCoversTwoSteps) {
  // Upsampling by repetition: with the smoothing convolution an identity, every 8th's features fill both of
  // its steps, so no note can change on a 16th. The tutorial's per-step transposed convolution gives each of
  // a beat's four steps its own weights instead.
  torch::manual_seed(1);
  HeldSteps held(32, 16, 2);
  {
    torch::NoGradGuard no_grad;
    held->smooth->weight.zero_();
    held->smooth->weight.select(2, 1).select(2, 0).copy_(torch::eye(16).repeat({2, 1}));
    held->smooth->bias.zero_();
  }
  const torch::Tensor steps = held(torch::randn({2, 32, 4, 4, 6}));
  ASSERT_EQ(steps.sizes(), (std::vector<int64_t>{2, 32, 4, 16, 6}));
  const torch::Tensor pairs = steps.reshape({2, 32, 32, 2, 6});
  EXPECT_TRUE(torch::equal(pairs.select(3, 0), pairs.select(3, 1)));
  EXPECT_GT((pairs.select(3, 0).narrow(2, 0, 1) - pairs.select(3, 0).narrow(2, 1, 1)).abs().max().item<float>(),
            1e-3);
}

TEST(HeldStepsTest, OnEighthsNoNoteIsShorterThanAnEighth) {
  // Smoothing on the 8th grid, whatever its weights: both steps of every 8th are equal, so a note can only start
  // and end on 8th positions; neighbouring 8ths still differ, across bar lines too.
  torch::manual_seed(6);
  HeldSteps held(32, 16, 2, /*on_eighths=*/true);
  const torch::Tensor steps = held(torch::randn({2, 32, 4, 4, 6}));
  ASSERT_EQ(steps.sizes(), (std::vector<int64_t>{2, 32, 4, 16, 6}));
  const torch::Tensor pairs = steps.reshape({2, 32, 32, 2, 6});
  EXPECT_TRUE(torch::equal(pairs.select(3, 0), pairs.select(3, 1)));
  EXPECT_GT((pairs.select(3, 0).narrow(2, 7, 1) - pairs.select(3, 0).narrow(2, 8, 1)).abs().max().item<float>(), 1e-3);
  // The default smooths along steps: the two steps of an 8th differ where its neighbours do.
  HeldSteps on_steps(32, 16, 2);
  const torch::Tensor step_pairs = on_steps(torch::randn({2, 32, 4, 4, 6})).reshape({2, 32, 32, 2, 6});
  EXPECT_FALSE(torch::equal(step_pairs.select(3, 0), step_pairs.select(3, 1)));
  std::ostringstream text;
  Generator(GeneratorOptions().held_tracks({1}).held_on_eighths(true))->pretty_print(text);
  EXPECT_NE(text.str().find("held_tracks=1, held_on_eighths=true"), std::string::npos) << text.str();
  EXPECT_NE(ValidateGeneratorOptions(GeneratorOptions().held_on_eighths(true)).message().find("needs held_tracks"),
            std::string::npos);
}

TEST(HeldStepsTest, TheTwoEighthsOfABeatMayDiffer) {
  // Per-8th weights: an eighth-note line (one pitch, then another, within a beat) stays possible even when
  // every beat's features are the same.
  torch::manual_seed(2);
  HeldSteps held(32, 16, 1);
  const torch::Tensor steady = torch::randn({2, 32, 1, 1, 6}).expand({2, 32, 2, 4, 6}).contiguous();
  const torch::Tensor steps = held(steady).reshape({2, 16, 32, 6});
  // Steps 4 and 6: the first and the second 8th of the second beat.
  EXPECT_GT((steps.narrow(2, 4, 1) - steps.narrow(2, 6, 1)).abs().max().item<float>(), 1e-3);
}

TEST(HeldStepsTest, SmoothingCrossesBarLinesAndStaysLocal) {
  // Time is one axis across bars (a note may hold over the bar line): the last step of bar 1 hears the first
  // 8th of bar 2, and nothing further away.
  torch::manual_seed(3);
  HeldSteps held(32, 16, 1);
  const torch::Tensor beats = torch::randn({1, 32, 4, 4, 6});
  torch::Tensor bar2 = beats.clone(), bar3 = beats.clone();
  bar2.select(2, 1).add_(1.0);
  bar3.select(2, 2).add_(1.0);
  torch::NoGradGuard no_grad;
  const auto last_step_of_bar1 = [&](const torch::Tensor& x) { return held(x).select(2, 0).select(2, 15); };
  EXPECT_FALSE(torch::allclose(last_step_of_bar1(beats), last_step_of_bar1(bar2)));
  EXPECT_TRUE(torch::equal(last_step_of_bar1(beats), last_step_of_bar1(bar3)));
}

GeneratorOptions WithHeld(std::vector<int64_t> held) { return GeneratorOptions().held_tracks(std::move(held)); }

// One track of a batch of 8 generated samples as (B, 32 eighths, 2 sixteenths, 72 pitches).
torch::Tensor Eighths(const torch::Tensor& out, int64_t track) { return out.select(1, track).reshape({8, 32, 2, 72}); }

TEST(HeldStepsTest, OtherTracksAreTheTutorialsBitForBit) {
  // held_steps draws its weights last, so with the same seed every other layer is the tutorial's and a track
  // that does not hold notes comes out exactly as the tutorial model writes it; the held tracks differ.
  torch::manual_seed(4);
  const torch::Tensor z = torch::randn({8, 128});
  Generator tutorial, held(WithHeld({1, 3}));
  DrawAlike(tutorial, held, 7);
  // Training mode: BatchNorm normalises each track's channels with their own batch statistics.
  torch::NoGradGuard no_grad;
  const torch::Tensor a = tutorial(z), b = held(z);
  for (int64_t track : {0, 2, 4}) EXPECT_TRUE(torch::equal(a.select(1, track), b.select(1, track))) << track;
  for (int64_t track : {1, 3}) EXPECT_FALSE(torch::equal(a.select(1, track), b.select(1, track))) << track;
}

TEST(HeldStepsTest, TrainsAndNamesItselfInTheFingerprint) {
  Generator g(WithHeld({1, 2, 3, 4}));
  g->train();
  const torch::Tensor out = g(torch::randn({4, 128}));
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{4, 5, 64, 72}));
  out.pow(2).sum().backward();
  ASSERT_TRUE(g->held_steps);
  EXPECT_GT(g->held_steps->eighths->weight.grad().abs().sum().item<float>(), 0);
  EXPECT_GT(g->held_steps->smooth->weight.grad().abs().sum().item<float>(), 0);
  std::ostringstream text;
  g->pretty_print(text);
  EXPECT_NE(text.str().find("held_tracks=1+2+3+4"), std::string::npos) << text.str();
  std::ostringstream tutorial;
  Generator()->pretty_print(tutorial);
  EXPECT_EQ(tutorial.str().find("held_tracks"), std::string::npos);
  EXPECT_EQ(DescribeArchitectureDifference(text.str(), tutorial.str()),
            "model.held_tracks: 1+2+3+4 in the checkpoint, none here");
}

TEST(HeldStepsTest, DetailStartsAsTheHeldModelAndCanWriteShortNotes) {
  // held_detail adds the tutorial's per-step product to each held track times a gain that starts at zero: the
  // model starts as the held one bit for bit (same draws: the gain is registered last and drawn from nothing),
  // the gain gets a gradient, and with a gain the two steps of an 8th can differ again.
  torch::manual_seed(8);
  const torch::Tensor z = torch::randn({8, 128});
  const GeneratorOptions held8 = WithHeld({1, 3}).held_on_eighths(true);
  Generator held(held8), detail(GeneratorOptions(held8).held_detail(true));
  DrawAlike(held, detail, 9);
  ASSERT_EQ(detail->held_detail_gain.sizes(), (std::vector<int64_t>{2}));
  EXPECT_TRUE(torch::equal(detail->held_detail_gain, torch::zeros({2})));
  const torch::Tensor before = detail(z);
  {
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::equal(held(z), before));
  }
  before.pow(2).sum().backward();
  EXPECT_GT(detail->held_detail_gain.grad().abs().min().item<float>(), 0);

  // A held track's cells: the two steps of every 8th are equal without detail and differ with it.
  const auto eighth_steps_differ = [&](Generator& g) {
    torch::NoGradGuard no_grad;
    g->eval();
    const torch::Tensor cells = Eighths(g(z), 1);
    return !torch::equal(cells.select(2, 0), cells.select(2, 1));
  };
  {
    torch::NoGradGuard no_grad;
    detail->held_detail_gain.fill_(3.0);
  }
  EXPECT_TRUE(eighth_steps_differ(detail));
  EXPECT_FALSE(eighth_steps_differ(held));

  std::ostringstream text;
  detail->pretty_print(text);
  EXPECT_NE(text.str().find("held_on_eighths=true, held_detail=true"), std::string::npos) << text.str();
  std::ostringstream plain;
  held->pretty_print(plain);
  EXPECT_EQ(DescribeArchitectureDifference(text.str(), plain.str()),
            "model.held_detail: true in the checkpoint, false here");
  EXPECT_NE(ValidateGeneratorOptions(GeneratorOptions().held_detail(true)).message().find("needs held_tracks"),
            std::string::npos);
}

TEST(HeldStepsTest, ReleaseStartsAsTheHeldModelAndCanOnlyEndNotes) {
  // held_release gates the second 16th of every 8th of a held track with a gain that starts at zero: the model
  // starts as the held one bit for bit, the gain gets a gradient, and however the gate is set it only lowers
  // the output there, so a note may end a 16th early but no pitch can appear.
  torch::manual_seed(8);
  const torch::Tensor z = torch::randn({8, 128});
  const GeneratorOptions held8 = WithHeld({1, 3}).held_on_eighths(true);
  Generator held(held8), release(GeneratorOptions(held8).held_release(true));
  DrawAlike(held, release, 9);
  ASSERT_EQ(release->held_release->weight.sizes(), (std::vector<int64_t>{2, 16}));
  EXPECT_TRUE(torch::equal(release->held_release->gain, torch::zeros({2})));
  const torch::Tensor before = release(z);
  {
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::equal(held(z), before));
  }
  before.pow(2).sum().backward();
  EXPECT_GT(release->held_release->gain.grad().abs().min().item<float>(), 0);

  // In training mode (batch statistics), as the critic sees it.
  torch::NoGradGuard no_grad;
  // The gate wide open and the gain full: held tracks' second 16ths fall silent, their first 16ths and the other
  // tracks stay as they were.
  release->held_release->gain.fill_(1.0);
  release->held_release->bias.fill_(30.0);
  const torch::Tensor plain = held(z), gated = release(z);
  EXPECT_LE((gated - plain).max().item<float>(), 0.0f);
  for (int64_t track : {1, 3}) {
    EXPECT_GT(Eighths(plain, track).select(2, 1).abs().sum().item<float>(), 0) << track;
    EXPECT_LT(Eighths(gated, track).select(2, 1).abs().max().item<float>(), 1e-6f) << track;
    EXPECT_TRUE(torch::equal(Eighths(gated, track).select(2, 0), Eighths(plain, track).select(2, 0))) << track;
  }
  for (int64_t track : {0, 2, 4}) EXPECT_TRUE(torch::equal(gated.select(1, track), plain.select(1, track))) << track;
  // A gain past 1 is clamped: the gate never turns a value negative.
  release->held_release->gain.fill_(5.0);
  EXPECT_GE(release(z).min().item<float>(), 0.0f);
  // Below 0 the gate is shut, yet the gain still gets a gradient, so the critic can open it again.
  release->held_release->gain.fill_(-1.0);
  EXPECT_TRUE(torch::equal(release(z), plain));
  {
    torch::AutoGradMode enable(true);
    release->held_release->gain.mutable_grad() = torch::Tensor();
    release(z).pow(2).sum().backward();
    EXPECT_GT(release->held_release->gain.grad().abs().min().item<float>(), 0);
  }

  std::ostringstream text;
  release->pretty_print(text);
  EXPECT_NE(text.str().find("held_on_eighths=true, held_release=true"), std::string::npos) << text.str();
  std::ostringstream plain_text;
  held->pretty_print(plain_text);
  EXPECT_EQ(DescribeArchitectureDifference(text.str(), plain_text.str()),
            "model.held_release: true in the checkpoint, false here");
  EXPECT_NE(ValidateGeneratorOptions(WithHeld({1}).held_release(true)).message().find("with held_on_eighths"),
            std::string::npos);
  EXPECT_NE(ValidateGeneratorOptions(GeneratorOptions(held8).held_release(true).output(OutputActivation::kBinary))
                .message()
                .find("needs output relu or sigmoid"),
            std::string::npos);
}

TEST(HeldStepsTest, ReleaseTracksGateOnlyTheListedHeldTracks) {
  // held_release_tracks narrows the gate: the listed held track's second 16ths can fall silent, the other held
  // track stays the held model's, and listing every held track is the same model as listing none.
  torch::manual_seed(8);
  const torch::Tensor z = torch::randn({8, 128});
  const GeneratorOptions release_all = WithHeld({1, 3}).held_on_eighths(true).held_release(true);
  Generator all(release_all), piano_only(GeneratorOptions(release_all).held_release_tracks({1}));
  DrawAlike(all, piano_only, 9);
  ASSERT_EQ(piano_only->held_release->weight.sizes(), (std::vector<int64_t>{1, 16}));
  torch::NoGradGuard no_grad;
  // With every gain at zero both are the held model; the layers before the gate drew the same weights.
  EXPECT_TRUE(torch::equal(all(z), piano_only(z)));
  for (Generator* g : {&all, &piano_only}) {
    (*g)->held_release->gain.fill_(1.0);
    (*g)->held_release->bias.fill_(30.0);
  }
  const torch::Tensor both = all(z), one = piano_only(z);
  EXPECT_LT(Eighths(one, 1).select(2, 1).abs().max().item<float>(), 1e-6f);
  EXPECT_LT(Eighths(both, 3).select(2, 1).abs().max().item<float>(), 1e-6f);
  EXPECT_GT(Eighths(one, 3).select(2, 1).abs().sum().item<float>(), 0);
  all->held_release->gain.zero_();
  EXPECT_TRUE(torch::equal(one.select(1, 3), all(z).select(1, 3)));

  std::ostringstream one_text, all_text, listed_text;
  piano_only->pretty_print(one_text);
  all->pretty_print(all_text);
  Generator(GeneratorOptions(release_all).held_release_tracks({1, 3}))->pretty_print(listed_text);
  EXPECT_NE(one_text.str().find("held_release=true, held_release_tracks=1"), std::string::npos) << one_text.str();
  EXPECT_EQ(all_text.str(), listed_text.str());
  EXPECT_EQ(ReleasedTracks(release_all), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(DescribeArchitectureDifference(one_text.str(), all_text.str()),
            "model.held_release_tracks: 1 in the checkpoint, every held track here");
  EXPECT_NE(ValidateGeneratorOptions(GeneratorOptions(release_all).held_release_tracks({2})).message().find(
                "held_release_tracks must be held tracks, got 2"),
            std::string::npos);
  EXPECT_NE(ValidateGeneratorOptions(GeneratorOptions(release_all).held_release(false).held_release_tracks({1}))
                .message()
                .find("held_release_tracks needs held_release"),
            std::string::npos);
}

TEST(HeldStepsTest, LateTracksAreGatedOnlyOnTheBeatsLastSixteenth) {
  // held_release_late_tracks moves a gated track's cut to the beat's last 16th: with the gate wide open the late
  // track (bass) keeps steps 0-2 of every beat as the held model wrote them and loses step 3, while the other gated
  // track (piano) loses steps 1 and 3. So a note that starts on the beat can no longer shrink to one 16th.
  torch::manual_seed(8);
  const torch::Tensor z = torch::randn({8, 128});
  const GeneratorOptions release = WithHeld({1, 3}).held_on_eighths(true).held_release(true);
  Generator held(WithHeld({1, 3}).held_on_eighths(true)), late(GeneratorOptions(release).held_release_late_tracks({3}));
  DrawAlike(held, late, 9);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(held(z), late(z)));  // gains at zero: the held model
  late->held_release->gain.fill_(1.0);
  late->held_release->bias.fill_(30.0);
  const torch::Tensor plain = held(z), gated = late(z);
  // (B, beats, step of the beat, pitches) of one track.
  const auto beats = [](const torch::Tensor& out, int64_t track) { return out.select(1, track).reshape({8, 16, 4, 72}); };
  for (int64_t step : {0, 1, 2}) {
    EXPECT_TRUE(torch::equal(beats(gated, 3).select(2, step), beats(plain, 3).select(2, step))) << step;
  }
  EXPECT_GT(beats(plain, 3).select(2, 3).abs().sum().item<float>(), 0);
  EXPECT_LT(beats(gated, 3).select(2, 3).abs().max().item<float>(), 1e-6f);
  for (int64_t step : {1, 3}) EXPECT_LT(beats(gated, 1).select(2, step).abs().max().item<float>(), 1e-6f) << step;
  EXPECT_GT(beats(gated, 1).select(2, 0).abs().sum().item<float>(), 0);

  std::ostringstream late_text, all_text;
  late->pretty_print(late_text);
  Generator(release)->pretty_print(all_text);
  EXPECT_NE(late_text.str().find("held_release=true, held_release_late_tracks=3"), std::string::npos)
      << late_text.str();
  EXPECT_EQ(DescribeArchitectureDifference(late_text.str(), all_text.str()),
            "model.held_release_late_tracks: 3 in the checkpoint, none here");
  // Only a gated track can be gated late.
  EXPECT_NE(ValidateGeneratorOptions(GeneratorOptions(release).held_release_tracks({1}).held_release_late_tracks({3}))
                .message()
                .find("held_release_late_tracks must be tracks held_release gates, got 3"),
            std::string::npos);
  EXPECT_NE(ValidateGeneratorOptions(GeneratorOptions(release).held_release(false).held_release_late_tracks({3}))
                .message()
                .find("held_release_late_tracks must be tracks held_release gates"),
            std::string::npos);
}

TEST(HeldStepsTest, BadOptionsAreRefusedByName) {
  EXPECT_NE(ValidateGeneratorOptions(WithHeld({5})).message().find("held_tracks"), std::string::npos);
  EXPECT_NE(ValidateGeneratorOptions(WithHeld({2, 1})).message().find("increasing"), std::string::npos);
  EXPECT_NE(ValidateGeneratorOptions(WithHeld({1, 1})).message().find("distinct"), std::string::npos);
  EXPECT_NE(ValidateGeneratorOptions(WithHeld({1}).grouped_tracks(false)).message().find("grouped_tracks"),
            std::string::npos);
  EXPECT_TRUE(ValidateGeneratorOptions(WithHeld({0, 4})).ok());
}

TEST(MinibatchStddevTest, ACriticWithItHearsTheRestOfTheBatch) {
  torch::manual_seed(5);
  Discriminator plain, spread(DiscriminatorOptions().minibatch_stddev(true));
  const torch::Tensor x = (torch::rand({4, 5, 64, 72}) > 0.9).to(torch::kFloat);
  const torch::Tensor same = x.narrow(0, 0, 1).expand({4, 5, 64, 72}).contiguous();
  torch::NoGradGuard no_grad;
  // Sample 0 scored in a varied batch and in a batch of copies of itself.
  EXPECT_TRUE(torch::allclose(plain(x).narrow(0, 0, 1), plain(same).narrow(0, 0, 1), 1e-5, 1e-6));
  EXPECT_FALSE(torch::allclose(spread(x).narrow(0, 0, 1), spread(same).narrow(0, 0, 1), 1e-5, 1e-6));
  EXPECT_EQ(spread->dense->weight.size(1), plain->dense->weight.size(1) + 1);
  // Two groups in one pass score as two separate calls: a varied half and a collapsed half keep their spreads.
  const torch::Tensor both = spread(torch::cat({x, same}), torch::Tensor(), /*spread_groups=*/2);
  EXPECT_TRUE(torch::allclose(both.narrow(0, 0, 4), spread(x), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(both.narrow(0, 4, 4), spread(same), 1e-5, 1e-6));
  std::ostringstream text;
  spread->pretty_print(text);
  EXPECT_NE(text.str().find("minibatch_stddev=true"), std::string::npos);
}

TEST(MinibatchStddevTest, TheGradientPenaltyDifferentiatesThroughIt) {
  // WGAN-GP differentiates the critic's input gradient again; a batch of identical rows (zero spread) is
  // where a plain square root's derivative would be infinite.
  torch::manual_seed(6);
  Discriminator d(DiscriminatorOptions().minibatch_stddev(true));
  const torch::Tensor x = torch::rand({1, 5, 64, 72}).expand({3, 5, 64, 72}).contiguous().requires_grad_(true);
  const torch::Tensor grad = torch::autograd::grad({d(x).sum()}, {x}, {}, true, true)[0];
  grad.pow(2).sum().backward();
  int64_t with_gradient = 0;
  for (const auto& p : d->parameters()) {
    if (!p.grad().defined()) continue;  // e.g. the dense bias: the input gradient does not depend on it
    ASSERT_TRUE(torch::isfinite(p.grad()).all().item<bool>());
    ++with_gradient;
  }
  EXPECT_GT(with_gradient, 10);
}

}  // namespace
}  // namespace tutti
