#pragma once
// LocalCommunicator: the world-size-1 backend. Collectives validate their arguments exactly like
// the MPI backend, count themselves, and leave the buffer as it is (the sum/mean/max over one rank
// is the rank's own value). It needs no MPI at all, so a plain `tutti-worker` (no launcher) and
// unit tests run without mpirun.
//
// Thread-safety: as the Communicator contract (one thread at a time).

#include <cstdint>
#include <memory>
#include <string>

#include "worker/comm/communicator.h"

namespace tutti::comm {

class LocalCommunicator final : public Communicator {
 public:
  // `device` is what the caller's buffers are (the data is never touched, so kCuda works too).
  explicit LocalCommunicator(DeviceKind device = DeviceKind::kCpu) : device_(device) {}

  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  DeviceKind device() const override { return device_; }
  std::string backend() const override { return "local"; }

  Status Allreduce(void* data, int64_t count, DataType type, ReduceOp op) override;
  Status Broadcast(void* data, int64_t count, DataType type, int root) override;
  Status Barrier() override;
  Communicator& host() override;
  // Prints "[rank 0] aborting: <reason>" to stderr and exits the process with code 1.
  [[noreturn]] void Abort(const Status& reason) override;

  int64_t collectives_started() const { return seq_; }

 private:
  const DeviceKind device_;                  // constant after construction
  int64_t seq_ = 0;                          // collectives so far; owned by the calling thread
  std::unique_ptr<LocalCommunicator> host_;  // lazily made kCpu twin when device_ is kCuda
};

}  // namespace tutti::comm
