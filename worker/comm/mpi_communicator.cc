#include "worker/comm/mpi_communicator.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "worker/comm/stall_inspector.h"

namespace tutti::comm {
namespace {

// MPI counts are int; larger buffers go out as several numbered collectives of this many elements.
constexpr int64_t kMaxElementsPerCall = int64_t{1} << 30;

MPI_Datatype ToMpi(DataType type) {
  switch (type) {
    case DataType::kFloat32:
      return MPI_FLOAT;
    case DataType::kFloat64:
      return MPI_DOUBLE;
    case DataType::kInt64:
      return MPI_INT64_T;
    case DataType::kUint8:
      return MPI_UINT8_T;
  }
  return MPI_DATATYPE_NULL;
}

MPI_Op ToMpi(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg:
      return MPI_SUM;
    case ReduceOp::kMax:
      return MPI_MAX;
    case ReduceOp::kMin:
      return MPI_MIN;
  }
  return MPI_OP_NULL;
}

std::string OpName(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return "sum";
    case ReduceOp::kAvg:
      return "avg";
    case ReduceOp::kMax:
      return "max";
    case ReduceOp::kMin:
      return "min";
  }
  return "?";
}

Status MpiError(int code, const std::string& call) {
  return absl::InternalError(absl::StrCat(call, " failed: ", MpiErrorString(code)));
}

// Completes `request` or gives up after timeout_s (start-up only; collectives use the inspector).
Status WaitWithDeadline(MPI_Request* request, double timeout_s, const std::string& what) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    int done = 0;
    const int rc = MPI_Test(request, &done, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) return MpiError(rc, what);
    if (done) return absl::OkStatus();
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (waited >= timeout_s) {
      return absl::DeadlineExceededError(absl::StrCat(
          what, " timed out after ", absl::SixDigits(waited),
          " s: not every rank reached MpiCommunicator::Create (a rank failed to start?)"));
    }
    std::this_thread::yield();
  }
}

template <typename T>
void DivideBy(void* data, int64_t count, int divisor) {
  T* values = static_cast<T*>(data);
  const T d = static_cast<T>(divisor);
  for (int64_t i = 0; i < count; ++i) values[i] /= d;
}

}  // namespace

struct MpiCommunicator::Impl {
  bool owns_mpi = false;                  // Create called MPI_Init_thread, so we finalise
  MPI_Comm comm = MPI_COMM_NULL;          // collectives (private dup of the world)
  MPI_Comm inspect_comm = MPI_COMM_NULL;  // stall inspector's messages (second private dup)
  std::unique_ptr<StallInspector> inspector;
};

MpiCommunicator::MpiCommunicator(std::unique_ptr<Impl> impl, MpiOptions options)
    : impl_(std::move(impl)), options_(options) {}

StatusOr<std::unique_ptr<MpiCommunicator>> MpiCommunicator::Create(const MpiOptions& options) {
  if (!(options.timeout_s > 0) || !(options.stall_warning_s > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("MpiOptions: timeout_s and stall_warning_s must be > 0, got ",
                     options.timeout_s, " and ", options.stall_warning_s));
  }
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (finalized) {
    return absl::FailedPreconditionError("MpiCommunicator: MPI was already finalised");
  }
  auto impl = std::make_unique<Impl>();
  int provided = MPI_THREAD_SINGLE;
  if (!initialized) {
    // Open MPI's libnbc picks a binomial reduce+broadcast for MPI_Iallreduce with < 4 ranks or an
    // in-place buffer (both always true for us with 2-3 ranks per node), which ran at 0.6-0.75x of
    // blocking MPI_Allreduce in bench/allreduce; its ring algorithm (1) is bandwidth-optimal, works
    // in place, and measured ~1.0x at every size there. Cost: 2(n-1) latency steps, so tiny
    // control collectives on very large jobs are slower. Only a default: an explicit
    // `--mca coll_libnbc_iallreduce_algorithm N` (or the env var) wins. Other MPIs ignore it.
    setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "1", /*overwrite=*/0);
    // SERIALIZED: the trainer may drive the communicator from a thread other than main.
    const int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
    if (rc != MPI_SUCCESS) return MpiError(rc, "MPI_Init_thread");
    impl->owns_mpi = true;
  } else {
    MPI_Query_thread(&provided);
  }
  if (provided < MPI_THREAD_FUNNELED) {
    std::fprintf(stderr,
                 "tutti comm: MPI provides only MPI_THREAD_SINGLE; call the communicator from "
                 "the main thread only\n");
  }
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);

  // The first collectives are non-blocking too, so a rank that never starts is reported.
  MPI_Request requests[2];
  int rc = MPI_Comm_idup(MPI_COMM_WORLD, &impl->comm, &requests[0]);
  if (rc != MPI_SUCCESS) return MpiError(rc, "MPI_Comm_idup");
  TUTTI_RETURN_IF_ERROR(
      WaitWithDeadline(&requests[0], options.timeout_s, "start-up (MPI_Comm_idup)"));
  rc = MPI_Comm_idup(MPI_COMM_WORLD, &impl->inspect_comm, &requests[1]);
  if (rc != MPI_SUCCESS) return MpiError(rc, "MPI_Comm_idup");
  TUTTI_RETURN_IF_ERROR(
      WaitWithDeadline(&requests[1], options.timeout_s, "start-up (MPI_Comm_idup)"));
  // Errors on our communicators come back as codes (and so as Status), not as aborts. The
  // world's handler is left as the launcher set it.
  MPI_Comm_set_errhandler(impl->comm, MPI_ERRORS_RETURN);
  MPI_Comm_set_errhandler(impl->inspect_comm, MPI_ERRORS_RETURN);

  // Blocking, but every rank was just seen alive by the dups above.
  MPI_Comm node_comm = MPI_COMM_NULL;
  rc = MPI_Comm_split_type(impl->comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node_comm);
  if (rc != MPI_SUCCESS) return MpiError(rc, "MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)");
  int local_rank = 0, local_size = 1;
  MPI_Comm_rank(node_comm, &local_rank);
  MPI_Comm_size(node_comm, &local_size);
  MPI_Comm_free(&node_comm);

  impl->inspector = std::make_unique<StallInspector>(
      impl->inspect_comm, rank, size, WatchOptions{options.timeout_s, options.stall_warning_s});
  std::unique_ptr<MpiCommunicator> comm(new MpiCommunicator(std::move(impl), options));
  comm->rank_ = rank;
  comm->size_ = size;
  comm->local_rank_ = local_rank;
  comm->local_size_ = local_size;
  return comm;
}

