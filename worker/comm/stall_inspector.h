#pragma once
// StallInspector: turns a collective that never completes into a report that names the ranks which
// have not arrived, then into DeadlineExceeded (the idea of horovod/common/stall_inspector.h, made
// small). Internal to tutti_comm: MpiCommunicator runs every collective through it, and the NCCL
// backend runs its collectives through MpiCommunicator::RunWatched, so both share one numbering.
//
// Thread-safety: none; used by the one thread that drives its owning communicator.
// Lifetime: Shutdown() must run before MPI_Finalize (it settles the inspector's own messages).

#include <mpi.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/base/status.h"

namespace tutti::comm {

struct WatchOptions {
  double timeout_s = 300;       // a collective not done after this long returns DeadlineExceeded
  double stall_warning_s = 60;  // after this long, one warning line on stderr naming missing ranks
};

class StallInspector {
 public:
  // `comm` is reserved for the inspector's own point-to-point messages (the owner passes a
  // private MPI_Comm_dup of the world, so these never match anyone else's receives). Not owned.
  StallInspector(MPI_Comm comm, int rank, int size, WatchOptions options);
  ~StallInspector();

  StallInspector(const StallInspector&) = delete;
  StallInspector& operator=(const StallInspector&) = delete;

  // Runs collective #seq (seq counts 1, 2, ... and is the same on every rank): announces it,
  // calls `start` once to launch it, then calls `test` repeatedly; `test` returns true once the
  // collective has completed locally, false while it is in flight, or an error. `kind` and
  // `detail` describe it for messages, e.g. "allreduce" and "sum, 1000 x float32":
  // "[rank 0] allreduce #7 (sum, 1000 x float32) waiting for ...".
  Status Run(int64_t seq, const std::string& kind, const std::string& detail,
             const std::function<Status()>& start, const std::function<StatusOr<bool>()>& test);

  // Settles outstanding inspector messages (bounded wait, then cancels). Idempotent.
  void Shutdown();

  // "1, 3" / explanation: the ranks that have not announced collective #seq, as far as this rank
  // knows. Exposed for tests and messages.
  std::string DescribeMissing(int64_t seq) const;

 private:
  struct PendingSend {
    std::shared_ptr<std::vector<int64_t>> buffer;  // kept alive until the send completes
    MPI_Request request = MPI_REQUEST_NULL;
  };

  void Announce(int64_t seq);
  void Drain();      // root: arrival notices; others: stall reports
  void ReapSends();  // completes finished sends, keeps the rest
  void SendReport(int64_t seq, const std::vector<int>& missing);  // root only
  std::vector<int> MissingAtRoot(int64_t seq) const;              // root only
  void PostArrivalReceive();                                      // root only

  // Constant after construction.
  const MPI_Comm comm_;
  const int rank_;
  const int size_;
  const WatchOptions options_;

  // Owned by the driving thread.
  bool shut_down_ = false;
  int64_t last_seq_ = 0;  // last collective this rank announced
  std::vector<PendingSend> pending_sends_;
  // Root: the highest collective each rank has announced, and the receive for the next notice.
  std::vector<int64_t> last_arrived_;
  int64_t arrival_buffer_ = 0;
  MPI_Request arrival_request_ = MPI_REQUEST_NULL;
  // Non-root: the latest report from rank 0 (collective number and the ranks it was missing).
  int64_t report_seq_ = 0;
  std::vector<int> report_missing_;
};

// MPI error code -> readable text, for Status messages.
std::string MpiErrorString(int code);

}  // namespace tutti::comm
