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

#include "core/base/file_system.h"

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
  FileSystem& fs = CurrentFileSystem();
  int fd = -1;
  if (int err = fs.Open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, &fd); err != 0) {
    return ErrnoStatus(err, "cannot open directory for fsync", dir);
  }
  int err = fs.Fsync(fd);
  (void)fs.Close(fd);  // a directory descriptor holds no unwritten data: only the fsync's answer counts
  if (err != 0) return ErrnoStatus(err, "fsync of directory failed", dir);
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
  FileSystem& fs = CurrentFileSystem();
  int fd = -1;
  if (int err = fs.Open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644, &fd); err != 0) {
    return ErrnoStatus(err, "cannot create", temp);
  }
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    size_t n = 0;
    if (int err = fs.Write(fd, p, left, &n); err != 0) {
      (void)fs.Close(fd);
      (void)fs.Unlink(temp);
      return ErrnoStatus(err, "write failed", temp);
    }
    p += n;
    left -= n;
  }
  if (int err = fs.Fsync(fd); err != 0) {
    (void)fs.Close(fd);
    (void)fs.Unlink(temp);
    return ErrnoStatus(err, "fsync failed", temp);
  }
  // Not checked: after a successful fsync the bytes are on disk, and close has nothing left to report.
  (void)fs.Close(fd);
  if (int err = fs.Rename(temp, path); err != 0) {
    (void)fs.Unlink(temp);
    return ErrnoStatus(err, absl::StrCat("rename of ", temp, " failed"), path);
  }
  return absl::OkStatus();
}

Status WriteFileAtomically(const std::string& path, std::string_view data) {
  const std::string temp = absl::StrCat(path, ".tmp-", ::getpid(), "-", temp_counter.fetch_add(1));
  TUTTI_RETURN_IF_ERROR(WriteAndRename(temp, path, data));
  // The rename cannot be undone: say that the new content is in place but may not survive a crash.
  return Annotate(SyncDirectory(ParentOf(path)), absl::StrCat(path, ": in place, but not yet durable"));
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
  if (int err = CurrentFileSystem().MakeTempDirectory(&pattern); err != 0) {
    return ErrnoStatus(err, "mkdtemp failed", pattern);
  }
  return pattern;
}

Status PublishDirectory(const std::string& staged, const std::string& target) {
  std::error_code ec;
  if (fs::exists(target, ec)) {
    if (int err = CurrentFileSystem().Exchange(staged, target); err != 0) {
      return ErrnoStatus(err, absl::StrCat("cannot swap in the new directory ", staged, " (renameat2)"), target);
    }
    // `staged` now names the old content.
    RemoveAllQuietly(staged);
  } else if (int err = CurrentFileSystem().Rename(staged, target); err != 0) {
    return ErrnoStatus(err, absl::StrCat("cannot rename ", staged, " into place"), target);
  }
  return Annotate(SyncDirectory(ParentOf(target)), absl::StrCat(target, ": published, but not yet durable"));
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
