#pragma once
// Synchronised BatchNorm for data-parallel training: batch statistics over the GLOBAL batch of
// all ranks, so N ranks x B samples train exactly like one process with N * B samples.
//
// Forward: each rank sums its rows per channel into one small tensor [sum x (C), sum x^2 (C),
// count (1)], the tensor is summed across ranks (one call), and the global mean and biased
// variance normalise the input; running_mean / running_var are updated with the global mean and
// the unbiased global variance, so every rank's buffers stay identical.
// Backward: one more call sums [sum dy (C), sum dy * x_hat (C)] across ranks, so each rank's input
// gradient is its share of the gradient of the SUM of all ranks' losses; averaging parameter
// gradients across ranks (the usual data-parallel hook) then gives the single-process gradient of
// the mean loss. First-order only (backward is not itself differentiable with respect to the
// statistics' cross-rank terms; the WGAN-GP double backward never passes through the generator).
//
// Every rank must call the layers in the same order (the generator is one fixed graph, so its
// forward and its backward do). The per-channel count is summed in float: exact up to 2^24 rows
// per channel over all ranks.

#include <functional>

#include <torch/nn/modules/batchnorm.h>
#include <torch/types.h>

namespace tutti {

// Sums `stats` (a small contiguous float tensor on the layer's device) across ranks, in place.
// Reports failure by throwing (the trainer's wrapper throws c10::Error and keeps the Status).
// May be called from the autograd engine's thread for CUDA backward; never concurrently for one
// network.
using BatchStatsAllreduce = std::function<void(torch::Tensor& stats)>;

// Training-mode BatchNorm of `x` ((N, C, ...), channel dim 1) with `bn`'s affine parameters,
// momentum (must be set, not cumulative averaging) and eps, statistics summed across ranks by
// `allreduce`. Updates bn's running_mean / running_var (not num_batches_tracked).
torch::Tensor SyncBatchNorm(const torch::Tensor& x, const torch::nn::BatchNorm3d& bn,
                            const BatchStatsAllreduce& allreduce);

// `bn` applied to `x` ((N, C, ...)) the way the generator needs it: in training mode with
// `allreduce` set, SyncBatchNorm; otherwise LibTorch's batch_norm (batch statistics when
// `training`, running statistics when not), the fast single-process path.
torch::Tensor ApplyBatchNorm(const torch::nn::BatchNorm3d& bn, const torch::Tensor& x,
                             bool training, const BatchStatsAllreduce& allreduce);

}  // namespace tutti
