#pragma once
// The generator's bar levels (GeneratorOptions::bar_levels): per track and bar, one learned offset from the bar's
// features, added to every cell of that track's bar before the output BatchNorm.
//
// Why: real rock leaves a track out of a bar now and then (piano 6 %, guitar 5 %, strings 5 %, bass 2 %, drums
// 1 % of bars; shared/lpd5.md section 5), and the tutorial's generator almost never does: a bar falls silent only
// when every one of its 16 x 72 cells lands below the sampling threshold at once, and nothing in the model
// decides that for a bar as a whole. After 20 minutes on real rock every such "empty bars" figure is ~0, outside
// its real band (docs/results/2026-12-06-options). With a level per track and bar, silencing a bar (or bringing a
// track in) is one number the critic can ask for.
//
// The levels come from transconv0's output, the generator's per-bar features, through one linear map. Its
// weights start at zero, so the model starts as the tutorial's bit for bit and draws no random numbers (the
// other layers' initial weights are unchanged).
//
// With GeneratorOptions::bar_gate the level is not added but scales the bar after the activation (Gate below): an
// added level must push the bar's loudest cell under the threshold too, a factor silences every cell at once.

#include <cstdint>
#include <ostream>

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace tutti {

class BarLevelsImpl : public torch::nn::Module {
 public:
  // in_channels: transconv0's channels; tracks: the generator's; scale: the factor on the map's output
  // (GeneratorOptions::bar_level_scale: below 1 the levels learn more slowly).
  BarLevelsImpl(int64_t in_channels, int64_t tracks, double scale = 1.0);

  // bars: (B, in_channels, measures, 1, 1), transconv0's output. Returns (tracks, B, measures), the offset each
  // track adds to every cell of each bar.
  torch::Tensor forward(const torch::Tensor& bars);
  // The factor GeneratorOptions::bar_gate scales a bar by: 2 * sigmoid(level), 1 for the starting level 0 (so
  // the model still starts as the tutorial's), towards 0 to silence the bar and up to 2 to fill it. Smooth on
  // both sides so no level is stuck where the gradient vanishes (a cap at 1 would stop every bar that rose past
  // it from ever coming down again).
  // hard (GeneratorOptions::bar_gate_hard): 1 where level > -2, else 0, with sigmoid(level + 2)'s gradient
  // (straight through), so a bar is silent or untouched; 1 for the starting level 0 as well.
  static torch::Tensor Gate(const torch::Tensor& levels, bool hard);
  // Zero weights and biases (the tutorial's output to start with).
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;

  const int64_t in_channels, tracks;
  const double scale;
  torch::nn::Linear level{nullptr};  // in_channels -> tracks
};
TORCH_MODULE(BarLevels);

}  // namespace tutti
