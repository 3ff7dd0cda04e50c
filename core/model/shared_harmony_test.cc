// SharedHarmony (model.harmony_tracks): one chroma per beat that the listed tracks lean towards, and its place in
// the generator.

#include <sstream>

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/model/model_options.h"
#include "core/model/model_test_util.h"
#include "core/model/networks.h"
#include "core/model/shared_harmony.h"

namespace tutti {
namespace {

GeneratorOptions WithHarmony(std::vector<int64_t> tracks) {
  return GeneratorOptions().harmony_tracks(std::move(tracks));
}

// Each track's pitch-class profile per beat: (B, tracks, measures * beats, 12), the output summed over the
// beat's 4 steps and the 6 octaves.
torch::Tensor PitchClassesPerBeat(const torch::Tensor& out) {
  const int64_t b = out.size(0), t = out.size(1), beats = out.size(2) / 4;
  return out.reshape({b, t, beats, 4, 6, 12}).sum({3, 4});
}

TEST(SharedHarmonyTest, OneChromaPerBeatWhateverTheOctave) {
  // The chord is made from the features averaged over octaves: moving the same features to another octave
  // position gives the same chroma, and each beat has its own.
  torch::manual_seed(1);
  SharedHarmony harmony(32, 5, std::vector<int64_t>{1, 3});
  torch::Tensor h = torch::rand({2, 32, 4, 4, 6});
  torch::NoGradGuard no_grad;
  const torch::Tensor chroma = harmony->Chroma(h);
  ASSERT_EQ(chroma.sizes(), (std::vector<int64_t>{2, 4, 4, 12}));
  EXPECT_TRUE(torch::allclose(harmony->Chroma(h.flip({4})), chroma, 1e-5, 1e-6));
  EXPECT_GT((chroma.select(2, 0) - chroma.select(2, 1)).abs().max().item<float>(), 1e-4);
  // Per track: gain * chroma for the listed tracks, exactly zero for the others.
  harmony->gain.copy_(torch::tensor({2.0f, -1.0f}));
  const torch::Tensor per_track = harmony(h);
  ASSERT_EQ(per_track.sizes(), (std::vector<int64_t>{5, 2, 4, 4, 12}));
  EXPECT_TRUE(torch::allclose(per_track.select(0, 1), 2 * chroma));
  EXPECT_TRUE(torch::allclose(per_track.select(0, 3), -chroma));
  for (int64_t track : {0, 2, 4}) EXPECT_EQ(per_track.select(0, track).abs().max().item<float>(), 0) << track;
}

TEST(SharedHarmonyTest, WithoutGainTheGeneratorIsTheTutorialsBitForBit) {
  // shared_harmony draws its weights last, so with the same seed every other layer is the tutorial's: unlisted
  // tracks come out exactly as the tutorial writes them, and with the gains at zero so do the listed ones.
  torch::manual_seed(2);
  const torch::Tensor z = torch::randn({8, 128});
  Generator tutorial, harmony(WithHarmony({1, 3}));
  DrawAlike(tutorial, harmony, 7);
  torch::NoGradGuard no_grad;
  const torch::Tensor a = tutorial(z), b = harmony(z);
  for (int64_t track : {0, 2, 4}) EXPECT_TRUE(torch::equal(a.select(1, track), b.select(1, track))) << track;
  for (int64_t track : {1, 3}) EXPECT_FALSE(torch::equal(a.select(1, track), b.select(1, track))) << track;
  harmony->shared_harmony->gain.zero_();
  EXPECT_TRUE(torch::equal(tutorial(z), harmony(z)));
}

class SharedHarmonyPlaceTest : public ::testing::TestWithParam<bool> {};

TEST_P(SharedHarmonyPlaceTest, TracksLeaningOnItAgreeOnPitchClasses) {
  // With a strong gain every listed track's loudest pitch class in each beat is the shared chroma's top one,
  // though the tracks play in different octaves; the unlisted drums do not follow it. Before or after the norm.
  torch::manual_seed(3);
  Generator g(WithHarmony({1, 2, 3, 4}).harmony_after_norm(GetParam()));
  g->eval();
  torch::NoGradGuard no_grad;
  g->shared_harmony->gain.fill_(200.0);
  g->shared_harmony->chroma->weight.mul_(20.0);
  // Every logit positive, so the ReLU output keeps the shared chroma's order.
  g->shared_harmony->chroma->bias.add_(50.0);
  const torch::Tensor z = torch::randn({4, 128});
  // The chroma the generator used: recompute it from transconv3's output.
  const torch::Tensor h = g->transconv3(g->transconv2(g->transconv1(g->transconv0(z.view({4, 128, 1, 1, 1})))));
  const torch::Tensor top = g->shared_harmony->Chroma(h).reshape({4, 16, 12}).argmax(2);
  const torch::Tensor profile = PitchClassesPerBeat(g(z));
  for (int64_t track : {1, 2, 3, 4}) {
    EXPECT_TRUE(torch::equal(profile.select(1, track).argmax(2), top)) << track;
  }
  EXPECT_FALSE(torch::equal(profile.select(1, 0).argmax(2), top));
}

TEST_P(SharedHarmonyPlaceTest, WithoutGainTheOtherLayersAreUntouched) {
  torch::manual_seed(4);
  const torch::Tensor z = torch::randn({8, 128});
  Generator tutorial, harmony(WithHarmony({1, 3}).harmony_after_norm(GetParam()));
  DrawAlike(tutorial, harmony, 7);
  torch::NoGradGuard no_grad;
  harmony->shared_harmony->gain.zero_();
  EXPECT_TRUE(torch::equal(tutorial(z), harmony(z)));
}

INSTANTIATE_TEST_SUITE_P(BeforeAndAfterTheNorm, SharedHarmonyPlaceTest, ::testing::Bool());

TEST(SharedHarmonyTest, AfterTheNormTheTracksOwnScaleCannotDiluteIt) {
  // The reason for harmony_after_norm: scaling a track's own output product (as training grows it) shrinks the
  // shared term's share before the norm, and leaves it as it was after the norm.
  torch::manual_seed(5);
  const torch::Tensor z = torch::randn({8, 128});
  const auto chord_share = [&](bool after_norm, double scale) {
    at::Generator gen = at::detail::createCPUGenerator(11);
    Generator g(WithHarmony({1, 2, 3, 4}).harmony_after_norm(after_norm));
    g->reset_parameters(gen);
    torch::NoGradGuard no_grad;
    g->transconv5->transconv->weight.mul_(scale);
    g->transconv5->transconv->bias.mul_(scale);
    const torch::Tensor with = g(z);
    g->shared_harmony->gain.zero_();
    return (with - g(z)).abs().mean().item<double>();
  };
  EXPECT_LT(chord_share(false, 10.0), 0.5 * chord_share(false, 1.0));
  EXPECT_NEAR(chord_share(true, 10.0), chord_share(true, 1.0), 1e-3 * chord_share(true, 1.0));
}

TEST(SharedHarmonyTest, TrainsAndNamesItselfInTheFingerprint) {
  Generator g(WithHarmony({1, 2, 3, 4}).held_tracks({1, 2, 3, 4}));
  g->train();
  const torch::Tensor out = g(torch::randn({4, 128}));
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{4, 5, 64, 72}));
  // Weighted so BatchNorm's normalisation does not cancel the gradient of a plain sum.
  (out * torch::rand_like(out)).sum().backward();
  ASSERT_TRUE(g->shared_harmony);
  EXPECT_GT(g->shared_harmony->chroma->weight.grad().abs().sum().item<float>(), 0);
  EXPECT_GT(g->shared_harmony->gain.grad().abs().min().item<float>(), 0);
  std::ostringstream text;
  g->pretty_print(text);
  EXPECT_NE(text.str().find("harmony_tracks=1+2+3+4"), std::string::npos) << text.str();
  std::ostringstream tutorial;
  Generator(GeneratorOptions().held_tracks({1, 2, 3, 4}))->pretty_print(tutorial);
  EXPECT_EQ(tutorial.str().find("harmony_tracks"), std::string::npos);
  EXPECT_EQ(DescribeArchitectureDifference(text.str(), tutorial.str()),
            "model.harmony_tracks: 1+2+3+4 in the checkpoint, none here");
  std::ostringstream after;
  Generator(WithHarmony({1, 2, 3, 4}).held_tracks({1, 2, 3, 4}).harmony_after_norm(true))->pretty_print(after);
  EXPECT_NE(after.str().find("harmony_tracks=1+2+3+4, harmony_after_norm=true"), std::string::npos) << after.str();
  EXPECT_EQ(DescribeArchitectureDifference(after.str(), text.str()),
            "model.harmony_after_norm: true in the checkpoint, false here");
}

