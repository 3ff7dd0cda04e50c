#include "core/base/file_util.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace tutti {
namespace {

namespace fs = std::filesystem;

std::string ParentOf(const std::string& path) {
  fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

std::atomic<uint64_t> temp_counter{0};

}  // namespace

StatusOr<std::string> ReadFileToString(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open", path);
  std::string data;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) data.reserve(static_cast<size_t>(st.st_size));
  char buffer[1 << 16];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return ErrnoStatus(err, "read failed", path);
    }
    if (n == 0) break;
    data.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return data;
}

Status SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open directory for fsync", dir);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus(err, "fsync of directory failed", dir);
  return absl::OkStatus();
}

Status ErrnoStatus(int err, std::string_view what_view, const std::string& path) {
  const std::string what(what_view);  // this abseil's StrCat takes absl::string_view, not std::string_view
  switch (err) {
    case ENOSPC:
      return absl::ResourceExhaustedError(
          absl::StrCat(path, ": ", what, ": disk full (ENOSPC: no space left on device)"));
    case EDQUOT:
      return absl::ResourceExhaustedError(
          absl::StrCat(path, ": ", what, ": disk full for this user (EDQUOT: disk quota exceeded)"));
    default:
      break;
  }
  std::string message = absl::StrCat(path, ": ", what, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(message);
    case EEXIST:
      return absl::AlreadyExistsError(message);
    case EISDIR:  // a directory named where a file belongs (reading one fails with EISDIR): the caller's input
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", what, ": expected a file, got a directory"));
    default:
      return absl::InternalError(message);
  }
}

Status WriteAndRename(const std::string& temp, const std::string& path, std::string_view data) {
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno, "cannot create", temp);
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(temp.c_str());
      return ErrnoStatus(err, "write failed", temp);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    return ErrnoStatus(err, "fsync failed", temp);
  }
  ::close(fd);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    return ErrnoStatus(err, "rename failed", path);
  }
  return absl::OkStatus();
}

Status WriteFileAtomically(const std::string& path, std::string_view data) {
  const std::string temp = absl::StrCat(path, ".tmp-", ::getpid(), "-", temp_counter.fetch_add(1));
  TUTTI_RETURN_IF_ERROR(WriteAndRename(temp, path, data));
  return SyncDirectory(ParentOf(path));
}

Status CreateDirectories(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(dir, ": cannot create directory: ", ec.message()));
  return absl::OkStatus();
}

StatusOr<std::string> MakeTempDirectoryIn(const std::string& parent, const std::string& stem) {
  TUTTI_RETURN_IF_ERROR(CreateDirectories(parent));
  std::string pattern = (fs::path(parent) / absl::StrCat(".", stem, ".tmp-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) return ErrnoStatus(errno, "mkdtemp failed", pattern);
  return pattern;
}

Status PublishDirectory(const std::string& staged, const std::string& target) {
  std::error_code ec;
  if (fs::exists(target, ec)) {
    if (::renameat2(AT_FDCWD, staged.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) != 0) {
      return ErrnoStatus(errno, "cannot swap in the new directory", target);
    }
    // `staged` now names the old content.
    RemoveAllQuietly(staged);
  } else if (::rename(staged.c_str(), target.c_str()) != 0) {
    return ErrnoStatus(errno, "cannot rename into place", target);
  }
  return SyncDirectory(ParentOf(target));
}

void RemoveAllQuietly(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
}

StatusOr<uint64_t> FileSize(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus(errno, "cannot stat", path);
  return static_cast<uint64_t>(st.st_size);
}

}  // namespace tutti
