#include "core/checkpoint/checkpoint.h"

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <filesystem>
#include <sstream>

#include <torch/serialize/archive.h>

#include "core/base/file_system.h"
#include "core/base/file_util.h"
#include "core/base/sha256.h"
#include "core/train/gan_trainer.h"

namespace tutti {
namespace {

namespace fs = std::filesystem;

std::string UtcNow() {
  std::time_t now = std::time(nullptr);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return buffer;
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
  CheckpointMeta stamped = meta;
  stamped.created_at = UtcNow();
  std::string file = EncodeCheckpointFile(stamped, payload);
  fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) TUTTI_RETURN_IF_ERROR(CreateDirectories(parent.string()));
  // "<file>.sha256" names the bytes of its file or does not exist: a previous one goes before the file is
  // replaced, so a failure (or a crash) between the two writes cannot leave it naming the old content.
  if (int err = CurrentFileSystem().Unlink(path + ".sha256"); err != 0 && err != ENOENT) {
    return ErrnoStatus(err, "cannot remove the previous checksum file", path + ".sha256");
  }
  TUTTI_RETURN_IF_ERROR(WriteFileAtomically(path, file));
  std::string digest = Sha256Hex(file);
  TUTTI_RETURN_IF_ERROR(
      WriteFileAtomically(path + ".sha256", digest + "  " + fs::path(path).filename().string() + "\n"));
  return digest;
}

StatusOr<CheckpointMeta> LoadCheckpoint(const std::string& path, GanTrainer* trainer) {
  TUTTI_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  return LoadCheckpointFromBytes(bytes, path, trainer);
}

StatusOr<CheckpointMeta> LoadCheckpointFromBytes(const std::string& bytes, const std::string& name,
                                                 GanTrainer* trainer) {
  TUTTI_ASSIGN_OR_RETURN(CheckpointMeta meta, ReadCheckpointMetaFromBytes(bytes, name));
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
