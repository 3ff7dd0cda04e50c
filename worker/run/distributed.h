#pragma once
// Data-parallel plumbing between a TrainingRun (or any GanTrainer driver) and a comm::Communicator
// (DESIGN.md section 5). TrainingRun uses it when RunOptions::communicator is set and has more than
// one rank; tutti-worker's main makes the communicator (CommOptionsFromConfig + CreateCommunicator).
//
// The protocol, as every rank runs it (the same collectives in the same order on every rank; the small
// agreements are worker/comm/agreement.h's, over the communicator's host channel):
//   Start-up (TrainingRun::Create)
//     1. rank 0 resolves --resume ("latest" -> a file, or ""; an unreadable checkpoint directory is an
//        error there) and broadcasts the path (BroadcastString); the others never list the directory;
//     2. each rank builds its loader (its rows of every global batch) and its trainer (rank, world_size,
//        sync_batchnorm); when resuming, rank 0 reads the checkpoint file and broadcasts its bytes
//        (BroadcastString, length first), and every rank restores from those same bytes
//        (LoadCheckpointFromBytes): no shared filesystem is needed, nothing is written by the others;
//     3. rank 0 broadcasts its step; a rank whose step differs fails (CheckSameStep);
//     4. GanTrainer::BroadcastParameters: every parameter and buffer becomes rank 0's.
//   Each training step (TrainingRun::Run)
//     5. the step decision: each rank proposes one int64, code = StopReason * 2 + checkpoint-now flag
//        (AllreduceMax takes the largest). Every rank may propose kInterrupted (its own Ctrl-C / SIGTERM);
//        rank 0 alone proposes kTimeLimit (its clock) and what its RunControl answered (kByCoordinator or
//        kPruned, or the checkpoint flag). The largest reason wins (kTimeLimit < kInterrupted <
//        kByCoordinator < kPruned, static_assert in training_run.cc), so every rank leaves the loop before
//        the same step; with no stop, the flag tells rank 0 to checkpoint after this step (only rank 0
//        writes checkpoints; the others just carry on);
//     6. GanTrainer::Step: synchronised BatchNorm sums its statistics (allreduce_sum, on the device), and
//        after each backward the flat gradients are averaged bucket by bucket (gradient_hook).
//   End: rank 0 alone writes the final checkpoint, after the agreement of step 5.
//   Failure: any non-OK status is returned with "[rank r] step s: " in front (AtRankStep); the caller
//     (tutti-worker) then calls Communicator::Abort, which takes the whole job down with that message. A
//     rank that fails between collectives (rank 0 unable to read the checkpoint in step 2) leaves the
//     others waiting in the next collective until that Abort ends them. A failure inside a collective of a
//     rank that waits for a dead or stalled peer names the missing rank (the communicator's stall
//     inspector) and arrives within distributed.timeout_s.
//
// Thread-compatibility: one thread (the one that drives the trainer) uses a DataParallel; it is not
// thread-safe, like the Communicator beneath it. Exception, by the trainer's contract: on CUDA the
// BatchNorm backward allreduce runs on the autograd engine's device thread while the driving thread waits
// inside backward(), so calls never overlap (comm_seconds_ is written there too; backward()'s return
// orders it). The MPI channel then needs MPI_THREAD_SERIALIZED, which MpiCommunicator asks for.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/base/status.h"
#include "core/config/job_config.h"
#include "core/train/gan_trainer.h"
#include "worker/comm/comm_factory.h"
#include "worker/comm/communicator.h"

namespace tutti {

// The communicator options of `config`: distributed.backend, timeout_s and stall_warning_s, and the
// device the trainer will use (train.device; "auto" resolves as the trainer does: CUDA when visible), so
// backend "auto" picks NCCL for CUDA tensors (when built with NCCL) and MPI for CPU tensors.
comm::CommOptions CommOptionsFromConfig(const JobConfig& config);

// `status` with "[rank <rank>] step <step>: " prepended (same code); OK stays OK. `step` is the step
// being run (1-based), or -1 for start-up ("[rank r] start-up: ").
Status AtRankStep(const Status& status, int rank, int64_t step);

class DataParallel {
 public:
  // `comm` is not owned and must outlive the DataParallel. bucket_mb: gradient bucket size in MiB (> 0).
  // InvalidArgument for a null comm or a bad bucket size.
  static StatusOr<std::unique_ptr<DataParallel>> Create(comm::Communicator* comm, double bucket_mb);

  // Installs on `trainer` the allreduce-sum of synchronised BatchNorm and a gradient hook that averages
  // the flat gradients across ranks (then calls `inner`, when set, with the averaged gradients). Both are
  // timed into comm_seconds(). `trainer` keeps references to *this: it must not outlive it.
  void Attach(GanTrainer& trainer, GradientHook inner = {});

  // Step 4 of the protocol: rank 0's parameters and buffers on every rank.
  Status BroadcastParameters(GanTrainer& trainer);

  // Step 3: FailedPrecondition on a rank whose `step` differs from rank 0's (naming both).
  // (Steps 1, 2 and 5 use worker/comm/agreement.h on communicator() directly.)
  Status CheckSameStep(int64_t step);

  // Seconds spent inside gradient averaging and BatchNorm allreduces since Create (includes waiting for
  // slower ranks: that is time this rank did not compute either).
  double comm_seconds() const { return comm_seconds_; }

  comm::Communicator& communicator() { return *comm_; }

 private:
  DataParallel(comm::Communicator* comm, std::unique_ptr<comm::BucketedAllreducer> reducer)
      : comm_(comm), reducer_(std::move(reducer)) {}

  // Constant after Create.
  comm::Communicator* const comm_;  // not owned
  const std::unique_ptr<comm::BucketedAllreducer> reducer_;

  // Owned by the calling thread.
  double comm_seconds_ = 0;
};

}  // namespace tutti
