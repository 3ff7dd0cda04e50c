#include "core/model/refiner.h"

#include <cmath>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/autograd.h>
#include <torch/nn/functional/activation.h>

namespace tutti {
namespace {

// Forward: the hard 0/1 decision; backward: gradient * sigmoid'(a), the sigmoid-adjusted straight-through
// estimator (BinaryMuseGAN §3). A custom node rather than s + (hard - s).detach(): that sum is not exactly 0
// or 1 in float arithmetic, and samples must be binary bit for bit.
class StraightThroughBinary : public torch::autograd::Function<StraightThroughBinary> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& a,
                               const torch::Tensor& noise, bool sample) {
    const torch::Tensor s = torch::sigmoid(a);
    ctx->saved_data["s"] = s;
    return sample ? s.gt(noise).to(a.scalar_type()) : a.gt(0).to(a.scalar_type());
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const torch::Tensor s = ctx->saved_data["s"].toTensor();
    return {grad[0] * s * (1 - s), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor BinaryNeurons(const torch::Tensor& a, RefinerKind kind, bool training,
                            const torch::Tensor& uniform_noise) {
  TORCH_CHECK(kind != RefinerKind::kNone, "BinaryNeurons: refiner kind none has no binary neurons");
  const bool sample = kind == RefinerKind::kStochastic && training;
  torch::Tensor noise = uniform_noise;
  if (sample) {
    if (!noise.defined()) noise = torch::rand_like(a);
    TORCH_CHECK(noise.sizes() == a.sizes(), "BinaryNeurons: expected noise of shape ", a.sizes(), ", got ",
                noise.sizes());
  } else {
    // Not read; a defined tensor because LibTorch 1.13's custom functions reject undefined inputs.
    noise = torch::empty({0}, a.options());
  }
  return StraightThroughBinary::apply(a, noise, sample);
}

RefinerImpl::RefinerImpl(int64_t tracks_, int64_t pitches_, int64_t units_, RefinerKind kind_)
    : tracks(tracks_), pitches(pitches_), units(units_), kind(kind_) {
  TORCH_CHECK(kind != RefinerKind::kNone && units >= 1 && tracks >= 1 && pitches >= 1,
              "Refiner: needs a binary neuron kind, units >= 1, tracks >= 1 and pitches >= 1");
  conv_a = register_module("conv_a", torch::nn::ModuleList());
  conv_b = register_module("conv_b", torch::nn::ModuleList());
  const int64_t channels = tracks * pitches;
  for (int64_t u = 0; u < units; ++u) {
    for (auto* list : {&conv_a, &conv_b}) {
      (*list)->push_back(torch::nn::Conv1d(
          torch::nn::Conv1dOptions(channels, channels, 3).padding(1).groups(tracks)));
    }
  }
  reset_parameters(at::detail::getDefaultCPUGenerator());
}

void RefinerImpl::reset_parameters(const at::Generator& gen) {
  torch::NoGradGuard no_grad;
  const double bound = 1.0 / std::sqrt(static_cast<double>(pitches * 3));  // per-track fan-in
  for (int64_t u = 0; u < units; ++u) {
    auto* a = conv_a[u]->as<torch::nn::Conv1dImpl>();
    auto* b = conv_b[u]->as<torch::nn::Conv1dImpl>();
    a->weight.uniform_(-bound, bound, gen);
    a->bias.zero_();
    b->weight.zero_();
    b->bias.zero_();
  }
}

torch::Tensor RefinerImpl::Preactivation(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == tracks && x.size(3) == pitches, "Refiner: expected x (B, ", tracks,
              ", time, ", pitches, "), got ", x.sizes());
  const int64_t b = x.size(0), time = x.size(2);
  // (B, T, time, P) -> (B, [T, P], time): channels are each track's pitches, grouped by track.
  torch::Tensor h = x.permute({0, 1, 3, 2}).reshape({b, tracks * pitches, time});
  for (int64_t u = 0; u < units; ++u) {
    torch::Tensor r = conv_a[u]->as<torch::nn::Conv1dImpl>()->forward(torch::relu(h));
    r = conv_b[u]->as<torch::nn::Conv1dImpl>()->forward(torch::relu(r));
    h = h + r;
  }
  return (h - 0.5).view({b, tracks, pitches, time}).permute({0, 1, 3, 2});
}

torch::Tensor RefinerImpl::forward(const torch::Tensor& x, const torch::Tensor& uniform_noise) {
  return BinaryNeurons(Preactivation(x).contiguous(), kind, is_training(), uniform_noise);
}

void RefinerImpl::pretty_print(std::ostream& stream) const {
  stream << "tutti::Refiner(tracks=" << tracks << ", pitches=" << pitches << ", units=" << units
         << ", neurons=" << RefinerKindName(kind) << ")";
}

}  // namespace tutti
