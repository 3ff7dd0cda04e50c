#include "core/base/testing/fault_injecting_file_system.h"

#include <fcntl.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace tutti::testing {

const char* FsOpName(FsOp op) {
  switch (op) {
    case FsOp::kOpen: return "open";
    case FsOp::kOpenDirectory: return "open-dir";
    case FsOp::kWrite: return "write";
    case FsOp::kPWrite: return "pwrite";
    case FsOp::kFsync: return "fsync";
    case FsOp::kFsyncDirectory: return "fsync-dir";
    case FsOp::kClose: return "close";
    case FsOp::kRename: return "rename";
    case FsOp::kExchange: return "exchange";
    case FsOp::kMakeDirectory: return "mkdir";
    case FsOp::kMakeTempDirectory: return "mkdtemp";
    case FsOp::kChmod: return "chmod";
    case FsOp::kUnlink: return "unlink";
  }
  return "?";
}

bool IsStep(FsOp op) { return op != FsOp::kClose && op != FsOp::kUnlink; }

std::string Describe(const FsCall& call) {
  std::string text = absl::StrCat(FsOpName(call.op), " ", call.path);
  if (!call.target.empty()) absl::StrAppend(&text, " -> ", call.target);
  if (call.error != 0) absl::StrAppend(&text, call.injected ? " (injected errno " : " (errno ", call.error, ")");
  return text;
}

bool MessageNamesStep(const std::string& message, FsOp op) {
  std::vector<const char*> words;
  switch (op) {
    case FsOp::kOpen: words = {"cannot create", "cannot open"}; break;
    case FsOp::kOpenDirectory: words = {"cannot open directory"}; break;
    case FsOp::kWrite:
    case FsOp::kPWrite: words = {"write failed", "cannot write", "writing"}; break;
    case FsOp::kFsync: words = {"fsync failed"}; break;
    case FsOp::kFsyncDirectory: words = {"fsync of directory"}; break;
    case FsOp::kClose: words = {"close failed"}; break;
    case FsOp::kRename: words = {"rename", "cannot publish", "cannot move"}; break;
    case FsOp::kExchange: words = {"cannot swap"}; break;
    case FsOp::kMakeDirectory: words = {"cannot create", "mkdir"}; break;
    case FsOp::kMakeTempDirectory: words = {"mkdtemp"}; break;
    case FsOp::kChmod: words = {"chmod"}; break;
    case FsOp::kUnlink: words = {"cannot remove", "unlink"}; break;
  }
  for (const char* word : words) {
    if (message.find(word) != std::string::npos) return true;
  }
  return false;
}

FaultInjectingFileSystem::FaultInjectingFileSystem(FileSystem* base) : base_(base) {}

void FaultInjectingFileSystem::FailNth(FsOp op, int64_t n, int err) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.push_back(Fault{false, op, n, 0, false, err});
}

void FaultInjectingFileSystem::FailFrom(FsOp op, int64_t n, int err) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.push_back(Fault{false, op, n, 0, true, err});
}

void FaultInjectingFileSystem::FailNthStep(int64_t n, int err) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.push_back(Fault{true, FsOp::kOpen, n, 0, false, err});
}

void FaultInjectingFileSystem::ClearFaults() {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.clear();
}

void FaultInjectingFileSystem::ResetCounts() {
  std::lock_guard<std::mutex> lock(mu_);
  for (int64_t& count : calls_) count = 0;
  steps_ = 0;
  trace_.clear();
  injected_calls_.clear();
  ++generation_;
}

int64_t FaultInjectingFileSystem::calls(FsOp op) const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_[static_cast<int>(op)];
}

int64_t FaultInjectingFileSystem::steps() const {
  std::lock_guard<std::mutex> lock(mu_);
  return steps_;
}

std::vector<FsCall> FaultInjectingFileSystem::trace() const {
  std::lock_guard<std::mutex> lock(mu_);
  return trace_;
}

std::vector<FsCall> FaultInjectingFileSystem::step_trace() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<FsCall> steps;
  for (const FsCall& call : trace_) {
    if (IsStep(call.op)) steps.push_back(call);
  }
  return steps;
}

int64_t FaultInjectingFileSystem::injected() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int64_t>(injected_calls_.size());
}

std::vector<FsCall> FaultInjectingFileSystem::injected_calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return injected_calls_;
}

FaultInjectingFileSystem::Decision FaultInjectingFileSystem::Begin(FsOp op, const std::string& path,
                                                                   const std::string& target) {
  std::lock_guard<std::mutex> lock(mu_);
  ++calls_[static_cast<int>(op)];
  if (IsStep(op)) ++steps_;
  int inject = 0;
  // Every matching fault sees the call (so each keeps its own count); the first that fires decides.
  for (Fault& fault : faults_) {
    const bool matches = fault.any_step ? IsStep(op) : fault.op == op;
    if (!matches) continue;
    ++fault.seen;
    const bool fires = fault.sticky ? fault.seen >= fault.nth : fault.seen == fault.nth;
    if (fires && inject == 0) inject = fault.err;
  }
  FsCall call{op, path, target, inject, inject != 0};
  if (inject != 0) injected_calls_.push_back(call);
  trace_.push_back(std::move(call));
  return Decision{inject, trace_.size() - 1, generation_};
}

