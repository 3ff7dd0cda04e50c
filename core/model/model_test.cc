#include <sstream>
#include <string>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/model/layers.h"
#include "core/model/model_options.h"
#include "core/model/networks.h"
#include "core/model/sync_batchnorm.h"

namespace tutti {
namespace {

int64_t CountParameters(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

std::vector<std::string> ParameterNames(const torch::nn::Module& m) {
  std::vector<std::string> names;
  for (const auto& item : m.named_parameters()) names.push_back(item.key());
  return names;
}

// The tutorial's LayerNorm, verbatim in LibTorch (pytorch/pytorch#1959 via the MuseGAN tutorial).
torch::Tensor TutorialLayerNorm(const torch::Tensor& x, const torch::Tensor& gamma,
                                const torch::Tensor& beta) {
  const int64_t b = x.size(0);
  const auto mean = x.view({b, -1}).mean(1).view({-1, 1, 1, 1, 1});
  const auto std = x.view({b, -1}).std(1).view({-1, 1, 1, 1, 1});
  const auto y = (x - mean) / (std + 1e-5);
  return gamma.view({1, -1, 1, 1, 1}) * y + beta.view({1, -1, 1, 1, 1});
}

TEST(ModelTest, OutputShapes) {
  Generator g;
  Discriminator d;
  for (int64_t batch : {1, 3}) {
    const auto fake = g(torch::randn({batch, 128}));
    EXPECT_EQ(fake.sizes(), (std::vector<int64_t>{batch, 5, 64, 72}));
    EXPECT_EQ(d(fake).sizes(), (std::vector<int64_t>{batch, 1}));
  }
}

TEST(ModelTest, ParameterCountsMatchTheTutorial) {
  for (bool grouped : {true, false}) {
    EXPECT_EQ(CountParameters(*Generator(GeneratorOptions().grouped_tracks(grouped))), 313951)
        << "grouped=" << grouped;
    EXPECT_EQ(CountParameters(*Discriminator(DiscriminatorOptions().grouped_tracks(grouped))),
              204321)
        << "grouped=" << grouped;
  }
}

TEST(ModelTest, NamedParametersAreTheRegisteredOnes) {
  std::vector<std::string> g_expected, d_expected;
  for (int i = 0; i <= 5; ++i) {
    for (const char* leaf : {"transconv.weight", "transconv.bias", "batchnorm.weight",
                             "batchnorm.bias"}) {
      g_expected.push_back("transconv" + std::to_string(i) + "." + leaf);
    }
  }
  for (int i = 0; i <= 6; ++i) {
    for (const char* leaf : {"conv.weight", "conv.bias", "layernorm.gamma", "layernorm.beta"}) {
      d_expected.push_back("conv" + std::to_string(i) + "." + leaf);
    }
  }
  d_expected.push_back("dense.weight");
  d_expected.push_back("dense.bias");
  EXPECT_EQ(ParameterNames(*Generator()), g_expected);
  EXPECT_EQ(ParameterNames(*Discriminator()), d_expected);

  // Per-track variant: ModuleLists named like the tutorial's.
  const auto per_track = ParameterNames(*Generator(GeneratorOptions().grouped_tracks(false)));
  EXPECT_EQ(per_track.size(), 4u * 4 + 2 * 5 * 4);
  EXPECT_EQ(per_track[16], "transconv4.0.transconv.weight");
  EXPECT_EQ(per_track.back(), "transconv5.4.batchnorm.bias");
  // Buffers: BatchNorm running stats only, never parameters.
  EXPECT_EQ(Generator()->named_buffers().size(), 6u * 3);
  EXPECT_TRUE(Discriminator()->named_buffers().is_empty());
}

// Copies per-track parameters/buffers into the grouped model: per-track blocks concatenate along
// the output-channel axis (dim 1 of a broadcast-input ConvTranspose3d weight, dim 0 otherwise).
void CopyPerTrackIntoGrouped(const torch::nn::Module& per_track, torch::nn::Module& grouped,
                             int64_t tracks) {
  torch::NoGradGuard no_grad;
  auto src_params = per_track.named_parameters();
  auto src_buffers = per_track.named_buffers();
  auto copy = [&](const torch::OrderedDict<std::string, torch::Tensor>& src,
                  torch::OrderedDict<std::string, torch::Tensor> dst) {
    for (auto& item : dst) {
      const std::string& name = item.key();
      if (const torch::Tensor* same = src.find(name)) {
        item.value().copy_(*same);
        continue;
      }
      const auto dot = name.find('.');
      std::vector<torch::Tensor> parts;
      for (int64_t t = 0; t < tracks; ++t) {
        const std::string src_name =
            name.substr(0, dot) + "." + std::to_string(t) + name.substr(dot);
        const torch::Tensor* part = src.find(src_name);
        ASSERT_NE(part, nullptr) << src_name;
        parts.push_back(*part);
      }
      const bool broadcast_weight = name == "transconv4.transconv.weight";
      if (parts[0].dim() == 0) {  // num_batches_tracked
        item.value().copy_(parts[0]);
      } else {
        item.value().copy_(torch::cat(parts, broadcast_weight ? 1 : 0));
      }
    }
  };
  copy(src_params, grouped.named_parameters());
  copy(src_buffers, grouped.named_buffers());
}

TEST(ModelTest, GroupedTracksEqualPerTrackLoop) {
  torch::manual_seed(7);
  Generator g_loop(GeneratorOptions().grouped_tracks(false));
  Generator g_grouped;
  Discriminator d_loop(DiscriminatorOptions().grouped_tracks(false));
  Discriminator d_grouped;
  CopyPerTrackIntoGrouped(*g_loop, *g_grouped, 5);
  CopyPerTrackIntoGrouped(*d_loop, *d_grouped, 5);

  const auto z = torch::randn({4, 128});
  for (bool train : {true, false}) {
    g_loop->train(train);
    g_grouped->train(train);
    const auto a = g_loop(z), b = g_grouped(z);
    EXPECT_LT((a - b).abs().max().item<double>(), 1e-5) << "G train=" << train;
  }
  // D: outputs and input gradients (what the gradient penalty uses) agree.
  const auto x = torch::rand({4, 5, 64, 72}).requires_grad_(true);
  const auto out_loop = d_loop(x);
  const auto grad_loop = torch::autograd::grad({out_loop.sum()}, {x})[0];
  const auto out_grouped = d_grouped(x);
  const auto grad_grouped = torch::autograd::grad({out_grouped.sum()}, {x})[0];
  EXPECT_TRUE(torch::allclose(out_loop, out_grouped, 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(grad_loop, grad_grouped, 1e-4, 1e-6));
}

// The fused LayerNorm + LeakyReLU node (norm_act.h) in the whole discriminator, grouped and per-track:
// outputs, the input gradient and the gradient penalty's parameter gradients (a second derivative) agree
// with the composed ops in double precision.
TEST(ModelTest, FusedNormActDiscriminatorMatchesComposedOps) {
  for (bool grouped : {true, false}) {
    SCOPED_TRACE(grouped ? "grouped" : "per-track");
    torch::manual_seed(3);
    Discriminator fused(DiscriminatorOptions().grouped_tracks(grouped));
    Discriminator composed(DiscriminatorOptions().grouped_tracks(grouped).fused_norm_act(false));
    fused->to(torch::kDouble);
    composed->to(torch::kDouble);
    {
      torch::NoGradGuard no_grad;
      const auto from = fused->parameters(), to = composed->parameters();
      for (size_t i = 0; i < from.size(); ++i) to[i].copy_(from[i]);
    }
    const auto x = torch::rand({3, 5, 64, 72}, torch::kDouble).requires_grad_(true);
    auto penalty_grads = [&](Discriminator& d) {
      const auto out = d(x);
      const auto gx = torch::autograd::grad({out.sum()}, {x}, {}, true, true)[0];
      const auto penalty = (gx.view({3, -1}).norm(2, 1) - 1).pow(2).mean();
      auto grads = torch::autograd::grad({penalty}, d->parameters(), {}, false, false, true);
      grads.insert(grads.begin(), {out.detach(), gx.detach()});
      return grads;
    };
    const auto a = penalty_grads(fused), b = penalty_grads(composed);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      if (!a[i].defined() || !b[i].defined()) {
        EXPECT_EQ(a[i].defined(), b[i].defined()) << i;
        continue;
      }
      EXPECT_TRUE(torch::allclose(a[i], b[i], 1e-8, 1e-10))
          << "tensor " << i << " (0 output, 1 d/dx, then parameters): max |diff| "
          << (a[i] - b[i]).abs().max().item<double>();
    }
  }
}

TEST(ModelTest, LayerNormMatchesTheTutorialIncludingDoubleBackward) {
  LayerNorm ln(LayerNormOptions(6));
  const auto x = (torch::randn({3, 6, 2, 3, 4}) * 3 + 1).requires_grad_(true);
  const auto ours = ln(x);
  const auto ref = TutorialLayerNorm(x, ln->gamma, ln->beta);
  EXPECT_TRUE(torch::allclose(ours, ref, 1e-5, 1e-5));
  // Second derivative, as in the gradient penalty.
  const auto w = torch::randn_like(ref);
  const auto gx_ours = torch::autograd::grad({(ours * w).sum()}, {x}, {}, true, true)[0];
  const auto gx_ref = torch::autograd::grad({(ref * w).sum()}, {x}, {}, true, true)[0];
  EXPECT_TRUE(torch::allclose(gx_ours, gx_ref, 1e-4, 1e-5));
  const auto gg_ours = torch::autograd::grad({gx_ours.pow(2).sum()}, {x, ln->gamma});
  const auto gg_ref = torch::autograd::grad({gx_ref.pow(2).sum()}, {x, ln->gamma});
  EXPECT_TRUE(torch::allclose(gg_ours[0], gg_ref[0], 1e-3, 1e-4));
  EXPECT_TRUE(torch::allclose(gg_ours[1], gg_ref[1], 1e-3, 1e-4));
}

TEST(ModelTest, GroupedLayerNormNormalisesEachGroup) {
  LayerNorm grouped(LayerNormOptions(6).groups(3));
  LayerNorm single(LayerNormOptions(2));
  const auto x = torch::randn({2, 6, 1, 4, 5});
  const auto out = grouped(x);
  for (int64_t g = 0; g < 3; ++g) {
    {
      torch::NoGradGuard no_grad;
      single->gamma.copy_(grouped->gamma.narrow(0, 2 * g, 2));
      single->beta.copy_(grouped->beta.narrow(0, 2 * g, 2));
    }
    EXPECT_TRUE(torch::allclose(out.narrow(1, 2 * g, 2), single(x.narrow(1, 2 * g, 2)), 1e-5,
                                1e-6))
        << "group " << g;
  }
}

TEST(ModelTest, InitialisationUsesPerTrackFanIn) {
  // The broadcast-input ConvTranspose3d (32 -> 5 x 16) must init like one 32 -> 16 module:
  // U(-1/sqrt(16 * 4), 1/sqrt(16 * 4)) = U(-0.125, 0.125), not 1/sqrt(80 * 4).
  const auto w = Generator()->transconv4->transconv->weight;
  EXPECT_LE(w.abs().max().item<double>(), 0.125);
  EXPECT_GT(w.abs().max().item<double>(), 0.12);
  const auto gamma = Discriminator()->conv2->layernorm->gamma;
  EXPECT_GE(gamma.min().item<double>(), 0.0);
  EXPECT_LT(gamma.max().item<double>(), 1.0);
}

TEST(ModelTest, ResetParametersIsDeterministicForAGeneratorState) {
  Generator a, b;
  auto gen_a = at::detail::createCPUGenerator(42), gen_b = at::detail::createCPUGenerator(42);
  a->reset_parameters(gen_a);
  b->reset_parameters(gen_b);
  const auto pa = a->parameters(), pb = b->parameters();
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << i;
}

TEST(ModelTest, GenreConditioning) {
  Generator g(GeneratorOptions().num_genres(3));
  Discriminator d(DiscriminatorOptions().num_genres(3));
  EXPECT_EQ(CountParameters(*g), 313951 + 3 * 128);
  EXPECT_EQ(CountParameters(*d), 204321 + 3 * 256);
  const auto genres = torch::tensor({0, 2}, torch::kLong);
  const auto fake = g(torch::randn({2, 128}), genres);
  EXPECT_EQ(d(fake, genres).sizes(), (std::vector<int64_t>{2, 1}));
  EXPECT_THROW(g(torch::randn({2, 128})), c10::Error);
  EXPECT_THROW(Discriminator()(fake, genres), c10::Error);
}

TEST(ModelTest, BadShapesAndOptionsAreReported) {
  try {
    Discriminator()(torch::zeros({2, 4, 64, 72}));
    FAIL() << "no error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected x (B, 5, 64, 72), got [2, 4, 64, 72]"),
              std::string::npos)
        << e.what();
  }
  const Status s = ValidateGeneratorOptions(GeneratorOptions().pitches(70));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.message()).find("pitches must be a positive multiple of 6, got 70"),
            std::string::npos)
      << s;
  EXPECT_FALSE(ValidateModelPair(GeneratorOptions(), DiscriminatorOptions().tracks(4)).ok());
  EXPECT_THROW(Generator(GeneratorOptions().measures(1)), c10::Error);
}

