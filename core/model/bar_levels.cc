#include "core/model/bar_levels.h"

#include <cmath>

namespace tutti {

BarLevelsImpl::BarLevelsImpl(int64_t in_channels_, int64_t tracks_, double scale_)
    : in_channels(in_channels_), tracks(tracks_), scale(scale_) {
  TORCH_CHECK(in_channels > 0 && tracks > 0, "BarLevels: expected positive sizes, got in_channels ", in_channels,
              ", tracks ", tracks);
  TORCH_CHECK(scale > 0 && std::isfinite(scale), "BarLevels: expected a positive scale, got ", scale);
  level = register_module("level", torch::nn::Linear(in_channels, tracks));
  reset_parameters();
}

void BarLevelsImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  level->weight.zero_();
  level->bias.zero_();
}

torch::Tensor BarLevelsImpl::forward(const torch::Tensor& bars) {
  TORCH_CHECK(bars.dim() == 5 && bars.size(1) == in_channels && bars.size(3) == 1 && bars.size(4) == 1,
              "BarLevels: expected (B, ", in_channels, ", measures, 1, 1), got ", bars.sizes());
  // (B, M, C) -> (B, M, T) -> (T, B, M).
  const torch::Tensor levels = level(bars.flatten(2).transpose(1, 2)).permute({2, 0, 1});
  // No multiply at 1, so models without the option compute exactly what they did before it.
  return scale == 1.0 ? levels : levels * scale;
}

torch::Tensor BarLevelsImpl::Gate(const torch::Tensor& levels, bool hard) {
  if (!hard) return 2 * torch::sigmoid(levels);
  // The offset puts the start (level 0) well inside "on" while its gradient (0.10) still lets the critic move it.
  const torch::Tensor soft = torch::sigmoid(levels + 2.0);
  // on + (soft - soft) is exactly the 0/1 value forward (x - x is 0 in floating point) and soft's gradient back.
  return (soft > 0.5).to(soft.scalar_type()) + (soft - soft.detach());
}

void BarLevelsImpl::pretty_print(std::ostream& stream) const {
  stream << "tutti::BarLevels(in_channels=" << in_channels << ", tracks=" << tracks;
  if (scale != 1.0) stream << ", scale=" << scale;
  stream << ")";
}

}  // namespace tutti
