#pragma once
// One checkpoint = one self-verifying file holding everything needed to resume bit-for-bit on CPU:
// both networks, both Adam states, the step, every random stream (GanTrainer::SaveState), the data
// loader's position and the resolved job config (YAML).
//
// File layout (little-endian):
//   bytes 0..7    magic "TUTTICKP"
//   bytes 8..11   u32 format version (1)
//   bytes 12..19  u64 length M of the metadata JSON
//   next M bytes  metadata JSON: step, loader position, config YAML, model fingerprint, payload size and
//                 payload sha256, created_at
//   the rest      payload: the LibTorch archive written by GanTrainer::SaveState
//
// Writes go through WriteFileAtomically (temp file beside the target, fsync, rename, directory fsync), so a
// crash or Ctrl-C leaves the previous checkpoint intact. The sha256 of the whole file is also written to
// "<file>.sha256" (sha256sum format) for tools that move checkpoints around. Readers re-hash the payload
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

#include <nlohmann/json.hpp>

#include "core/base/status.h"

namespace tutti {

class GanTrainer;

struct CheckpointMeta {
  int64_t step = 0;
  int64_t loader_epoch = 0;          // BatchLoader::Position of the next batch
  int64_t loader_batch_in_epoch = 0;
  std::string config_yaml;           // the resolved JobConfig
  nlohmann::json extra = nlohmann::json::object();  // free-form (e.g. last metrics)
  // Filled in by the readers:
  std::string payload_sha256;
  uint64_t payload_bytes = 0;
  uint64_t payload_offset = 0;       // where the payload (the LibTorch archive) starts in the file
  std::string created_at;            // UTC, ISO 8601
};

// Serialises `trainer` and `meta` into `path` atomically. Returns the sha256 of the whole file.
StatusOr<std::string> SaveCheckpoint(const std::string& path, const GanTrainer& trainer, const CheckpointMeta& meta);

// Reads and verifies the file (magic, version, sizes, payload sha256) without touching a model. Errors,
// each naming the file: the read error (NotFound, PermissionDenied...); InvalidArgument when it is not a
// Tutti checkpoint; FailedPrecondition for another format version; DataLoss when truncated or corrupted.
StatusOr<CheckpointMeta> ReadCheckpointMeta(const std::string& path);
// The same checks on a whole checkpoint file held in `bytes`; errors name `name`.
StatusOr<CheckpointMeta> ReadCheckpointMetaFromBytes(const std::string& bytes, const std::string& name);

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
