#include "core/data/pack_output_lock.h"

#include <filesystem>

#include "core/base/file_util.h"
#include "core/base/leftovers.h"

namespace tutti {

StatusOr<std::unique_ptr<PackOutputLock>> PackOutputLock::Acquire(const std::string& pack_dir) {
  namespace fs = std::filesystem;
  // The same normalisation as PackWriter::Create, so the lock and the clean-up look where it stages.
  fs::path target = fs::path(pack_dir).lexically_normal();
  if (!target.has_filename() && target.has_parent_path()) target = target.parent_path();
  const std::string name = target.filename().string();
  if (name.empty() || name == "." || name == "..") {
    return absl::InvalidArgumentError(absl::StrCat("pack directory '", pack_dir, "' has no final name"));
  }
  const std::string parent = target.has_parent_path() ? target.parent_path().string() : std::string(".");
  TUTTI_RETURN_IF_ERROR(CreateDirectories(parent));
  StatusOr<std::unique_ptr<FileLock>> lock = FileLock::TryAcquire((fs::path(parent) / ("." + name + ".lock")).string());
  if (!lock.ok()) {
    if (lock.status().code() != absl::StatusCode::kFailedPrecondition) return lock.status();
    return absl::FailedPreconditionError(absl::StrCat(target.string(), " is being written by another tutti pack (",
                                                      lock.status().message(),
                                                      "); wait for it or choose another --out"));
  }
  // Under the lock no live run owns a staging directory of this pack: each one is a killed run's.
  TUTTI_ASSIGN_OR_RETURN(std::vector<std::string> removed, RemoveStagingDirectories(parent, name));
  std::vector<std::string> notices;
  for (const std::string& path : removed) notices.push_back(LeftoverNotice("staging directory", path));
  if (!removed.empty()) TUTTI_RETURN_IF_ERROR(SyncDirectory(parent));
  return std::unique_ptr<PackOutputLock>(new PackOutputLock(*std::move(lock), std::move(notices)));
}

}  // namespace tutti
