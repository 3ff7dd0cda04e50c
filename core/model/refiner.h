#pragma once
// The refiner of BinaryMuseGAN (Dong & Yang, ISMIR 2018): a small network after the generator that turns its
// real-valued pianorolls into binary ones with binary neurons, so samples need no threshold after the fact
// and the critic judges exactly the notes a listener will hear.
//
// Layout (ours; the paper's refiner is per-track residual units too, its layer shapes differ): per track, U
// pre-activation residual units h <- h + conv_b(relu(conv_a(relu(h)))), each conv a 1-D convolution along time
// (kernel 3) with the track's pitches as channels, so one layer sees every pitch of three neighbouring steps:
// chords and the note before and after. Tracks run as one grouped convolution (groups = tracks). No batch
// statistics (samples stay independent, and data-parallel training needs no extra allreduce). conv_b starts at
// zero, so a fresh refiner is the identity and its binary neurons threshold the generator's output at 0.5:
// exactly the tutorial's post-hoc threshold, the point stage two starts from.
//
// Output: binary neurons on the preactivation a = h - 0.5 (refiner.h's BinaryNeurons).

#include <cstdint>
#include <ostream>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include "core/model/model_options.h"

namespace tutti {

// Binary neurons with the sigmoid-adjusted straight-through estimator: forward gives exactly 0 or 1 (a > 0,
// i.e. sigmoid(a) > 0.5, for deterministic neurons and for stochastic ones outside training; sigmoid(a) > u
// for stochastic ones in training, u ~ U[0, 1) given as `uniform_noise`, same shape as `a`); backward passes
// the gradient times sigmoid'(a). Deterministic in both directions for a given input.
torch::Tensor BinaryNeurons(const torch::Tensor& a, RefinerKind kind, bool training,
                            const torch::Tensor& uniform_noise = {});

class RefinerImpl : public torch::nn::Module {
 public:
  RefinerImpl(int64_t tracks, int64_t pitches, int64_t units, RefinerKind kind);
  // x: (B, tracks, time, pitches) float, the generator's output. Returns the same shape, values 0/1.
  // `uniform_noise` (same shape) is used only by stochastic neurons in training mode; undefined there draws
  // from LibTorch's global generator (not reproducible: GanTrainer passes its own).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& uniform_noise = {});
  // The binary neurons' preactivation (B, tracks, time, pitches): what forward thresholds.
  torch::Tensor Preactivation(const torch::Tensor& x);
  // conv_a ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) from `gen` (PyTorch's default bound), conv_b and every bias of
  // conv_b zero (a fresh refiner is the identity), conv_a's bias zero.
  void reset_parameters(const at::Generator& gen);
  void pretty_print(std::ostream& stream) const override;

  const int64_t tracks, pitches, units;
  const RefinerKind kind;
  // conv_a[u], conv_b[u]: Conv1d(tracks * pitches, tracks * pitches, 3, padding 1, groups = tracks).
  torch::nn::ModuleList conv_a{nullptr}, conv_b{nullptr};
};
TORCH_MODULE(Refiner);

}  // namespace tutti
