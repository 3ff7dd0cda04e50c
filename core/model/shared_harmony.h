#pragma once
// The generator's shared harmony (GeneratorOptions::harmony_tracks): one chroma per beat that every listed track
// leans towards.
//
// Why: in the tutorial's generator a track's pitch classes in one octave come from transconv3's features at that
// octave's position only (transconv5's kernel is one octave of 12 pitches, and transconv3 mixes just neighbouring
// octave groups). The bass (octaves 1-2) and the piano (octaves 3-5) read different feature columns, so playing the
// same chord means encoding it again at every octave position, and after 20 minutes on real rock they do not:
// the tonal distance between every pair of pitched tracks is 0.89-1.29 against 0.49-0.87 in real rock
// (docs/results/2026-12-06-options). Here the chord is made once, octave-free:
//
//   1. transconv3's features averaged over the octave axis (B, C, M, beats);
//   2. a linear map to 12 pitch-class logits per beat, the same for every track;
//   3. per listed track a learned gain, the logits added to that track's output at every octave and step of the
//      beat before its BatchNorm.
//
// A track still writes its own voicing, rhythm and register; the shared term only shifts which pitch classes it
// prefers, and the gain lets a track lean on it as much as the critic rewards. Unlisted tracks (the drums, whose
// "pitches" are drum sounds) get nothing.

#include <cstdint>
#include <ostream>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace tutti {

class SharedHarmonyImpl : public torch::nn::Module {
 public:
  // Pitch classes per octave: the generator's pitch axis is 6 groups of 12 when harmony is on.
  static constexpr int64_t kPitchClasses = 12;

  // in_channels: transconv3's channels; tracks: all of the generator's; harmony_tracks: the listed ones, sorted;
  // initial_gain: every gain's value when drawn (GeneratorOptions::harmony_gain).
  SharedHarmonyImpl(int64_t in_channels, int64_t tracks, std::vector<int64_t> harmony_tracks,
                    double initial_gain = 1.0);

  // h: (B, in_channels, measures, beats, octaves), transconv3's output. Returns the pitch-class logits per beat,
  // (B, measures, beats, 12), shared by every listed track.
  torch::Tensor Chroma(const torch::Tensor& h);
  // What each track adds to its output before BatchNorm: (tracks, B, measures, beats, 12), gain * Chroma(h) for a
  // listed track, zero for the others.
  torch::Tensor forward(const torch::Tensor& h);
  // GeneratorOptions::harmony_gate: from forward()'s output, per track the factor 2 * sigmoid(x - mean of x over
  // the 12 classes) for every pitch class: exactly 1 for unlisted tracks (x is zero) and wherever the chroma is flat.
  // lower_only (GeneratorOptions::harmony_gate_lower_only): at most 1. root_tracks (GeneratorOptions::
  // harmony_root_tracks, sorted): those tracks' factor is exp(x - max of x over the 12 classes) instead, 1 for the
  // leading class and below 1 for every other.
  static torch::Tensor Gate(const torch::Tensor& per_track, bool lower_only = false,
                            const std::vector<int64_t>& root_tracks = {});
  // chroma ~ PyTorch's Linear default from `gen`; every gain initial_gain.
  void reset_parameters(const at::Generator& gen);
  void pretty_print(std::ostream& stream) const override;

  const int64_t in_channels, tracks;
  const double initial_gain;
  const std::vector<int64_t> harmony_tracks;
  torch::nn::Linear chroma{nullptr};  // in_channels -> 12
  torch::Tensor gain;                 // (harmony_tracks.size()), one per listed track
};
TORCH_MODULE(SharedHarmony);

}  // namespace tutti