TEST(ModelTest, PrettyPrint) {
  std::ostringstream s;
  s << *Generator();
  EXPECT_NE(s.str().find("tutti::Generator(latent_dim=128, tracks=5"), std::string::npos) << s.str();
  EXPECT_NE(s.str().find("tutti::GeneratorBlock(32 -> 80, kernel=(1, 4, 1)"), std::string::npos);
}

// With one rank (an identity allreduce), SyncBatchNorm is LibTorch's training-mode BatchNorm:
// output, input / weight / bias gradients and running statistics, in every layout it serves.
TEST(ModelTest, SyncBatchNormWithOneRankMatchesBatchNorm) {
  for (const std::vector<int64_t>& shape :
       std::vector<std::vector<int64_t>>{{12, 8}, {1, 5, 40}, {3, 4, 2, 3, 5}}) {
    const int64_t c = shape[1];
    torch::nn::BatchNorm3d ours(c), ref(c);
    {
      torch::NoGradGuard no_grad;
      ours->weight.uniform_(0.5, 1.5);
      ours->bias.uniform_(-1, 1);
      ref->weight.copy_(ours->weight);
      ref->bias.copy_(ours->bias);
    }
    std::vector<int64_t> sizes;
    BatchStatsAllreduce identity = [&](torch::Tensor& t) { sizes.push_back(t.numel()); };
    const torch::Tensor x = torch::randn(shape) * 3 + 1;
    const torch::Tensor dy = torch::randn(shape);
    const torch::Tensor x1 = x.clone().requires_grad_(true), x2 = x.clone().requires_grad_(true);
    const torch::Tensor y1 = ApplyBatchNorm(ours, x1, /*training=*/true, identity);
    const torch::Tensor y2 = ApplyBatchNorm(ref, x2, /*training=*/true, {});
    (y1 * dy).sum().backward();
    (y2 * dy).sum().backward();
    EXPECT_EQ(sizes, (std::vector<int64_t>{2 * c + 1, 2 * c}));
    EXPECT_TRUE(torch::allclose(y1, y2, 1e-5, 1e-5));
    EXPECT_TRUE(torch::allclose(x1.grad(), x2.grad(), 1e-5, 1e-5));
    EXPECT_TRUE(torch::allclose(ours->weight.grad(), ref->weight.grad(), 1e-5, 1e-5));
    EXPECT_TRUE(torch::allclose(ours->bias.grad(), ref->bias.grad(), 1e-5, 1e-5));
    EXPECT_TRUE(torch::allclose(ours->running_mean, ref->running_mean, 1e-5, 1e-6));
    EXPECT_TRUE(torch::allclose(ours->running_var, ref->running_var, 1e-5, 1e-6));
    // Eval mode never synchronises.
    ApplyBatchNorm(ours, x, /*training=*/false, identity);
    EXPECT_EQ(sizes.size(), 2u);
  }
}

