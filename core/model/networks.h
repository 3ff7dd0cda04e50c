#pragma once
// The MuseGAN tutorial's generator and discriminator (../shared/lpd5.md section 4, layer tables
// reproduced exactly with the default options). Thread-compatible like any torch::nn::Module.
//
// Parameter names: "transconv0".."transconv5" (G) and "conv0".."conv6", "dense" (D), like the
// tutorial. With grouped_tracks the per-track layers are single blocks ("transconv4.transconv.
// weight"); without, ModuleLists of one block per track ("transconv4.0.transconv.weight").

#include <cstdint>
#include <ostream>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "core/model/bar_levels.h"
#include "core/model/condition_encoder.h"
#include "core/model/held_release.h"
#include "core/model/held_steps.h"
#include "core/model/layers.h"
#include "core/model/model_options.h"
#include "core/model/refiner.h"
#include "core/model/rest_plans.h"
#include "core/model/shared_harmony.h"
#include "core/model/streams.h"

namespace tutti {

// z (B, latent) -> shared transconv0..3 -> per-track transconv4, transconv5 -> (B, T, M*S, P).
// Every block is ConvTranspose3d -> BatchNorm3d -> ReLU (the last included, as in the tutorial).
// Constructor: throws c10::Error on invalid options (use ValidateGeneratorOptions first).
class GeneratorImpl : public torch::nn::Module {
 public:
  explicit GeneratorImpl(GeneratorOptions options = {});
  // z: (B, latent_dim) float. genre_ids: (B) int64 in [0, num_genres) when num_genres > 0, and
  // undefined when num_genres == 0. Returns (B, tracks, measures * steps_per_measure, pitches).
  // Throws c10::Error naming expected vs got shape on bad input.
  // With a refiner (options.refiner) that is active (set_refiner_active), the output goes through it and is
  // exactly 0/1; `refiner_noise` ((B, tracks, time, pitches) U[0, 1)) feeds stochastic neurons in training.
  // An accompaniment model (options.condition_track >= 0) needs `given` ((B, time, pitches) float 0/1, the
  // condition track's part per sample; undefined otherwise): the output's condition track is `given` itself.
  // With rest plans (options.rest_plans) the tracks rest (exact zeros) in the bars of the plan z picks (rest_plans.h).
  torch::Tensor forward(const torch::Tensor& z, const torch::Tensor& genre_ids = {},
                        const torch::Tensor& refiner_noise = {}, const torch::Tensor& given = {});
  // Re-initialises every parameter from `gen` with the tutorial's (PyTorch default) distributions,
  // the genre embedding to zero. Deterministic for a given generator state.
  void reset_parameters(const at::Generator& gen);
  void pretty_print(std::ostream& stream) const override;
  // Data-parallel training: every BatchNorm in training mode computes its statistics over the
  // global batch, summed across ranks by `allreduce` (see sync_batchnorm.h). Empty (the default):
  // ordinary per-process BatchNorm. Eval mode never synchronises.
  void set_batchnorm_sync(const BatchStatsAllreduce& allreduce);

  // Two-stage training (BinaryMuseGAN): the refiner is bypassed until activated (stage one trains the
  // generator alone). The state is the buffer "refiner_active" (saved and loaded with the module, so a
  // checkpoint says which stage it is in). No-ops / false without a refiner.
  void set_refiner_active(bool active);
  bool refiner_active() const;
  // Stage two with the generator frozen: its layers run without autograd (only the refiner learns).
  void set_base_frozen(bool frozen) { base_frozen_ = frozen; }

