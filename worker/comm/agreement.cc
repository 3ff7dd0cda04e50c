#include "worker/comm/agreement.h"

namespace tutti::comm {
namespace {

// Checked before any collective, so a bad call (the same on every rank: the arguments are part of the
// collective's contract) starts nothing.
Status CheckRoot(const Communicator& comm, int root, const char* what) {
  if (root < 0 || root >= comm.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": root must be in [0, ", comm.size(), "), got ", root));
  }
  return absl::OkStatus();
}

}  // namespace

StatusOr<std::string> BroadcastString(Communicator& comm, const std::string& value, int root,
                                      int64_t max_bytes) {
  TUTTI_RETURN_IF_ERROR(CheckRoot(comm, root, "BroadcastString"));
  if (max_bytes < 0) {
    return absl::InvalidArgumentError(absl::StrCat("BroadcastString: max_bytes must be >= 0, got ", max_bytes));
  }
  Communicator& host = comm.host();
  const bool is_root = comm.rank() == root;
  // The length goes first even when it is too long: every rank then knows, and fails the same way,
  // instead of root failing alone while the others wait for bytes that never come.
  int64_t length = is_root ? static_cast<int64_t>(value.size()) : 0;
  TUTTI_RETURN_IF_ERROR(Annotate(host.Broadcast(&length, 1, DataType::kInt64, root), "BroadcastString length"));
  if (length < 0 || length > max_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("BroadcastString: rank ", root, "'s value is ", length,
                                                     " bytes, more than the limit of ", max_bytes, " bytes"));
  }
  std::string out = is_root ? value : std::string(static_cast<size_t>(length), '\0');
  // C++17: std::string::data() is writable. Zero bytes still make one (empty) collective on every
  // rank, so the collective count never depends on the value.
  TUTTI_RETURN_IF_ERROR(
      Annotate(host.Broadcast(out.data(), length, DataType::kUint8, root), "BroadcastString bytes"));
  return out;
}

StatusOr<int64_t> BroadcastInt64(Communicator& comm, int64_t value, int root) {
  TUTTI_RETURN_IF_ERROR(CheckRoot(comm, root, "BroadcastInt64"));
  TUTTI_RETURN_IF_ERROR(comm.host().Broadcast(&value, 1, DataType::kInt64, root));
  return value;
}

StatusOr<int64_t> AllreduceMax(Communicator& comm, int64_t value) {
  TUTTI_RETURN_IF_ERROR(comm.host().Allreduce(&value, 1, DataType::kInt64, ReduceOp::kMax));
  return value;
}

}  // namespace tutti::comm
