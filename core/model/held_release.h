#pragma once
// The generator's release gate for held tracks (GeneratorOptions::held_release): a held note may end a 16th early.
//
// Why: with held_on_eighths every note of a held track lasts at least an 8th, where 6-19 % of real rock's pitched
// notes are shorter (notes >= an 8th: 100 % against 83-94 %, outside its band on every pitched track). Adding the
// tutorial's per-step product back (held_detail) brought short notes back, but with them the flicker: used pitch
// classes rose 22-40 % on real rock (docs/results/2026-12-07-harmony-strength). This gate can only take away:
//
//   on the second 16th of every 8th, each held track's output (after the activation) is multiplied by
//   1 - gain * sigmoid(w . f + b),
//
// with f the tutorial's per-step features of that 16th and octave (transconv4's product, which the held tracks
// otherwise leave unused), one (w, b) per track, and the gain per track clamped to [0, 1]. A note can end a 16th
// early or be split in two; no pitch can appear. The gain starts at zero, so the model starts as the held one bit
// for bit, and the critic decides how many notes are cut.
//
// Late tracks (GeneratorOptions::held_release_late_tracks) are gated on the second 16th of the beat's second 8th
// only: a note that starts on the beat can lose its last 16th but never shrink to one 16th.

#include <cstdint>
#include <ostream>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace tutti {

class HeldReleaseImpl : public torch::nn::Module {
 public:
  // channels: transconv4's per-track channels (16); released_tracks: the held tracks it gates, sorted
  // (ReleasedTracks(options)); late_tracks: those of them gated on the beat's last 16th only.
  HeldReleaseImpl(int64_t channels, std::vector<int64_t> released_tracks, std::vector<int64_t> late_tracks = {});

  // out: (T, cells, pitches per octave) after the output activation, cells ordered (b, m, beat, octave, step of
  // the beat); per_step: (cells, T * channels), transconv4's product. Returns `out` with each held track's second
  // 16ths gated (a late track's step 3 only); never larger than `out` where `out` >= 0. Other tracks pass unchanged.
  torch::Tensor forward(const torch::Tensor& out, const torch::Tensor& per_step);
  // weight ~ PyTorch's Linear default bound from `gen`; bias and gain zero. Until it is called the weights are zero.
  void reset_parameters(const at::Generator& gen);
  void pretty_print(std::ostream& stream) const override;

  const int64_t channels;
  const std::vector<int64_t> released_tracks;
  const std::vector<int64_t> late_tracks;
  torch::Tensor weight;  // (released, channels)
  torch::Tensor bias;    // (released)
  torch::Tensor gain;    // (released), clamped to [0, 1] where it is used (the gradient passes the clamp)
};
TORCH_MODULE(HeldRelease);

}  // namespace tutti
