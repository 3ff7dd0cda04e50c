#pragma once
// FileSystem: the thin seam under every durable write.
//
// Why it exists: "a reader sees the old content or the complete new content, never a half-written file" is
// a claim about what happens when any one system call of a write fails. Disks do not fail on cue, so tests
// install a FileSystem that fails the Nth call of a chosen kind with a chosen errno
// (core/base/testing/fault_injecting_file_system.h) and check the claim at every step; production runs
// the POSIX one. This is leveldb's Env idea cut down to the calls our writers make.
//
// Who goes through it: file_util's WriteAndRename / WriteFileAtomically / SyncDirectory /
// MakeTempDirectoryIn / PublishDirectory (so checkpoints and pack manifests), the pack writer's shard
// files, the pack cache's renames, and the coordinator's blob store uploads. Reads, stats, directory
// listings and best-effort clean-up (RemoveAllQuietly, CreateDirectories) do not: they cannot leave
// anything half-written, and leaving them out keeps the seam small.
//
// Why process-wide rather than passed in (as leveldb passes Env through Options): the writers are free
// functions and factories called from many places; threading a FileSystem* through all of them would change
// every signature for the sake of tests. The cost in production is one atomic load and one indirect call
// per system call.
//
// Contract for every method: one system call (named in its comment), returning 0 on success or the errno
// value on failure, never -1; the global errno is unspecified afterwards. Paths are passed as given (no
// normalisation). Implementations must be thread-safe: writers call them from several threads.
//
// Installing: ScopedFileSystem is for tests. Install before the code under test starts and keep the
// installer alive until it has finished; swapping while another thread is inside a write is not supported
// (that thread may finish on either file system).

#include <sys/types.h>

#include <cstddef>
#include <string>

namespace tutti {

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // open(2). On success *fd is the new descriptor. Directories are opened with O_DIRECTORY (the fault
  // injector tells a directory fsync from a file fsync that way).
  virtual int Open(const std::string& path, int flags, mode_t mode, int* fd) = 0;
  // write(2): *written bytes were written (possibly fewer than `size`; callers loop). EINTR is retried here.
  virtual int Write(int fd, const void* data, size_t size, size_t* written) = 0;
  // pwrite(2), same conventions as Write.
  virtual int PWrite(int fd, const void* data, size_t size, off_t offset, size_t* written) = 0;
  // fsync(2), of a file or of a directory opened with O_DIRECTORY.
  virtual int Fsync(int fd) = 0;
  // close(2). The descriptor is released even when an error is returned (Linux semantics).
  virtual int Close(int fd) = 0;
  // rename(2).
  virtual int Rename(const std::string& from, const std::string& to) = 0;
  // renameat2(2) with RENAME_EXCHANGE: swaps two existing names in one step.
  virtual int Exchange(const std::string& a, const std::string& b) = 0;
  // mkdir(2).
  virtual int MakeDirectory(const std::string& path, mode_t mode) = 0;
  // mkdtemp(3): *pattern ends in "XXXXXX", which is replaced in place on success.
  virtual int MakeTempDirectory(std::string* pattern) = 0;
  // chmod(2).
  virtual int Chmod(const std::string& path, mode_t mode) = 0;
  // unlink(2).
  virtual int Unlink(const std::string& path) = 0;
};

// The real one: each method is exactly the system call. A process-lifetime singleton.
FileSystem& PosixFileSystem();

// The file system the writers use now: PosixFileSystem() unless a ScopedFileSystem is alive.
FileSystem& CurrentFileSystem();

// Makes `fs` the current file system for the installer's lifetime and restores the previous one after
// (installers nest: the innermost wins). `fs` is not owned and must outlive the installer.
class ScopedFileSystem {
 public:
  explicit ScopedFileSystem(FileSystem* fs);
  ~ScopedFileSystem();
  ScopedFileSystem(const ScopedFileSystem&) = delete;
  ScopedFileSystem& operator=(const ScopedFileSystem&) = delete;

 private:
  FileSystem* const previous_;  // nullptr: the POSIX default
};

}  // namespace tutti
