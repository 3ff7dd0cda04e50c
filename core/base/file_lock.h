#pragma once
// FileLock: an exclusive flock(2) on a small lock file, held for the object's lifetime. The kernel drops
// it when the holder dies, however it dies, so a lock says "a live process is working here" and a free
// lock after a crash says "whatever it left is nobody's": the basis for cleaning up after kill -9.
//
// The file holds the holder's pid (for the busy message only; the lock itself is the truth). When the
// owner is done it removes the file while still holding the lock, then unlocks: the directory keeps no
// trace of a run that ended normally. That is safe because TryAcquire checks, after locking, that the
// path still names the file it locked; a process that locked a file someone removed meanwhile lets go
// and tries again on the new one (the usual lock-file protocol).
//
// flock on NFS is emulated with byte-range locks; the lock file is opened read-write for that reason.
// Thread-safety: a FileLock belongs to one thread at a time. Two FileLocks on one path in one process
// exclude each other like two processes would (flock belongs to the open file description).

#include <memory>
#include <string>

#include "core/base/status.h"

namespace tutti {

class FileLock {
 public:
  // Creates `path` when missing and locks it without waiting. FailedPrecondition when another holder has
  // it: "<path> is held by pid N" (pid left out when unknown); file errors name the path. The parent
  // directory must exist.
  static StatusOr<std::unique_ptr<FileLock>> TryAcquire(const std::string& path);

  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  // Removes the file, then releases the lock.
  ~FileLock();

  const std::string& path() const { return path_; }

 private:
  FileLock(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

  const std::string path_;
  const int fd_;  // owned; holds the flock
};

}  // namespace tutti
