#include "core/model/held_release.h"

#include <cmath>
#include <utility>

#include "core/model/model_options.h"

namespace tutti {

HeldReleaseImpl::HeldReleaseImpl(int64_t channels_, std::vector<int64_t> released_tracks_,
                                 std::vector<int64_t> late_tracks_)
    : channels(channels_), released_tracks(std::move(released_tracks_)), late_tracks(std::move(late_tracks_)) {
  TORCH_CHECK(channels > 0 && !released_tracks.empty(), "HeldRelease: expected channels > 0 and tracks to gate, got ",
              channels, " and ", released_tracks.size());
  const int64_t released = static_cast<int64_t>(released_tracks.size());
  weight = register_parameter("weight", torch::zeros({released, channels}));
  bias = register_parameter("bias", torch::zeros({released}));
  gain = register_parameter("gain", torch::zeros({released}));
  // No draws here: the generator draws these weights last in its own reset_parameters, so adding the gate leaves
  // every other layer's initial weights as they were.
}

void HeldReleaseImpl::reset_parameters(const at::Generator& gen) {
  torch::NoGradGuard no_grad;
  const double bound = 1.0 / std::sqrt(static_cast<double>(channels));
  weight.uniform_(-bound, bound, gen);
  bias.zero_();
  gain.zero_();
}

torch::Tensor HeldReleaseImpl::forward(const torch::Tensor& out, const torch::Tensor& per_step) {
  const int64_t t = out.size(0), cells = out.size(1);
  TORCH_CHECK(out.dim() == 3 && per_step.dim() == 2 && per_step.size(0) == cells &&
                  per_step.size(1) == t * channels && cells % 4 == 0,
              "HeldRelease: expected out (T, cells, pitches) and per_step (cells, T * ", channels, "), got ",
              out.sizes(), " and ", per_step.sizes());
  // Steps 1 and 3 of each beat: the second 16th of each 8th. The first 16ths keep every held note's onset. Late
  // tracks: step 3 only.
  const torch::Tensor second_sixteenth =
      torch::tensor({0.0f, 1.0f, 0.0f, 1.0f}, out.options()).repeat({cells / 4}).view({cells, 1});
  const torch::Tensor last_sixteenth =
      torch::tensor({0.0f, 0.0f, 0.0f, 1.0f}, out.options()).repeat({cells / 4}).view({cells, 1});
  const std::vector<int64_t> late_slots = ListedSlots(late_tracks, t);
  // Clamped forward, straight through backward: a gain pushed below zero (no cuts) still hears whether cutting
  // would help and can come back. With a plain clamp its gradient is zero out there and it stays at zero for good,
  // as bass and strings did on real rock.
  const torch::Tensor clamped = gain + (gain.clamp(0, 1) - gain).detach();
  const std::vector<int64_t> slots = ListedSlots(released_tracks, t);
  std::vector<torch::Tensor> gated;
  gated.reserve(t);
  for (int64_t track = 0; track < t; ++track) {
    const int64_t i = slots[static_cast<size_t>(track)];
    if (i < 0) {
      gated.push_back(out[track]);
      continue;
    }
    // One release per 16th and octave, shared by the octave's 12 pitches: a chord ends as one.
    const torch::Tensor release =
        torch::sigmoid(torch::mv(per_step.narrow(1, track * channels, channels), weight[i]) + bias[i]);
    const torch::Tensor& steps = late_slots[static_cast<size_t>(track)] < 0 ? second_sixteenth : last_sixteenth;
    gated.push_back(out[track] * (1 - clamped[i] * release.view({cells, 1}) * steps));
  }
  return torch::stack(gated);
}

void HeldReleaseImpl::pretty_print(std::ostream& stream) const {
  stream << "tutti::HeldRelease(channels=" << channels << ", tracks=" << JoinedTracks(released_tracks);
  if (!late_tracks.empty()) stream << ", late_tracks=" << JoinedTracks(late_tracks);
  stream << ")";
}

}  // namespace tutti
