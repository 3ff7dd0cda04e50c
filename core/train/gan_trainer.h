#pragma once
// GanTrainer: the WGAN-GP training step of the MuseGAN tutorial as a library a coordinator (or a
// data-parallel worker) drives one step at a time.
//
// Thread-compatible: one thread drives a trainer. Note that Create() sets LibTorch's process-wide
// intra-op thread count.

#include <cstdint>
#include <functional>
#include <memory>

#include <torch/optim/adam.h>
#include <torch/serialize/archive.h>

#include "core/base/status.h"
#include "core/model/networks.h"
#include "core/train/generator_average.h"
#include "core/train/train_options.h"

namespace tutti {

// Host-side metrics of one step (the last critic update's when critic_steps > 1).
struct StepMetrics {
  double d_loss = 0;                // -mean D(real) + mean D(fake), without the penalty
  double g_loss = 0;                // -mean D(fake) after the critic update
  double gradient_penalty = 0;      // gp_weight * mean((||grad D(x_hat)|| - 1)^2), as added to D's loss
  double wasserstein_estimate = 0;  // mean D(real) - mean D(fake) (= -d_loss)
  double d_grad_norm = 0;           // L2 norm of all critic gradients (after the gradient hook)
  double g_grad_norm = 0;           // L2 norm of all generator gradients (after the gradient hook)
};

enum class Network { kGenerator, kDiscriminator };

// Called after a network's backward and before its optimiser step, e.g. to allreduce gradients
// across data-parallel ranks. `flat_gradients` is one contiguous 1-D tensor viewing every
// parameter's .grad of `module` (parameters() order): modifying it in place modifies them all.
// A non-OK status aborts the step before the optimiser runs and is returned by Step().
using GradientHook =
    std::function<Status(Network network, torch::nn::Module& module, torch::Tensor& flat_gradients)>;

// In-place sum across data-parallel ranks of a contiguous float tensor on the trainer's device
// (every rank calls it with the same shape, in the same order). Used by SyncBatchNorm.
using AllreduceSumFn = std::function<Status(torch::Tensor& tensor)>;

// Data-parallel training (TrainOptions::world_size > 1). Every rank builds the same networks from
// the same seed, and the trainer's random stream (seeded by train.seed, identical on every rank)
// draws for the WHOLE global batch: per critic update the latents (world_size * B, latent_dim) and
// the gradient-penalty weights (world_size * B), of which this rank uses rows
// [rank * B, (rank + 1) * B). A rank's "own random stream" is thus its slice of the shared stream,
// and together with the gradient hook averaging gradients and SyncBatchNorm this is what makes N
// ranks x B samples equal to 1 rank x N * B samples (up to float rounding). Fakes are conditioned
// on the real batch's genre_ids (this rank's rows), so no genres are sampled; an accompaniment model's
// fakes are written around the real batch's own part of the condition track. Every rank must pass
// the same B to Step(). StepMetrics are this rank's (losses over its B rows; gradient norms after
// the hook).
class GanTrainer {
 public:
  // Validates the options (InvalidArgument naming the field), builds both networks on the
  // device with weights drawn from `train.seed`, and both Adam optimisers.
  static StatusOr<std::unique_ptr<GanTrainer>> Create(GeneratorOptions g, DiscriminatorOptions d,
                                                      TrainOptions train);

  // One training step on `real` ((B, tracks, measures * steps, pitches) float 0/1, any device;
  // B may differ from batch_size). `genre_ids`: (B) int64 for conditional models, undefined
  // otherwise. Per critic update: D(real), fakes from fresh latents, D(fakes.detach()), gradient
  // penalty at x_hat = a * real + (1 - a) * fake with a ~ U[0,1) per sample, critic step; then
  // the generator's loss -mean D(fakes) on the same fakes and the generator step.
  // Errors: InvalidArgument for bad shapes; Internal "non-finite <metric> (<value>) at step <n>"
  // before the affected optimiser step (the critic may already have been updated if the failure
  // is in the generator half: restore a checkpoint to retry); the hook's status; Internal for a
  // LibTorch exception. step() advances only on success.
  StatusOr<StepMetrics> Step(const torch::Tensor& real, const torch::Tensor& genre_ids = {});

  // The generator in eval mode (BatchNorm running statistics), without autograd: with
  // TrainOptions::generator_ema the averaged generator (generator_average.h), else the live one.
  // latents: (N, latent_dim). Returns (N, tracks, measures * steps, pitches) on the trainer's
  // device. The generator is back in training mode afterwards. An accompaniment model
  // (GeneratorOptions::condition_track) needs `given`, (N, measures * steps, pitches): the part its
  // condition track plays in each sample (returned unchanged in that track).
  StatusOr<torch::Tensor> Generate(const torch::Tensor& latents,
                                   const torch::Tensor& genre_ids = {}, const torch::Tensor& given = {});

  // Completed training steps (generator updates).
  int64_t step() const { return step_; }

