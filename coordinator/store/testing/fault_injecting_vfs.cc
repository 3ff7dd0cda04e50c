#include "coordinator/store/testing/fault_injecting_vfs.h"

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tutti::coord::testing {

const char* VfsOpName(VfsOp op) {
  switch (op) {
    case VfsOp::kOpen: return "xOpen";
    case VfsOp::kWrite: return "xWrite";
    case VfsOp::kSync: return "xSync";
    case VfsOp::kTruncate: return "xTruncate";
  }
  return "?";
}

std::string Describe(const VfsCall& call) {
  std::string text = absl::StrCat(VfsOpName(call.op), " ", call.file.empty() ? "<temp>" : call.file);
  if (call.result != SQLITE_OK) {
    absl::StrAppend(&text, call.injected ? " (injected sqlite " : " (sqlite ", call.result, ")");
  }
  return text;
}

// What SQLite allocates for us (vfs_.szOsFile bytes): our header, then the real VFS's file.
struct FaultInjectingVfs::File {
  sqlite3_file base;           // must be first: SQLite sees only this
  FaultInjectingVfs* owner;
  const char* name;            // valid until xClose (SQLite's promise for xOpen's zName)
  sqlite3_file* real;          // points just past this struct
};

FaultInjectingVfs::FaultInjectingVfs(std::string name, sqlite3_vfs* base) : name_(std::move(name)), base_(base) {
  std::memset(&vfs_, 0, sizeof vfs_);
  // Version 2: the version-3 system-call overrides are only for SQLite's own test harness.
  vfs_.iVersion = 2;
  vfs_.szOsFile = static_cast<int>(sizeof(File)) + base->szOsFile;
  vfs_.mxPathname = base->mxPathname;
  vfs_.zName = name_.c_str();
  vfs_.pAppData = this;
  vfs_.xOpen = &FaultInjectingVfs::Open;
  // Everything else goes to the real VFS with the real VFS as its argument (the unix VFS keeps its own
  // state in its pAppData).
  vfs_.xDelete = [](sqlite3_vfs* v, const char* n, int sync) {
    return Self(v)->base_->xDelete(Self(v)->base_, n, sync);
  };
  vfs_.xAccess = [](sqlite3_vfs* v, const char* n, int flags, int* out) {
    return Self(v)->base_->xAccess(Self(v)->base_, n, flags, out);
  };
  vfs_.xFullPathname = [](sqlite3_vfs* v, const char* n, int size, char* out) {
    return Self(v)->base_->xFullPathname(Self(v)->base_, n, size, out);
  };
  vfs_.xDlOpen = [](sqlite3_vfs* v, const char* n) { return Self(v)->base_->xDlOpen(Self(v)->base_, n); };
  vfs_.xDlError = [](sqlite3_vfs* v, int size, char* out) { Self(v)->base_->xDlError(Self(v)->base_, size, out); };
  using Symbol = void (*)(void);
  vfs_.xDlSym = [](sqlite3_vfs* v, void* handle, const char* symbol) -> Symbol {
    return Self(v)->base_->xDlSym(Self(v)->base_, handle, symbol);
  };
  vfs_.xDlClose = [](sqlite3_vfs* v, void* handle) { Self(v)->base_->xDlClose(Self(v)->base_, handle); };
  vfs_.xRandomness = [](sqlite3_vfs* v, int size, char* out) {
    return Self(v)->base_->xRandomness(Self(v)->base_, size, out);
  };
  vfs_.xSleep = [](sqlite3_vfs* v, int micros) { return Self(v)->base_->xSleep(Self(v)->base_, micros); };
  vfs_.xCurrentTime = [](sqlite3_vfs* v, double* out) { return Self(v)->base_->xCurrentTime(Self(v)->base_, out); };
  vfs_.xGetLastError = [](sqlite3_vfs* v, int size, char* out) {
    return Self(v)->base_->xGetLastError(Self(v)->base_, size, out);
  };
  vfs_.xCurrentTimeInt64 = [](sqlite3_vfs* v, sqlite3_int64* out) {
    return Self(v)->base_->xCurrentTimeInt64(Self(v)->base_, out);
  };

  std::memset(&methods_, 0, sizeof methods_);
  methods_.iVersion = 3;
  methods_.xClose = &FaultInjectingVfs::Close;
  methods_.xRead = &FaultInjectingVfs::Read;
  methods_.xWrite = &FaultInjectingVfs::Write;
  methods_.xTruncate = &FaultInjectingVfs::Truncate;
  methods_.xSync = &FaultInjectingVfs::Sync;
  methods_.xFileSize = &FaultInjectingVfs::FileSize;
  methods_.xLock = &FaultInjectingVfs::Lock;
  methods_.xUnlock = &FaultInjectingVfs::Unlock;
  methods_.xCheckReservedLock = &FaultInjectingVfs::CheckReservedLock;
  methods_.xFileControl = &FaultInjectingVfs::FileControl;
  methods_.xSectorSize = &FaultInjectingVfs::SectorSize;
  methods_.xDeviceCharacteristics = &FaultInjectingVfs::DeviceCharacteristics;
  methods_.xShmMap = &FaultInjectingVfs::ShmMap;
  methods_.xShmLock = &FaultInjectingVfs::ShmLock;
  methods_.xShmBarrier = &FaultInjectingVfs::ShmBarrier;
  methods_.xShmUnmap = &FaultInjectingVfs::ShmUnmap;
  methods_.xFetch = &FaultInjectingVfs::Fetch;
  methods_.xUnfetch = &FaultInjectingVfs::Unfetch;
}

std::unique_ptr<FaultInjectingVfs> FaultInjectingVfs::Register(const std::string& name) {
  sqlite3_vfs* base = sqlite3_vfs_find(nullptr);
  if (base == nullptr) return nullptr;
  std::unique_ptr<FaultInjectingVfs> vfs(new FaultInjectingVfs(name, base));
  if (sqlite3_vfs_register(&vfs->vfs_, /*makeDflt=*/0) != SQLITE_OK) return nullptr;
  return vfs;
}

FaultInjectingVfs::~FaultInjectingVfs() { sqlite3_vfs_unregister(&vfs_); }

void FaultInjectingVfs::FailNth(VfsOp op, int64_t n, int result_code) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.push_back(Fault{false, op, n, 0, result_code});
}

