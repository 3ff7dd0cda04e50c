#include "core/base/file_system.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace tutti {
namespace {

class Posix final : public FileSystem {
 public:
  int Open(const std::string& path, int flags, mode_t mode, int* fd) override {
    int result = ::open(path.c_str(), flags, mode);
    if (result < 0) return errno;
    *fd = result;
    return 0;
  }
  int Write(int fd, const void* data, size_t size, size_t* written) override {
    while (true) {
      ssize_t n = ::write(fd, data, size);
      if (n >= 0) {
        *written = static_cast<size_t>(n);
        return 0;
      }
      if (errno != EINTR) return errno;
    }
  }
  int PWrite(int fd, const void* data, size_t size, off_t offset, size_t* written) override {
    while (true) {
      ssize_t n = ::pwrite(fd, data, size, offset);
      if (n >= 0) {
        *written = static_cast<size_t>(n);
        return 0;
      }
      if (errno != EINTR) return errno;
    }
  }
  int Fsync(int fd) override { return ::fsync(fd) == 0 ? 0 : errno; }
  int Close(int fd) override { return ::close(fd) == 0 ? 0 : errno; }
  int Rename(const std::string& from, const std::string& to) override {
    return ::rename(from.c_str(), to.c_str()) == 0 ? 0 : errno;
  }
  int Exchange(const std::string& a, const std::string& b) override {
    return ::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) == 0 ? 0 : errno;
  }
  int MakeDirectory(const std::string& path, mode_t mode) override {
    return ::mkdir(path.c_str(), mode) == 0 ? 0 : errno;
  }
  int MakeTempDirectory(std::string* pattern) override {
    return ::mkdtemp(pattern->data()) != nullptr ? 0 : errno;
  }
  int Chmod(const std::string& path, mode_t mode) override {
    return ::chmod(path.c_str(), mode) == 0 ? 0 : errno;
  }
  int Unlink(const std::string& path) override { return ::unlink(path.c_str()) == 0 ? 0 : errno; }
};

// nullptr means the POSIX default, so that no static-initialisation order matters: a writer running in
// another translation unit's static initialiser still finds a usable file system.
std::atomic<FileSystem*> current{nullptr};

}  // namespace

FileSystem& PosixFileSystem() {
  // Never destroyed: writers may run during static destruction (a test's global fixture cleaning up).
  static Posix* const posix = new Posix();
  return *posix;
}

FileSystem& CurrentFileSystem() {
  FileSystem* fs = current.load(std::memory_order_acquire);
  return fs != nullptr ? *fs : PosixFileSystem();
}

ScopedFileSystem::ScopedFileSystem(FileSystem* fs)
    : previous_(current.exchange(fs, std::memory_order_acq_rel)) {}

ScopedFileSystem::~ScopedFileSystem() { current.store(previous_, std::memory_order_release); }

}  // namespace tutti
