#pragma once
// Reads a pack directory written by PackWriter (format: docs/pack_format.md).
//
// PackReader::Open parses manifest.json and memory-maps every shard read-only (PROT_READ, MAP_PRIVATE),
// checking each shard against the manifest: the file exists, its size equals the manifest's bytes, and
// its 64-byte header (magic, checksum, version, shape, count, split, index) agrees with the manifest.
// Mapping costs address space only; pages are read on first touch and are clean page-cache pages the
// kernel may drop at any time, so a rank that reads only its slice only pulls that slice into memory,
// and nothing is ever copied wholesale into the heap. Open does NOT hash the shards: that is VerifyPack's
// job (it reads every byte), to be run after copying a pack or when `tutti pack --verify` is asked.
//
// Thread-safety: after Open, every method is const and safe to call from any number of threads.
// Ownership: the reader owns the mappings; pointers from PackedSample stay valid for its lifetime.
// A shard truncated or rewritten by another process after Open can make reads fault (SIGBUS): packs are
// immutable once published, and PackWriter replaces a pack by swapping in a new directory.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/data/pack_manifest.h"
#include "core/data/sample_shape.h"

namespace tutti {

class PackReader {
 public:
  // Errors name the manifest or the shard: NotFound for a missing manifest or shard, InvalidArgument for
  // a malformed manifest, DataLoss for a shard whose size or header disagrees with the manifest
  // ("packs/rock/train-00001.shard: file is 1000 bytes, manifest says 11796544").
  static StatusOr<std::unique_ptr<PackReader>> Open(const std::string& pack_dir);

  PackReader(const PackReader&) = delete;
  PackReader& operator=(const PackReader&) = delete;
  ~PackReader();

  const std::string& pack_dir() const { return pack_dir_; }
  const PackManifest& manifest() const { return manifest_; }
  const SampleShape& shape() const { return manifest_.shape; }
  int64_t size(Split split) const;

  // Precondition for both: 0 <= index < size(split); violating it aborts with a message.
  // Writes shape().cells() dense 0/1 bytes to `dense_out`.
  void CopySample(Split split, int64_t index, uint8_t* dense_out) const;
  // The shape().packed_bytes() packed bytes of one sample, inside the mapping.
  const uint8_t* PackedSample(Split split, int64_t index) const;

 private:
  struct Mapping {
    const uint8_t* data = nullptr;  // start of the file mapping
    size_t bytes = 0;
  };
  struct SplitIndex {
    std::vector<Mapping> shards;
    std::vector<int64_t> starts;  // starts[i] = first global index of shard i; starts.back() = total
  };

  PackReader(std::string pack_dir, PackManifest manifest);

  // Constant after Open.
  const std::string pack_dir_;
  const PackManifest manifest_;
  SplitIndex splits_[2];
};

// Full integrity check of a pack directory: parses the manifest, requires exactly the listed shard files
// (a missing one or an extra "*.shard" file is an error), checks each shard's size and header against
// the manifest, and re-hashes every byte with SHA-256. Reports every problem found, not just the first:
// the status (DataLoss, or the first problem's code) lists them one per line, each naming the shard,
// e.g. "packs/rock/train-00001.shard: sha256 mismatch: manifest says ab12..., file has 9f3c...".
// `show_progress` prints a tqdm-like line on stderr (MiB hashed). Reads with pread, bounded memory.
Status VerifyPack(const std::string& pack_dir, bool show_progress = false);

}  // namespace tutti
