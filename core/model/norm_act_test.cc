#include "core/model/norm_act.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace tutti {
namespace {

struct Case {
  std::string name;
  int64_t rows;
  int64_t n;
  NormActLayout layout;
};

// Both layouts the discriminator uses, at small sizes, plus grouped channels-first rows.
std::vector<Case> Cases() {
  NormActLayout channels_first;  // (B=3, C=4, DHW=5): rows (3, 20)
  channels_first.channels_per_group = 4;
  channels_first.inner = 5;
  NormActLayout grouped;  // (B=2, C=6 in 3 groups, DHW=4): rows (6, 8)
  grouped.groups = 3;
  grouped.channels_per_group = 2;
  grouped.inner = 4;
  NormActLayout channels_last;  // (T=2, B=3, positions=5, c=3): rows (6, 15)
  channels_last.row_div = 3;
  channels_last.groups = 2;
  channels_last.channels_per_group = 3;
  return {{"channels_first", 3, 20, channels_first},
          {"grouped", 6, 8, grouped},
          {"channels_last", 6, 15, channels_last}};
}

constexpr double kEps = 1e-5, kSlope = 0.01;

struct Inputs {
  torch::Tensor x, gamma, beta, w;
};

Inputs MakeInputs(const Case& c, torch::Dtype dtype, uint64_t seed) {
  torch::manual_seed(seed);
  const auto opts = torch::TensorOptions().dtype(dtype);
  const int64_t channels = c.layout.groups * c.layout.channels_per_group;
  Inputs in;
  in.x = (torch::randn({c.rows, c.n}, opts) * 2 + 0.5).requires_grad_(true);
  in.gamma = (torch::rand({channels}, opts) + 0.2).requires_grad_(true);
  in.beta = (torch::randn({channels}, opts) * 0.3).requires_grad_(true);
  in.w = torch::randn({c.rows, c.n}, opts).requires_grad_(true);  // the upstream gradient, itself a variable
  return in;
}

using Fn = torch::Tensor (*)(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&, const NormActLayout&,
                             double, double);

struct Derivatives {
  torch::Tensor y, gx, ggamma, gbeta;        // first derivatives of sum(y * w)
  std::vector<torch::Tensor> second;        // d/d(x, gamma, beta, w) of a loss on all three first derivatives
};

Derivatives Differentiate(Fn fn, const Case& c, const Inputs& in) {
  Derivatives d;
  d.y = fn(in.x, in.gamma, in.beta, c.layout, kEps, kSlope);
  auto first = torch::autograd::grad({(d.y * in.w).sum()}, {in.x, in.gamma, in.beta}, {}, /*retain_graph=*/true,
                                     /*create_graph=*/true);
  d.gx = first[0];
  d.ggamma = first[1];
  d.gbeta = first[2];
  // As the gradient penalty does with gx, plus terms on gamma's and beta's gradients so that every incoming
  // gradient of the double backward is exercised.
  const auto loss = d.gx.pow(2).sum() + (d.ggamma * d.ggamma.detach().sin()).sum() + (d.gbeta * 0.7).sum();
  d.second = torch::autograd::grad({loss}, {in.x, in.gamma, in.beta, in.w}, {}, /*retain_graph=*/false,
                                   /*create_graph=*/false, /*allow_unused=*/true);
  return d;
}

void ExpectClose(const torch::Tensor& a, const torch::Tensor& b, double rtol, double atol, const std::string& what) {
  if (!a.defined() || !b.defined()) {
    // beta's second derivative: zero in the composed graph may come back undefined from either side.
    const torch::Tensor z = a.defined() ? a : b;
    if (z.defined()) {
      EXPECT_TRUE(torch::allclose(z, torch::zeros_like(z), rtol, atol)) << what;
    }
    return;
  }
  EXPECT_TRUE(torch::allclose(a, b, rtol, atol))
      << what << ": max |diff| " << (a - b).abs().max().item<double>() << " (max |ref| "
      << b.abs().max().item<double>() << ")";
}

TEST(NormActTest, FirstAndSecondDerivativesMatchTheComposedOpsInDouble) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    const Inputs in = MakeInputs(c, torch::kDouble, 7);
    const Derivatives fused = Differentiate(&LayerNormLeakyRelu, c, in);
    const Derivatives ref = Differentiate(&LayerNormLeakyReluComposed, c, in);
    ExpectClose(fused.y, ref.y, 1e-12, 1e-12, "forward");
    ExpectClose(fused.gx, ref.gx, 1e-10, 1e-12, "d/dx");
    ExpectClose(fused.ggamma, ref.ggamma, 1e-10, 1e-12, "d/dgamma");
    ExpectClose(fused.gbeta, ref.gbeta, 1e-10, 1e-12, "d/dbeta");
    const char* names[] = {"d2/dx", "d2/dgamma", "d2/dbeta", "d2/dw (upstream gradient)"};
    for (size_t i = 0; i < 4; ++i) ExpectClose(fused.second[i], ref.second[i], 1e-9, 1e-11, names[i]);
  }
}

