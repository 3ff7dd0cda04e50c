#pragma once
// The checkpoint file format without LibTorch: the header, the metadata JSON and the payload's checks.
// Kept apart from checkpoint.h (which saves and restores trainers) so that tools that only look at a
// checkpoint's header (the fuzz target, torch-free builds) need no LibTorch.
//
// File layout (little-endian):
//   bytes 0..7    magic "TUTTICKP"
//   bytes 8..11   u32 format version (1)
//   bytes 12..19  u64 length M of the metadata JSON (at most 64 MiB, and never more than the file holds)
//   next M bytes  metadata JSON: step, loader position, config YAML, model fingerprint, payload size and
//                 payload sha256, created_at
//   the rest      payload: the LibTorch archive written by GanTrainer::SaveState (opaque here)
//
// Thread-safety: the functions share no state.

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "core/base/status.h"

namespace tutti {

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

// The whole file for `payload` with `meta`'s step, loader position, config, extra and created_at (the
// payload's size and sha256 are computed here; the other reader-filled fields are ignored).
std::string EncodeCheckpointFile(const CheckpointMeta& meta, const std::string& payload);

// Reads and verifies the file (magic, version, sizes, payload sha256) without touching a model. Errors,
// each naming the file: the read error (NotFound, PermissionDenied...); InvalidArgument when it is not a
// Tutti checkpoint; FailedPrecondition for another format version; DataLoss when truncated or corrupted.
StatusOr<CheckpointMeta> ReadCheckpointMeta(const std::string& path);
// The same checks on a whole checkpoint file held in `bytes`; errors name `name`. On success
// payload_offset + payload_bytes == bytes.size().
StatusOr<CheckpointMeta> ReadCheckpointMetaFromBytes(const std::string& bytes, const std::string& name);

}  // namespace tutti
