#include "core/model/layers.h"

#include "core/model/norm_act.h"

#include <cmath>
#include <utility>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/init.h>

namespace tutti {
namespace {

int64_t Volume(const torch::ExpandingArray<3>& k) { return (*k)[0] * (*k)[1] * (*k)[2]; }

void PrintTriple(std::ostream& s, const torch::ExpandingArray<3>& k) {
  s << "(" << (*k)[0] << ", " << (*k)[1] << ", " << (*k)[2] << ")";
}

// PyTorch's default conv init (kaiming_uniform with a = sqrt(5), bias alike) is U(-b, b) with
// b = 1 / sqrt(fan_in) for both weight and bias.
void UniformFanIn(const torch::Tensor& weight, const torch::Tensor& bias, int64_t fan_in,
                  const at::Generator& gen) {
  torch::NoGradGuard no_grad;
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  weight.uniform_(-bound, bound, gen);
  if (bias.defined()) bias.uniform_(-bound, bound, gen);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
LayerNormImpl::LayerNormImpl(LayerNormOptions options_) : options(std::move(options_)) {
  TORCH_CHECK(options.num_features() > 0 && options.groups() > 0 &&
                  options.num_features() % options.groups() == 0,
              "LayerNorm: num_features (", options.num_features(), ") must be a positive multiple of groups (",
              options.groups(), ")");
  gamma = register_parameter("gamma", torch::empty({options.num_features()}));
  beta = register_parameter("beta", torch::empty({options.num_features()}));
  reset_parameters(at::detail::getDefaultCPUGenerator());
}

void LayerNormImpl::reset_parameters(const at::Generator& gen) {
  torch::NoGradGuard no_grad;
  gamma.uniform_(0.0, 1.0, gen);
  beta.zero_();
}

torch::Tensor LayerNormImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() >= 2 && x.size(1) == options.num_features(), "LayerNorm: expected (B, ",
              options.num_features(), ", ...) input, got ", x.sizes());
  const int64_t batch = x.size(0), groups = options.groups(), channels = x.size(1);
  const CenteredRows rows = CenterAndScaleRows(x.reshape({batch, groups, -1}), options.eps());
  std::vector<int64_t> shape(x.dim(), 1);
  shape[1] = channels;
  std::vector<int64_t> per_sample_channel(x.dim(), 1);
  per_sample_channel[0] = batch;
  per_sample_channel[1] = channels;
  // gamma folded into the per-(sample, channel) scale: the output is one addcmul.
  const torch::Tensor scale =
      (rows.inv_std * gamma.view({1, groups, channels / groups})).view(per_sample_channel);
  return torch::addcmul(beta.view(shape), rows.centered.view(x.sizes()), scale);
}

CenteredRows CenterAndScaleRows(const torch::Tensor& rows, double eps) {
  // Same math as the tutorial's mean / std / sub / div, in fewer and cheaper kernels (CPU step
  // time is dominated by element-wise work, ../shared/DESIGN.md section 4): std is
  // ||x - mean||_2 / sqrt(n - 1), a vectorised norm instead of the slower Welford std.
  const int64_t n = rows.size(-1);
  CenteredRows out;
  out.centered = rows - rows.mean({-1}, /*keepdim=*/true);
  out.inv_std = (out.centered.norm(2, {-1}, /*keepdim=*/true) *
                     (1.0 / std::sqrt(static_cast<double>(n - 1))) +
                 eps)
                    .reciprocal();
  return out;
}

void LayerNormImpl::pretty_print(std::ostream& stream) const {
  stream << "tutti::LayerNorm(" << options.num_features() << ", groups=" << options.groups()
         << ", eps=" << options.eps() << ")";
}

// ---------------------------------------------------------------------------------------------
GeneratorBlockImpl::GeneratorBlockImpl(GeneratorBlockOptions options_)
    : options(std::move(options_)) {
  const int64_t t = options.tracks();
  TORCH_CHECK(t > 0 && options.out_channels() % t == 0 &&
                  (options.broadcast_input() || options.in_channels() % t == 0),
              "GeneratorBlock: channels (", options.in_channels(), " -> ", options.out_channels(),
              ") must split evenly into ", t, " tracks");
  transconv = register_module(
      "transconv",
      torch::nn::ConvTranspose3d(
          torch::nn::ConvTranspose3dOptions(options.in_channels(), options.out_channels(),
                                            options.kernel())
              .stride(options.stride())
              .groups(options.broadcast_input() ? 1 : t)));
  batchnorm = register_module("batchnorm", torch::nn::BatchNorm3d(options.out_channels()));
  reset_parameters(at::detail::getDefaultCPUGenerator());
}

void GeneratorBlockImpl::reset_parameters(const at::Generator& gen) {
  // A transposed conv's fan-in is (out / groups) * kernel volume in PyTorch's convention; use the
  // per-branch out_channels / tracks so a broadcast-input block inits like separate modules.
  UniformFanIn(transconv->weight, transconv->bias,
               options.out_channels() / options.tracks() * Volume(options.kernel()), gen);
  batchnorm->reset_parameters();
}

torch::Tensor GeneratorBlockImpl::forward(const torch::Tensor& x) {
  if (batchnorm_sync && batchnorm->is_training()) {
    {
      torch::NoGradGuard no_grad;
      batchnorm->num_batches_tracked += 1;  // as BatchNorm3d's own forward does
    }
    return torch::relu(SyncBatchNorm(transconv->forward(x), batchnorm, batchnorm_sync));
  }
  return torch::relu(batchnorm->forward(transconv->forward(x)));
}

void GeneratorBlockImpl::pretty_print(std::ostream& stream) const {
  stream << "tutti::GeneratorBlock(" << options.in_channels() << " -> " << options.out_channels()
         << ", kernel=";
  PrintTriple(stream, options.kernel());
  stream << ", stride=";
  PrintTriple(stream, options.stride());
  stream << ", tracks=" << options.tracks()
         << (options.broadcast_input() ? ", broadcast_input" : "") << ")";
}

// ---------------------------------------------------------------------------------------------
DiscriminatorBlockImpl::DiscriminatorBlockImpl(DiscriminatorBlockOptions options_)
    : options(std::move(options_)) {
  const int64_t t = options.tracks();
  TORCH_CHECK(t > 0 && options.out_channels() % t == 0 && options.in_channels() % t == 0,
              "DiscriminatorBlock: channels (", options.in_channels(), " -> ",
              options.out_channels(), ") must split evenly into ", t, " tracks");
  conv = register_module(
      "conv", torch::nn::Conv3d(torch::nn::Conv3dOptions(options.in_channels(),
                                                         options.out_channels(), options.kernel())
                                    .stride(options.stride())
                                    .groups(t)));
  layernorm =
      register_module("layernorm", LayerNorm(LayerNormOptions(options.out_channels()).groups(t)));
  reset_parameters(at::detail::getDefaultCPUGenerator());
}

void DiscriminatorBlockImpl::reset_parameters(const at::Generator& gen) {
  UniformFanIn(conv->weight, conv->bias,
               options.in_channels() / options.tracks() * Volume(options.kernel()), gen);
  layernorm->reset_parameters(gen);
}

torch::Tensor DiscriminatorBlockImpl::forward(const torch::Tensor& x) {
  const torch::Tensor h = conv->forward(x);
  if (!options.fused_norm_act() || !h.device().is_cpu()) {
    return torch::leaky_relu(layernorm->forward(h), kDiscriminatorLeakySlope);
  }
  // Rows (B * groups, C / groups * DHW): each group of each sample is one normalised row (norm_act.h).
  const int64_t batch = h.size(0), groups = layernorm->options.groups();
  NormActLayout layout;
  layout.groups = groups;
  layout.channels_per_group = h.size(1) / groups;
  layout.inner = h[0][0].numel();
  return LayerNormLeakyRelu(h.reshape({batch * groups, -1}), layernorm->gamma, layernorm->beta, layout,
                            layernorm->options.eps(), kDiscriminatorLeakySlope)
      .view(h.sizes());
}

void DiscriminatorBlockImpl::pretty_print(std::ostream& stream) const {
  stream << "tutti::DiscriminatorBlock(" << options.in_channels() << " -> "
         << options.out_channels() << ", kernel=";
  PrintTriple(stream, options.kernel());
  stream << ", stride=";
  PrintTriple(stream, options.stride());
  stream << ", tracks=" << options.tracks() << ")";
}

}  // namespace tutti
