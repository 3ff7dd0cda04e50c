#pragma once
// The 64-byte header at the start of every shard file. docs/pack_format.md describes it byte by byte:
//
//   offset size  field
//   0      8     magic "TUTTISHD"
//   8      4     format version (u32, = 1)
//   12     4     header size in bytes (u32, = 64; the data region starts here)
//   16     12    shape: tracks, steps, pitches (3 x i32)
//   28     4     flags (u32, = 0; bit packing is LSB first)
//   32     8     sample count (u64)
//   40     8     bytes per packed sample (u64, = ceil(cells / 8))
//   48     1     split (u8: 0 train, 1 heldout)
//   49     3     reserved, zero
//   52     4     shard index within its split (u32)
//   56     4     reserved, zero
//   60     4     header checksum: the first 4 bytes of SHA-256(bytes 0..59)
//
// All integers little-endian. Pure functions; thread-safe.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/base/status.h"
#include "core/data/pack_manifest.h"
#include "core/data/sample_shape.h"

namespace tutti {

inline constexpr size_t kShardHeaderBytes = 64;
inline constexpr char kShardMagic[8] = {'T', 'U', 'T', 'T', 'I', 'S', 'H', 'D'};
inline constexpr uint32_t kShardFormatVersion = 1;
inline constexpr char kShardSuffix[] = ".shard";

struct ShardHeader {
  uint32_t format_version = kShardFormatVersion;
  SampleShape shape;
  uint64_t sample_count = 0;
  Split split = Split::kTrain;
  uint32_t shard_index = 0;

  // Expected file size: header + sample_count * shape.packed_bytes().
  uint64_t file_bytes() const;
};

std::array<uint8_t, kShardHeaderBytes> EncodeShardHeader(const ShardHeader& header);

// Parses and checks a header: size, magic, checksum, version, header size, flags, shape, sample bytes,
// split, reserved bytes. Errors (DataLoss, or FailedPrecondition for a newer version) describe what is
// wrong without a path; callers prepend the shard's path.
StatusOr<ShardHeader> DecodeShardHeader(const uint8_t* data, size_t size);

// Checks a shard's header bytes (`file_size` is the whole file's size) against its manifest entry: the
// header decodes, and its shape, count, split and index (the shard's position in the manifest's list)
// and the file size agree with the manifest. Errors carry no path; callers prepend the shard's path.
Status CheckShardAgainstManifest(const uint8_t* header_bytes, uint64_t file_size, const PackManifest& manifest,
                                 Split split, uint32_t shard_index);

// "train-00000.shard", "heldout-00012.shard".
std::string ShardFileName(Split split, uint32_t shard_index);

// Offset of sample `index` inside a shard file.
inline uint64_t ShardSampleOffset(const SampleShape& shape, int64_t index) {
  return kShardHeaderBytes + static_cast<uint64_t>(index) * static_cast<uint64_t>(shape.packed_bytes());
}

}  // namespace tutti