TEST(SharedHarmonyTest, TheStartingGainIsAnInitialValueNotArchitecture) {
  // harmony_gain sets where every gain starts and nothing else: same draws, same fingerprint, so a checkpoint
  // trained from one starting gain loads into a model configured with another.
  Generator plain(WithHarmony({1, 3})), strong(WithHarmony({1, 3}).harmony_gain(4.0));
  DrawAlike(plain, strong, 3);
  EXPECT_TRUE(torch::equal(strong->shared_harmony->gain, torch::full({2}, 4.0)));
  EXPECT_TRUE(torch::equal(plain->shared_harmony->gain, torch::ones({2})));
  EXPECT_TRUE(torch::equal(plain->shared_harmony->chroma->weight, strong->shared_harmony->chroma->weight));
  std::ostringstream a, b;
  plain->pretty_print(a);
  strong->pretty_print(b);
  EXPECT_EQ(a.str(), b.str());
  EXPECT_NE(ValidateGeneratorOptions(WithHarmony({1}).harmony_gain(-1)).message().find("harmony_gain must be >= 0"),
            std::string::npos);
  EXPECT_NE(ValidateGeneratorOptions(GeneratorOptions().harmony_after_norm(true)).message().find("needs harmony_tracks"),
            std::string::npos);
}

