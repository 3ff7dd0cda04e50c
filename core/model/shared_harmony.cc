#include "core/model/shared_harmony.h"

#include <cmath>
#include <utility>

#include <ATen/CPUGeneratorImpl.h>

#include "core/model/model_options.h"

namespace tutti {

SharedHarmonyImpl::SharedHarmonyImpl(int64_t in_channels_, int64_t tracks_, std::vector<int64_t> harmony_tracks_,
                                     double initial_gain_)
    : in_channels(in_channels_), tracks(tracks_), initial_gain(initial_gain_), harmony_tracks(std::move(harmony_tracks_)) {
  TORCH_CHECK(in_channels > 0 && tracks > 0 && !harmony_tracks.empty(),
              "SharedHarmony: expected positive sizes and at least one track, got in_channels ", in_channels,
              ", tracks ", tracks, ", ", harmony_tracks.size(), " harmony tracks");
  for (const int64_t track : harmony_tracks) {
    TORCH_CHECK(track >= 0 && track < tracks, "SharedHarmony: track ", track, " is not in [0, ", tracks, ")");
  }
  chroma = register_module("chroma", torch::nn::Linear(in_channels, kPitchClasses));
  gain = register_parameter("gain", torch::ones({static_cast<int64_t>(harmony_tracks.size())}));
  reset_parameters(at::detail::getDefaultCPUGenerator());
}

void SharedHarmonyImpl::reset_parameters(const at::Generator& gen) {
  torch::NoGradGuard no_grad;
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_channels));
  chroma->weight.uniform_(-bound, bound, gen);
  chroma->bias.uniform_(-bound, bound, gen);
  gain.fill_(initial_gain);
}

torch::Tensor SharedHarmonyImpl::Chroma(const torch::Tensor& h) {
  TORCH_CHECK(h.dim() == 5 && h.size(1) == in_channels, "SharedHarmony: expected (B, ", in_channels,
              ", measures, beats, octaves), got ", h.sizes());
  // Octave-free: the same chord whichever register a track plays in.
  return chroma(h.mean(4).permute({0, 2, 3, 1}));
}

torch::Tensor SharedHarmonyImpl::forward(const torch::Tensor& h) {
  const torch::Tensor shared = Chroma(h);
  // Out of place, so autograd reaches each listed track's gain; unlisted tracks stay exactly zero. The indices are
  // not a buffer: they follow from the options, and a buffer would travel through checkpoints and averaging.
  const torch::Tensor index = torch::tensor(harmony_tracks, torch::kLong).to(gain.device());
  const torch::Tensor per_track = torch::zeros({tracks}, gain.options()).index_copy(0, index, gain);
  return per_track.view({tracks, 1, 1, 1, 1}) * shared.unsqueeze(0);
}

torch::Tensor SharedHarmonyImpl::Gate(const torch::Tensor& per_track, bool lower_only,
                                      const std::vector<int64_t>& root_tracks) {
  // Centred, so the gate redistributes a beat's pitch classes rather than turning the whole beat up or down (that
  // is bar_levels' and the track's own job).
  torch::Tensor factor = 2 * torch::sigmoid(per_track - per_track.mean(-1, /*keepdim=*/true));
  // Clamped, no straight-through: above the mean the factor is 1 and has nothing to learn; the chroma still learns
  // from the classes below it and from the added path.
  if (lower_only) factor = factor.clamp_max(1);
  if (root_tracks.empty()) return factor;
  // Measured from the leading class, not the mean: a chord's other classes are turned down by how far they trail
  // it, however many there are. The max's gradient reaches the leading class's logit; the gain sets the sharpness.
  const torch::Tensor index = torch::tensor(root_tracks, torch::kLong).to(per_track.device());
  const torch::Tensor rooted = per_track.index_select(0, index);
  const torch::Tensor root = torch::exp(rooted - std::get<0>(rooted.max(-1, /*keepdim=*/true)));
  return factor.index_copy(0, index, root);
}

void SharedHarmonyImpl::pretty_print(std::ostream& stream) const {
  stream << "tutti::SharedHarmony(in_channels=" << in_channels << ", tracks=" << tracks
         << ", harmony_tracks=" << JoinedTracks(harmony_tracks) << ")";
}

}  // namespace tutti
