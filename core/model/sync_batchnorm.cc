#include "core/model/sync_batchnorm.h"

#include <utility>
#include <vector>

#include <ATen/core/ivalue.h>
#include <torch/autograd.h>

namespace tutti {
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Carries the allreduce from forward to backward through ctx->saved_data (an IValue capsule).
struct AllreduceHolder : torch::CustomClassHolder {
  explicit AllreduceHolder(BatchStatsAllreduce f) : fn(std::move(f)) {}
  BatchStatsAllreduce fn;
};

// Every dim but the channel dim 1.
std::vector<int64_t> ReduceDims(int64_t dim) {
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < dim; ++d) dims.push_back(d);
  return dims;
}

// (1, C, 1, ...) to broadcast per-channel values against the input.
std::vector<int64_t> ChannelShape(int64_t dim, int64_t channels) {
  std::vector<int64_t> shape(dim, 1);
  shape[1] = channels;
  return shape;
}

struct SyncBatchNormFunction : torch::autograd::Function<SyncBatchNormFunction> {
  // Runs without autograd recording (custom Function forward), so the buffer updates are plain
  // in-place writes.
  static Tensor forward(AutogradContext* ctx, const Tensor& x, const Tensor& weight,
                        const Tensor& bias, const Tensor& running_mean, const Tensor& running_var,
                        double momentum, double eps, const BatchStatsAllreduce* allreduce) {
    const int64_t c = x.size(1);
    const std::vector<int64_t> dims = ReduceDims(x.dim()), shape = ChannelShape(x.dim(), c);
    // One allreduce: [sum x, sum x^2, count].
    Tensor stats = torch::cat({x.sum(dims), (x * x).sum(dims),
                               torch::full({1}, static_cast<double>(x.numel() / c), x.options())});
    (*allreduce)(stats);
    // Combine in double: var = E[x^2] - mean^2 cancels, so do not lose more bits than the sums did.
    const Tensor s = stats.to(torch::kDouble);
    const Tensor count = s.narrow(0, 2 * c, 1);
    const Tensor mean = s.narrow(0, 0, c) / count;
    const Tensor var = (s.narrow(0, c, c) / count - mean * mean).clamp_min(0);
    const Tensor invstd = (var + eps).rsqrt();
    // As BatchNorm: running = (1 - momentum) * running + momentum * batch statistic, with the
    // unbiased variance.
    const Tensor unbiased = var * count / (count - 1).clamp_min(1);
    running_mean.copy_(running_mean.to(torch::kDouble) * (1 - momentum) + mean * momentum);
    running_var.copy_(running_var.to(torch::kDouble) * (1 - momentum) + unbiased * momentum);

    const Tensor invstd_x = invstd.to(x.scalar_type());
    const Tensor xhat = torch::addcmul((-mean * invstd).to(x.scalar_type()).view(shape), x,
                                       invstd_x.view(shape));
    ctx->save_for_backward({xhat, weight, invstd_x, count.to(x.scalar_type())});
    ctx->saved_data["allreduce"] =
        c10::IValue::make_capsule(c10::make_intrusive<AllreduceHolder>(*allreduce));
    return torch::addcmul(bias.view(shape), xhat, weight.view(shape));
  }

  // dx = w * invstd * (dy - mean_all(dy) - x_hat * mean_all(dy * x_hat)) with the means over the
  // global batch; dw, db are this rank's sums (the gradient hook combines ranks).
  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const Tensor& xhat = saved[0];
    const Tensor& weight = saved[1];
    const Tensor& invstd = saved[2];
    const Tensor& count = saved[3];
    const Tensor& dy = grad_outputs[0];
    const int64_t c = xhat.size(1);
    const std::vector<int64_t> dims = ReduceDims(xhat.dim()), shape = ChannelShape(xhat.dim(), c);
    const Tensor sum_dy = dy.sum(dims);
    const Tensor sum_dy_xhat = (dy * xhat).sum(dims);
    Tensor stats = torch::cat({sum_dy, sum_dy_xhat});
    const c10::intrusive_ptr<torch::CustomClassHolder> capsule =
        ctx->saved_data["allreduce"].toCapsule();
    static_cast<AllreduceHolder*>(capsule.get())->fn(stats);
    const Tensor a = weight * invstd;
    const Tensor mean_dy = stats.narrow(0, 0, c) / count;
    const Tensor mean_dy_xhat = stats.narrow(0, c, c) / count;
    const Tensor dx = torch::addcmul(torch::addcmul((-a * mean_dy).view(shape), dy, a.view(shape)),
                                     xhat, (-a * mean_dy_xhat).view(shape));
    return {dx, sum_dy_xhat, sum_dy, Tensor(), Tensor(), Tensor(), Tensor(), Tensor()};
  }
};

}  // namespace

Tensor SyncBatchNorm(const Tensor& x, const torch::nn::BatchNorm3d& bn,
                     const BatchStatsAllreduce& allreduce) {
  TORCH_CHECK(x.dim() >= 2, "SyncBatchNorm: expected (N, C, ...) input, got ", x.sizes());
  TORCH_CHECK(bn->options.affine() && bn->options.track_running_stats() &&
                  bn->options.momentum().has_value(),
              "SyncBatchNorm: needs an affine BatchNorm with running statistics and a momentum");
  TORCH_CHECK(allreduce, "SyncBatchNorm: no allreduce function");
  return SyncBatchNormFunction::apply(x, bn->weight, bn->bias, bn->running_mean, bn->running_var,
                                      bn->options.momentum().value(), bn->options.eps(),
                                      &allreduce);
}

Tensor ApplyBatchNorm(const torch::nn::BatchNorm3d& bn, const Tensor& x, bool training,
                      const BatchStatsAllreduce& allreduce) {
  if (training && allreduce) return SyncBatchNorm(x, bn, allreduce);
  return torch::batch_norm(x, bn->weight, bn->bias, bn->running_mean, bn->running_var, training,
                           bn->options.momentum().value(), bn->options.eps(),
                           /*cudnn_enabled=*/true);
}

}  // namespace tutti
