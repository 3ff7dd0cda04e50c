#pragma once
// FaultInjectingFileSystem: the real file system (it wraps another FileSystem, PosixFileSystem() by
// default) with chosen calls made to fail. Tests only (library tutti_fault_fs).
//
// What the storage-fault tests do with it ("make each step fail in turn", as leveldb's
// db/fault_injection_test.cc does for its Env):
//   1. install it (ScopedFileSystem) and run the write once with no fault: steps() is how many fallible
//      steps the write makes and trace() says which (create, write, fsync, rename, directory fsync...);
//   2. for k = 1 .. steps(): restore the old state, FailNthStep(k, EIO), run the write again, and check
//      that it returned an error naming injected_calls()[0].path, that injected() == 1 (the fault really
//      was hit: code that bypasses the seam turns the test red), and that the old state is intact;
//   3. FailFrom(FsOp::kWrite, n, ENOSPC) for a disk that fills up and stays full.
//
// What a fault does: the call returns the chosen errno without reaching the real file system, except
// writes: a failing Write/PWrite of more than one byte first writes the first half for real, so the file
// holds a torn prefix, as after a short write followed by the error (the worst case a reader could see).
// The descriptor table is tracked (Open/Close), so fd calls are reported with the file's path and a fsync
// of a directory opened with O_DIRECTORY is told apart from a file's (kFsyncDirectory).
//
// Counting: a fault counts the calls that match it from the moment it is armed. calls() counts every call
// since construction or ResetCounts(). Thread-safe (one mutex); the real call runs outside the lock.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/base/file_system.h"

namespace tutti::testing {

enum class FsOp {
  kOpen,               // Open of a file (create or not)
  kOpenDirectory,      // Open with O_DIRECTORY (the first half of a directory fsync)
  kWrite,
  kPWrite,
  kFsync,              // of a file
  kFsyncDirectory,     // of a descriptor opened with O_DIRECTORY
  kClose,
  kRename,
  kExchange,           // renameat2 RENAME_EXCHANGE
  kMakeDirectory,
  kMakeTempDirectory,
  kChmod,
  kUnlink,
};
inline constexpr int kFsOpCount = static_cast<int>(FsOp::kUnlink) + 1;

// "open", "write", "fsync-dir", ...
const char* FsOpName(FsOp op);

// Whether calls of `op` are "steps" of a write: everything but Close and Unlink. Close comes after the
// fsync that already reported any write error (file_util does not check it; the blob store does, and its
// test fails kClose by name), and Unlink only runs in clean-up after another failure.
bool IsStep(FsOp op);

struct FsCall {
  FsOp op;
  std::string path;    // the file or directory; for fd calls, the path it was opened with ("fd N" if unknown)
  std::string target;  // Rename / Exchange: the second name; "" otherwise
  int error = 0;       // the errno it returned (injected or real); 0 on success
  bool injected = false;
};

// "fsync /x/y.tmp-1-2" / "rename /a -> /b", for test messages.
std::string Describe(const FsCall& call);

// Whether an error message says which step failed: it contains one of the words our writers use for
// `op` ("cannot create" / "cannot open" for kOpen, "fsync of directory" for kFsyncDirectory, "swap" for
// kExchange, ...). The fault tests assert it with the path of the injected call.
bool MessageNamesStep(const std::string& message, FsOp op);

class FaultInjectingFileSystem final : public FileSystem {
 public:
  explicit FaultInjectingFileSystem(FileSystem* base = &PosixFileSystem());

  // Fails the `n`-th call of `op` (1-based, counted from now) with `err`; later calls succeed.
  void FailNth(FsOp op, int64_t n, int err);
  // Fails the `n`-th call of `op` and every later one (a disk that filled up stays full).
  void FailFrom(FsOp op, int64_t n, int err);
  // Fails the `n`-th step (a call of any op with IsStep) counted from now, with `err`.
  void FailNthStep(int64_t n, int err);
  // Removes every armed fault (counts and the trace are kept).
  void ClearFaults();
  // Zeroes the counters and forgets the trace and the injected calls (armed faults stay).
  void ResetCounts();

  int64_t calls(FsOp op) const;
  // Calls with IsStep since construction / ResetCounts.
  int64_t steps() const;
  // Every call since construction / ResetCounts, in order.
  std::vector<FsCall> trace() const;
  // Only the step calls of trace().
  std::vector<FsCall> step_trace() const;
  // Faults injected since construction / ResetCounts, and the calls they hit.
  int64_t injected() const;
  std::vector<FsCall> injected_calls() const;

  // FileSystem.
  int Open(const std::string& path, int flags, mode_t mode, int* fd) override;
  int Write(int fd, const void* data, size_t size, size_t* written) override;
  int PWrite(int fd, const void* data, size_t size, off_t offset, size_t* written) override;
  int Fsync(int fd) override;
  int Close(int fd) override;
  int Rename(const std::string& from, const std::string& to) override;
  int Exchange(const std::string& a, const std::string& b) override;
  int MakeDirectory(const std::string& path, mode_t mode) override;
  int MakeTempDirectory(std::string* pattern) override;
  int Chmod(const std::string& path, mode_t mode) override;
  int Unlink(const std::string& path) override;

 private:
  struct Fault {
    bool any_step = false;  // matches every IsStep op (op ignored)
    FsOp op = FsOp::kOpen;
    int64_t nth = 1;        // 1-based among matching calls since arming
    int64_t seen = 0;       // matching calls since arming
    bool sticky = false;    // also fail every later matching call
    int err = 0;
  };

  // Counts and records the call and decides whether it fails. `injected` is the errno to inject (0: make
  // the real call); `index` is the call's entry in trace_, for Finish.
  struct Decision {
    int injected = 0;
    size_t index = 0;
    uint64_t generation = 0;  // ResetCounts() in between makes the index stale
  };
  Decision Begin(FsOp op, const std::string& path, const std::string& target = "");
  // Records the real call's result in its trace entry.
  void Finish(const Decision& decision, int err);
  std::string PathOfFd(int fd) const;  // requires mu_
  FsOp FsyncKind(int fd) const;        // requires mu_

  FileSystem* const base_;
  mutable std::mutex mu_;
  std::vector<Fault> faults_;              // guarded by mu_
  int64_t calls_[kFsOpCount] = {};         // guarded by mu_
  int64_t steps_ = 0;                      // guarded by mu_
  std::vector<FsCall> trace_;              // guarded by mu_
  uint64_t generation_ = 0;                // guarded by mu_; bumped by ResetCounts
  std::vector<FsCall> injected_calls_;     // guarded by mu_
  std::map<int, std::string> fd_paths_;    // guarded by mu_
  std::map<int, bool> fd_is_directory_;    // guarded by mu_
};

}  // namespace tutti::testing
