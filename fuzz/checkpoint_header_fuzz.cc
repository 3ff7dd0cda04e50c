// Fuzz target: ReadCheckpointMetaFromBytes (magic, version, metadata length against the file size, the
// metadata JSON, payload size and sha256). A mutated payload or size field almost never matches the
// metadata, which would stop the fuzzer at the last check; so each input is read twice: as given, and
// with "payload_bytes" and "payload_sha256" in its metadata (when that is a JSON object) rewritten to
// match the bytes after it, which lets mutations of the other fields reach the end. A file that is read
// must say where its payload is, and must encode back (EncodeCheckpointFile) to a file that reads the
// same.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "core/base/sha256.h"
#include "core/checkpoint/checkpoint_format.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "checkpoint_header: %s\n", what);
  std::abort();
}

void Check(const std::string& file) {
  tutti::StatusOr<tutti::CheckpointMeta> meta = tutti::ReadCheckpointMetaFromBytes(file, "fuzz.tutti");
  if (!meta.ok()) {
    if (meta.status().message().find("fuzz.tutti") == std::string::npos) Fail("an error does not name the file");
    return;
  }
  if (meta->payload_offset > file.size() || file.size() - meta->payload_offset != meta->payload_bytes) {
    Fail("payload offset + size is not the file size");
  }
  const std::string payload = file.substr(meta->payload_offset);
  const std::string again = tutti::EncodeCheckpointFile(*meta, payload);
  tutti::StatusOr<tutti::CheckpointMeta> reread = tutti::ReadCheckpointMetaFromBytes(again, "again.tutti");
  if (!reread.ok()) Fail("a checkpoint read back does not read again after EncodeCheckpointFile");
  if (reread->step != meta->step || reread->loader_epoch != meta->loader_epoch ||
      reread->loader_batch_in_epoch != meta->loader_batch_in_epoch || reread->config_yaml != meta->config_yaml ||
      reread->extra != meta->extra || reread->payload_sha256 != meta->payload_sha256 ||
      reread->payload_bytes != meta->payload_bytes || reread->created_at != meta->created_at) {
    Fail("the re-encoded checkpoint reads differently");
  }
}

void PutLe(std::string* out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string file(reinterpret_cast<const char*>(data), size);
  Check(file);
  // The second reading: the same header and metadata, payload size and hash made to match.
  if (size < 20) return 0;
  uint64_t meta_bytes = 0;
  for (int i = 0; i < 8; ++i) meta_bytes |= uint64_t{data[12 + i]} << (8 * i);
  if (meta_bytes > size - 20) return 0;
  nlohmann::json j = nlohmann::json::parse(file.begin() + 20, file.begin() + 20 + static_cast<ptrdiff_t>(meta_bytes),
                                           nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return 0;
  const std::string payload = file.substr(20 + meta_bytes);
  j["payload_bytes"] = payload.size();
  j["payload_sha256"] = tutti::Sha256Hex(payload);
  const std::string meta_text = j.dump();  // parsed strings are valid UTF-8: dump cannot throw
  std::string fixed = file.substr(0, 12);
  PutLe(&fixed, meta_text.size(), 8);
  fixed += meta_text;
  fixed += payload;
  Check(fixed);
  return 0;
}
