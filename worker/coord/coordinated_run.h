#pragma once
// RunCoordinatedTrial: one training process of `tutti-worker --coordinator ADDR` (every rank runs it).
//
// The protocol, as every rank runs it:
//   1. A bootstrap communicator (MPI under a launcher, local otherwise; its timeout covers the wait for a
//      trial) carries rank 0's answer to the others.
//   2. Rank 0 leases a trial (or adopts the lease an agent took, --lease), waiting up to `wait_seconds`
//      for one to be queued, and broadcasts the assignment (lease, trial, the trial's resolved config) as
//      JSON; "no trial" and rank 0's errors are broadcast too, so no rank waits forever.
//   3. Every rank parses the config (plus local --set overrides) and points output_dir at
//      <work_dir>/trial-<id>. When the config pins its packs (data.pack_pins, set by `tutti submit`) and
//      packs_dir/<genre> does not hold the pinned manifest here (no shared filesystem), every rank makes
//      sure its node's pack cache holds them, fetching from the coordinator (core/data/pack_cache.h: the
//      first rank of a node fetches, the others wait and verify), and trains from the cache; rank 0 empties
//      <work_dir>/trial-<id> first (the coordinator's checkpoints are the
//      truth, not what a previous attempt left here) and downloads the trial's newest checkpoint, when it
//      has one, into it (sha256 checked).
//   4. The training communicator is built from the trial's config (backend, timeouts, device), and the
//      TrainingRun resumes from the downloaded checkpoint (rank 0 broadcasts its bytes: no shared
//      filesystem needed) with rank 0's TrialReporter as observer and control (heartbeats, metrics,
//      uploads, stop/prune/checkpoint-now), beside the console observer.
//   5. When Run() returns, rank 0 flushes everything queued (the final checkpoint included) and ends the
//      lease: complete, hand back (interrupted, time limit) or fail (retryable when a rank died or a
//      collective timed out).
//
// Exit codes (returned): 0 when the trial was run and its end reported (or the lease was lost: the trial
// goes on elsewhere); 1 for errors; 4 when no trial was queued within wait_seconds.

#include <functional>
#include <string>
#include <vector>

#include "proto/client/channel.h"
#include "worker/run/run_observer.h"

namespace tutti::worker {

inline constexpr int kExitNoTrial = 4;

struct CoordinatedOptions {
  rpc::ConnectionOptions connection;
  // Adopt this lease (taken by `tutti agent`) instead of leasing a trial.
  std::string lease_id;
  // Seconds to wait for a queued trial when leasing (0 = ask once).
  double wait_seconds = 0;
  // Local files of the trial: <work_dir>/trial-<id>/ (checkpoints, metrics, config).
  std::string work_dir;
  // LibTorch threads per rank when the trial's config says 0 (0 = cores / ranks on this node).
  int threads_per_rank = 0;
  // "key=value" overrides applied on top of the trial's config (local matters such as train.device).
  std::vector<std::string> overrides;
  // Node-local cache of packs fetched from the coordinator (shared by the ranks of a node) and its bound.
  std::string pack_cache_dir;
  int64_t pack_cache_bytes = int64_t{10} << 30;
  // Wall-clock budget (0 = none); when spent the trial is handed back after a checkpoint.
  double max_seconds = 0;
  // The console observer (progress line, messages) on rank 0; null = quiet.
  RunObserver* console = nullptr;
  // Test hook: called before each step (TUTTI_TEST_* fault injection).
  std::function<void(int64_t step)> before_step;
  // One line per notable event on rank 0 (lease, download, coordinator trouble); may be empty.
  std::function<void(const std::string&)> log;
};

int RunCoordinatedTrial(const CoordinatedOptions& options);

}  // namespace tutti::worker
