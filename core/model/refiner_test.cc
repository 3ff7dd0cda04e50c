// The BinaryMuseGAN options: the refiner's binary neurons, the critic's onset/offset and chroma streams, and
// that the tutorial model (every option off) is exactly what it was.
#include <sstream>
#include <string>

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/model/model_test_util.h"
#include "core/model/networks.h"

namespace tutti {
namespace {

std::string Fingerprint(torch::nn::Module& m) {
  std::ostringstream s;
  m.pretty_print(s);
  return s.str();
}

TEST(RefinerTest, TheTutorialModelKeepsItsParametersAndFingerprint) {
  Generator g;
  Discriminator d;
  // The exact text old checkpoints carry: a changed default would make them unloadable.
  EXPECT_EQ(Fingerprint(*g),
            "tutti::Generator(latent_dim=128, tracks=5, measures=4, steps_per_measure=16, pitches=72, num_genres=0, "
            "grouped_tracks=true)");
  EXPECT_EQ(Fingerprint(*d),
            "tutti::Discriminator(tracks=5, measures=4, steps_per_measure=16, pitches=72, num_genres=0, "
            "grouped_tracks=true)");
  for (const auto& p : g->named_parameters()) EXPECT_EQ(p.key().find("refiner"), std::string::npos) << p.key();
  EXPECT_EQ(g->buffers().size(), 18u);  // BatchNorm statistics only: no refiner flag
  EXPECT_EQ(d->named_parameters().size(), 30u);
  EXPECT_EQ(d->dense->weight.size(1), 256);
}

TEST(RefinerTest, InactiveRefinerLeavesTheGeneratorAsItWas) {
  Generator plain;
  Generator refined(GeneratorOptions().refiner(RefinerKind::kDeterministic));
  DrawAlike(plain, refined, 7);
  // Training mode (batch statistics): fresh running statistics would put every output below 0.5.
  const torch::Tensor z = torch::randn({3, 128}, at::detail::createCPUGenerator(1));
  torch::NoGradGuard no_grad;
  EXPECT_FALSE(refined->refiner_active());
  const torch::Tensor base = plain(z);
  EXPECT_TRUE(torch::equal(base, refined(z)));  // same draws for every layer it shares
  refined->set_refiner_active(true);
  const torch::Tensor out = refined(z);
  // A fresh refiner is the identity before its neurons: exactly the post-hoc threshold at 0.5.
  EXPECT_TRUE(torch::equal(out, (base > 0.5).to(torch::kFloat)));
  EXPECT_TRUE(torch::equal(out, out.round()));
  EXPECT_GT(out.sum().item<double>(), 0);
}

TEST(RefinerTest, BinaryNeuronsAreExactlyBinaryWithASigmoidAdjustedGradient) {
  const torch::Tensor a = torch::randn({4, 5, 8, 12}, at::detail::createCPUGenerator(3)).requires_grad_(true);
  const torch::Tensor y = BinaryNeurons(a, RefinerKind::kDeterministic, /*training=*/true);
  EXPECT_TRUE(torch::equal(y, (a > 0).to(torch::kFloat)));
  const torch::Tensor upstream = torch::randn(a.sizes(), at::detail::createCPUGenerator(4));
  y.backward(upstream);
  const torch::Tensor s = torch::sigmoid(a.detach());
  EXPECT_TRUE(torch::allclose(a.grad(), upstream * s * (1 - s)));

  // Stochastic: sigmoid(a) > u in training, the likelier value in eval mode.
  const torch::Tensor u = torch::rand(a.sizes(), at::detail::createCPUGenerator(5));
  EXPECT_TRUE(torch::equal(BinaryNeurons(a.detach(), RefinerKind::kStochastic, true, u),
                           (s > u).to(torch::kFloat)));
  EXPECT_TRUE(torch::equal(BinaryNeurons(a.detach(), RefinerKind::kStochastic, false, u),
                           (a.detach() > 0).to(torch::kFloat)));
  EXPECT_THROW(BinaryNeurons(a.detach(), RefinerKind::kStochastic, true, u.narrow(0, 0, 1)), c10::Error);
}

TEST(RefinerTest, RefinerLearnsThroughItsNeuronsAndTheGeneratorBelow) {
  Generator g(GeneratorOptions().refiner(RefinerKind::kDeterministic).refiner_units(2));
  g->set_refiner_active(true);
  const torch::Tensor z = torch::randn({2, 128}, at::detail::createCPUGenerator(2));
  const torch::Tensor out = g(z);
  (out * torch::randn(out.sizes(), at::detail::createCPUGenerator(9))).sum().backward();
  // conv_b starts at zero, so it is the first to move; the generator's layers get gradients through it.
  auto* conv_b = g->refiner->conv_b[1]->as<torch::nn::Conv1dImpl>();
  EXPECT_GT(conv_b->weight.grad().abs().sum().item<double>(), 0);
  EXPECT_GT(g->transconv0->transconv->weight.grad().abs().sum().item<double>(), 0);
  EXPECT_EQ(g->refiner->conv_a[0]->as<torch::nn::Conv1dImpl>()->weight.sizes(),
            torch::IntArrayRef({5 * 72, 72, 3}));  // per track: all pitches of 3 neighbouring steps
  EXPECT_EQ(Fingerprint(*g),
            "tutti::Generator(latent_dim=128, tracks=5, measures=4, steps_per_measure=16, pitches=72, num_genres=0, "
            "grouped_tracks=true, refiner=deterministic, refiner_units=2)");

  // Frozen base: only the refiner's parameters get gradients.
  g->zero_grad();
  g->set_base_frozen(true);
  g(z).sum().backward();
  EXPECT_FALSE(g->transconv0->transconv->weight.grad().defined() &&
               g->transconv0->transconv->weight.grad().abs().sum().item<double>() > 0);
  EXPECT_GT(g->refiner->conv_b[1]->as<torch::nn::Conv1dImpl>()->weight.grad().abs().sum().item<double>(), 0);
}

TEST(StreamsTest, TheCriticHearsOnsetsAndChroma) {
  Discriminator d(DiscriminatorOptions().onset_stream(true).chroma_stream(true));
  EXPECT_EQ(d->dense->weight.size(1), 256 + 2 * NoteStreamImpl::kFeatures);
  EXPECT_EQ(Fingerprint(*d),
            "tutti::Discriminator(tracks=5, measures=4, steps_per_measure=16, pitches=72, num_genres=0, "
            "grouped_tracks=true, onset_stream=true, chroma_stream=true)");
  // One held note against the same note struck every step: same chroma, same pitches, other onsets.
  torch::Tensor held = torch::zeros({1, 5, 64, 72});
  held.index_put_({0, 1, torch::indexing::Slice(0, 16), 30}, 1);
  torch::Tensor struck = torch::zeros({1, 5, 64, 72});
  struck.index_put_({0, 1, torch::indexing::Slice(0, 16, 2), 30}, 1);
  torch::NoGradGuard no_grad;
  EXPECT_FALSE(torch::allclose(d->onset_stream(held), d->onset_stream(struck)));
  // Chroma: the same pitch class an octave up is the same chroma; another pitch class is not.
  torch::Tensor up = torch::zeros({1, 5, 64, 72});
  up.index_put_({0, 1, torch::indexing::Slice(0, 16), 42}, 1);
  torch::Tensor other = torch::zeros({1, 5, 64, 72});
  other.index_put_({0, 1, torch::indexing::Slice(0, 16), 31}, 1);
  EXPECT_TRUE(torch::allclose(d->chroma_stream(held), d->chroma_stream(up)));
  EXPECT_FALSE(torch::allclose(d->chroma_stream(held), d->chroma_stream(other)));
}

TEST(StreamsTest, GradientPenaltyDoubleBackwardReachesTheStreams) {
  Discriminator d(DiscriminatorOptions().onset_stream(true).chroma_stream(true));
  const torch::Tensor x = torch::rand({3, 5, 64, 72}, at::detail::createCPUGenerator(1)).requires_grad_(true);
  const torch::Tensor out = d(x);
  ASSERT_EQ(out.sizes(), torch::IntArrayRef({3, 1}));
  const torch::Tensor grad = torch::autograd::grad({out.sum()}, {x}, {}, true, true)[0];
  ((grad.reshape({3, -1}).norm(2, 1) - 1).pow(2).mean()).backward();
  for (const auto& p : d->onset_stream->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
  }
  EXPECT_GT(d->chroma_stream->w0.grad().abs().sum().item<double>(), 0);
  EXPECT_GT(d->onset_stream->w0.grad().abs().sum().item<double>(), 0);
}

TEST(StreamsTest, OptionsAreValidatedAndDifferencesNamedByConfigKey) {
  Status s = ValidateDiscriminatorOptions(DiscriminatorOptions().pitches(66).chroma_stream(true));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.ToString().find("chroma_stream needs pitches to be a multiple of 12"), std::string::npos) << s;
  EXPECT_TRUE(ValidateDiscriminatorOptions(DiscriminatorOptions().pitches(66).onset_stream(true)).ok());
  s = ValidateGeneratorOptions(GeneratorOptions().refiner(RefinerKind::kStochastic).refiner_units(0));
  EXPECT_NE(s.ToString().find("refiner_units"), std::string::npos) << s;

  Generator plain;
  Generator refined(GeneratorOptions().refiner(RefinerKind::kStochastic));
  Discriminator critic(DiscriminatorOptions().chroma_stream(true));
  const std::string a = Fingerprint(*refined) + " " + Fingerprint(*critic);
  const std::string b = Fingerprint(*plain) + " " + Fingerprint(*Discriminator());
  EXPECT_EQ(DescribeArchitectureDifference(a, b),
            "model.chroma_stream: true in the checkpoint, false here; model.refiner: stochastic in the checkpoint, "
            "none here; model.refiner_units: 2 in the checkpoint, (no refiner) here");
  EXPECT_EQ(DescribeArchitectureDifference(b, b), "");
}

}  // namespace
}  // namespace tutti
