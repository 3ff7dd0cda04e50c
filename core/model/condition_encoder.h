#pragma once
// The encoder of an accompaniment model (model.condition_track): it reads the part a musician brings (one
// track of a sample, e.g. the bass line) and tells the generator, bar by bar and beat by beat, what that part
// plays, so the generator writes the other tracks around it.
//
// Why these two scales: the generator builds a sample coarse to fine. transconv0 makes one 256-d vector per
// bar and transconv1 one 128-d vector per beat (quarter note), and only later layers spread them over pitches
// and steps. The encoder mirrors that: per step, a linear map of the 72-pitch column (which notes sound: the
// chord root, the register); per beat, a linear map of its four steps (rhythm within the beat); per bar, a
// linear map of its beats. Each level's features are added to the generator's activations of the same scale
// (per bar after transconv0, per beat after transconv1), so the given part shapes the sample where its
// harmony and rhythm are decided, and the per-track layers after that are unchanged.
//
// No batch statistics: each sample's features depend on its own part only, as the critic's do.

#include <cstdint>
#include <ostream>

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace tutti {

class ConditionEncoderImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kStepFeatures = 64;
  static constexpr int64_t kBeatFeatures = 128;  // transconv1's output channels
  static constexpr int64_t kBarFeatures = 256;   // transconv0's output channels

  ConditionEncoderImpl(int64_t measures, int64_t steps_per_measure, int64_t pitches);

  struct Features {
    torch::Tensor per_bar;   // (B, 256, measures, 1, 1): added to transconv0's output
    torch::Tensor per_beat;  // (B, 128, measures, steps_per_measure / 4, 1): added to transconv1's output
  };
  // part: (B, measures * steps_per_measure, pitches) float 0/1. Throws c10::Error naming the shapes.
  Features forward(const torch::Tensor& part);
  // Every weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) from `gen` (PyTorch's Linear bound).
  void reset_parameters(const at::Generator& gen);
  void pretty_print(std::ostream& stream) const override;

  const int64_t measures, steps_per_measure, pitches;
  torch::nn::Linear step{nullptr}, beat{nullptr}, bar{nullptr};
};
TORCH_MODULE(ConditionEncoder);

}  // namespace tutti
