#include "worker/comm/nccl_communicator.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <cstdio>
#include <thread>

namespace tutti::comm {
namespace {

constexpr double kFinalizeSeconds = 10.0;  // bounded wait for ncclCommFinalize in the destructor

ncclDataType_t ToNccl(DataType type) {
  switch (type) {
    case DataType::kFloat32:
      return ncclFloat32;
    case DataType::kFloat64:
      return ncclFloat64;
    case DataType::kInt64:
      return ncclInt64;
    case DataType::kUint8:
      return ncclUint8;
  }
  return ncclFloat32;
}

ncclRedOp_t ToNccl(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return ncclSum;
    case ReduceOp::kMax:
      return ncclMax;
    case ReduceOp::kMin:
      return ncclMin;
    case ReduceOp::kAvg:
      return ncclAvg;
  }
  return ncclSum;
}

Status CudaError(cudaError_t err, const std::string& call) {
  return absl::InternalError(absl::StrCat(call, " failed: ", std::string(cudaGetErrorString(err))));
}

Status NcclError(ncclResult_t result, const std::string& call) {
  return absl::InternalError(absl::StrCat(call,
                                          " failed: ", std::string(ncclGetErrorString(result)),
                                          " (", std::string(ncclGetLastError(nullptr)), ")"));
}

// A non-blocking NCCL communicator may answer ncclInProgress from any call.
bool Accepted(ncclResult_t result) { return result == ncclSuccess || result == ncclInProgress; }

}  // namespace

struct NcclCommunicator::Impl {
  cudaStream_t stream = nullptr;
  ncclComm_t comm = nullptr;  // null once aborted

  // After a failure or timeout: tear the NCCL communicator down without waiting for peers.
  void AbortComm() {
    if (comm != nullptr) ncclCommAbort(comm);
    comm = nullptr;
  }

  // Done when NCCL has no pending work for this communicator and the stream has drained.
  StatusOr<bool> Test(const std::string& what) {
    ncclResult_t async = ncclSuccess;
    const ncclResult_t result = ncclCommGetAsyncError(comm, &async);
    if (result != ncclSuccess) return NcclError(result, "ncclCommGetAsyncError");
    if (async == ncclInProgress) return false;
    if (async != ncclSuccess) return NcclError(async, what);
    const cudaError_t err = cudaStreamQuery(stream);
    if (err == cudaErrorNotReady) return false;
    if (err != cudaSuccess) return CudaError(err, absl::StrCat("cudaStreamQuery after ", what));
    return true;
  }
};

NcclCommunicator::NcclCommunicator(std::unique_ptr<MpiCommunicator> mpi, std::unique_ptr<Impl> impl,
                                   int device)
    : mpi_(std::move(mpi)), impl_(std::move(impl)), device_index_(device) {}

StatusOr<std::unique_ptr<NcclCommunicator>> NcclCommunicator::Create(
    std::unique_ptr<MpiCommunicator> mpi, const NcclOptions& options) {
  if (mpi == nullptr) return absl::InvalidArgumentError("NcclCommunicator: mpi is null");
  int devices = 0;
  const cudaError_t count_err = cudaGetDeviceCount(&devices);
  if (count_err != cudaSuccess || devices == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("NcclCommunicator on rank ", mpi->rank(), ": no CUDA device visible (",
                     count_err == cudaSuccess ? std::string("0 devices")
                                              : std::string(cudaGetErrorString(count_err)),
                     ")"));
  }
  const int device = options.device >= 0 ? options.device : mpi->local_rank() % devices;
  if (device >= devices) {
    return absl::InvalidArgumentError(
        absl::StrCat("NcclOptions.device must be < ", devices, " visible devices, got ", device));
  }
  cudaError_t err = cudaSetDevice(device);
  if (err != cudaSuccess) return CudaError(err, absl::StrCat("cudaSetDevice(", device, ")"));

  // Rank 0 creates the unique id; MPI carries it to the others (a watched collective).
  ncclUniqueId id{};
  if (mpi->rank() == 0) {
    const ncclResult_t result = ncclGetUniqueId(&id);
    if (result != ncclSuccess) return NcclError(result, "ncclGetUniqueId");
  }
  TUTTI_RETURN_IF_ERROR(mpi->Broadcast(&id, sizeof(id), DataType::kUint8, 0));

  auto impl = std::make_unique<Impl>();
  err = cudaStreamCreateWithFlags(&impl->stream, cudaStreamNonBlocking);
  if (err != cudaSuccess) return CudaError(err, "cudaStreamCreateWithFlags");

  // Non-blocking init, so a peer that never joins is a timeout naming it, not a hang.
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  Impl* raw = impl.get();
  Status status = mpi->RunWatched(
      "ncclCommInitRank", absl::StrCat(mpi->size(), " ranks"),
      [&]() -> Status {
        const ncclResult_t result =
            ncclCommInitRankConfig(&raw->comm, mpi->size(), id, mpi->rank(), &config);
        return Accepted(result) ? absl::OkStatus() : NcclError(result, "ncclCommInitRankConfig");
      },
      [&]() { return raw->Test("ncclCommInitRankConfig"); });
  if (!status.ok()) {
    raw->AbortComm();
    cudaStreamDestroy(raw->stream);
    return status;
  }
  return std::unique_ptr<NcclCommunicator>(
      new NcclCommunicator(std::move(mpi), std::move(impl), device));
}

