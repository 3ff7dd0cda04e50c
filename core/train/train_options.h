#pragma once
// Options of one GAN training process (WGAN-GP, ../shared/lpd5.md section 4). Torch-free, so
// config parsing can fill it without LibTorch.

#include <cstdint>
#include <string>

namespace tutti {

struct TrainOptions {
  // Samples per step per process (the tutorial's 16). Larger batches use the cores better.
  int64_t batch_size = 16;
  // Adam learning rates of the generator and the discriminator (critic).
  double g_lr = 1e-3, d_lr = 1e-3;
  // Adam betas for both networks (the WGAN-GP paper's 0.5, 0.9).
  double beta1 = 0.5, beta2 = 0.9;
  // Adam epsilon for both networks (PyTorch's default).
  double adam_eps = 1e-8;
  // Critic updates per generator update (the tutorial: 1; WGAN-GP paper: 5). Each critic update
  // reuses the step's real batch with fresh fakes.
  int critic_steps = 1;
  // Weight of the gradient penalty 10 * mean((||grad_x D(x_hat)||_2 - 1)^2).
  double gp_weight = 10.0;
  // Seeds the initial weights and the trainer's own random stream (latents, interpolation
  // weights). Same seed, options and data -> bit-identical training on CPU.
  uint64_t seed = 0;
  // Intra-op threads (process-wide, at::set_num_threads). 0 = hardware threads / local_ranks.
  int intra_op_threads = 0;
  // Training processes sharing this machine's cores (used only when intra_op_threads == 0).
  int local_ranks = 1;
  // "cpu", "cuda" or "cuda:N".
  std::string device = "cpu";

  // Data-parallel training (../shared/DESIGN.md section 5): this process is rank `rank` of
  // `world_size` (0 <= rank < world_size), each stepping on its own batch_size rows of a global
  // batch of world_size * batch_size. 1 = single-process training, unchanged.
  int rank = 0;
  int world_size = 1;
  // With world_size > 1: the generator's BatchNorm layers normalise with statistics of the global
  // batch (summed across ranks by GanTrainer::set_allreduce_sum's function), so N ranks x B
  // samples train like one process with N * B. false: per-rank statistics (cheaper, not
  // equivalent). Ignored when world_size == 1.
  bool sync_batchnorm = true;

  // Two-stage training of a generator with a refiner (GeneratorOptions::refiner, BinaryMuseGAN): the first
  // refiner_pretrain_steps generator updates train the generator and the critic without the refiner (stage
  // one); from then on the critic judges the refiner's binary output (stage two), with the generator
  // fine-tuned with it (the default, as the config's model.refiner_generator) or frozen
  // (refiner_freeze_generator: only the refiner learns, and the generator's Adam state starts afresh so its
  // weights stay exactly as they were). Ignored without a refiner.
  int64_t refiner_pretrain_steps = 0;
  bool refiner_freeze_generator = false;

  // Decay of the exponential moving average of the generator's weights (generator_average.h), in [0, 1):
  // 0 (the tutorial) samples from the live generator; e.g. 0.999 averages over the last ~1,000 steps, and
  // Generate(), evaluations and checkpoints' "generator" use the average. Training itself is unchanged.
  double generator_ema = 0;
  // With generator_ema: the decay at step t is min(generator_ema, (1 + t) / (10 + t)), so the average leaves the
  // initial weights behind within the first tens of steps (GeneratorAverage's warm-up). Off: the fixed decay.
  bool generator_ema_warmup = false;
};

}  // namespace tutti
