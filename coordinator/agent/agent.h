#pragma once
// Agent: the single-machine (or single-allocation) way to run trials — `tutti agent`. It has `ranks`
// ranks to give (default: the machine's cores) and packs trials onto them: while ranks are free (and fewer
// than `slots` trials run) it leases the oldest queued trial that fits — each trial trains with its
// experiment's resources.ranks, or --np when it names none — and starts
//   mpirun -np R --bind-to none tutti-worker --coordinator ADDR --lease LEASE --work-dir DIR/slot-k ...
// which adopts the lease (rank 0 heartbeats from then on), trains, uploads and reports. A trial never gets
// more ranks than it asked for, and a trial that needs more than the agent has is left for a bigger agent
// with a message saying so. The agent forwards each worker's output prefixed with "[trial T] ", and when a
// worker dies without reporting (killed, crashed) it reports a retryable failure at once, so the trial is
// queued again without waiting for the lease to expire.
//
// Cores: each rank gets max(1, cores / ranks) intra-op threads (--threads-per-rank), since oversubscribed
// LibTorch threads cost far more than idle cores.
//
// Signals: the first Ctrl-C / SIGTERM stops leasing and sends SIGUSR1 to every running mpirun, which
// forwards it to its ranks: each worker finishes its step, writes and uploads a checkpoint and hands its
// trial back (ReleaseTrial), then the agent exits 130. A second one terminates the workers' process groups
// at once. mpirun runs in its own process group so a terminal's Ctrl-C reaches only the agent (mpirun
// itself would turn SIGINT into SIGTERM + SIGKILL for its ranks).
//
// Thread-compatibility: Run() is called once, from one thread.

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "proto/client/channel.h"

namespace tutti::coord {

struct AgentOptions {
  rpc::ConnectionOptions connection;
  // Passed to the workers (so they find the token the same way); "" = they inherit TUTTI_TOKEN.
  std::string token_file;
  // Ranks for trials whose experiment names none (resources.ranks 0).
  int np = 1;
  // Ranks this agent gives out at once (0 = the machine's cores, at least np).
  int ranks = 0;
  // Trials run at once at most (0 = as many as the ranks allow).
  int slots = 0;
  // The tutti-worker binary; "" = beside the running executable.
  std::string worker_binary;
  // The MPI launcher and extra arguments for it.
  std::string mpirun = "mpirun";
  std::vector<std::string> mpirun_args;
  // Where slots keep their trials' local files; "" = $TMPDIR/tutti-agent-<pid>.
  std::string work_dir;
  // Keep a trial's local files after it ended (default: removed once the coordinator has everything).
  bool keep_work_dirs = false;
  // Seconds between looks for work when every slot is idle.
  double poll_seconds = 2;
  // Exit (0) once no trial is queued and none runs, after having seen that for idle_exit_seconds.
  bool exit_when_idle = false;
  double idle_exit_seconds = 3;
  // Threads per rank; 0 = cores / ranks, at least 1.
  int threads_per_rank = 0;
};

class Agent {
 public:
  // `log` receives the agent's own lines ("slot 1: trial 3 ..."); workers' lines go to stderr prefixed.
  static StatusOr<std::unique_ptr<Agent>> Create(AgentOptions options, std::function<void(const std::string&)> log);
  ~Agent();

  // Runs until interrupted (returns Cancelled after the clean stop) or, with exit_when_idle, until idle
  // (returns OK). Errors: the coordinator unreachable for longer than the retry budget at start.
  Status Run();

 private:
  struct Slot;
  Agent(AgentOptions options, std::function<void(const std::string&)> log);
  // Leases a trial that fits `free_ranks` into `slot` and starts it. NotFound when nothing fits.
  Status StartTrial(Slot& slot, int free_ranks);
  void Reap(Slot& slot, int wait_status);
  std::vector<std::string> WorkerCommand(const Slot& slot) const;
  int UsedRanks() const;

  AgentOptions options_;
  std::function<void(const std::string&)> log_;
  std::shared_ptr<rpc::Connection> connection_;
  std::vector<std::unique_ptr<Slot>> slots_;
  int threads_per_rank_ = 1;
  int64_t unfit_reported_ = 0;  // the last trial reported as too big for this agent
};

// The signal that asks workers for a clean stop (mpirun forwards it to every rank).
inline constexpr int kWorkerStopSignal = 10;  // SIGUSR1 on Linux

}  // namespace tutti::coord