TEST(NormActTest, FloatMatchesWithinRounding) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    const Inputs in = MakeInputs(c, torch::kFloat, 11);
    const Derivatives fused = Differentiate(&LayerNormLeakyRelu, c, in);
    const Derivatives ref = Differentiate(&LayerNormLeakyReluComposed, c, in);
    ExpectClose(fused.y, ref.y, 1e-5, 1e-6, "forward");
    ExpectClose(fused.gx, ref.gx, 1e-4, 1e-5, "d/dx");
    ExpectClose(fused.second[0], ref.second[0], 1e-3, 1e-4, "d2/dx");
    ExpectClose(fused.second[1], ref.second[1], 1e-3, 1e-4, "d2/dgamma");
  }
}

TEST(NormActTest, SecondDerivativeAgreesWithFiniteDifferences) {
  // Independent of the composed reference: the directional derivative of L(x) = |dy/dx . w|^2 along a random
  // direction, by central differences in double.
  const Case c = Cases()[2];
  Inputs in = MakeInputs(c, torch::kDouble, 3);
  auto loss_at = [&](const torch::Tensor& x) {
    const torch::Tensor xv = x.detach().requires_grad_(true);
    const auto y = LayerNormLeakyRelu(xv, in.gamma, in.beta, c.layout, kEps, kSlope);
    const auto gx = torch::autograd::grad({(y * in.w).sum()}, {xv}, {}, true, true)[0];
    return std::make_pair(gx.pow(2).sum(), xv);
  };
  auto [loss, xv] = loss_at(in.x);
  const torch::Tensor analytic = torch::autograd::grad({loss}, {xv})[0];
  const torch::Tensor direction = torch::randn_like(in.x);
  const double h = 1e-6;
  const double plus = loss_at(in.x + h * direction).first.item<double>();
  const double minus = loss_at(in.x - h * direction).first.item<double>();
  const double numeric = (plus - minus) / (2 * h);
  EXPECT_NEAR((analytic * direction).sum().item<double>(), numeric, 1e-5 * std::max(1.0, std::abs(numeric)));
}

TEST(NormActTest, PlainBackwardBuildsNoGraphAndAConstantRowStaysFinite) {
  const Case c = Cases()[0];
  Inputs in = MakeInputs(c, torch::kFloat, 5);
  torch::Tensor x = in.x.detach().clone();
  x[1].fill_(3.0);  // sigma = 0 in that row
  x.requires_grad_(true);
  const auto y = LayerNormLeakyRelu(x, in.gamma, in.beta, c.layout, kEps, kSlope);
  (y * in.w.detach()).sum().backward();
  EXPECT_TRUE(torch::isfinite(y).all().item<bool>());
  EXPECT_TRUE(torch::isfinite(x.grad()).all().item<bool>());
  EXPECT_FALSE(x.grad().requires_grad());
}

TEST(NormActTest, RefusesMismatchedShapes) {
  const Case c = Cases()[0];
  const auto x = torch::randn({3, 21});  // 21 is not a multiple of 4 x 5
  EXPECT_THROW(LayerNormLeakyRelu(x, torch::ones({4}), torch::zeros({4}), c.layout, kEps, kSlope), c10::Error);
  EXPECT_THROW(LayerNormLeakyRelu(torch::randn({3, 20}), torch::ones({5}), torch::zeros({4}), c.layout, kEps, kSlope),
               c10::Error);
}

}  // namespace
}  // namespace tutti
