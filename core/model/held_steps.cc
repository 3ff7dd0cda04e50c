#include "core/model/held_steps.h"

#include <cmath>

#include <ATen/CPUGeneratorImpl.h>

namespace tutti {

HeldStepsImpl::HeldStepsImpl(int64_t in_channels_, int64_t channels_, int64_t held_, bool on_eighths_)
    : in_channels(in_channels_), channels(channels_), held(held_), on_eighths(on_eighths_) {
  TORCH_CHECK(in_channels > 0 && channels > 0 && held > 0, "HeldSteps: expected positive sizes, got ",
              in_channels, ", ", channels, ", ", held);
  eighths = register_module(
      "eighths", torch::nn::ConvTranspose3d(
                     torch::nn::ConvTranspose3dOptions(in_channels, held * channels, {1, 2, 1}).stride({1, 2, 1})));
  smooth = register_module("smooth", torch::nn::Conv2d(torch::nn::Conv2dOptions(held * channels, held * channels, {3, 1})
                                                           .padding({1, 0})
                                                           .groups(held)));
  reset_parameters(at::detail::getDefaultCPUGenerator());
}

void HeldStepsImpl::reset_parameters(const at::Generator& gen) {
  torch::NoGradGuard no_grad;
  // A transposed conv's fan-in in PyTorch's convention is (out / groups) * kernel volume; per track.
  const double eighth_bound = 1.0 / std::sqrt(static_cast<double>(channels * 2));
  eighths->weight.uniform_(-eighth_bound, eighth_bound, gen);
  eighths->bias.uniform_(-eighth_bound, eighth_bound, gen);
  const double smooth_bound = 1.0 / std::sqrt(static_cast<double>(channels * 3));
  smooth->weight.uniform_(-smooth_bound, smooth_bound, gen);
  smooth->bias.uniform_(-smooth_bound, smooth_bound, gen);
}

torch::Tensor HeldStepsImpl::forward(const torch::Tensor& h) {
  TORCH_CHECK(h.dim() == 5 && h.size(1) == in_channels, "HeldSteps: expected (B, ", in_channels,
              ", measures, beats, pitch_groups), got ", h.sizes());
  const int64_t b = h.size(0), m = h.size(2), beats = h.size(3), groups = h.size(4), c = held * channels;
  // (B, C, M, beats * 2, G): two 8ths per beat, each with its own weights.
  const torch::Tensor eighth = eighths(h);
  if (on_eighths) {
    // Smoothed on the 8th grid (time as one axis across bars), then each 8th over its two steps: both steps of an
    // 8th are equal, so no note starts or ends between them.
    const torch::Tensor smoothed = smooth(eighth.reshape({b, c, m * beats * 2, groups}));
    return smoothed.repeat_interleave(2, /*dim=*/2).view({b, c, m, beats * 4, groups});
  }
  // Each 8th over its two steps, then time as one axis across bars so notes can hold over a bar line.
  const torch::Tensor steps = eighth.repeat_interleave(2, /*dim=*/3).reshape({b, c, m * beats * 4, groups});
  return smooth(steps).view({b, c, m, beats * 4, groups});
}

void HeldStepsImpl::pretty_print(std::ostream& stream) const {
  stream << "tutti::HeldSteps(in_channels=" << in_channels << ", channels=" << channels << ", held=" << held
         << (on_eighths ? ", on_eighths=true" : "") << ")";
}

}  // namespace tutti
