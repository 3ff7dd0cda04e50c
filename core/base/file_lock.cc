#include "core/base/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "core/base/file_util.h"

namespace tutti {

StatusOr<std::unique_ptr<FileLock>> FileLock::TryAcquire(const std::string& path) {
  // Each pass either returns or finds that the file it locked was removed (or replaced) by a holder that
  // finished in between; a handful of passes is plenty, the bound only guards against a pathological loop.
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoStatus(errno, "cannot open the lock file", path);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      char pid[32] = {0};
      const ssize_t n = ::pread(fd, pid, sizeof pid - 1, 0);
      ::close(fd);
      if (err != EWOULDBLOCK) return ErrnoStatus(err, "cannot lock", path);
      const std::string holder = n > 0 ? std::string(pid, static_cast<size_t>(n)) : std::string();
      return absl::FailedPreconditionError(
          absl::StrCat(path, " is held by ", holder.empty() ? std::string("another process") : "pid " + holder));
    }
    struct stat locked {}, named {};
    if (::fstat(fd, &locked) != 0) {
      const int err = errno;
      ::close(fd);
      return ErrnoStatus(err, "cannot stat the lock file", path);
    }
    if (::stat(path.c_str(), &named) != 0 || named.st_ino != locked.st_ino || named.st_dev != locked.st_dev) {
      ::close(fd);  // locked a file its last holder removed: try again on the one the path names now
      continue;
    }
    const std::string mine = std::to_string(::getpid());
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, mine.data(), mine.size(), 0) != static_cast<ssize_t>(mine.size())) {
      const int err = errno;
      ::close(fd);
      return ErrnoStatus(err, "cannot write the pid into the lock file", path);
    }
    return std::unique_ptr<FileLock>(new FileLock(path, fd));
  }
  return absl::InternalError(absl::StrCat(path, ": the lock file kept being replaced while locking it"));
}

FileLock::~FileLock() {
  // Unlink before unlocking: whoever locks the old file afterwards sees that the path no longer names it.
  (void)::unlink(path_.c_str());  // best effort: a stale lock file is harmless, the lock is what counts
  ::close(fd_);
}

}  // namespace tutti
