#include "worker/run/distributed.h"

#include <vector>

#include <torch/torch.h>

#include "core/train/trainer_from_config.h"
#include "worker/comm/agreement.h"
#include "worker/run/run_log.h"

namespace tutti {
namespace {

// The comm type of `t`, or InvalidArgument naming what was handed over.
StatusOr<comm::DataType> CommType(const torch::Tensor& t, const char* what) {
  switch (t.scalar_type()) {
    case torch::kFloat32: return comm::DataType::kFloat32;
    case torch::kFloat64: return comm::DataType::kFloat64;
    case torch::kInt64: return comm::DataType::kInt64;
    case torch::kUInt8: return comm::DataType::kUint8;
    default:
      return absl::InvalidArgumentError(absl::StrCat(what, ": expected a float32, float64, int64 or uint8 tensor, got ",
                                                     std::string(c10::toString(t.scalar_type()))));
  }
}

// The tensor must be contiguous and live where the communicator's buffers live.
Status CheckTensor(const torch::Tensor& t, comm::DeviceKind device, const char* what) {
  if (!t.defined()) return absl::InvalidArgumentError(absl::StrCat(what, ": undefined tensor"));
  if (!t.is_contiguous()) return absl::InvalidArgumentError(absl::StrCat(what, ": expected a contiguous tensor"));
  const bool cuda = t.is_cuda();
  if (cuda != (device == comm::DeviceKind::kCuda)) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": the tensor is on ", cuda ? "CUDA" : "the CPU",
                                                   " but the communicator's buffers live on ",
                                                   cuda ? "the CPU" : "CUDA",
                                                   " (distributed.backend vs train.device)"));
  }
  return absl::OkStatus();
}

// Adds the seconds `fn` takes to *total.
template <typename Fn>
Status Timed(double* total, Fn&& fn) {
  const double t0 = MonotonicSeconds();
  Status status = fn();
  *total += MonotonicSeconds() - t0;
  return status;
}

}  // namespace

comm::CommOptions CommOptionsFromConfig(const JobConfig& config) {
  comm::CommOptions options;
  options.backend = config.distributed.backend;
  options.mpi.timeout_s = config.distributed.timeout_s;
  options.mpi.stall_warning_s = config.distributed.stall_warning_s;
  const std::string device = TrainOptionsFromConfig(config).device;  // "auto" resolved
  options.device = device.rfind("cuda", 0) == 0 ? comm::DeviceKind::kCuda : comm::DeviceKind::kCpu;
  return options;
}

Status AtRankStep(const Status& status, int rank, int64_t step) {
  if (status.ok()) return status;
  return Annotate(status, step < 0 ? absl::StrCat("[rank ", rank, "] start-up")
                                   : absl::StrCat("[rank ", rank, "] step ", step));
}

StatusOr<std::unique_ptr<DataParallel>> DataParallel::Create(comm::Communicator* comm, double bucket_mb) {
  if (comm == nullptr) return absl::InvalidArgumentError("DataParallel: null communicator");
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<comm::BucketedAllreducer> reducer,
                         comm::BucketedAllreducer::Create(comm, bucket_mb));
  return std::unique_ptr<DataParallel>(new DataParallel(comm, std::move(reducer)));
}

void DataParallel::Attach(GanTrainer& trainer, GradientHook inner) {
  trainer.set_allreduce_sum([this](torch::Tensor& t) -> Status {
    TUTTI_RETURN_IF_ERROR(CheckTensor(t, comm_->device(), "batch-norm allreduce"));
    TUTTI_ASSIGN_OR_RETURN(comm::DataType type, CommType(t, "batch-norm allreduce"));
    return Timed(&comm_seconds_, [&] {
      return Annotate(comm_->AllreduceSum(t.data_ptr(), t.numel(), type), "synchronised batch norm");
    });
  });
  trainer.set_gradient_hook([this, inner = std::move(inner)](Network network, torch::nn::Module& module,
                                                            torch::Tensor& grads) -> Status {
    const char* what = network == Network::kGenerator ? "generator gradients" : "discriminator gradients";
    TUTTI_RETURN_IF_ERROR(CheckTensor(grads, comm_->device(), what));
    if (grads.scalar_type() != torch::kFloat32) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": expected float32, got ",
                                                     std::string(c10::toString(grads.scalar_type()))));
    }
    TUTTI_RETURN_IF_ERROR(Timed(&comm_seconds_, [&] {
      return Annotate(reducer_->AverageInPlace(grads.data_ptr<float>(), grads.numel()),
                      absl::StrCat("averaging the ", what));
    }));
    return inner ? inner(network, module, grads) : absl::OkStatus();
  });
}

Status DataParallel::BroadcastParameters(GanTrainer& trainer) {
  return trainer.BroadcastParameters([this](torch::Tensor& t) -> Status {
    TUTTI_RETURN_IF_ERROR(CheckTensor(t, comm_->device(), "parameter broadcast"));
    TUTTI_ASSIGN_OR_RETURN(comm::DataType type, CommType(t, "parameter broadcast"));
    return Annotate(comm_->Broadcast(t.data_ptr(), t.numel(), type, /*root=*/0),
                    "broadcasting rank 0's parameters");
  });
}

Status DataParallel::CheckSameStep(int64_t step) {
  TUTTI_ASSIGN_OR_RETURN(const int64_t chief_step, comm::BroadcastInt64(*comm_, step, 0));
  if (chief_step != step) {
    return absl::FailedPreconditionError(absl::StrCat("this rank is at step ", step, " but rank 0 is at step ",
                                                      chief_step, " (did every rank load the same checkpoint?)"));
  }
  return absl::OkStatus();
}

}  // namespace tutti
