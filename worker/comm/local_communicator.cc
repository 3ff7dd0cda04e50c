#include "worker/comm/local_communicator.h"

#include <cstdio>
#include <cstdlib>

namespace tutti::comm {

Status LocalCommunicator::Allreduce(void* data, int64_t count, DataType type, ReduceOp op) {
  TUTTI_RETURN_IF_ERROR(internal::CheckAllreduceArgs(data, count, type, op));
  ++seq_;
  return absl::OkStatus();
}

Status LocalCommunicator::Broadcast(void* data, int64_t count, DataType /*type*/, int root) {
  TUTTI_RETURN_IF_ERROR(internal::CheckBroadcastArgs(data, count, root, 1));
  ++seq_;
  return absl::OkStatus();
}

Status LocalCommunicator::Barrier() {
  ++seq_;
  return absl::OkStatus();
}

Communicator& LocalCommunicator::host() {
  if (device_ == DeviceKind::kCpu) return *this;
  if (!host_) host_ = std::make_unique<LocalCommunicator>(DeviceKind::kCpu);
  return *host_;
}

void LocalCommunicator::Abort(const Status& reason) {
  std::fprintf(stderr, "[rank 0] aborting: %s\n", reason.ToString().c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

}  // namespace tutti::comm
