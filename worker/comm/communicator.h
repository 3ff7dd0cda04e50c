#pragma once
// Communicator: the one transport interface the trainer talks to (DESIGN.md §5). Backends live in
// same-named files beside this one: local_communicator (world size 1, no MPI), mpi_communicator
// (CPU buffers), nccl_communicator (CUDA buffers; built only with TUTTI_WITH_NCCL).
//
// The interface is torch-free on purpose: it moves raw buffers, so every backend can be tested
// without LibTorch. The trainer hands it one contiguous flat gradient buffer per network.
//
// Contract shared by every backend (checked by comm_contract.h against each of them):
//   * Collectives are called by EVERY rank of the job, in the SAME order, with the same count,
//     type and root. Each call is numbered (#1, #2, ...) and error messages quote that number.
//   * Buffers live on device() memory (host memory for kCpu, the rank's own GPU for kCuda);
//     AgreeOnFlag and host() always work on host memory.
//   * Not thread-safe: one thread at a time calls into a Communicator (with an MPI backend that
//     only got MPI_THREAD_FUNNELED, the thread that created it).
//   * Failures never hang: a collective that a peer never joins returns DeadlineExceeded after the
//     backend's timeout, naming the ranks that have not arrived where it can. After any non-OK
//     status the communicator is broken: the caller reports the status and calls Abort(), which
//     takes the whole job down with that message.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/base/status.h"

namespace tutti::comm {

enum class DataType { kFloat32, kFloat64, kInt64, kUint8 };
enum class DeviceKind { kCpu, kCuda };
// kAvg = kSum divided by size(); floating types only (NCCL does it natively with ncclAvg, the MPI
// backend divides on the host after the sum).
enum class ReduceOp { kSum, kMax, kMin, kAvg };

// Bytes per element of `type`.
size_t DataTypeSize(DataType type);
// "float32", "float64", "int64", "uint8".
std::string DataTypeName(DataType type);

class Communicator {
 public:
  virtual ~Communicator();

  virtual int rank() const = 0;             // 0 .. size()-1
  virtual int size() const = 0;             // number of ranks in the job
  virtual int local_rank() const = 0;       // rank among the ranks on this node (picks the GPU)
  virtual int local_size() const = 0;       // ranks on this node
  virtual DeviceKind device() const = 0;    // where Allreduce/Broadcast buffers live
  virtual std::string backend() const = 0;  // "local", "mpi", "nccl"

  // In place: `data[0..count)` becomes the element-wise `op` over all ranks' buffers.
  // count >= 0; data may be null only when count == 0.
  virtual Status Allreduce(void* data, int64_t count, DataType type, ReduceOp op) = 0;
  Status AllreduceSum(void* data, int64_t count, DataType type) {
    return Allreduce(data, count, type, ReduceOp::kSum);
  }

  // In place: every rank's `data[0..count)` becomes root's. 0 <= root < size().
  virtual Status Broadcast(void* data, int64_t count, DataType type, int root) = 0;

  // Returns once every rank has entered Barrier (or DeadlineExceeded naming the missing ones).
  virtual Status Barrier() = 0;

  // The host-memory communicator over the same ranks, for control decisions (stop, checkpoint,
  // step counts). *this for CPU backends; the NCCL backend returns the MPI communicator it uses
  // for its out-of-band channel. Owned by *this.
  virtual Communicator& host() = 0;

  // Writes `reason` to stderr with this rank's number and terminates the WHOLE job with a non-zero
  // exit code (MPI_Abort for MPI backends). Use it after any collective returned non-OK.
  [[noreturn]] virtual void Abort(const Status& reason) = 0;

  // Logical OR of *flag over all ranks, written back to *flag (host memory, via host()).
  // Rank 0 says "stop" by setting true; everyone leaves the loop at the same step.
  Status AgreeOnFlag(bool* flag);
};

// Allreduce with ReduceOp::kAvg: the element-wise mean over ranks. Floating types only
// (InvalidArgument otherwise); buffer on comm.device() memory.
Status AllreduceAverage(Communicator& comm, void* data, int64_t count, DataType type);

// Splits [0, count) into consecutive chunks of at most `bucket_elems` elements (the last one may be
// shorter). Returned as (offset, length) pairs; empty for count == 0. bucket_elems >= 1.
std::vector<std::pair<int64_t, int64_t>> SplitIntoBuckets(int64_t count, int64_t bucket_elems);

// Averages a flat gradient buffer across ranks, bucket by bucket.
//
// Why buckets: one message per bucket bounds the size of any single collective (and so the
// scratch memory MPI/NCCL allocate for it, and the time one stalled message can hide), and it is
// the seam where overlap with backward would go: a bucket can be reduced as soon as the gradients
// it covers are ready. Overlap itself is a later measurement (bench/allreduce); today buckets are
// reduced one after another once backward has finished.
//
// Thread-safety: like the Communicator it wraps. Does not own `comm`, which must outlive it.
// For backends: the argument checks every backend applies first, so all reject the same calls
// with the same InvalidArgument message.
namespace internal {
Status CheckAllreduceArgs(const void* data, int64_t count, DataType type, ReduceOp op);
Status CheckBroadcastArgs(const void* data, int64_t count, int root, int size);
}  // namespace internal

class BucketedAllreducer {
 public:
  // InvalidArgument when comm is null or bucket_mb is not > 0. bucket_mb is in MiB (2^20 bytes).
  static StatusOr<std::unique_ptr<BucketedAllreducer>> Create(Communicator* comm,
                                                              double bucket_mb = 25);

  // flat[0..count) becomes the mean over ranks. Buffer on comm->device() memory.
  // Errors carry the bucket index and element range.
  Status AverageInPlace(float* flat, int64_t count);
  // Same, summing only (no division): for callers that scale elsewhere.
  Status SumInPlace(float* flat, int64_t count);

  int64_t bucket_elems() const { return bucket_elems_; }  // floats per bucket

 private:
  BucketedAllreducer(Communicator* comm, int64_t bucket_elems)
      : comm_(comm), bucket_elems_(bucket_elems) {}

  Communicator* const comm_;    // not owned
  const int64_t bucket_elems_;  // >= 1
};

}  // namespace tutti::comm
