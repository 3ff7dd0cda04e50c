#pragma once
// PackOutputLock: held by one `tutti pack` run for one pack directory from start to publish, so that
//   - two runs never write the same pack at once (the second fails at once, naming the first's pid), and
//   - a run can tell that staging directories of that pack (".<name>.tmp-XXXXXX" beside it, PackWriter)
//     belong to nobody: while it holds the lock no other run owns one, so every one it finds is what a
//     run killed earlier (SIGKILL, OOM, power cut) left behind. It removes them and says so.
//
// The lock is a flock on "<parent>/.<name>.lock" (core/base/file_lock.h): the kernel drops it when its
// holder dies, and the file goes away when the run ends normally. A staging directory left by kill -9 may
// hold the new pack not yet published, or the OLD pack just swapped out by PublishDirectory (a kill
// between the swap and the removal); either way the pack directory itself is complete, old or new.
//
// Only runs that take this lock may stage into the same parent under the same name; PackWriter alone
// (tests, tools) does not take it.
// Thread-safety: one thread at a time.

#include <memory>
#include <string>
#include <vector>

#include "core/base/file_lock.h"
#include "core/base/status.h"

namespace tutti {

class PackOutputLock {
 public:
  // Creates the parent of `pack_dir` when missing, takes the lock and removes leftover staging
  // directories of this pack. FailedPrecondition when another run holds the lock: "<pack_dir> is being
  // written by another tutti pack (<path> is held by pid N); wait for it or choose another --out".
  // Clean-up failures are errors naming the path (nothing is written before they are solved).
  static StatusOr<std::unique_ptr<PackOutputLock>> Acquire(const std::string& pack_dir);

  // One LeftoverNotice line per removed staging directory (empty when there were none).
  const std::vector<std::string>& notices() const { return notices_; }
  // "<parent>/.<name>.lock".
  const std::string& lock_path() const { return lock_->path(); }

 private:
  PackOutputLock(std::unique_ptr<FileLock> lock, std::vector<std::string> notices)
      : lock_(std::move(lock)), notices_(std::move(notices)) {}

  const std::unique_ptr<FileLock> lock_;
  const std::vector<std::string> notices_;
};

}  // namespace tutti
