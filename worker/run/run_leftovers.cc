#include "worker/run/run_leftovers.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "core/base/file_util.h"
#include "core/base/leftovers.h"

namespace tutti {
namespace {

namespace fs = std::filesystem;

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// ckpt-<step>.tutti and its ".sha256" (the names CheckpointPath and SaveCheckpoint use).
bool IsCheckpointName(const std::string& name) {
  return name.rfind("ckpt-", 0) == 0 && (EndsWith(name, ".tutti") || EndsWith(name, ".tutti.sha256"));
}

}  // namespace

StatusOr<std::vector<std::string>> RemoveRunLeftovers(const std::string& output_dir, const std::string& checkpoint_dir,
                                                      const std::string& metrics_file) {
  std::vector<std::string> notices;
  auto note_all = [&notices](const std::vector<std::string>& removed, const char* what) {
    for (const std::string& path : removed) notices.push_back(LeftoverNotice(what, path));
  };
  TUTTI_ASSIGN_OR_RETURN(std::vector<std::string> temps, RemoveDeadAtomicWriteTemps(checkpoint_dir, IsCheckpointName));
  note_all(temps, "temporary file");

  // Checksum files whose checkpoint was pruned by a run killed between the two removals.
  std::error_code ec;
  std::vector<std::string> orphans;
  for (fs::directory_iterator it(checkpoint_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!IsCheckpointName(name) || !EndsWith(name, ".sha256")) continue;
    const fs::path checkpoint = it->path().parent_path() / name.substr(0, name.size() - 7);
    std::error_code exists_ec;
    if (fs::exists(checkpoint, exists_ec) || exists_ec) continue;
    orphans.push_back(it->path().string());
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return ErrnoStatus(ec.value(), "cannot list the checkpoint directory", checkpoint_dir);
  }
  std::sort(orphans.begin(), orphans.end());
  for (const std::string& path : orphans) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, "cannot remove a checksum file whose checkpoint is gone", path);
    }
  }
  note_all(orphans, "checksum file (its checkpoint was already pruned)");

  // config.yaml and the metrics file are the run's other atomic writes (the metrics file is rewritten when a
  // resumed run drops the lines after its checkpoint). They may share a directory or not.
  const fs::path metrics(metrics_file);
  const std::string metrics_dir = metrics.has_parent_path() ? metrics.parent_path().string() : output_dir;
  const std::string metrics_name = metrics.filename().string();
  const bool metrics_beside = fs::path(metrics_dir).lexically_normal() == fs::path(output_dir).lexically_normal();
  TUTTI_ASSIGN_OR_RETURN(std::vector<std::string> output_temps,
                         RemoveDeadAtomicWriteTemps(output_dir, [&](const std::string& target) {
                           return target == "config.yaml" || (metrics_beside && target == metrics_name);
                         }));
  note_all(output_temps, "temporary file");
  if (!metrics_beside) {
    TUTTI_ASSIGN_OR_RETURN(std::vector<std::string> metrics_temps,
                           RemoveDeadAtomicWriteTemps(metrics_dir, [&](const std::string& target) {
                             return target == metrics_name;
                           }));
    note_all(metrics_temps, "temporary file");
  }
  return notices;
}

}  // namespace tutti
