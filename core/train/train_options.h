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
};

}  // namespace tutti
