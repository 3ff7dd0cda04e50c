#pragma once
// The generator's rest plans (GeneratorOptions::rest_plans): which tracks sit out which bars, drawn from the
// training data's own samples, so every sample's empty bars follow a real arrangement.
//
// Why: real rock leaves a track out of whole bars (piano 6 %, guitar 5 %, strings 5 %, bass 2 %, drums 1 %), and
// those rests come in runs: a resting piano rests 1.8 of the 4 bars on average and half the segments with an empty
// bar have two or three (docs/results/2026-12-07-bar-level-scale). The generator almost never writes one. Learned
// bar levels and gates (bar_levels.h) did not find them either: they swung between silencing a track everywhere and
// nowhere (docs/results/2026-12-07-bar-gate, 2026-12-07-bar-level-scale). A rest plan takes that decision out of the
// critic's tug of war: the arrangement (which track plays in which bar) is sampled from real arrangements, and the
// network writes the notes of the bars that play.
//
// The plans are a buffer of kPlans (tracks, measures) 0/1 rows, 1 where the track plays in that bar. They start as
// all ones (nothing rests: the tutorial's output), and training fills them from the training split before the first
// step (the worker reads them from the packs, core/data/bar_activity.h); a checkpoint carries them, so sampling needs
// no data. Each sample's plan is picked by its latent's first coordinate through the normal CDF, so a sample stays a
// function of its latent (and genre and given part) alone: the sampler, the server's batches and the evaluations need
// no extra input, and equal latents give equal samples.

#include <cstdint>
#include <ostream>

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace tutti {

class RestPlansImpl : public torch::nn::Module {
 public:
  // How many plans a model holds: enough that every real arrangement with a share above ~0.1 % is in the set, small
  // enough (20 KB at LPD-5's 5 tracks x 4 bars) to ride in every checkpoint.
  static constexpr int64_t kPlans = 1024;

  RestPlansImpl(int64_t tracks, int64_t measures);

  // plays: (kPlans, tracks, measures), every value 0 or 1 (any dtype). Replaces the plans. Throws c10::Error naming
  // the expected shape or the first value that is not 0 or 1.
  void Set(const torch::Tensor& plays);
  // z: (B, latent) with latent >= 1. Returns (B, tracks, measures) float 0/1, the plan of each sample: row
  // floor(Phi(z[:, 0]) * kPlans), so with z ~ N(0, 1) every plan is equally likely.
  torch::Tensor Pick(const torch::Tensor& z) const;
  // out: (B, tracks, measures * steps, pitches). Returns out with every resting (track, bar) set to 0.
  torch::Tensor Apply(const torch::Tensor& out, const torch::Tensor& z) const;
  void pretty_print(std::ostream& stream) const override;

  const int64_t tracks, measures;
  torch::Tensor plans;  // buffer "plans", (kPlans, tracks, measures) float
};
TORCH_MODULE(RestPlans);

}  // namespace tutti