  // Writes / restores everything needed to continue bit-for-bit on CPU: both networks
  // ("generator", "discriminator": Module::save archives, loadable into a bare Generator; with
  // generator_ema, "generator" is the averaged generator, the one to sample from, and the live one is
  // "generator_live"; a checkpoint without the average starts it from the live weights),
  // both Adam states, the step count, the random stream, and the model options (checked on load:
  // FailedPrecondition when they differ). LoadState keeps parameter storage in place.
  Status SaveState(torch::serialize::OutputArchive& archive) const;
  Status LoadState(torch::serialize::InputArchive& archive);

  void set_gradient_hook(GradientHook hook) { gradient_hook_ = std::move(hook); }

  // The allreduce SyncBatchNorm uses (world_size > 1 with sync_batchnorm): called once per
  // generator BatchNorm layer in every training forward pass (a [sum x, sum x^2, count] tensor of
  // 2C + 1 floats) and once per layer in the generator's backward ([sum dy, sum dy * x_hat], 2C
  // floats), always in the same order on every rank; on CUDA the backward calls come from the
  // autograd engine's device thread. Without one, Step() returns FailedPrecondition. A failed call
  // aborts the step and Step() returns its status (the networks may be partly updated: restore a
  // checkpoint, as after any failed step).
  void set_allreduce_sum(AllreduceSumFn fn);

  // Overwrites both networks' parameters (their flat buffers, one call each) and buffers (the
  // generator's BatchNorm running statistics and counters, packed into one float tensor) with
  // rank 0's, so every rank starts identical (../shared/DESIGN.md section 5). Call once on every
  // rank after Create() or LoadState(). `broadcast_from_rank0` must replace its argument's values
  // in place. Adam state is not broadcast (empty at start; from the same checkpoint on resume).
  Status BroadcastParameters(const std::function<Status(torch::Tensor&)>& broadcast_from_rank0);

  // The networks. Do not move them to another device or replace their parameters: the trainer
  // keeps every parameter (and gradient) as a view of one flat buffer per network.
  Generator& generator() { return g_; }
  Discriminator& discriminator() { return d_; }
  const TrainOptions& options() const { return options_; }

  GanTrainer(const GanTrainer&) = delete;
  GanTrainer& operator=(const GanTrainer&) = delete;
  ~GanTrainer();

 private:
  // Parameters and gradients of one network, each a view into one contiguous buffer, so zeroing
  // gradients, the gradient norm, an allreduce and Adam are a handful of kernels, not hundreds.
  struct Flat {
    torch::Tensor params;  // 1-D, what the optimiser updates
    torch::Tensor grads;   // 1-D, params' .grad
    std::vector<torch::Tensor> module_params;
  };

  GanTrainer(GeneratorOptions g, DiscriminatorOptions d, TrainOptions train);
  Status CriticUpdate(const torch::Tensor& real, const torch::Tensor& genre_ids, bool last,
                      torch::Tensor& fakes, StepMetrics& metrics);
  Status GeneratorUpdate(const torch::Tensor& fakes, const torch::Tensor& genre_ids,
                         StepMetrics& metrics);
  Status CheckInput(const torch::Tensor& x, const torch::Tensor& genre_ids, int64_t dim1,
                    const char* what) const;
  std::string ArchitectureFingerprint() const;
  bool SyncsBatchNorm() const { return options_.world_size > 1 && options_.sync_batchnorm; }
  // Stage two of refiner training starts at step refiner_pretrain_steps (train_options.h).
  void StartRefinerStageIfDue();
  bool GeneratorFrozen() const {
    return options_.refiner_freeze_generator && g_->refiner_active();
  }
  // Uniform noise for stochastic binary neurons (this rank's rows of a global draw), else undefined.
  torch::Tensor RefinerNoise(int64_t batch);
  // This rank's rows of a tensor drawn for the global batch (all of it when world_size == 1).
  torch::Tensor RankRows(const torch::Tensor& global, int64_t batch) const;
  // The generator's SyncBatchNorm allreduce: calls allreduce_sum_, keeps a failure in
  // sync_status_ and throws c10::Error so the step unwinds.
  void AllreduceBatchStats(torch::Tensor& stats);

  // Constant after construction.
  const GeneratorOptions g_options_;
  const DiscriminatorOptions d_options_;
  const TrainOptions options_;
  torch::Device device_;

  Generator g_{nullptr};
  Discriminator d_{nullptr};
  Flat g_flat_, d_flat_;
  std::vector<torch::Tensor> refiner_params_;  // views into g_flat_ (empty without a refiner)
  std::unique_ptr<torch::optim::Adam> g_opt_, d_opt_;
  mutable at::Generator rng_;  // latents and interpolation weights (CPU, copied to the device)
  int64_t step_ = 0;
  GradientHook gradient_hook_;
  AllreduceSumFn allreduce_sum_;
  Status sync_status_;  // the first failed SyncBatchNorm allreduce of the current step
  std::unique_ptr<GeneratorAverage> average_;  // only with generator_ema > 0
  torch::Tensor last_given_;  // the last real batch's condition-track parts (accompaniment models): the average's
                              // BatchNorm calibration plays around them
};

}  // namespace tutti
