#pragma once
// Building blocks of the MuseGAN tutorial model (../shared/lpd5.md section 4), in LibTorch's own
// module shape: XxxOptions + XxxImpl + TORCH_MODULE, submodules registered in the constructor.
//
// Per-track branches: a block with tracks(T) > 1 is T independent branches fused into one
// convolution (groups = T, or a shared input for broadcast_input), numerically the same as T
// separate modules with their outputs concatenated along channels, with the same parameter count.
// Initialisation uses each branch's own fan-in, so the distribution matches separate modules.

#include <cstdint>
#include <ostream>

#include <torch/expanding_array.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include "core/model/sync_batchnorm.h"

namespace tutti {

// ---------------------------------------------------------------------------------------------
struct LayerNormOptions {
  explicit LayerNormOptions(int64_t num_features) : num_features_(num_features) {}
  // Channels C of the (B, C, ...) input; gamma and beta have C entries.
  TORCH_ARG(int64_t, num_features);
  // Channels are split into `groups` equal groups normalised separately (one per track when a
  // per-track branch runs grouped). 1 = the tutorial's LayerNorm.
  TORCH_ARG(int64_t, groups) = 1;
  // Added to the standard deviation (not the variance), as in the tutorial.
  TORCH_ARG(double, eps) = 1e-5;
};

// Per sample (and group) over all of C x D x H x W: y = (x - mean) / (std + eps), std with Bessel's
// correction; then per channel gamma * y + beta, gamma ~ U[0, 1), beta = 0 at initialisation.
// Twice differentiable (the gradient penalty differentiates through it).
class LayerNormImpl : public torch::nn::Module {
 public:
  explicit LayerNormImpl(LayerNormOptions options);
  torch::Tensor forward(const torch::Tensor& x);
  // gamma ~ U[0, 1) from `gen`, beta = 0.
  void reset_parameters(const at::Generator& gen);
  void pretty_print(std::ostream& stream) const override;

  LayerNormOptions options;
  torch::Tensor gamma;
  torch::Tensor beta;
};
TORCH_MODULE(LayerNorm);

// The normalisation step of LayerNorm on rows (..., n): centered = x - mean over the last dim and
// inv_std = 1 / (std + eps) with Bessel's correction, shaped (..., 1). y = centered * inv_std.
// For callers that keep per-track activations in another layout (the grouped discriminator).
struct CenteredRows {
  torch::Tensor centered;
  torch::Tensor inv_std;
};
CenteredRows CenterAndScaleRows(const torch::Tensor& rows, double eps);

// ---------------------------------------------------------------------------------------------
struct GeneratorBlockOptions {
  GeneratorBlockOptions(int64_t in_channels, int64_t out_channels, torch::ExpandingArray<3> kernel,
                        torch::ExpandingArray<3> stride)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_(kernel), stride_(stride) {}
  TORCH_ARG(int64_t, in_channels);
  // Total over all tracks: T branches of out_channels / T each.
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(torch::ExpandingArray<3>, kernel);
  TORCH_ARG(torch::ExpandingArray<3>, stride);
  // Number of fused per-track branches (1 = an ordinary shared block).
  TORCH_ARG(int64_t, tracks) = 1;
  // true: every branch reads all in_channels (the generator's first per-track layer);
  // false: branch t reads its own in_channels / T slice (groups = T).
  TORCH_ARG(bool, broadcast_input) = false;
};

// ConvTranspose3d -> BatchNorm3d -> ReLU. With `batchnorm_sync` set, training-mode BatchNorm
// uses statistics summed across data-parallel ranks (SyncBatchNorm); empty: LibTorch's BatchNorm.
class GeneratorBlockImpl : public torch::nn::Module {
 public:
  explicit GeneratorBlockImpl(GeneratorBlockOptions options);
  torch::Tensor forward(const torch::Tensor& x);
  // Conv weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with the per-branch fan-in (as
  // PyTorch's default init of the tutorial's separate modules); BatchNorm to 1/0, stats reset.
  void reset_parameters(const at::Generator& gen);
  void pretty_print(std::ostream& stream) const override;

  GeneratorBlockOptions options;
  torch::nn::ConvTranspose3d transconv{nullptr};
  torch::nn::BatchNorm3d batchnorm{nullptr};
  BatchStatsAllreduce batchnorm_sync;
};
TORCH_MODULE(GeneratorBlock);

// ---------------------------------------------------------------------------------------------
struct DiscriminatorBlockOptions {
  DiscriminatorBlockOptions(int64_t in_channels, int64_t out_channels,
                            torch::ExpandingArray<3> kernel, torch::ExpandingArray<3> stride)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_(kernel), stride_(stride) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(torch::ExpandingArray<3>, kernel);
  TORCH_ARG(torch::ExpandingArray<3>, stride);
  // Number of fused per-track branches: the conv has groups = T and LayerNorm normalises each
  // track's channels separately.
  TORCH_ARG(int64_t, tracks) = 1;
  // On CPU, LayerNorm + LeakyReLU as one autograd node with hand-written derivatives (norm_act.h);
  // false: LibTorch's composed ops. Same parameters and math either way.
  TORCH_ARG(bool, fused_norm_act) = true;
};

// Conv3d -> LayerNorm -> LeakyReLU(0.01).
inline constexpr double kDiscriminatorLeakySlope = 0.01;
class DiscriminatorBlockImpl : public torch::nn::Module {
 public:
  explicit DiscriminatorBlockImpl(DiscriminatorBlockOptions options);
  torch::Tensor forward(const torch::Tensor& x);
  void reset_parameters(const at::Generator& gen);
  void pretty_print(std::ostream& stream) const override;

  DiscriminatorBlockOptions options;
  torch::nn::Conv3d conv{nullptr};
  LayerNorm layernorm{nullptr};
};
TORCH_MODULE(DiscriminatorBlock);

}  // namespace tutti
