#include "worker/comm/stall_inspector.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

namespace tutti::comm {
namespace {

constexpr int kTagArrive = 101;  // non-root -> root: one int64, the collective number
constexpr int kTagReport = 102;  // root -> arrived ranks: [seq, missing rank, missing rank, ...]

// Poll pacing. Open MPI progresses non-blocking collectives only inside MPI calls, so while data
// is moving we must keep calling test() (a sleep here would stall every fragment). For the first
// kHotSeconds we poll back to back, as blocking MPI_Allreduce does: yielding after every test
// hands the core to any other runnable process for a whole time slice, once per protocol round
// (measured: ~10 ms for an 800 KB allreduce on a loaded 2-core box, vs 0.3 ms). Until
// kSpinSeconds we still poll but yield between tests, so oversubscribed ranks let their peers run.
// After that nothing is moving any more (a peer is late), so we poll once per kIdleSleep to stop
// burning a core for the rest of a stall.
constexpr double kHotSeconds = 0.1;
constexpr double kSpinSeconds = 1.0;
constexpr auto kIdleSleep = std::chrono::milliseconds(1);
// How long Shutdown waits for the inspector's own messages before cancelling them.
constexpr double kShutdownSeconds = 2.0;

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string JoinRanks(const std::vector<int>& ranks) {
  std::string out;
  for (size_t i = 0; i < ranks.size(); ++i) absl::StrAppend(&out, i ? ", " : "", ranks[i]);
  return out;
}

}  // namespace

std::string MpiErrorString(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return absl::StrCat("MPI error ", code);
  return std::string(text, static_cast<size_t>(length));
}

StallInspector::StallInspector(MPI_Comm comm, int rank, int size, WatchOptions options)
    : comm_(comm), rank_(rank), size_(size), options_(options) {
  if (rank_ == 0) {
    last_arrived_.assign(static_cast<size_t>(size_), 0);
    PostArrivalReceive();
  }
}

StallInspector::~StallInspector() { Shutdown(); }

void StallInspector::PostArrivalReceive() {
  if (size_ > 1) {
    MPI_Irecv(&arrival_buffer_, 1, MPI_INT64_T, MPI_ANY_SOURCE, kTagArrive, comm_,
              &arrival_request_);
  }
}

void StallInspector::Announce(int64_t seq) {
  last_seq_ = seq;
  if (rank_ == 0) {
    last_arrived_[0] = seq;
    return;
  }
  PendingSend send{std::make_shared<std::vector<int64_t>>(1, seq), MPI_REQUEST_NULL};
  MPI_Isend(send.buffer->data(), 1, MPI_INT64_T, 0, kTagArrive, comm_, &send.request);
  pending_sends_.push_back(std::move(send));
}

void StallInspector::Drain() {
  if (rank_ == 0) {
    while (arrival_request_ != MPI_REQUEST_NULL) {
      int done = 0;
      MPI_Status status;
      if (MPI_Test(&arrival_request_, &done, &status) != MPI_SUCCESS || !done) break;
      int64_t& last = last_arrived_[static_cast<size_t>(status.MPI_SOURCE)];
      last = std::max(last, arrival_buffer_);
      PostArrivalReceive();
    }
  } else {
    for (;;) {
      int present = 0;
      MPI_Status status;
      if (MPI_Iprobe(0, kTagReport, comm_, &present, &status) != MPI_SUCCESS || !present) break;
      int count = 0;
      MPI_Get_count(&status, MPI_INT64_T, &count);
      std::vector<int64_t> report(static_cast<size_t>(std::max(count, 1)), 0);
      MPI_Recv(report.data(), count, MPI_INT64_T, 0, kTagReport, comm_, MPI_STATUS_IGNORE);
      report_seq_ = report[0];
      report_missing_.assign(report.begin() + 1, report.end());
    }
  }
  ReapSends();
}

void StallInspector::ReapSends() {
  auto still_pending = [](PendingSend& send) {
    int done = 0;
    MPI_Test(&send.request, &done, MPI_STATUS_IGNORE);
    return !done;
  };
  pending_sends_.erase(std::remove_if(pending_sends_.begin(), pending_sends_.end(),
                                      [&](PendingSend& send) { return !still_pending(send); }),
                       pending_sends_.end());
}

std::vector<int> StallInspector::MissingAtRoot(int64_t seq) const {
  std::vector<int> missing;
  for (int r = 0; r < size_; ++r) {
    if (last_arrived_[static_cast<size_t>(r)] < seq) missing.push_back(r);
  }
  return missing;
}

void StallInspector::SendReport(int64_t seq, const std::vector<int>& missing) {
  auto report = std::make_shared<std::vector<int64_t>>();
  report->push_back(seq);
  report->insert(report->end(), missing.begin(), missing.end());
  for (int r = 1; r < size_; ++r) {
    if (std::find(missing.begin(), missing.end(), r) != missing.end()) continue;
    PendingSend send{report, MPI_REQUEST_NULL};
    MPI_Isend(report->data(), static_cast<int>(report->size()), MPI_INT64_T, r, kTagReport, comm_,
              &send.request);
    pending_sends_.push_back(std::move(send));
  }
}

std::string StallInspector::DescribeMissing(int64_t seq) const {
  if (rank_ == 0) {
    const std::vector<int> missing = MissingAtRoot(seq);
    if (missing.empty()) return "none (all ranks arrived; the transfer itself is not completing)";
    return JoinRanks(missing);
  }
  if (report_seq_ == seq) {
    if (report_missing_.empty()) return "none, per rank 0 (the transfer itself is not completing)";
    return absl::StrCat(JoinRanks(report_missing_), " (as seen by rank 0)");
  }
  return absl::StrCat("unknown: rank 0 collects arrivals and has not reported on #", seq,
                      " (rank 0 may itself be the one missing)");
}

// The stall/timeout protocol, run by every rank for every collective #seq:
//   1. Announce: rank r != 0 sends a non-blocking 8-byte "arrived at #seq" to rank 0 on the
//      inspector's private communicator; rank 0 records its own arrival. One message per rank per
//      collective, so the cost stays O(size) in total and O(1) on every rank but 0. Then `start`
//      launches the collective itself (MPI_Iallreduce, ncclAllReduce, ...).
//   2. Poll: call `test` (MPI_Test on the collective's request, or the NCCL stream query) until
//      it completes. Between tests, rank 0 drains arrival notices into last_arrived_, and the
//      other ranks pick up any stall report rank 0 has sent them.
//   3. Warn: once the collective has been waiting stall_warning_s, every rank prints ONE line
//      "[rank r] <kind> #seq (<detail>) waiting for X s; ranks not arrived: ...".
//      Rank 0 knows the missing ranks exactly (last_arrived_ < seq); it also sends that list to
//      every rank that HAS arrived, so their later messages can name the missing ranks too. If
//      rank 0 is itself the one missing, the others say so ("rank 0 may itself be the one").
//   4. Time out: after timeout_s, return DeadlineExceeded "collective #seq (<kind> <detail>)
//      timed out after T s on rank r; ranks not arrived: ...". The request is left in flight
//      (MPI cannot cancel a collective): the caller must Abort(), which takes the job down.
// A rank that dies is normally caught before step 4: mpirun kills the job when a rank exits
// non-zero and names it. Step 4 covers the rest (a peer that hangs, loops, or exits 0 early).
Status StallInspector::Run(int64_t seq, const std::string& kind, const std::string& detail,
                           const std::function<Status()>& start,
                           const std::function<StatusOr<bool>()>& test) {
  const auto started = std::chrono::steady_clock::now();
  Announce(seq);
  TUTTI_RETURN_IF_ERROR(Annotate(
      start(), absl::StrCat("collective #", seq, " (", kind, " ", detail, ") on rank ", rank_)));
  bool warned = false;
  for (;;) {
    StatusOr<bool> done = test();
    if (!done.ok()) {
      return Annotate(done.status(), absl::StrCat("collective #", seq, " (", kind, " ", detail,
                                                  ") on rank ", rank_));
    }
    if (*done) {
      ReapSends();
      return absl::OkStatus();
    }
    Drain();
    const double waited = SecondsSince(started);
    if (!warned && waited >= options_.stall_warning_s) {
      warned = true;
      if (rank_ == 0) SendReport(seq, MissingAtRoot(seq));
      std::fprintf(stderr, "[rank %d] %s #%lld (%s) waiting for %.1f s; ranks not arrived: %s\n",
                   rank_, kind.c_str(), static_cast<long long>(seq), detail.c_str(), waited,
                   DescribeMissing(seq).c_str());
      std::fflush(stderr);
    }
    if (waited >= options_.timeout_s) {
      return absl::DeadlineExceededError(
          absl::StrCat("collective #", seq, " (", kind, " ", detail, ") timed out after ",
                       absl::SixDigits(waited), " s on rank ", rank_,
                       "; ranks not arrived: ", DescribeMissing(seq)));
    }
    if (waited < kHotSeconds) {
      continue;
    } else if (waited < kSpinSeconds) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(kIdleSleep);
    }
  }
}

void StallInspector::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  // Root: collect the notices for collectives that completed before their notice was drained,
  // so none is left unmatched at MPI_Finalize. Everyone: let the last sends complete.
  const auto start = std::chrono::steady_clock::now();
  auto settled = [&] {
    if (rank_ == 0) {
      for (int64_t last : last_arrived_) {
        if (last < last_seq_) return false;
      }
    }
    return pending_sends_.empty();
  };
  while (!settled() && SecondsSince(start) < kShutdownSeconds) {
    Drain();
    std::this_thread::yield();
  }
  Drain();
  if (arrival_request_ != MPI_REQUEST_NULL) {
    MPI_Cancel(&arrival_request_);
    MPI_Wait(&arrival_request_, MPI_STATUS_IGNORE);
  }
  // Sends still pending after the bounded wait complete in the background; MPI may still read
  // their buffers, so those few bytes are deliberately kept alive for the life of the process.
  static auto* const orphaned = new std::vector<std::shared_ptr<std::vector<int64_t>>>();
  for (PendingSend& send : pending_sends_) {
    MPI_Request_free(&send.request);
    orphaned->push_back(send.buffer);
  }
  pending_sends_.clear();
}

}  // namespace tutti::comm
