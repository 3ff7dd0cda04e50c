#include "core/checkpoint/checkpoint.h"

#include <algorithm>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <sstream>

#include <torch/serialize/archive.h>

#include "core/base/file_util.h"
#include "core/base/sha256.h"
#include "core/train/gan_trainer.h"

namespace tutti {
namespace {

namespace fs = std::filesystem;

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

std::string UtcNow() {
  std::time_t now = std::time(nullptr);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return buffer;
}

// Verifies a whole checkpoint file held in `b` (named `name` in errors) and returns its metadata, with
// payload_offset set. Everything is checked before a model is touched: sizes first (so a truncated file
// says "truncated", not "corrupted"), then the payload's sha256.
StatusOr<CheckpointMeta> ParseAndVerify(const std::string& b, const std::string& name) {
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
  if (meta_bytes > kMaxMetaBytes || kFixedHeader + meta_bytes > b.size()) {
    return absl::DataLossError(absl::StrCat(name, ": truncated checkpoint: metadata of ", meta_bytes,
                                            " bytes announced, file has ", b.size(), " bytes"));
  }
  nlohmann::json j = nlohmann::json::parse(b.begin() + kFixedHeader, b.begin() + kFixedHeader + meta_bytes,
                                           nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::DataLossError(absl::StrCat(name, ": checkpoint metadata is not valid JSON"));
  }
  CheckpointMeta m;
  try {
    m.step = j.at("step").get<int64_t>();
    m.loader_epoch = j.at("loader_epoch").get<int64_t>();
    m.loader_batch_in_epoch = j.at("loader_batch_in_epoch").get<int64_t>();
    m.config_yaml = j.at("config_yaml").get<std::string>();
    m.extra = j.value("extra", nlohmann::json::object());
    m.payload_sha256 = j.at("payload_sha256").get<std::string>();
    m.payload_bytes = j.at("payload_bytes").get<uint64_t>();
    m.created_at = j.value("created_at", "");
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat(name, ": checkpoint metadata: ", e.what()));
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

// The canonical code for a failure to list a directory, with the directory named.
Status ListError(const std::error_code& ec, const std::string& dir) {
  const std::string message =
      absl::StrCat(dir, ": cannot list the checkpoint directory: ", ec.message());
  if (ec == std::errc::not_a_directory) return absl::FailedPreconditionError(message);
  if (ec == std::errc::permission_denied || ec == std::errc::operation_not_permitted) {
    return absl::PermissionDeniedError(message);
  }
  return absl::InternalError(message);
}

}  // namespace

std::string CheckpointPath(const std::string& dir, int64_t step) {
  char name[64];
  std::snprintf(name, sizeof name, "ckpt-%08lld.tutti", static_cast<long long>(step));
  return (fs::path(dir) / name).string();
}

StatusOr<std::string> SaveCheckpoint(const std::string& path, const GanTrainer& trainer, const CheckpointMeta& meta) {
  std::string payload;
  try {
    torch::serialize::OutputArchive archive;
    TUTTI_RETURN_IF_ERROR(trainer.SaveState(archive));
    std::ostringstream stream;
    archive.save_to(stream);
    payload = stream.str();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(path, ": serialising the trainer failed: ", e.what()));
  }
  nlohmann::json j = {{"step", meta.step},
                      {"loader_epoch", meta.loader_epoch},
                      {"loader_batch_in_epoch", meta.loader_batch_in_epoch},
                      {"config_yaml", meta.config_yaml},
                      {"extra", meta.extra},
                      {"payload_sha256", Sha256Hex(payload)},
                      {"payload_bytes", payload.size()},
                      {"created_at", UtcNow()}};
  std::string meta_text = j.dump();
  std::string file(kMagic, sizeof kMagic);
  PutLe(&file, kVersion, 4);
  PutLe(&file, meta_text.size(), 8);
  file += meta_text;
  file += payload;
  fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) TUTTI_RETURN_IF_ERROR(CreateDirectories(parent.string()));
  TUTTI_RETURN_IF_ERROR(WriteFileAtomically(path, file));
  std::string digest = Sha256Hex(file);
  TUTTI_RETURN_IF_ERROR(
      WriteFileAtomically(path + ".sha256", digest + "  " + fs::path(path).filename().string() + "\n"));
  return digest;
}

StatusOr<CheckpointMeta> ReadCheckpointMeta(const std::string& path) {
  TUTTI_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  return ParseAndVerify(bytes, path);
}

StatusOr<CheckpointMeta> ReadCheckpointMetaFromBytes(const std::string& bytes, const std::string& name) {
  return ParseAndVerify(bytes, name);
}

StatusOr<CheckpointMeta> LoadCheckpoint(const std::string& path, GanTrainer* trainer) {
  TUTTI_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  return LoadCheckpointFromBytes(bytes, path, trainer);
}

StatusOr<CheckpointMeta> LoadCheckpointFromBytes(const std::string& bytes, const std::string& name,
                                                 GanTrainer* trainer) {
  TUTTI_ASSIGN_OR_RETURN(CheckpointMeta meta, ParseAndVerify(bytes, name));
  try {
    torch::serialize::InputArchive archive;
    // Straight from the buffer: no copy of the payload, no temporary file.
    archive.load_from(bytes.data() + meta.payload_offset, static_cast<size_t>(meta.payload_bytes));
    Status status = trainer->LoadState(archive);
    if (!status.ok()) return Annotate(status, name);
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat(name, ": cannot restore the trainer: ", e.what()));
  }
  return meta;
}

StatusOr<std::vector<std::string>> ListCheckpoints(const std::string& dir) {
  std::vector<std::string> paths;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    // Only a missing directory means "no checkpoints yet"; anything else (a file in the way, no
    // permission, an I/O error) must not: a re-queued trial would silently restart from step 0.
    if (ec == std::errc::no_such_file_or_directory) return paths;
    return ListError(ec, dir);
  }
  while (it != fs::directory_iterator()) {
    const std::string name = it->path().filename().string();
    if (name.rfind("ckpt-", 0) == 0 && it->path().extension() == ".tutti") paths.push_back(it->path().string());
    it.increment(ec);
    if (ec) break;
  }
  if (ec) return ListError(ec, dir);  // the iteration itself failed part-way
  std::sort(paths.begin(), paths.end());  // zero-padded steps sort numerically
  return paths;
}

Status PruneCheckpoints(const std::string& dir, int keep) {
  if (keep <= 0) return absl::OkStatus();
  TUTTI_ASSIGN_OR_RETURN(std::vector<std::string> paths, ListCheckpoints(dir));
  Status first;
  for (size_t i = 0; i + static_cast<size_t>(keep) < paths.size(); ++i) {
    for (const std::string& file : {paths[i], paths[i] + ".sha256"}) {
      std::error_code ec;
      fs::remove(file, ec);  // false without error when already gone
      if (ec && first.ok()) {
        first = absl::InternalError(absl::StrCat(file, ": cannot remove an old checkpoint: ", ec.message()));
      }
    }
  }
  return first;
}

}  // namespace tutti
