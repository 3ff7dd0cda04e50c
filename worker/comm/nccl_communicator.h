#pragma once
// NcclCommunicator: the Communicator for CUDA buffers. Built only when TUTTI_WITH_NCCL resolves
// to ON (CUDA toolkit + NCCL found); it compiles and links without a GPU and runs only with one.
//
// It rides on an MpiCommunicator, which it owns: MPI broadcasts the NCCL unique id from rank 0,
// serves host() (control decisions on host memory), and runs every NCCL operation as a numbered
// collective under the same stall/timeout protocol (stall_inspector.cc) with the MPI options'
// timeout_s and stall_warning_s. Each collective is enqueued on the communicator's own
// non-blocking CUDA stream and polled (cudaStreamQuery + ncclCommGetAsyncError) until it is done,
// fails, or times out; on failure or timeout the NCCL communicator is aborted (ncclCommAbort), so
// the caller can Abort() the job instead of hanging in a kernel that waits for a dead peer.
//
// Buffers passed to Allreduce/Broadcast are device pointers on device_index(). Calls return after
// the operation has completed on the device (synchronous from the caller's point of view).
// Thread-safety: as the Communicator contract (one thread at a time).

#include <cstdint>
#include <memory>
#include <string>

#include "core/base/status.h"
#include "worker/comm/communicator.h"
#include "worker/comm/mpi_communicator.h"

namespace tutti::comm {

struct NcclOptions {
  // CUDA device for this rank; -1 picks local_rank % (number of visible devices), the usual
  // one-rank-per-GPU layout.
  int device = -1;
};

class NcclCommunicator final : public Communicator {
 public:
  // FailedPrecondition when no CUDA device is visible; DeadlineExceeded when a peer never joins
  // ncclCommInitRank within the MPI timeout; Internal for CUDA/NCCL errors (with their text).
  static StatusOr<std::unique_ptr<NcclCommunicator>> Create(std::unique_ptr<MpiCommunicator> mpi,
                                                            const NcclOptions& options = {});
  // Finalises the NCCL communicator (bounded wait; aborts it if that does not finish), destroys
  // the stream, then the MpiCommunicator.
  ~NcclCommunicator() override;

  int rank() const override { return mpi_->rank(); }
  int size() const override { return mpi_->size(); }
  int local_rank() const override { return mpi_->local_rank(); }
  int local_size() const override { return mpi_->local_size(); }
  DeviceKind device() const override { return DeviceKind::kCuda; }
  std::string backend() const override { return "nccl"; }
  int device_index() const { return device_index_; }

  Status Allreduce(void* data, int64_t count, DataType type, ReduceOp op) override;
  Status Broadcast(void* data, int64_t count, DataType type, int root) override;
  Status Barrier() override;  // host barrier (every NCCL call here already waits for its stream)
  Communicator& host() override { return *mpi_; }
  [[noreturn]] void Abort(const Status& reason) override;

 private:
  struct Impl;  // CUDA stream and NCCL communicator; keeps CUDA/NCCL headers out of this header
  NcclCommunicator(std::unique_ptr<MpiCommunicator> mpi, std::unique_ptr<Impl> impl, int device);

  // Constant after construction.
  std::unique_ptr<MpiCommunicator> mpi_;
  std::unique_ptr<Impl> impl_;
  const int device_index_;
};

}  // namespace tutti::comm
