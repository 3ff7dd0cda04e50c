#include "core/checkpoint/checkpoint_format.h"

#include <cstring>

#include "core/base/file_util.h"
#include "core/base/sha256.h"

namespace tutti {
namespace {

constexpr char kMagic[8] = {'T', 'U', 'T', 'T', 'I', 'C', 'K', 'P'};
constexpr uint32_t kVersion = 1;
constexpr size_t kFixedHeader = 20;
constexpr uint64_t kMaxMetaBytes = 64ull << 20;

void PutLe(std::string* out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint64_t GetLe(const std::string& in, size_t offset, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= uint64_t{static_cast<uint8_t>(in[offset + i])} << (8 * i);
  return value;
}

}  // namespace

std::string EncodeCheckpointFile(const CheckpointMeta& meta, const std::string& payload) {
  nlohmann::json j = {{"step", meta.step},
                      {"loader_epoch", meta.loader_epoch},
                      {"loader_batch_in_epoch", meta.loader_batch_in_epoch},
                      {"config_yaml", meta.config_yaml},
                      {"extra", meta.extra},
                      {"payload_sha256", Sha256Hex(payload)},
                      {"payload_bytes", payload.size()},
                      {"created_at", meta.created_at}};
  std::string meta_text = j.dump();
  std::string file(kMagic, sizeof kMagic);
  PutLe(&file, kVersion, 4);
  PutLe(&file, meta_text.size(), 8);
  file += meta_text;
  file += payload;
  return file;
}

// Everything is checked before a model is touched: sizes first (so a truncated file says "truncated", not
// "corrupted"), then the payload's sha256.
StatusOr<CheckpointMeta> ReadCheckpointMetaFromBytes(const std::string& b, const std::string& name) {
  if (b.size() < kFixedHeader || std::memcmp(b.data(), kMagic, sizeof kMagic) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": not a Tutti checkpoint (expected the magic \"TUTTICKP\" in the first 8 bytes)"));
  }
  uint32_t version = static_cast<uint32_t>(GetLe(b, 8, 4));
  if (version != kVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat(name, ": checkpoint format version ", version, ", this build reads version ", kVersion));
  }
  uint64_t meta_bytes = GetLe(b, 12, 8);
  // meta_bytes is checked against the cap first, so kFixedHeader + meta_bytes cannot wrap around.
  if (meta_bytes > kMaxMetaBytes || kFixedHeader + meta_bytes > b.size()) {
    return absl::DataLossError(absl::StrCat(name, ": truncated checkpoint: metadata of ", meta_bytes,
                                            " bytes announced, file has ", b.size(), " bytes"));
  }
  nlohmann::json j = nlohmann::json::parse(b.begin() + kFixedHeader, b.begin() + kFixedHeader + meta_bytes,
                                           nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::DataLossError(absl::StrCat(name, ": checkpoint metadata is not valid JSON"));
  }
  // nlohmann turns a JSON float into an integer with a plain cast, undefined past the integer's range
  // ("step": 1e300): the integer fields must be written as integers.
  for (const char* key : {"step", "loader_epoch", "loader_batch_in_epoch", "payload_bytes"}) {
    auto it = j.find(key);
    if (it != j.end() && it->is_number_float()) {
      return absl::DataLossError(
          absl::StrCat(name, ": checkpoint metadata: \"", key, "\" must be an integer, got ", it->dump()));
    }
  }
  CheckpointMeta m;
  // `key` names the field being read: nlohmann's type errors ("type must be number, but is string") do not.
  const char* key = "";
  try {
    m.step = j.at(key = "step").get<int64_t>();
    m.loader_epoch = j.at(key = "loader_epoch").get<int64_t>();
    m.loader_batch_in_epoch = j.at(key = "loader_batch_in_epoch").get<int64_t>();
    m.config_yaml = j.at(key = "config_yaml").get<std::string>();
    m.extra = j.value(key = "extra", nlohmann::json::object());
    m.payload_sha256 = j.at(key = "payload_sha256").get<std::string>();
    m.payload_bytes = j.at(key = "payload_bytes").get<uint64_t>();
    m.created_at = j.value(key = "created_at", "");
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat(name, ": checkpoint metadata: key '", key, "': ", e.what()));
  }
  m.payload_offset = kFixedHeader + meta_bytes;
  uint64_t have = b.size() - m.payload_offset;
  if (have != m.payload_bytes) {
    return absl::DataLossError(absl::StrCat(name, ": truncated or padded checkpoint: payload is ", have,
                                            " bytes, metadata says ", m.payload_bytes));
  }
  Sha256 hash;
  hash.Update(b.data() + m.payload_offset, have);
  std::string actual = hash.FinishHex();
  if (actual != m.payload_sha256) {
    return absl::DataLossError(absl::StrCat(name, ": corrupted checkpoint: payload sha256 is ", actual,
                                            ", metadata says ", m.payload_sha256));
  }
  return m;
}

StatusOr<CheckpointMeta> ReadCheckpointMeta(const std::string& path) {
  TUTTI_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  return ReadCheckpointMetaFromBytes(bytes, path);
}

}  // namespace tutti