NcclCommunicator::~NcclCommunicator() {
  if (impl_->comm != nullptr) {
    cudaSetDevice(device_index_);
    bool finalized = false;
    if (!mpi_->broken() && Accepted(ncclCommFinalize(impl_->comm))) {
      const auto start = std::chrono::steady_clock::now();
      for (;;) {
        ncclResult_t async = ncclSuccess;
        if (ncclCommGetAsyncError(impl_->comm, &async) != ncclSuccess) break;
        if (async == ncclSuccess) {
          finalized = true;
          break;
        }
        if (async != ncclInProgress) break;
        if (std::chrono::steady_clock::now() - start >
            std::chrono::duration<double>(kFinalizeSeconds)) {
          break;
        }
        std::this_thread::yield();
      }
    }
    if (finalized) {
      ncclCommDestroy(impl_->comm);
      impl_->comm = nullptr;
    } else {
      impl_->AbortComm();
    }
  }
  if (impl_->stream != nullptr) cudaStreamDestroy(impl_->stream);
}

Status NcclCommunicator::Allreduce(void* data, int64_t count, DataType type, ReduceOp op) {
  TUTTI_RETURN_IF_ERROR(internal::CheckAllreduceArgs(data, count, type, op));
  if (impl_->comm == nullptr) {
    return absl::FailedPreconditionError("NCCL communicator was aborted by an earlier failure");
  }
  cudaError_t err = cudaSetDevice(device_index_);
  if (err != cudaSuccess) return CudaError(err, "cudaSetDevice");
  Status status = mpi_->RunWatched(
      "nccl allreduce", absl::StrCat(count, " x ", DataTypeName(type)),
      [&]() -> Status {
        const ncclResult_t result =
            ncclAllReduce(data, data, static_cast<size_t>(count), ToNccl(type), ToNccl(op),
                          impl_->comm, impl_->stream);
        return Accepted(result) ? absl::OkStatus() : NcclError(result, "ncclAllReduce");
      },
      [&]() { return impl_->Test("ncclAllReduce"); });
  if (!status.ok()) impl_->AbortComm();
  return status;
}

Status NcclCommunicator::Broadcast(void* data, int64_t count, DataType type, int root) {
  TUTTI_RETURN_IF_ERROR(internal::CheckBroadcastArgs(data, count, root, size()));
  if (impl_->comm == nullptr) {
    return absl::FailedPreconditionError("NCCL communicator was aborted by an earlier failure");
  }
  cudaError_t err = cudaSetDevice(device_index_);
  if (err != cudaSuccess) return CudaError(err, "cudaSetDevice");
  Status status = mpi_->RunWatched(
      "nccl broadcast", absl::StrCat("from rank ", root, ", ", count, " x ", DataTypeName(type)),
      [&]() -> Status {
        const ncclResult_t result = ncclBroadcast(data, data, static_cast<size_t>(count),
                                                  ToNccl(type), root, impl_->comm, impl_->stream);
        return Accepted(result) ? absl::OkStatus() : NcclError(result, "ncclBroadcast");
      },
      [&]() { return impl_->Test("ncclBroadcast"); });
  if (!status.ok()) impl_->AbortComm();
  return status;
}

Status NcclCommunicator::Barrier() { return mpi_->Barrier(); }

void NcclCommunicator::Abort(const Status& reason) {
  impl_->AbortComm();
  mpi_->Abort(reason);
}

}  // namespace tutti::comm
