// GanTrainer's data-parallel pieces: the global-batch random rows, SyncBatchNorm's allreduce and
// the start-of-training broadcast (../shared/DESIGN.md section 5).

#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "core/train/gan_trainer.h"

namespace tutti {

torch::Tensor GanTrainer::RankRows(const torch::Tensor& global, int64_t batch) const {
  if (options_.world_size == 1) return global;
  return global.narrow(0, options_.rank * batch, batch);
}

void GanTrainer::set_allreduce_sum(AllreduceSumFn fn) { allreduce_sum_ = std::move(fn); }

void GanTrainer::AllreduceBatchStats(torch::Tensor& stats) {
  Status s = allreduce_sum_ ? allreduce_sum_(stats)
                            : absl::FailedPreconditionError("no allreduce function set");
  if (s.ok()) return;
  if (sync_status_.ok()) sync_status_ = s;
  TORCH_CHECK(false, "SyncBatchNorm allreduce failed: ", s.ToString());
}

namespace {

// Calls `broadcast` on `tensor` and keeps the result in `tensor`'s storage even if the function
// rebinds its argument instead of writing in place.
Status BroadcastInPlace(const std::function<Status(torch::Tensor&)>& broadcast,
                        const torch::Tensor& tensor, const std::string& what) {
  torch::Tensor arg = tensor;
  TUTTI_RETURN_IF_ERROR(Annotate(broadcast(arg), absl::StrCat("broadcasting ", what)));
  if (!arg.is_same(tensor)) {
    if (!arg.defined() || arg.sizes() != tensor.sizes()) {
      return absl::InternalError(absl::StrCat("broadcasting ", what, ": shape changed"));
    }
    tensor.copy_(arg);
  }
  return absl::OkStatus();
}

// All of `module`'s buffers (BatchNorm running_mean, running_var and the int64
// num_batches_tracked, exact in float up to 2^24) in one float tensor, broadcast, copied back.
Status BroadcastBuffers(const std::function<Status(torch::Tensor&)>& broadcast,
                        torch::nn::Module& module, const std::string& what) {
  const std::vector<torch::Tensor> buffers = module.buffers();
  std::vector<torch::Tensor> flat;
  for (const auto& b : buffers) {
    if (b.defined()) flat.push_back(b.reshape(-1).to(torch::kFloat));
  }
  if (flat.empty()) return absl::OkStatus();
  const torch::Tensor packed = torch::cat(flat);
  TUTTI_RETURN_IF_ERROR(BroadcastInPlace(broadcast, packed, what));
  int64_t offset = 0;
  for (const auto& b : buffers) {
    if (!b.defined()) continue;
    b.copy_(packed.narrow(0, offset, b.numel()).view(b.sizes()));
    offset += b.numel();
  }
  return absl::OkStatus();
}

}  // namespace

Status GanTrainer::BroadcastParameters(
    const std::function<Status(torch::Tensor&)>& broadcast_from_rank0) {
  try {
    torch::NoGradGuard no_grad;
    TUTTI_RETURN_IF_ERROR(
        BroadcastInPlace(broadcast_from_rank0, g_flat_.params, "generator parameters"));
    TUTTI_RETURN_IF_ERROR(
        BroadcastInPlace(broadcast_from_rank0, d_flat_.params, "discriminator parameters"));
    TUTTI_RETURN_IF_ERROR(BroadcastBuffers(broadcast_from_rank0, *g_, "generator buffers"));
    TUTTI_RETURN_IF_ERROR(BroadcastBuffers(broadcast_from_rank0, *d_, "discriminator buffers"));
    if (average_) {
      TUTTI_RETURN_IF_ERROR(BroadcastInPlace(broadcast_from_rank0, average_->flat(), "averaged generator"));
      average_->Invalidate();
    }
    return absl::OkStatus();
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("BroadcastParameters: ", std::string(e.what_without_backtrace())));
  }
}

}  // namespace tutti
