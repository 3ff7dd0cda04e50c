#pragma once
// MpiCommunicator: the Communicator over MPI for host (CPU) buffers. Every collective is
// non-blocking underneath (MPI_Iallreduce / MPI_Ibcast / MPI_Ibarrier) and is polled under the
// stall/timeout protocol described in stall_inspector.cc, so a peer that dies or stalls turns into
// a warning naming it and then DeadlineExceeded, never a hang.
//
// Launch: `mpirun -np N tutti-worker ...`, or `srun` under Slurm (Open MPI then reads the PMIx /
// SLURM_* variables that srun sets; build Open MPI with PMIx support and use `srun --mpi=pmix`).
// A plain `tutti-worker` without a launcher also works: Open MPI's singleton init gives size 1.
// (CreateCommunicator in comm_factory.h picks LocalCommunicator there instead, so a size-1 run does
// not depend on MPI at all.)

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/base/status.h"
#include "worker/comm/communicator.h"

namespace tutti::comm {

struct MpiOptions {
  // A collective (and start-up) not complete after this many seconds returns DeadlineExceeded.
  // Long enough for the slowest legitimate skew between ranks (a checkpoint save on rank 0, a
  // slow first step); short enough that a dead job is noticed. Seconds, > 0.
  double timeout_s = 300;
  // After this many seconds of waiting, one warning line on stderr names the ranks that have not
  // arrived. Seconds, > 0; useful values are below timeout_s.
  double stall_warning_s = 60;
};

class MpiCommunicator final : public Communicator {
 public:
  // Initialises MPI (MPI_Init_thread asking MPI_THREAD_SERIALIZED) unless someone already has,
  // in which case it reuses that initialisation and will not finalise it. Finds rank, size and
  // the node-local rank (MPI_Comm_split_type SHARED). Errors: InvalidArgument for bad options,
  // FailedPrecondition if MPI was already finalised, DeadlineExceeded if the other ranks do not
  // reach Create within timeout_s, Internal for MPI errors. One MpiCommunicator per process.
  static StatusOr<std::unique_ptr<MpiCommunicator>> Create(const MpiOptions& options = {});

  // Settles the stall inspector's messages and calls MPI_Finalize if Create initialised MPI.
  // If a collective failed (the communicator is broken) it skips MPI_Finalize, which could wait
  // for the dead peer; the caller should have called Abort() anyway.
  ~MpiCommunicator() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  DeviceKind device() const override { return DeviceKind::kCpu; }
  std::string backend() const override { return "mpi"; }

  Status Allreduce(void* data, int64_t count, DataType type, ReduceOp op) override;
  Status Broadcast(void* data, int64_t count, DataType type, int root) override;
  Status Barrier() override;
  Communicator& host() override { return *this; }
  [[noreturn]] void Abort(const Status& reason) override;

  // For backends layered on MPI (NCCL): runs one operation as the next numbered collective under
  // the stall/timeout protocol. `start` launches it; `test` returns true once it has completed,
  // false while in flight, or an error. On any error the communicator becomes broken.
  // `kind`/`detail` name it in messages ("allreduce", "sum, 10 x float32").
  Status RunWatched(const std::string& kind, const std::string& detail,
                    const std::function<Status()>& start,
                    const std::function<StatusOr<bool>()>& test);

  // Number of collectives started so far (the #k in messages is this count at the time).
  int64_t collectives_started() const { return seq_; }
  // True after a collective failed: every later call returns FailedPrecondition.
  bool broken() const { return broken_; }

 private:
  struct Impl;  // the MPI handles; keeps <mpi.h> out of this header
  MpiCommunicator(std::unique_ptr<Impl> impl, MpiOptions options);

  // Constant after construction.
  std::unique_ptr<Impl> impl_;
  const MpiOptions options_;
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;

  // Owned by the one calling thread (see communicator.h: not thread-safe).
  int64_t seq_ = 0;
  bool broken_ = false;
};

}  // namespace tutti::comm
