#include "core/base/leftovers.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <filesystem>

#include "core/base/file_util.h"

namespace tutti {
namespace {

namespace fs = std::filesystem;

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsAsciiAlnum(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Entries of `dir` with their type (not following links). A missing directory holds none.
StatusOr<std::vector<fs::directory_entry>> ListEntries(const std::string& dir) {
  std::vector<fs::directory_entry> entries;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec == std::errc::no_such_file_or_directory) return entries;
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) entries.push_back(*it);
  if (ec) {
    return ErrnoStatus(ec.value(), "cannot list the directory to look for leftovers of an interrupted run", dir);
  }
  return entries;
}

}  // namespace

std::optional<AtomicWriteTempName> ParseAtomicWriteTempName(std::string_view name) {
  // Search from the end: a target may itself contain ".tmp-" (never one of ours, but harmless).
  const size_t marker = name.rfind(".tmp-");
  if (marker == std::string_view::npos || marker == 0) return std::nullopt;
  const std::string_view rest = name.substr(marker + 5);
  const size_t dash = rest.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const std::string_view pid = rest.substr(0, dash), counter = rest.substr(dash + 1);
  // A pid never has 10 digits (pid_max is at most 2^22); refusing longer ones keeps stoll in range.
  if (!AllDigits(pid) || pid.size() > 9 || !AllDigits(counter)) return std::nullopt;
  const int64_t value = std::stoll(std::string(pid));
  if (value <= 0) return std::nullopt;
  return AtomicWriteTempName{std::string(name.substr(0, marker)), static_cast<pid_t>(value)};
}

bool IsStagingDirectoryName(std::string_view name, std::string_view stem) {
  const std::string prefix = absl::StrCat(".", std::string(stem), ".tmp-");
  if (stem.empty() || name.size() != prefix.size() + 6 || name.substr(0, prefix.size()) != prefix) return false;
  return std::all_of(name.begin() + prefix.size(), name.end(), IsAsciiAlnum);
}

bool ProcessIsAlive(pid_t pid) {
  if (pid <= 0) return false;
  if (pid == ::getpid()) return true;
  return ::kill(pid, 0) == 0 || errno == EPERM;  // EPERM: it exists, it is just not ours to signal
}

StatusOr<std::vector<std::string>> RemoveDeadAtomicWriteTemps(const std::string& dir,
                                                              const std::function<bool(const std::string&)>& is_ours) {
  TUTTI_ASSIGN_OR_RETURN(std::vector<fs::directory_entry> entries, ListEntries(dir));
  std::vector<std::string> removed;
  Status first;
  for (const fs::directory_entry& entry : entries) {
    std::error_code ec;
    if (!entry.is_regular_file(ec) || entry.is_symlink(ec)) continue;
    const std::optional<AtomicWriteTempName> temp = ParseAtomicWriteTempName(entry.path().filename().string());
    if (!temp || !is_ours(temp->target) || ProcessIsAlive(temp->pid)) continue;
    const std::string path = entry.path().string();
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      if (first.ok()) first = ErrnoStatus(errno, "cannot remove a leftover temporary file of an interrupted run", path);
      continue;
    }
    removed.push_back(path);
  }
  if (!first.ok()) return first;
  std::sort(removed.begin(), removed.end());
  return removed;
}

StatusOr<std::vector<std::string>> RemoveStagingDirectories(const std::string& parent, const std::string& stem) {
  TUTTI_ASSIGN_OR_RETURN(std::vector<fs::directory_entry> entries, ListEntries(parent));
  std::vector<std::string> removed;
  Status first;
  for (const fs::directory_entry& entry : entries) {
    std::error_code ec;
    if (entry.is_symlink(ec) || !entry.is_directory(ec)) continue;
    if (!IsStagingDirectoryName(entry.path().filename().string(), stem)) continue;
    fs::remove_all(entry.path(), ec);
    if (ec) {
      if (first.ok()) {
        first = ErrnoStatus(ec.value(), "cannot remove a leftover staging directory of an interrupted run",
                            entry.path().string());
      }
      continue;
    }
    removed.push_back(entry.path().string());
  }
  if (!first.ok()) return first;
  std::sort(removed.begin(), removed.end());
  return removed;
}

std::string LeftoverNotice(std::string_view what, const std::string& path) {
  return absl::StrCat("removed leftover ", std::string(what), " ", path, " from an interrupted run");
}

}  // namespace tutti
