#include "core/data/shard_format.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "core/base/sha256.h"

namespace tutti {
namespace {

void PutU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void PutU64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t GetU32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}
uint64_t GetU64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

std::array<uint8_t, 32> HeaderDigest(const uint8_t* header) {
  Sha256 hash;
  hash.Update(header, 60);
  return hash.Finish();
}

std::string Hex(const uint8_t* p, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[p[i] >> 4]);
    out.push_back(kDigits[p[i] & 15]);
  }
  return out;
}

}  // namespace

uint64_t ShardHeader::file_bytes() const { return ShardSampleOffset(shape, static_cast<int64_t>(sample_count)); }

std::array<uint8_t, kShardHeaderBytes> EncodeShardHeader(const ShardHeader& header) {
  std::array<uint8_t, kShardHeaderBytes> out{};
  uint8_t* p = out.data();
  std::memcpy(p, kShardMagic, 8);
  PutU32(p + 8, header.format_version);
  PutU32(p + 12, static_cast<uint32_t>(kShardHeaderBytes));
  PutU32(p + 16, static_cast<uint32_t>(header.shape.tracks));
  PutU32(p + 20, static_cast<uint32_t>(header.shape.steps));
  PutU32(p + 24, static_cast<uint32_t>(header.shape.pitches));
  PutU32(p + 28, 0);  // flags
  PutU64(p + 32, header.sample_count);
  PutU64(p + 40, static_cast<uint64_t>(header.shape.packed_bytes()));
  p[48] = header.split == Split::kTrain ? 0 : 1;
  PutU32(p + 52, header.shard_index);
  std::array<uint8_t, 32> digest = HeaderDigest(p);
  std::memcpy(p + 60, digest.data(), 4);
  return out;
}

StatusOr<ShardHeader> DecodeShardHeader(const uint8_t* p, size_t size) {
  if (size < kShardHeaderBytes) {
    return absl::DataLossError(
        absl::StrCat("file is ", size, " bytes, shorter than the ", kShardHeaderBytes, "-byte shard header"));
  }
  if (std::memcmp(p, kShardMagic, 8) != 0) {
    return absl::DataLossError(absl::StrCat("not a shard: magic is '", Hex(p, 8), "' (hex), expected '",
                                            Hex(reinterpret_cast<const uint8_t*>(kShardMagic), 8), "' (\"TUTTISHD\")"));
  }
  std::array<uint8_t, 32> digest = HeaderDigest(p);
  if (std::memcmp(p + 60, digest.data(), 4) != 0) {
    return absl::DataLossError(
        absl::StrCat("shard header checksum mismatch: stored ", Hex(p + 60, 4), ", computed ", Hex(digest.data(), 4)));
  }
  ShardHeader header;
  header.format_version = GetU32(p + 8);
  if (header.format_version != kShardFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat("shard format version ", header.format_version,
                                                      " is not supported (this build reads version ",
                                                      kShardFormatVersion, ")"));
  }
  if (GetU32(p + 12) != kShardHeaderBytes) {
    return absl::DataLossError(absl::StrCat("shard header size is ", GetU32(p + 12), ", expected ", kShardHeaderBytes));
  }
  header.shape.tracks = static_cast<int32_t>(GetU32(p + 16));
  header.shape.steps = static_cast<int32_t>(GetU32(p + 20));
  header.shape.pitches = static_cast<int32_t>(GetU32(p + 24));
  Status shape_ok = ValidateShape(header.shape);
  if (!shape_ok.ok()) return absl::DataLossError(absl::StrCat("shard header: ", std::string(shape_ok.message())));
  if (GetU32(p + 28) != 0)
    return absl::DataLossError(absl::StrCat("shard header flags are ", GetU32(p + 28), ", expected 0"));
  header.sample_count = GetU64(p + 32);
  if (GetU64(p + 40) != static_cast<uint64_t>(header.shape.packed_bytes())) {
    return absl::DataLossError(absl::StrCat("shard header says ", GetU64(p + 40), " bytes per sample, shape ",
                                            header.shape.ToString(), " needs ", header.shape.packed_bytes()));
  }
  if (p[48] > 1)
    return absl::DataLossError(absl::StrCat("shard header split byte is ", int{p[48]}, ", expected 0 or 1"));
  header.split = p[48] == 0 ? Split::kTrain : Split::kHeldout;
  header.shard_index = GetU32(p + 52);
  if (p[49] != 0 || p[50] != 0 || p[51] != 0 || GetU32(p + 56) != 0) {
    return absl::DataLossError("shard header reserved bytes are not zero");
  }
  return header;
}

Status CheckShardAgainstManifest(const uint8_t* header_bytes, uint64_t file_size, const PackManifest& manifest,
                                 Split split, uint32_t shard_index) {
  const ShardInfo& info = manifest.shards(split)[shard_index];
  if (file_size != info.bytes) {
    return absl::DataLossError(absl::StrCat("file is ", file_size, " bytes, manifest says ", info.bytes,
                                            file_size < info.bytes ? " (truncated?)" : ""));
  }
  TUTTI_ASSIGN_OR_RETURN(ShardHeader header, DecodeShardHeader(header_bytes, static_cast<size_t>(file_size)));
  if (header.shape != manifest.shape) {
    return absl::DataLossError(absl::StrCat("header shape ", header.shape.ToString(), " differs from the manifest's ",
                                            manifest.shape.ToString()));
  }
  if (header.sample_count != static_cast<uint64_t>(info.samples)) {
    return absl::DataLossError(
        absl::StrCat("header says ", header.sample_count, " samples, manifest says ", info.samples));
  }
  if (header.split != split || header.shard_index != shard_index) {
    return absl::DataLossError(absl::StrCat("header says this is ", ShardFileName(header.split, header.shard_index),
                                            ", the manifest lists it as ", SplitName(split), " shard ", shard_index));
  }
  return absl::OkStatus();
}

std::string ShardFileName(Split split, uint32_t shard_index) {
  char index[16];
  std::snprintf(index, sizeof index, "%05" PRIu32, shard_index);
  return absl::StrCat(SplitName(split), "-", index, kShardSuffix);
}

}  // namespace tutti