void FaultInjectingVfs::FailNthStep(int64_t n, int result_code) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.push_back(Fault{true, VfsOp::kOpen, n, 0, result_code});
}

void FaultInjectingVfs::ClearFaults() {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.clear();
}

void FaultInjectingVfs::ResetCounts() {
  std::lock_guard<std::mutex> lock(mu_);
  for (int64_t& count : calls_) count = 0;
  trace_.clear();
  injected_calls_.clear();
  ++generation_;
}

int64_t FaultInjectingVfs::calls(VfsOp op) const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_[static_cast<int>(op)];
}

int64_t FaultInjectingVfs::steps() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int64_t>(trace_.size());
}

std::vector<VfsCall> FaultInjectingVfs::trace() const {
  std::lock_guard<std::mutex> lock(mu_);
  return trace_;
}

int64_t FaultInjectingVfs::injected() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int64_t>(injected_calls_.size());
}

std::vector<VfsCall> FaultInjectingVfs::injected_calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return injected_calls_;
}

FaultInjectingVfs::Decision FaultInjectingVfs::Begin(VfsOp op, const char* file) {
  std::lock_guard<std::mutex> lock(mu_);
  ++calls_[static_cast<int>(op)];
  int inject = 0;
  for (Fault& fault : faults_) {
    if (!fault.any && fault.op != op) continue;
    ++fault.seen;
    if (fault.seen == fault.nth && inject == 0) inject = fault.code;
  }
  if (inject == kIoError) {
    switch (op) {
      case VfsOp::kOpen: inject = SQLITE_CANTOPEN; break;
      case VfsOp::kWrite: inject = SQLITE_IOERR_WRITE; break;
      case VfsOp::kSync: inject = SQLITE_IOERR_FSYNC; break;
      case VfsOp::kTruncate: inject = SQLITE_IOERR_TRUNCATE; break;
    }
  }
  VfsCall call{op, file != nullptr ? file : "", inject, inject != 0};
  if (inject != 0) injected_calls_.push_back(call);
  trace_.push_back(std::move(call));
  return Decision{inject, trace_.size() - 1, generation_};
}

void FaultInjectingVfs::Finish(const Decision& decision, int result) {
  std::lock_guard<std::mutex> lock(mu_);
  if (decision.generation != generation_ || decision.index >= trace_.size()) return;
  trace_[decision.index].result = result;
}

FaultInjectingVfs* FaultInjectingVfs::Self(sqlite3_vfs* vfs) { return static_cast<FaultInjectingVfs*>(vfs->pAppData); }

int FaultInjectingVfs::Open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  FaultInjectingVfs* self = Self(vfs);
  File* f = reinterpret_cast<File*>(file);
  f->base.pMethods = nullptr;  // SQLite calls xClose only when this is set
  f->owner = self;
  f->name = name;
  f->real = reinterpret_cast<sqlite3_file*>(f + 1);
  f->real->pMethods = nullptr;
  Decision decision = self->Begin(VfsOp::kOpen, name);
  if (decision.inject != 0) return decision.inject;
  int rc = self->base_->xOpen(self->base_, name, f->real, flags, out_flags);
  self->Finish(decision, rc);
  // Even a failed open may need its xClose (SQLite's rule for pMethods): forward it then too.
  if (f->real->pMethods != nullptr) f->base.pMethods = &self->methods_;
  return rc;
}

sqlite3_file* FaultInjectingVfs::RealOf(sqlite3_file* file) { return reinterpret_cast<File*>(file)->real; }