// A chord of one class: pitch class 0 at +50, the others at 0; the tracks' own products loud enough that the added
// chroma does not decide every cell before the norm.
void SetOneClassChord(Generator& g) {
  torch::NoGradGuard no_grad;
  g->shared_harmony->chroma->weight.zero_();
  g->shared_harmony->chroma->bias.zero_();
  g->shared_harmony->chroma->bias[0] = 50.0;
  g->transconv5->transconv->weight.mul_(1000.0);
}

TEST(SharedHarmonyTest, TheGateTurnsDownTheClassesTheChordLeavesOut) {
  // harmony_gate multiplies a listed track's output by 2 * sigmoid(centred chroma) per pitch class: 1 where the
  // chroma is flat and for unlisted tracks, ~0 for a class the chord leaves out, ~2 for the one it leans on.
  torch::manual_seed(4);
  const torch::Tensor z = torch::randn({8, 128});
  Generator added(WithHarmony({1, 3})), gated(WithHarmony({1, 3}).harmony_gate(true));
  DrawAlike(added, gated, 6);
  torch::NoGradGuard no_grad;
  for (Generator* g : {&added, &gated}) SetOneClassChord(*g);
  const torch::Tensor a = added(z).view({8, 5, 64, 6, 12}), b = gated(z).view({8, 5, 64, 6, 12});
  for (int64_t track : {0, 2, 4}) EXPECT_TRUE(torch::equal(a.select(1, track), b.select(1, track))) << track;
  for (int64_t track : {1, 3}) {
    const torch::Tensor chord_a = a.select(1, track).narrow(-1, 0, 1), chord_b = b.select(1, track).narrow(-1, 0, 1);
    const torch::Tensor rest_a = a.select(1, track).narrow(-1, 1, 11), rest_b = b.select(1, track).narrow(-1, 1, 11);
    EXPECT_GT(rest_a.sum().item<float>(), 0) << track;
    EXPECT_TRUE(torch::allclose(chord_b, 2 * chord_a, 1e-5, 1e-6)) << track;
    // 2 * sigmoid(-50 / 12) = 0.03.
    EXPECT_TRUE(torch::allclose(rest_b, rest_a * 2 / (1 + std::exp(50.0 / 12)), 1e-4, 1e-6)) << track;
  }
  // Flat chroma (zero gains): the gate is exactly 1.
  added->shared_harmony->gain.zero_();
  gated->shared_harmony->gain.zero_();
  EXPECT_TRUE(torch::equal(added(z), gated(z)));

  std::ostringstream text, plain;
  gated->pretty_print(text);
  added->pretty_print(plain);
  EXPECT_NE(text.str().find("harmony_gate=true"), std::string::npos) << text.str();
  EXPECT_EQ(DescribeArchitectureDifference(text.str(), plain.str()),
            "model.harmony_gate: true in the checkpoint, false here");
  EXPECT_NE(ValidateGeneratorOptions(GeneratorOptions().harmony_gate(true)).message().find("needs harmony_tracks"),
            std::string::npos);
  EXPECT_NE(ValidateGeneratorOptions(WithHarmony({1}).harmony_gate(true).output(OutputActivation::kBinary))
                .message()
                .find("needs output relu or sigmoid"),
            std::string::npos);
}