MpiCommunicator::~MpiCommunicator() {
  if (broken_) return;  // a collective is still in flight: MPI_Finalize could wait on a dead peer
  impl_->inspector->Shutdown();
  impl_->inspector.reset();
  MPI_Comm_free(&impl_->inspect_comm);
  MPI_Comm_free(&impl_->comm);
  if (impl_->owns_mpi) MPI_Finalize();
}

Status MpiCommunicator::RunWatched(const std::string& kind, const std::string& detail,
                                   const std::function<Status()>& start,
                                   const std::function<StatusOr<bool>()>& test) {
  if (broken_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "rank ", rank_, ": communicator is broken by an earlier failed collective; call Abort()"));
  }
  const int64_t seq = ++seq_;
  Status status = impl_->inspector->Run(seq, kind, detail, start, test);
  if (!status.ok()) broken_ = true;
  return status;
}

Status MpiCommunicator::Allreduce(void* data, int64_t count, DataType type, ReduceOp op) {
  TUTTI_RETURN_IF_ERROR(internal::CheckAllreduceArgs(data, count, type, op));
  char* bytes = static_cast<char*>(data);
  int64_t offset = 0;
  do {  // at least one call, so a zero-count allreduce still synchronises like MPI's does
    const int n = static_cast<int>(std::min(count - offset, kMaxElementsPerCall));
    void* chunk = bytes == nullptr ? nullptr : bytes + offset * DataTypeSize(type);
    MPI_Request request = MPI_REQUEST_NULL;
    TUTTI_RETURN_IF_ERROR(RunWatched(
        "allreduce", absl::StrCat(OpName(op), ", ", n, " x ", DataTypeName(type)),
        [&]() -> Status {
          const int rc =
              MPI_Iallreduce(MPI_IN_PLACE, chunk, n, ToMpi(type), ToMpi(op), impl_->comm, &request);
          return rc == MPI_SUCCESS ? absl::OkStatus() : MpiError(rc, "MPI_Iallreduce");
        },
        [&]() -> StatusOr<bool> {
          int done = 0;
          const int rc = MPI_Test(&request, &done, MPI_STATUS_IGNORE);
          if (rc != MPI_SUCCESS) return MpiError(rc, "MPI_Test(allreduce)");
          return done != 0;
        }));
    offset += n;
  } while (offset < count);
  if (op == ReduceOp::kAvg && size_ > 1) {
    if (type == DataType::kFloat32) DivideBy<float>(data, count, size_);
    if (type == DataType::kFloat64) DivideBy<double>(data, count, size_);
  }
  return absl::OkStatus();
}

Status MpiCommunicator::Broadcast(void* data, int64_t count, DataType type, int root) {
  TUTTI_RETURN_IF_ERROR(internal::CheckBroadcastArgs(data, count, root, size_));
  char* bytes = static_cast<char*>(data);
  int64_t offset = 0;
  do {
    const int n = static_cast<int>(std::min(count - offset, kMaxElementsPerCall));
    void* chunk = bytes == nullptr ? nullptr : bytes + offset * DataTypeSize(type);
    MPI_Request request = MPI_REQUEST_NULL;
    TUTTI_RETURN_IF_ERROR(RunWatched(
        "broadcast", absl::StrCat("from rank ", root, ", ", n, " x ", DataTypeName(type)),
        [&]() -> Status {
          const int rc = MPI_Ibcast(chunk, n, ToMpi(type), root, impl_->comm, &request);
          return rc == MPI_SUCCESS ? absl::OkStatus() : MpiError(rc, "MPI_Ibcast");
        },
        [&]() -> StatusOr<bool> {
          int done = 0;
          const int rc = MPI_Test(&request, &done, MPI_STATUS_IGNORE);
          if (rc != MPI_SUCCESS) return MpiError(rc, "MPI_Test(broadcast)");
          return done != 0;
        }));
    offset += n;
  } while (offset < count);
  return absl::OkStatus();
}

Status MpiCommunicator::Barrier() {
  MPI_Request request = MPI_REQUEST_NULL;
  return RunWatched(
      "barrier", "no data",
      [&]() -> Status {
        const int rc = MPI_Ibarrier(impl_->comm, &request);
        return rc == MPI_SUCCESS ? absl::OkStatus() : MpiError(rc, "MPI_Ibarrier");
      },
      [&]() -> StatusOr<bool> {
        int done = 0;
        const int rc = MPI_Test(&request, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return MpiError(rc, "MPI_Test(barrier)");
        return done != 0;
      });
}

void MpiCommunicator::Abort(const Status& reason) {
  std::fprintf(stderr, "[rank %d] aborting the job: %s\n", rank_, reason.ToString().c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);  // MPI_Abort does not return; this keeps [[noreturn]] honest if it ever did
}

}  // namespace tutti::comm
