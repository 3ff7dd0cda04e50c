// Fuzz target: DecodeShardHeader. Random bytes almost never carry a valid header checksum, which would
// stop the fuzzer at the first check; so each input is decoded twice: as given, and with the checksum
// field (bytes 60..63) recomputed, which lets mutations reach the version, shape, size and reserved-byte
// checks. A header that decodes must encode back to the same 64 bytes (the format has one spelling).
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/base/sha256.h"
#include "core/data/shard_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)tutti::DecodeShardHeader(data, size);
  if (size < tutti::kShardHeaderBytes) return 0;
  std::array<uint8_t, tutti::kShardHeaderBytes> fixed;
  std::memcpy(fixed.data(), data, fixed.size());
  tutti::Sha256 hash;
  hash.Update(fixed.data(), 60);
  std::array<uint8_t, 32> digest = hash.Finish();
  std::memcpy(fixed.data() + 60, digest.data(), 4);
  tutti::StatusOr<tutti::ShardHeader> header = tutti::DecodeShardHeader(fixed.data(), fixed.size());
  if (!header.ok()) return 0;
  (void)header->file_bytes();
  if (tutti::EncodeShardHeader(*header) != fixed) {
    std::fprintf(stderr, "decoded header does not encode back to the same bytes\n");
    std::abort();
  }
  return 0;
}
