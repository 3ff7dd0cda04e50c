#pragma once
// What a training run killed with SIGKILL (or the OOM killer, or a lost node) can leave in its output, and
// its removal at the start of the next run of the same job (TrainingRun::Create, rank 0, before it picks
// the checkpoint to resume from). Every kind is named after the write that leaves it:
//
//   <checkpoint dir>/ckpt-<step>.tutti.tmp-<pid>-<n>          SaveCheckpoint cut before its rename
//   <checkpoint dir>/ckpt-<step>.tutti.sha256.tmp-<pid>-<n>   the same for the checksum file
//   <checkpoint dir>/ckpt-<step>.tutti.sha256 without its checkpoint   PruneCheckpoints cut between the two
//   <output dir>/config.yaml.tmp-<pid>-<n>, <metrics file>.tmp-<pid>-<n>   the run's other atomic writes
//
// Temporaries are removed only when their writer's pid is not alive (core/base/leftovers.h has why that is
// enough); a checksum file is an orphan once its checkpoint is gone (it cannot be a checkpoint being
// written: SaveCheckpoint writes the checksum after the checkpoint). Checkpoints themselves are never
// touched: each one is complete and self-verifying (core/checkpoint/checkpoint.h), whether or not its
// checksum file made it.
//
// Torch-free. Thread-safety: a plain function.

#include <string>
#include <vector>

#include "core/base/status.h"

namespace tutti {

// Removes the leftovers above and returns one LeftoverNotice line per removed file, in directory order.
// Directories that do not exist hold none. Errors name the directory or file (the caller reports them as
// warnings: a leftover costs disk space, never correctness).
StatusOr<std::vector<std::string>> RemoveRunLeftovers(const std::string& output_dir, const std::string& checkpoint_dir,
                                                      const std::string& metrics_file);

}  // namespace tutti
