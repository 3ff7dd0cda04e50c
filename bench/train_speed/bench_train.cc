// tutti-bench-train: times GanTrainer::Step like bench/reference/musegan_train.py times the
// tutorial's loop: same model, random 0/1 real batches from a fixed seed (made before timing),
// warm-up steps, then N timed steps. Verifies while it times: every step's metrics must be
// finite, else it exits non-zero. Prints one JSON line.
//
// FLOPs per D+G step (the algorithm's nominal work, the same number for every implementation):
//   F_G, F_D = forward FLOPs per sample = 2 * sum over conv/linear layers of MACs, where
//     Conv3d MACs = out positions * C_out * (C_in / groups) * kernel volume,
//     ConvTranspose3d MACs = in positions * C_in * (C_out / groups) * kernel volume.
//   A backward pass costs 2 forwards (input and weight gradients). Per sample and critic update:
//   D(real) + backward 3 F_D, D(fake) + backward 3 F_D, gradient penalty 6 F_D (forward F_D,
//   input gradient F_D, double backward 2 * (F_D + F_D)); generator update: G forward and
//   backward 3 F_G, D forward and backward 3 F_D.
//   FLOPs/step = B * (critic_steps * 12 F_D + 3 F_D + critic_steps * F_G + 2 F_G).
//   Defaults: F_G = 5.85 MFLOP, F_D = 4.87 MFLOP -> 90.5 MFLOP per sample per step.

#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/types.h>

#include "core/base/allocator_tuning.h"
#include "core/train/gan_trainer.h"

namespace {

double ForwardFlopsG(const tutti::GeneratorOptions& o) {
  const double t = o.tracks(), m = o.measures(), s4 = o.steps_per_measure() / 4.0,
               p6 = o.pitches() / 6.0;
  // in positions * C_in * C_out/groups * kernel volume, per layer of the table
  const double macs = 1 * o.latent_dim() * 256 * m       // transconv0
                      + m * 256 * 128 * s4               // transconv1
                      + m * s4 * 128 * 64 * 4            // transconv2
                      + m * s4 * 4 * 64 * 32 * 3         // transconv3
                      + m * s4 * 6 * 32 * (16 * t) * 4   // transconv4 (broadcast input)
                      + m * s4 * 4 * 6 * (16 * t) * 1 * p6;  // transconv5 (groups = tracks)
  return 2 * macs;
}

double ForwardFlopsD(const tutti::DiscriminatorOptions& o) {
  const double t = o.tracks(), m = o.measures(), s = o.steps_per_measure(), s4 = s / 4;
  const double p6 = o.pitches() / 6.0;
  // out positions * C_out * C_in/groups * kernel volume
  const double macs = m * s * 6 * (16 * t) * 1 * p6  // conv0 (groups = tracks)
                      + m * s4 * 6 * (16 * t) * 16 * 4  // conv1 (groups = tracks)
                      + m * s4 * 4 * 64 * (16 * t) * 3  // conv2
                      + m * s4 * 1 * 64 * 64 * 4        // conv3
                      + m * 128 * 64 * s4               // conv4
                      + (m - 1) * 128 * 128 * 2         // conv5
                      + 1 * 256 * 128 * (m - 1)         // conv6
                      + 256;                            // dense
  return 2 * macs;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Times GanTrainer::Step (WGAN-GP, MuseGAN tutorial model) on random batches"};
  int64_t batch = 16;
  int threads = 2, warmup = 5, steps = 50, pool = 8, critic_steps = 1;
  uint64_t seed = 0;
  bool per_track = false;
  app.add_option("--batch", batch, "samples per step")->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "intra-op threads")->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "untimed steps first");
  app.add_option("--steps", steps, "timed steps")->check(CLI::PositiveNumber);
  app.add_option("--pool", pool, "distinct random real batches")->check(CLI::PositiveNumber);
  app.add_option("--critic-steps", critic_steps, "critic updates per step")->check(CLI::PositiveNumber);
  app.add_option("--seed", seed, "seed of weights, latents and data");
  app.add_flag("--per-track", per_track, "one module per track instead of grouped convolutions");
  bool composed_norm = false;
  app.add_flag("--composed-norm", composed_norm,
               "LayerNorm + LeakyReLU as LibTorch's composed ops instead of the fused node (core/model/norm_act.h)");
  std::string profile;
  app.add_option("--profile", profile,
                 "write a chrome://tracing JSON of the timed steps (LibTorch's profiler; slows them down)");
  CLI11_PARSE(app, argc, argv);
  tutti::KeepFreedMemoryForReuse();  // as tutti-worker does

  tutti::TrainOptions train;
  train.batch_size = batch;
  train.intra_op_threads = threads;
  train.seed = seed;
  train.critic_steps = critic_steps;
  const auto g = tutti::GeneratorOptions().grouped_tracks(!per_track);
  const auto d = tutti::DiscriminatorOptions().grouped_tracks(!per_track).fused_norm_act(!composed_norm);
  auto trainer = tutti::GanTrainer::Create(g, d, train);
  if (!trainer.ok()) {
    std::fprintf(stderr, "tutti-bench-train: %s\n", trainer.status().ToString().c_str());
    return 1;
  }
  auto data_gen = at::detail::createCPUGenerator(seed + 1);
  std::vector<torch::Tensor> real;
  for (int i = 0; i < pool; ++i) {
    real.push_back((torch::rand({batch, g.tracks(), g.measures() * g.steps_per_measure(),
                                 g.pitches()}, data_gen) < 0.1).to(torch::kFloat));
  }
  tutti::StepMetrics last;
  auto run = [&](int n) {
    for (int i = 0; i < n; ++i) {
      auto m = (*trainer)->Step(real[i % pool]);
      if (!m.ok()) {
        std::fprintf(stderr, "tutti-bench-train: %s\n", m.status().ToString().c_str());
        return false;
      }
      last = *m;
    }
    return true;
  };
  if (!run(warmup)) return 1;
  const auto start = std::chrono::steady_clock::now();
  {
    // Only the timed steps are traced; the profiler's own cost makes this run's rate meaningless.
    std::unique_ptr<torch::autograd::profiler::RecordProfile> trace;
    if (!profile.empty()) trace = std::make_unique<torch::autograd::profiler::RecordProfile>(profile);
    if (!run(steps)) return 1;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double flops_per_sample =
      critic_steps * 12 * ForwardFlopsD(d) + 3 * ForwardFlopsD(d) +
      critic_steps * ForwardFlopsG(g) + 2 * ForwardFlopsG(g);
  const double steps_per_s = steps / seconds;
  std::printf(
      "{\"impl\": \"%s\", \"batch\": %lld, \"threads\": %d, \"steps\": %d, \"seconds\": %.4f, "
      "\"steps_per_s\": %.3f, \"mflop_per_step\": %.2f, \"gflop_per_s\": %.3f, \"d_loss\": %.6g, "
      "\"g_loss\": %.6g}\n",
      composed_norm ? "tutti-composed-norm" : "tutti", static_cast<long long>(batch), at::get_num_threads(), steps, seconds, steps_per_s,
      flops_per_sample * batch / 1e6, flops_per_sample * batch * steps_per_s / 1e9, last.d_loss,
      last.g_loss);
  return 0;
}
