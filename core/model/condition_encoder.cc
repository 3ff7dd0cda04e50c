#include "core/model/condition_encoder.h"

#include <cmath>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/functional/activation.h>

namespace tutti {
namespace {

// The generator's and the critic's slope would do as well; a small slope keeps silent steps (all-zero
// columns, common in a bass part) from zeroing a feature's gradient.
constexpr double kEncoderLeakySlope = 0.2;

torch::Tensor Act(const torch::Tensor& x) {
  return torch::leaky_relu(x, kEncoderLeakySlope);
}

}  // namespace

ConditionEncoderImpl::ConditionEncoderImpl(int64_t measures_, int64_t steps_per_measure_, int64_t pitches_)
    : measures(measures_), steps_per_measure(steps_per_measure_), pitches(pitches_) {
  TORCH_CHECK(measures >= 1 && steps_per_measure >= 4 && steps_per_measure % 4 == 0 && pitches >= 1,
              "ConditionEncoder: bad shape (measures ", measures, ", steps_per_measure ", steps_per_measure,
              ", pitches ", pitches, ")");
  step = register_module("step", torch::nn::Linear(pitches, kStepFeatures));
  beat = register_module("beat", torch::nn::Linear(4 * kStepFeatures, kBeatFeatures));
  bar = register_module("bar", torch::nn::Linear(steps_per_measure / 4 * kBeatFeatures, kBarFeatures));
  reset_parameters(at::detail::getDefaultCPUGenerator());
}

void ConditionEncoderImpl::reset_parameters(const at::Generator& gen) {
  torch::NoGradGuard no_grad;
  for (torch::nn::Linear* layer : {&step, &beat, &bar}) {
    const double bound = 1.0 / std::sqrt(static_cast<double>((*layer)->weight.size(1)));
    (*layer)->weight.uniform_(-bound, bound, gen);
    (*layer)->bias.uniform_(-bound, bound, gen);
  }
}

ConditionEncoderImpl::Features ConditionEncoderImpl::forward(const torch::Tensor& part) {
  const int64_t time = measures * steps_per_measure, s4 = steps_per_measure / 4;
  TORCH_CHECK(part.dim() == 3 && part.size(1) == time && part.size(2) == pitches,
              "ConditionEncoder: expected the given part as (B, ", time, ", ", pitches, "), got ", part.sizes());
  const int64_t b = part.size(0);
  // (B, time, P) -> per step (B, time, 64) -> per beat (B, M, S4, 4 * 64) -> (B, M, S4, 128).
  const torch::Tensor steps = Act(step(part));
  const torch::Tensor beats = Act(beat(steps.reshape({b, measures, s4, 4 * kStepFeatures})));
  // (B, M, S4 * 128) -> (B, M, 256).
  const torch::Tensor bars = Act(bar(beats.reshape({b, measures, s4 * kBeatFeatures})));
  Features out;
  out.per_beat = beats.permute({0, 3, 1, 2}).unsqueeze(4);   // (B, 128, M, S4, 1)
  out.per_bar = bars.permute({0, 2, 1}).reshape({b, kBarFeatures, measures, 1, 1});
  return out;
}

void ConditionEncoderImpl::pretty_print(std::ostream& stream) const {
  stream << "tutti::ConditionEncoder(measures=" << measures << ", steps_per_measure=" << steps_per_measure
         << ", pitches=" << pitches << ")";
}

}  // namespace tutti