TEST(SharedHarmonyTest, TheLowerOnlyGateNeverRaisesAClass) {
  // harmony_gate_lower_only: the chord's class keeps its value (the full gate doubled it), every other class is
  // turned down as by the full gate.
  torch::manual_seed(4);
  const torch::Tensor z = torch::randn({8, 128});
  const GeneratorOptions gate = WithHarmony({1, 3}).harmony_gate(true);
  Generator full(gate), lower(GeneratorOptions(gate).harmony_gate_lower_only(true));
  DrawAlike(full, lower, 6);
  torch::NoGradGuard no_grad;
  for (Generator* g : {&full, &lower}) SetOneClassChord(*g);
  const torch::Tensor a = full(z).view({8, 5, 64, 6, 12}), b = lower(z).view({8, 5, 64, 6, 12});
  for (int64_t track : {0, 2, 4}) EXPECT_TRUE(torch::equal(a.select(1, track), b.select(1, track))) << track;
  for (int64_t track : {1, 3}) {
    const torch::Tensor chord_a = a.select(1, track).narrow(-1, 0, 1), chord_b = b.select(1, track).narrow(-1, 0, 1);
    EXPECT_GT(chord_a.sum().item<float>(), 0) << track;
    EXPECT_TRUE(torch::allclose(chord_b, chord_a / 2, 1e-5, 1e-6)) << track;
    EXPECT_TRUE(torch::equal(a.select(1, track).narrow(-1, 1, 11), b.select(1, track).narrow(-1, 1, 11))) << track;
  }
  const torch::Tensor per_track = torch::randn({5, 2, 3, 12}) * 10;
  EXPECT_LE(SharedHarmonyImpl::Gate(per_track, /*lower_only=*/true).max().item<float>(), 1.0f);
  EXPECT_GT(SharedHarmonyImpl::Gate(per_track).max().item<float>(), 1.0f);

  std::ostringstream text, plain;
  lower->pretty_print(text);
  full->pretty_print(plain);
  EXPECT_NE(text.str().find("harmony_gate=true, harmony_gate_lower_only=true"), std::string::npos) << text.str();
  EXPECT_EQ(DescribeArchitectureDifference(text.str(), plain.str()),
            "model.harmony_gate_lower_only: true in the checkpoint, false here");
  EXPECT_NE(ValidateGeneratorOptions(WithHarmony({1}).harmony_gate_lower_only(true)).message().find(
                "harmony_gate_lower_only needs harmony_gate"),
            std::string::npos);
}

