#pragma once
// The critic's extra streams (BinaryMuseGAN, Dong & Yang, ISMIR 2018): besides the pianoroll itself the
// discriminator reads
//   - the onset/offset roll: the difference along time (x[t] - x[t-1], x[-1] = 0), +1 where a note starts,
//     -1 where one ends, so note lengths and fragmentation are explicit;
//   - the chroma: each track's activity per pitch class per beat (steps of a beat and octaves summed, / steps
//     per beat), so harmony across tracks is explicit.
// Each goes through per-track layers, then layers shared by all tracks, and gives a feature vector the
// discriminator concatenates with its main stream's before the last dense layer.
//
// Layers (ours; kernel == stride everywhere, so each is a matrix product over patches, like the main
// stream's per-track layers; LayerNorm over channels per position, LeakyReLU 0.01; no batch statistics, so
// real, fake and interpolated samples may share a batch and WGAN-GP's double backward goes through):
//   onset:  per track [12 pitches of an octave group -> 8] -> [4 steps x 8 -> 16];
//           shared [a beat's 4 x 6 positions x tracks x 16 -> 64 per bar] -> [bars x 64 -> 64]
//   chroma: per track [12 pitch classes -> 16] per beat; shared [beats x tracks x 16 -> 64 per bar]
//           -> [bars x 64 -> 64]

#include <cstdint>
#include <ostream>

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace tutti {

enum class StreamKind { kOnset, kChroma };

class NoteStreamImpl : public torch::nn::Module {
 public:
  // steps_per_measure a multiple of 4; pitches a multiple of 6 (onset) or of 12 (chroma). Throws c10::Error
  // otherwise (ValidateDiscriminatorOptions says it first).
  NoteStreamImpl(StreamKind kind, int64_t tracks, int64_t measures, int64_t steps_per_measure, int64_t pitches);
  // x: (B, tracks, measures * steps_per_measure, pitches). Returns (B, kFeatures).
  torch::Tensor forward(const torch::Tensor& x);
  void reset_parameters(const at::Generator& gen);
  void pretty_print(std::ostream& stream) const override;

  static constexpr int64_t kFeatures = 64;
  const StreamKind kind;
  const int64_t tracks, measures, steps_per_measure, pitches;
  // Per-track layers: weight (tracks, in, out), bias (tracks, 1, out); LayerNorm gamma/beta (out).
  torch::Tensor w0, b0, g0, beta0, w1, b1, g1, beta1;  // w1.. only for the onset stream
  torch::nn::Linear bar{nullptr}, piece{nullptr};      // shared layers
  torch::Tensor bar_gamma, bar_beta, piece_gamma, piece_beta;
};
TORCH_MODULE(NoteStream);

}  // namespace tutti