void FaultInjectingFileSystem::Finish(const Decision& decision, int err) {
  std::lock_guard<std::mutex> lock(mu_);
  if (decision.generation != generation_ || decision.index >= trace_.size()) return;
  if (trace_[decision.index].error == 0) trace_[decision.index].error = err;
}

std::string FaultInjectingFileSystem::PathOfFd(int fd) const {
  auto it = fd_paths_.find(fd);
  return it != fd_paths_.end() ? it->second : absl::StrCat("fd ", fd);
}

FsOp FaultInjectingFileSystem::FsyncKind(int fd) const {
  auto it = fd_is_directory_.find(fd);
  return it != fd_is_directory_.end() && it->second ? FsOp::kFsyncDirectory : FsOp::kFsync;
}

int FaultInjectingFileSystem::Open(const std::string& path, int flags, mode_t mode, int* fd) {
  const bool directory = (flags & O_DIRECTORY) != 0;
  Decision decision = Begin(directory ? FsOp::kOpenDirectory : FsOp::kOpen, path);
  if (decision.injected != 0) return decision.injected;
  int err = base_->Open(path, flags, mode, fd);
  Finish(decision, err);
  if (err == 0) {
    std::lock_guard<std::mutex> lock(mu_);
    fd_paths_[*fd] = path;
    fd_is_directory_[*fd] = directory;
  }
  return err;
}

int FaultInjectingFileSystem::Write(int fd, const void* data, size_t size, size_t* written) {
  std::string path;
  {
    std::lock_guard<std::mutex> lock(mu_);
    path = PathOfFd(fd);
  }
  Decision decision = Begin(FsOp::kWrite, path);
  if (decision.injected != 0) {
    // A torn prefix on disk, then the error (see the header).
    size_t ignored = 0;
    if (size > 1) (void)base_->Write(fd, data, size / 2, &ignored);
    return decision.injected;
  }
  int err = base_->Write(fd, data, size, written);
  Finish(decision, err);
  return err;
}

int FaultInjectingFileSystem::PWrite(int fd, const void* data, size_t size, off_t offset, size_t* written) {
  std::string path;
  {
    std::lock_guard<std::mutex> lock(mu_);
    path = PathOfFd(fd);
  }
  Decision decision = Begin(FsOp::kPWrite, path);
  if (decision.injected != 0) {
    size_t ignored = 0;
    if (size > 1) (void)base_->PWrite(fd, data, size / 2, offset, &ignored);
    return decision.injected;
  }
  int err = base_->PWrite(fd, data, size, offset, written);
  Finish(decision, err);
  return err;
}

int FaultInjectingFileSystem::Fsync(int fd) {
  FsOp kind;
  std::string path;
  {
    std::lock_guard<std::mutex> lock(mu_);
    kind = FsyncKind(fd);
    path = PathOfFd(fd);
  }
  Decision decision = Begin(kind, path);
  if (decision.injected != 0) return decision.injected;
  int err = base_->Fsync(fd);
  Finish(decision, err);
  return err;
}

int FaultInjectingFileSystem::Close(int fd) {
  std::string path;
  {
    // Forgotten before the real close: once closed, another thread's Open may get the same number.
    std::lock_guard<std::mutex> lock(mu_);
    path = PathOfFd(fd);
    fd_paths_.erase(fd);
    fd_is_directory_.erase(fd);
  }
  Decision decision = Begin(FsOp::kClose, path);
  // The descriptor is released whatever close reports (Linux); an injected close error still closes for
  // real, or the test would leak descriptors.
  int err = base_->Close(fd);
  if (decision.injected != 0) return decision.injected;
  Finish(decision, err);
  return err;
}

int FaultInjectingFileSystem::Rename(const std::string& from, const std::string& to) {
  Decision decision = Begin(FsOp::kRename, from, to);
  if (decision.injected != 0) return decision.injected;
  int err = base_->Rename(from, to);
  Finish(decision, err);
  return err;
}

int FaultInjectingFileSystem::Exchange(const std::string& a, const std::string& b) {
  Decision decision = Begin(FsOp::kExchange, a, b);
  if (decision.injected != 0) return decision.injected;
  int err = base_->Exchange(a, b);
  Finish(decision, err);
  return err;
}

int FaultInjectingFileSystem::MakeDirectory(const std::string& path, mode_t mode) {
  Decision decision = Begin(FsOp::kMakeDirectory, path);
  if (decision.injected != 0) return decision.injected;
  int err = base_->MakeDirectory(path, mode);
  Finish(decision, err);
  return err;
}

int FaultInjectingFileSystem::MakeTempDirectory(std::string* pattern) {
  Decision decision = Begin(FsOp::kMakeTempDirectory, *pattern);
  if (decision.injected != 0) return decision.injected;
  int err = base_->MakeTempDirectory(pattern);
  Finish(decision, err);
  return err;
}

int FaultInjectingFileSystem::Chmod(const std::string& path, mode_t mode) {
  Decision decision = Begin(FsOp::kChmod, path);
  if (decision.injected != 0) return decision.injected;
  int err = base_->Chmod(path, mode);
  Finish(decision, err);
  return err;
}

int FaultInjectingFileSystem::Unlink(const std::string& path) {
  Decision decision = Begin(FsOp::kUnlink, path);
  if (decision.injected != 0) return decision.injected;
  int err = base_->Unlink(path);
  Finish(decision, err);
  return err;
}

}  // namespace tutti::testing