// The generator routes every BatchNorm through the sync function (grouped or not).
TEST(ModelTest, GeneratorSyncsEveryBatchNorm) {
  for (bool grouped : {true, false}) {
    Generator g(GeneratorOptions().grouped_tracks(grouped));
    int calls = 0;
    g->set_batchnorm_sync([&](torch::Tensor&) { ++calls; });
    g(torch::randn({2, 128})).sum().backward();
    EXPECT_EQ(calls, 2 * (grouped ? 6 : 4 + 2 * 5)) << grouped;
  }
}

// model.output: the generator's last activation.
TEST(ModelTest, OutputActivations) {
  torch::manual_seed(8);
  const torch::Tensor z = torch::randn({4, 128});
  Generator sigmoid(GeneratorOptions().output(OutputActivation::kSigmoid));
  const torch::Tensor soft = sigmoid(z);
  EXPECT_GT(soft.min().item<float>(), 0.0f);
  EXPECT_LT(soft.max().item<float>(), 1.0f);

  // Binary neurons: exactly 0/1 in training and in eval mode, and the straight-through gradient reaches the
  // generator's first layer.
  Generator binary(GeneratorOptions().output(OutputActivation::kBinary));
  const torch::Tensor hard = binary(z);
  EXPECT_TRUE(torch::equal(hard, hard.gt(0.5).to(torch::kFloat)));
  EXPECT_GT(hard.sum().item<float>(), 0.0f);
  (hard * torch::randn_like(hard)).sum().backward();
  EXPECT_GT(binary->transconv0->transconv->weight.grad().abs().sum().item<float>(), 0.0f);
  binary->eval();
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor eval = binary(z);
    EXPECT_TRUE(torch::equal(eval, eval.gt(0.5).to(torch::kFloat)));
  }

  // Named in the fingerprint only when not the tutorial's, and refused by name.
  std::ostringstream text, tutorial;
  binary->pretty_print(text);
  Generator()->pretty_print(tutorial);
  EXPECT_NE(text.str().find("output=binary"), std::string::npos);
  EXPECT_EQ(tutorial.str().find("output="), std::string::npos);
  EXPECT_EQ(DescribeArchitectureDifference(text.str(), tutorial.str()),
            "model.output: binary in the checkpoint, relu here");
  OutputActivation parsed = OutputActivation::kRelu;
  EXPECT_TRUE(ParseOutputActivation("sigmoid", &parsed));
  EXPECT_EQ(parsed, OutputActivation::kSigmoid);
  EXPECT_FALSE(ParseOutputActivation("tanh", &parsed));
  EXPECT_NE(ValidateGeneratorOptions(GeneratorOptions().output(OutputActivation::kSigmoid).grouped_tracks(false))
                .message()
                .find("grouped_tracks"),
            std::string::npos);
}

}  // namespace
}  // namespace tutti
