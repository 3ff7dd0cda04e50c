#pragma once
// The exponential moving average of the generator's weights (train.generator_ema), and the generator that
// samples with it.
//
// Why: a WGAN-GP generator trained with Adam at the tutorial's learning rate does not settle; it circles.
// On real rock the tutorial model's realism score jumps between 5.0 and 6.8 from one evaluation to the next
// (every 1,000 steps of one run), so the piece a user gets depends on which step the run stopped at. Averaging
// the weights over the last ~1/(1 - decay) steps (Yazici et al., ICLR 2019; used by ProGAN, StyleGAN and
// BigGAN) samples from the centre of that orbit instead. Training is unchanged: the live generator and critic
// learn as before, and the average only follows them.
//
// BatchNorm: the generator normalises with running statistics at sampling time, and the live generator's
// statistics belong to its own weights, not to the average's. So before the averaged generator is used its
// statistics are measured afresh: kCalibrationBatches batches of latents (fixed, from `seed`) through it in
// training mode, averaged with equal weight. The result depends only on the averaged weights, so a resumed
// run and the run it continues sample identically.
//
// Warm-up (train.generator_ema_warmup): the decay at update t (0-based) is min(decay, (1 + t) / (10 + t)), as
// TensorFlow's ExponentialMovingAverage does with num_updates. Without it the average starts at the initial
// weights and forgets them at the full decay's pace: at 0.999 it still holds 37 % of them after 1,000 steps
// (0.999^1000), and on real rock its evaluations there were 22 metrics outside with twice real's pitch classes
// (docs/results/2026-12-07-ema). With it the early average follows the live weights closely and the window widens
// to the full decay as the run goes on (0.99 at step 890, 0.999 at step 8,990).

#include <cstdint>

#include <torch/types.h>

#include "core/model/model_options.h"
#include "core/model/networks.h"

namespace tutti {

class GeneratorAverage {
 public:
  static constexpr int64_t kCalibrationBatches = 4;
  static constexpr int64_t kCalibrationBatch = 64;

  // `live_params`: the live generator's flat parameter buffer (parameters() order), the average's start.
  GeneratorAverage(const GeneratorOptions& options, double decay, const torch::Tensor& live_params, uint64_t seed,
                   bool warmup = false);

  // average += (1 - DecayAt(update)) * (live - average): one kernel over the flat buffers, after each generator
  // update. `update`: how many updates came before this one (the trainer's step, so a resumed run warms up as the
  // run it continues). No default: with warm-up, a caller that always passed 0 would average with decay 0.1 forever.
  void Update(const torch::Tensor& live_params, int64_t update);
  // The decay Update applies at `update`: decay(), or with warm-up min(decay(), (1 + update) / (10 + update)).
  double DecayAt(int64_t update) const;

  // The averaged generator in eval mode, its BatchNorm statistics measured on its own output. Rebuilt only
  // when the average moved since the last call. `live` gives the buffers that are state rather than statistics
  // (the refiner's stage flag); `given_parts` ((N, time, pitches), N >= 1) feeds an accompaniment model's
  // calibration, repeated over the batch (silence when undefined).
  Generator& Model(const Generator& live, const torch::Tensor& given_parts = {});

  // Sets the average to `weights`' parameters (a checkpoint's stored average, or the live generator where the
  // checkpoint has none). Fails on a generator of another size rather than reading past the flat buffer.
  void ResetFrom(const Generator& weights);

  // The flat average (parameters() order): saved with checkpoints, broadcast from rank 0 (then call Invalidate).
  torch::Tensor& flat() { return average_; }
  void Invalidate() { model_current_ = false; }
  double decay() const { return decay_; }

 private:
  void Calibrate(const torch::Tensor& given_parts);

  const GeneratorOptions options_;
  const double decay_;
  const bool warmup_;
  const uint64_t seed_;
  torch::Tensor average_;
  Generator model_{nullptr};
  bool model_current_ = false;
};

}  // namespace tutti