  GeneratorOptions options;
  GeneratorBlock transconv0{nullptr}, transconv1{nullptr}, transconv2{nullptr},
      transconv3{nullptr};
  // grouped_tracks: one fused block each; otherwise the ModuleLists hold one block per track.
  GeneratorBlock transconv4{nullptr}, transconv5{nullptr};
  torch::nn::ModuleList transconv4_tracks{nullptr}, transconv5_tracks{nullptr};
  torch::nn::Embedding genre_embedding{nullptr};  // only when num_genres > 0
  Refiner refiner{nullptr};                        // only when options.refiner != kNone
  ConditionEncoder condition_encoder{nullptr};     // only when options.condition_track >= 0
  HeldSteps held_steps{nullptr};                   // only when options.held_tracks is not empty
  SharedHarmony shared_harmony{nullptr};           // only when options.harmony_tracks is not empty
  BarLevels bar_levels{nullptr};                   // only when options.bar_levels
  HeldRelease held_release{nullptr};               // only when options.held_release
  RestPlans rest_plans{nullptr};                   // only when options.rest_plans
  torch::Tensor held_detail_gain;                  // (held tracks), only when options.held_detail
  torch::Tensor refiner_active_flag;               // (1) float buffer, only with a refiner

 private:
  torch::Tensor Base(const torch::Tensor& z, const torch::Tensor& genre_ids, const torch::Tensor& given);
  // `out` with its condition track replaced by `given` (a no-op without a condition track).
  torch::Tensor WithGivenPart(const torch::Tensor& out, const torch::Tensor& given) const;
  // `out` silenced in the bars z's rest plan rests (a no-op without rest plans).
  torch::Tensor WithRests(const torch::Tensor& out, const torch::Tensor& z) const;
  bool base_frozen_ = false;
  // transconv4 -> transconv5 (with their BatchNorm and ReLU) for all tracks at once. h: transconv3's output;
  // bars: transconv0's (read by bar_levels only).
  torch::Tensor PerTrackOutputs(const torch::Tensor& h, const torch::Tensor& bars);
};
TORCH_MODULE(Generator);

// x (B, T, M*S, P) -> per-track conv0, conv1 -> concat -> shared conv2..conv6 -> dense -> (B, 1).
// With onset/chroma streams (streams.h) their features are concatenated with conv6's 256 before dense.
// Every block is Conv3d -> LayerNorm -> LeakyReLU(0.01). No batch statistics: samples are
// independent, so a batch may hold real, fake and interpolated samples together.
class DiscriminatorImpl : public torch::nn::Module {
 public:
  explicit DiscriminatorImpl(DiscriminatorOptions options = {});
  // x: (B, tracks, measures * steps_per_measure, pitches) float; genre_ids as for the generator.
  // Returns the critic value, (B, 1). `spread_groups`: with minibatch_stddev or bar_silence, the batch is that many
  // equal batches one after the other (real then fake, scored in one pass), each with its own batch features.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& genre_ids = {}, int64_t spread_groups = 1);
  void reset_parameters(const at::Generator& gen);
  void pretty_print(std::ostream& stream) const override;

  DiscriminatorOptions options;
  // grouped_tracks: conv0 and conv1 hold all tracks' weights (groups = tracks) but run as
  // batched matrix products (see PerTrackFeatures); same math, much faster on CPU.
  DiscriminatorBlock conv0{nullptr}, conv1{nullptr};
  torch::nn::ModuleList conv0_tracks{nullptr}, conv1_tracks{nullptr};  // !grouped_tracks
  DiscriminatorBlock conv2{nullptr}, conv3{nullptr}, conv4{nullptr}, conv5{nullptr},
      conv6{nullptr};
  torch::nn::Linear dense{nullptr};
  torch::nn::Embedding genre_embedding{nullptr};  // projection term, only when num_genres > 0
  NoteStream onset_stream{nullptr}, chroma_stream{nullptr};  // only when enabled in options

 private:
  // conv0 -> LayerNorm -> LeakyReLU -> conv1 -> LayerNorm -> LeakyReLU for all tracks at once.
  torch::Tensor PerTrackFeatures(const torch::Tensor& x);
};
TORCH_MODULE(Discriminator);

}  // namespace tutti
