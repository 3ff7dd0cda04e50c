#pragma once
// LayerNorm (the tutorial's: y = (x - mean) / (std + eps), std with Bessel's correction) followed by the
// per-channel affine gamma * y + beta and LeakyReLU, as ONE autograd node with hand-written first and
// second derivatives.
//
// Why: on CPU the discriminator's step time is dominated by the element-wise chain that autograd builds for
// LayerNorm + LeakyReLU (about a dozen kernels forward, more backward, and again as many for the gradient
// penalty's double backward). Here the forward is one pass over each row, the backward one pass, and the
// double backward one pass, each a plain loop over contiguous memory. The math is the same as the composed
// ops (checked in double precision against them by norm_act_test.cc, including the second derivative the
// gradient penalty takes); float results differ only by rounding order.
//
// Derivation (per row of n elements, c = x - mean, sigma = ||c|| / sqrt(n - 1), s = sigma + eps,
// xhat = c / s, g = dL/dxhat): dL/dx = (g - mean(g) - rho * xhat * sum(g * xhat)) / s with
// rho = s / ((n - 1) sigma). The backward is linear in g with the same operator, so the double backward's
// d/dg is that operator applied to the incoming gradient; d/dx is written out in norm_act.cc.
// A row with sigma = 0 uses rho = 0, as LibTorch's norm backward does (its gradient at 0 is 0).
//
// Layout: the input is viewed as rows (R, n); the element at (row r, index i) belongs to channel
//   group(r) * channels_per_group + (i / inner) % channels_per_group,   group(r) = (r / row_div) % groups
// which covers both layouts the discriminator uses:
//   (B, C, D, H, W) with `groups` groups:   rows (B * groups, C / groups * DHW): row_div 1, inner DHW;
//   (T, B * positions, c) channels-last:    rows (T * B, positions * c):         row_div B, groups T, inner 1.

#include <cstdint>

#include <torch/types.h>

namespace tutti {

struct NormActLayout {
  int64_t row_div = 1;             // rows that share a group are consecutive runs of this length
  int64_t groups = 1;              // distinct groups, each with its own channels_per_group gammas
  int64_t channels_per_group = 1;  // gamma / beta entries per group
  int64_t inner = 1;               // consecutive elements of a row that share a channel
};

// rows: (R, n) contiguous float or double; gamma, beta: (groups * channels_per_group). Returns (R, n):
// leaky_relu(gamma[ch] * (x - mean_row) / (std_row + eps) + beta[ch], slope), 0 <= slope <= 1. Differentiable twice in rows
// and gamma, once in beta (the second derivative in beta is zero).
torch::Tensor LayerNormLeakyRelu(const torch::Tensor& rows, const torch::Tensor& gamma, const torch::Tensor& beta,
                                 const NormActLayout& layout, double eps, double slope);

// The same function composed of LibTorch ops (what autograd differentiates on its own): the reference the
// fused node is tested and benchmarked against.
torch::Tensor LayerNormLeakyReluComposed(const torch::Tensor& rows, const torch::Tensor& gamma,
                                         const torch::Tensor& beta, const NormActLayout& layout, double eps,
                                         double slope);

}  // namespace tutti
