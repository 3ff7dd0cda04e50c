#pragma once
// The generator's step layer for tracks that hold notes (GeneratorOptions::held_tracks).
//
// Why: the tutorial's transconv4 turns each beat's features into its 4 sixteenth-note steps with a transposed
// convolution whose kernel equals its stride, so every step position of a beat has its own weights and nothing
// ties a step to its neighbours. Trained for 20 minutes on real rock, the pitched tracks come out as dotted
// lines that switch on and off every 16th: 25-56 % of their notes last an 8th or more, against ~90 % in real
// rock (docs/results/2026-12-06-accompaniment). This is the checkerboard artefact of strided transposed
// convolutions (Odena, Dumoulin and Olah, Distill 2016), whose remedy is to upsample by repetition and then
// convolve; here along time only:
//
//   1. per 8th note: a transposed convolution, kernel = stride = 2 steps, from each beat's features (so the two
//      8ths of a beat may differ: eighth-note bass lines and chord changes stay possible);
//   2. each 8th's features repeated over its 2 steps (nearest-neighbour upsampling);
//   3. a convolution along continuous time (across beats and bars), 3 steps wide, per track.
//
// A step then differs from its neighbour only as much as the smoothed features do, so a note holds unless the
// music changes. Drums are left out on purpose: their notes are one-step hits on a per-step grid.
//
// Output channels and layout are transconv4's for the listed tracks (before its BatchNorm), so the generator
// swaps them in and normalises every track as before.

#include <cstdint>
#include <ostream>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

namespace tutti {

class HeldStepsImpl : public torch::nn::Module {
 public:
  // in_channels: transconv3's channels; channels: per track (transconv4's 16); held: how many tracks.
  // on_eighths: smooth the 8ths before repeating them (step 3 above runs on the 8th grid), so a held track's notes
  // start and end on 8th positions only and none is shorter than an 8th (GeneratorOptions::held_on_eighths).
  HeldStepsImpl(int64_t in_channels, int64_t channels, int64_t held, bool on_eighths = false);

  // h: (B, in_channels, measures, beats, pitch_groups), transconv3's output (a "beat" is transconv4's
  // 4-step span). Returns (B, held * channels, measures, beats * 4, pitch_groups), track-major channels.
  torch::Tensor forward(const torch::Tensor& h);
  // Weights and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) from `gen` (PyTorch's default conv bound, with
  // each track's own fan-in).
  void reset_parameters(const at::Generator& gen);
  void pretty_print(std::ostream& stream) const override;

  const int64_t in_channels, channels, held;
  const bool on_eighths;
  torch::nn::ConvTranspose3d eighths{nullptr};  // (in, held * channels, (1, 2, 1)), stride (1, 2, 1)
  torch::nn::Conv2d smooth{nullptr};  // (held * channels)^2 / held, (3, 1) over time (steps or 8ths), groups = held
};
TORCH_MODULE(HeldSteps);

}  // namespace tutti
