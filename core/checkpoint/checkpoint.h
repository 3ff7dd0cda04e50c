#pragma once
// One checkpoint = one self-verifying file holding everything needed to resume bit-for-bit on CPU:
// both networks, both Adam states, the step, every random stream (GanTrainer::SaveState), the data
// loader's position and the resolved job config (YAML).
//
// The file layout, CheckpointMeta and the torch-free readers (ReadCheckpointMeta, ReadCheckpointMetaFromBytes)
// are in checkpoint_format.h, which this header includes.
//
// Writes go through WriteFileAtomically (temp file beside the target, fsync, rename, directory fsync), so a
// crash or Ctrl-C leaves the previous checkpoint intact. The sha256 of the whole file is also written to
// "<file>.sha256" (sha256sum format) for tools that move checkpoints around; a previous sidecar is removed
// before the file is replaced, so one that exists always names its file's bytes (a failed or interrupted
// save may leave none). Readers re-hash the payload
// and refuse a truncated or corrupted file with DataLoss naming it.
//
// Every reader comes in two forms: from a path, and from the file's bytes already in memory (a
// data-parallel rank restoring from the bytes rank 0 broadcast, the coordinator serving a blob). The
// bytes forms take a `name` that stands in for the path in every error message, and write nothing.
//
// Thread-safety: the functions share no state; two calls may run at once on different trainers.

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/checkpoint/checkpoint_format.h"

namespace tutti {

class GanTrainer;

// Serialises `trainer` and `meta` into `path` atomically. Returns the sha256 of the whole file.
StatusOr<std::string> SaveCheckpoint(const std::string& path, const GanTrainer& trainer, const CheckpointMeta& meta);

// Verifies the file, then restores `trainer` (which must have been created with the same model options:
// FailedPrecondition otherwise, naming the file). The trainer is unchanged on any error.
StatusOr<CheckpointMeta> LoadCheckpoint(const std::string& path, GanTrainer* trainer);
// The same from a whole checkpoint file held in `bytes` (nothing is written to disk); errors name `name`.
StatusOr<CheckpointMeta> LoadCheckpointFromBytes(const std::string& bytes, const std::string& name,
                                                 GanTrainer* trainer);

// "<dir>/ckpt-<step, 8 digits>.tutti".
std::string CheckpointPath(const std::string& dir, int64_t step);

// Checkpoints in `dir` (files named ckpt-*.tutti), oldest step first. A directory that does not exist
// holds none (OK, empty). Any other failure to read it is an error naming `dir`: FailedPrecondition when
// `dir` (or a parent) is not a directory, PermissionDenied, Internal otherwise; never "none", so a
// re-queued run cannot mistake an unreadable directory for a fresh start.
StatusOr<std::vector<std::string>> ListCheckpoints(const std::string& dir);

// Removes all but the newest `keep` checkpoints (and their .sha256 files) in `dir`. keep <= 0 keeps all.
// Errors: ListCheckpoints' and the first file that could not be removed (the others are still tried;
// a file already gone is not an error).
Status PruneCheckpoints(const std::string& dir, int keep);

}  // namespace tutti