TEST(SharedHarmonyTest, ARootTrackKeepsTheLeadingClassAndTurnsTheRestDown) {
  // harmony_root_tracks: the listed track's gate is exp(chroma - its max), so the chord's leading class passes
  // unchanged (the centred gate doubled it) and a class trailing it by 50 is gone; the other gated track keeps the
  // centred gate, and unlisted tracks pass.
  torch::manual_seed(4);
  const torch::Tensor z = torch::randn({8, 128});
  const GeneratorOptions gate = WithHarmony({1, 3}).harmony_gate(true);
  Generator added(WithHarmony({1, 3})), centred(gate), root(GeneratorOptions(gate).harmony_root_tracks({3}));
  DrawAlike(added, centred, 6);
  DrawAlike(added, root, 6);
  torch::NoGradGuard no_grad;
  for (Generator* g : {&added, &centred, &root}) SetOneClassChord(*g);
  const torch::Tensor a = added(z).view({8, 5, 64, 6, 12}), c = centred(z).view({8, 5, 64, 6, 12}),
                      r = root(z).view({8, 5, 64, 6, 12});
  for (int64_t track : {0, 1, 2, 4}) EXPECT_TRUE(torch::equal(c.select(1, track), r.select(1, track))) << track;
  const torch::Tensor bass_a = a.select(1, 3), bass_r = r.select(1, 3);
  EXPECT_GT(bass_a.narrow(-1, 0, 1).sum().item<float>(), 0);
  EXPECT_GT(bass_a.narrow(-1, 1, 11).sum().item<float>(), 0);
  EXPECT_TRUE(torch::allclose(bass_r.narrow(-1, 0, 1), bass_a.narrow(-1, 0, 1), 1e-5, 1e-6));
  EXPECT_LT(bass_r.narrow(-1, 1, 11).max().item<float>(), 1e-6f);

  // The factor itself: 1 at the leading class, exp(-gap) below it, 1 everywhere for a flat chroma (zero gain).
  torch::Tensor per_track = torch::zeros({5, 1, 1, 1, 12});
  per_track[3][0][0][0][0] = 2.0;
  per_track[3][0][0][0][7] = 1.0;
  const torch::Tensor factor = SharedHarmonyImpl::Gate(per_track, false, {3});
  EXPECT_FLOAT_EQ(factor[3][0][0][0][0].item<float>(), 1.0f);
  EXPECT_NEAR(factor[3][0][0][0][7].item<float>(), std::exp(-1.0), 1e-6);
  EXPECT_NEAR(factor[3][0][0][0][5].item<float>(), std::exp(-2.0), 1e-6);
  EXPECT_TRUE(torch::equal(factor.select(0, 1), torch::ones({1, 1, 1, 12})));
  EXPECT_TRUE(torch::equal(SharedHarmonyImpl::Gate(torch::zeros({5, 1, 1, 1, 12}), false, {3}), torch::ones({5, 1, 1, 1, 12})));
  {
    // The bass's gain still learns through the root gate: near zero the gate opens again.
    torch::AutoGradMode enable(true);
    Generator learning(GeneratorOptions(gate).harmony_root_tracks({3}));
    learning(z).pow(2).sum().backward();
    EXPECT_GT(learning->shared_harmony->gain.grad().abs().min().item<float>(), 0);
  }

  std::ostringstream text, plain;
  root->pretty_print(text);
  centred->pretty_print(plain);
  EXPECT_NE(text.str().find("harmony_gate=true, harmony_root_tracks=3"), std::string::npos) << text.str();
  EXPECT_EQ(DescribeArchitectureDifference(text.str(), plain.str()),
            "model.harmony_root_tracks: 3 in the checkpoint, none here");
  EXPECT_NE(ValidateGeneratorOptions(WithHarmony({1, 3}).harmony_root_tracks({3})).message().find(
                "harmony_root_tracks needs harmony_gate"),
            std::string::npos);
  EXPECT_NE(ValidateGeneratorOptions(GeneratorOptions(gate).harmony_root_tracks({2})).message().find(
                "harmony_root_tracks must be harmony tracks, got 2"),
            std::string::npos);
}

TEST(SharedHarmonyTest, BadOptionsAreRefusedByName) {
  EXPECT_NE(ValidateGeneratorOptions(WithHarmony({5})).message().find("harmony_tracks"), std::string::npos);
  EXPECT_NE(ValidateGeneratorOptions(WithHarmony({3, 1})).message().find("increasing"), std::string::npos);
  EXPECT_NE(ValidateGeneratorOptions(WithHarmony({1}).grouped_tracks(false)).message().find("grouped_tracks"),
            std::string::npos);
  EXPECT_NE(ValidateGeneratorOptions(WithHarmony({1}).pitches(84)).message().find("pitches == 72"),
            std::string::npos);
  EXPECT_TRUE(ValidateGeneratorOptions(WithHarmony({0, 4})).ok());
}

}  // namespace
}  // namespace tutti