int FaultInjectingVfs::Close(sqlite3_file* file) {
  sqlite3_file* real = RealOf(file);
  int rc = real->pMethods->xClose(real);
  file->pMethods = nullptr;
  return rc;
}

int FaultInjectingVfs::Read(sqlite3_file* file, void* data, int amount, sqlite3_int64 offset) {
  sqlite3_file* real = RealOf(file);
  return real->pMethods->xRead(real, data, amount, offset);
}

int FaultInjectingVfs::Write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  File* f = reinterpret_cast<File*>(file);
  Decision decision = f->owner->Begin(VfsOp::kWrite, f->name);
  if (decision.inject != 0) {
    // A torn write: the first half reaches the file, then the error.
    if (amount > 1) (void)f->real->pMethods->xWrite(f->real, data, amount / 2, offset);
    return decision.inject;
  }
  int rc = f->real->pMethods->xWrite(f->real, data, amount, offset);
  f->owner->Finish(decision, rc);
  return rc;
}

int FaultInjectingVfs::Truncate(sqlite3_file* file, sqlite3_int64 size) {
  File* f = reinterpret_cast<File*>(file);
  Decision decision = f->owner->Begin(VfsOp::kTruncate, f->name);
  if (decision.inject != 0) return decision.inject;
  int rc = f->real->pMethods->xTruncate(f->real, size);
  f->owner->Finish(decision, rc);
  return rc;
}

int FaultInjectingVfs::Sync(sqlite3_file* file, int flags) {
  File* f = reinterpret_cast<File*>(file);
  Decision decision = f->owner->Begin(VfsOp::kSync, f->name);
  if (decision.inject != 0) return decision.inject;
  int rc = f->real->pMethods->xSync(f->real, flags);
  f->owner->Finish(decision, rc);
  return rc;
}

int FaultInjectingVfs::FileSize(sqlite3_file* file, sqlite3_int64* size) {
  sqlite3_file* real = RealOf(file);
  return real->pMethods->xFileSize(real, size);
}

int FaultInjectingVfs::Lock(sqlite3_file* file, int level) {
  sqlite3_file* real = RealOf(file);
  return real->pMethods->xLock(real, level);
}

int FaultInjectingVfs::Unlock(sqlite3_file* file, int level) {
  sqlite3_file* real = RealOf(file);
  return real->pMethods->xUnlock(real, level);
}

int FaultInjectingVfs::CheckReservedLock(sqlite3_file* file, int* out) {
  sqlite3_file* real = RealOf(file);
  return real->pMethods->xCheckReservedLock(real, out);
}

int FaultInjectingVfs::FileControl(sqlite3_file* file, int op, void* arg) {
  sqlite3_file* real = RealOf(file);
  return real->pMethods->xFileControl(real, op, arg);
}

int FaultInjectingVfs::SectorSize(sqlite3_file* file) {
  sqlite3_file* real = RealOf(file);
  return real->pMethods->xSectorSize(real);
}

int FaultInjectingVfs::DeviceCharacteristics(sqlite3_file* file) {
  sqlite3_file* real = RealOf(file);
  return real->pMethods->xDeviceCharacteristics(real);
}

// Shared memory (the WAL index) and memory-mapped reads: forwarded when the real file has them.
int FaultInjectingVfs::ShmMap(sqlite3_file* file, int region, int size, int extend, void volatile** out) {
  sqlite3_file* real = RealOf(file);
  if (real->pMethods->iVersion < 2) return SQLITE_IOERR_SHMMAP;
  return real->pMethods->xShmMap(real, region, size, extend, out);
}

int FaultInjectingVfs::ShmLock(sqlite3_file* file, int offset, int n, int flags) {
  sqlite3_file* real = RealOf(file);
  if (real->pMethods->iVersion < 2) return SQLITE_IOERR_SHMLOCK;
  return real->pMethods->xShmLock(real, offset, n, flags);
}

void FaultInjectingVfs::ShmBarrier(sqlite3_file* file) {
  sqlite3_file* real = RealOf(file);
  if (real->pMethods->iVersion >= 2) real->pMethods->xShmBarrier(real);
}

int FaultInjectingVfs::ShmUnmap(sqlite3_file* file, int delete_flag) {
  sqlite3_file* real = RealOf(file);
  if (real->pMethods->iVersion < 2) return SQLITE_OK;
  return real->pMethods->xShmUnmap(real, delete_flag);
}

int FaultInjectingVfs::Fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  sqlite3_file* real = RealOf(file);
  if (real->pMethods->iVersion < 3) {
    *out = nullptr;
    return SQLITE_OK;
  }
  return real->pMethods->xFetch(real, offset, amount, out);
}

int FaultInjectingVfs::Unfetch(sqlite3_file* file, sqlite3_int64 offset, void* page) {
  sqlite3_file* real = RealOf(file);
  if (real->pMethods->iVersion < 3) return SQLITE_OK;
  return real->pMethods->xUnfetch(real, offset, page);
}

}  // namespace tutti::coord::testing
