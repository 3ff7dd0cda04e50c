#pragma once
// Writes a pack directory all-or-nothing.
//
// Everything is staged in a fresh hidden directory beside the target ("<parent>/.<name>.tmp-XXXXXX",
// same filesystem, so the final step is a rename). Shards are filled one after another per split
// ("train-00000.shard", "train-00001.shard", ..., "heldout-00000.shard", ...); each is fsynced and
// hashed when it is full or at Finish. Finish writes manifest.json LAST (atomically, synced), then
// publishes the staging directory at `pack_dir` with PublishDirectory (an existing pack there is
// swapped out in one step and removed).
//
// Guarantees: nothing appears at `pack_dir` before Finish returns OK. If the writer is destroyed before
// that (error, interrupt, exception), or any call fails, the staging directory is removed, so an
// interrupted or failed pack leaves no half pack and no temporary behind. (A process killed with
// SIGKILL can leave a ".<name>.tmp-*" directory; it never holds a manifest at the target path. The next
// `tutti pack` of that pack removes it under its PackOutputLock, pack_output_lock.h.)
//
// Errors: a rejected sample (non-binary cell, non-zero padding bits) is refused and the pack goes on; any
// other failure (I/O, Finish's checks) is sticky: the staging directory is removed at once and every later
// Add/AddPacked/Finish returns that first error.
// Ownership: the writer owns its staging directory and open files. Not thread-safe: one thread at a time.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/status.h"
#include "core/data/pack_manifest.h"
#include "core/data/sample_shape.h"

namespace tutti {

struct PackWriterOptions {
  // Genre recorded in the manifest (e.g. "rock"). Required.
  std::string genre;
  // Shape of every sample; all Add calls must pass shape.cells() bytes.
  SampleShape shape;
  // Samples per shard file. 4096 x 2,880 bytes (the default shape) is ~11.8 MB per shard: small enough
  // to hash and verify one at a time, large enough that a pack is a handful of files.
  int64_t samples_per_shard = 4096;
  // Recorded as the manifest's created_by.
  std::string created_by = "tutti";
};

class PackWriter {
 public:
  // Validates the options and creates the staging directory beside `pack_dir` (creating the parent
  // when needed). InvalidArgument for bad options; file errors name the path.
  static StatusOr<std::unique_ptr<PackWriter>> Create(const std::string& pack_dir, PackWriterOptions options);

  PackWriter(const PackWriter&) = delete;
  PackWriter& operator=(const PackWriter&) = delete;
  // Aborts when Finish has not succeeded: closes the files and removes the staging directory.
  ~PackWriter();

  // Appends one sample to `split`. `dense_cells` holds options.shape.cells() bytes in the dense layout
  // (sample_shape.h), each 0 or 1; InvalidArgument naming the (track, step, pitch) of the first other
  // value. The bytes are copied; the caller keeps ownership.
  Status Add(Split split, const uint8_t* dense_cells);

  // Same, for a sample already bit-packed (shape.packed_bytes() bytes, layout of sample_shape.h): no
  // unpack/repack round trip for callers that keep samples packed. InvalidArgument when the unused
  // high bits of the last byte are not zero.
  Status AddPacked(Split split, const uint8_t* packed_sample);

  int64_t samples(Split split) const { return split == Split::kTrain ? count_[0] : count_[1]; }

  // Closes the last shards, writes manifest.json and publishes the pack. `songs` must account for the
  // added samples of each split when non-empty (see PackSong); `packing` and `summary` are stored
  // verbatim (null becomes {}). After Finish (OK or not) the writer accepts no more calls.
  Status Finish(std::vector<PackSong> songs, nlohmann::json packing, nlohmann::json summary);

  const std::string& pack_dir() const { return pack_dir_; }
  // The staging directory (for tests and diagnostics); gone after Finish or destruction.
  const std::string& staging_dir() const { return staging_dir_; }

 private:
  struct OpenShard;  // one shard file being filled

  PackWriter(std::string pack_dir, std::string staging_dir, PackWriterOptions options);
  Status AppendPacked(Split split, const uint8_t* packed);
  Status StartShard(Split split);
  Status CloseShard(Split split);
  Status Fail(Status status);  // records the first error, releases files, removes staging

  // Constant after construction.
  const std::string pack_dir_;
  const std::string staging_dir_;
  const PackWriterOptions options_;

  Status error_;               // first error; sticky
  bool done_ = false;          // Finish was called
  bool published_ = false;     // Finish succeeded; staging is now pack_dir_
  int64_t count_[2] = {0, 0};  // samples added per split
  std::unique_ptr<OpenShard> open_[2];
  std::vector<ShardInfo> closed_[2];
  std::vector<uint8_t> packed_;  // scratch: one packed sample
};

}  // namespace tutti
