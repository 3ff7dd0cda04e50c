#pragma once
// FaultInjectingVfs: an SQLite VFS that forwards every call to the default "unix" VFS and makes chosen
// calls fail, for the storage-fault tests of SqliteStore. Tests only (library tutti_store_testing).
//
// It is SQLite's own shim pattern (ext/misc/vfstrace.c, test_vfs.c): a registered sqlite3_vfs whose xOpen
// opens the real file inside a larger sqlite3_file and installs io methods that count, maybe fail, and
// forward. A store opened with SqliteStoreOptions{.vfs = vfs->name()} runs on it; reopening the same file
// with the default VFS afterwards is how a test looks at what really reached the disk.
//
// Steps: xOpen, xWrite, xSync and xTruncate are "steps" (what can lose or tear data); reads, locks and the
// shared-memory calls are forwarded and not counted. A failing xOpen returns the injected code without
// opening; a failing xWrite of more than one byte first writes the first half for real (a torn page, the
// worst a reader could find) and then returns the code, as the fault file system does.
//
// Thread-safety: counters and faults are guarded by one mutex. The VFS object must outlive every
// connection opened on it; the destructor unregisters it.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <sqlite3.h>

namespace tutti::coord::testing {

enum class VfsOp { kOpen, kWrite, kSync, kTruncate };
const char* VfsOpName(VfsOp op);

struct VfsCall {
  VfsOp op;
  std::string file;     // the file's name as SQLite gave it ("" for a temporary file)
  int result = 0;       // SQLite result code it returned (injected or real)
  bool injected = false;
};
std::string Describe(const VfsCall& call);

class FaultInjectingVfs {
 public:
  // Registers a VFS called `name` (not the default) over the current default VFS. Null when SQLite refuses.
  static std::unique_ptr<FaultInjectingVfs> Register(const std::string& name);
  ~FaultInjectingVfs();
  FaultInjectingVfs(const FaultInjectingVfs&) = delete;
  FaultInjectingVfs& operator=(const FaultInjectingVfs&) = delete;

  const std::string& name() const { return name_; }

  // As a result code: the I/O error that fits the failing call (SQLITE_CANTOPEN for xOpen,
  // SQLITE_IOERR_WRITE / _FSYNC / _TRUNCATE for the others).
  static constexpr int kIoError = -1;

  // Fails the n-th call of `op` (1-based, counted from now) with `result_code` (SQLITE_IOERR_WRITE,
  // SQLITE_FULL, ...); later calls succeed.
  void FailNth(VfsOp op, int64_t n, int result_code);
  // Fails the n-th step of any kind counted from now.
  void FailNthStep(int64_t n, int result_code);
  void ClearFaults();
  // Zeroes the counters, the trace and the injected calls.
  void ResetCounts();

  int64_t calls(VfsOp op) const;
  int64_t steps() const;
  std::vector<VfsCall> trace() const;
  int64_t injected() const;
  std::vector<VfsCall> injected_calls() const;

 private:
  struct Fault {
    bool any = false;
    VfsOp op = VfsOp::kOpen;
    int64_t nth = 1;
    int64_t seen = 0;
    int code = 0;
  };
  struct File;  // the sqlite3_file we hand to SQLite

  FaultInjectingVfs(std::string name, sqlite3_vfs* base);
  // Counts and records the call. `inject` is the code to inject (0: make the real call); `index` is its
  // trace entry, for Finish.
  struct Decision {
    int inject = 0;
    size_t index = 0;
    uint64_t generation = 0;
  };
  Decision Begin(VfsOp op, const char* file);
  void Finish(const Decision& decision, int result);

  static FaultInjectingVfs* Self(sqlite3_vfs* vfs);
  static sqlite3_file* RealOf(sqlite3_file* file);  // the real VFS's file inside one of ours
  static int Open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags);
  static int Close(sqlite3_file* file);
  static int Read(sqlite3_file* file, void* data, int amount, sqlite3_int64 offset);
  static int Write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset);
  static int Truncate(sqlite3_file* file, sqlite3_int64 size);
  static int Sync(sqlite3_file* file, int flags);
  static int FileSize(sqlite3_file* file, sqlite3_int64* size);
  static int Lock(sqlite3_file* file, int level);
  static int Unlock(sqlite3_file* file, int level);
  static int CheckReservedLock(sqlite3_file* file, int* out);
  static int FileControl(sqlite3_file* file, int op, void* arg);
  static int SectorSize(sqlite3_file* file);
  static int DeviceCharacteristics(sqlite3_file* file);
  static int ShmMap(sqlite3_file* file, int region, int size, int extend, void volatile** out);
  static int ShmLock(sqlite3_file* file, int offset, int n, int flags);
  static void ShmBarrier(sqlite3_file* file);
  static int ShmUnmap(sqlite3_file* file, int delete_flag);
  static int Fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out);
  static int Unfetch(sqlite3_file* file, sqlite3_int64 offset, void* page);

  const std::string name_;
  sqlite3_vfs* const base_;  // the real VFS ("unix")
  sqlite3_vfs vfs_;          // ours, registered; pAppData points back here
  sqlite3_io_methods methods_;

  mutable std::mutex mu_;
  std::vector<Fault> faults_;             // guarded by mu_
  int64_t calls_[4] = {};                 // guarded by mu_
  std::vector<VfsCall> trace_;            // guarded by mu_
  std::vector<VfsCall> injected_calls_;   // guarded by mu_
  uint64_t generation_ = 0;               // guarded by mu_; bumped by ResetCounts
};

}  // namespace tutti::coord::testing
