// Storage faults under file_util's atomic helpers: every step of WriteFileAtomically and PublishDirectory
// fails in turn (EIO, then ENOSPC), and the target must hold the old content or, once the rename is done,
// the complete new content; never a mix, never a leftover temporary. Also the fault injector's own
// promises, since every other fault suite relies on them.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/file_system.h"
#include "core/base/file_util.h"
#include "core/base/testing/fault_injecting_file_system.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tutti {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Describe;
using testing::FaultInjectingFileSystem;
using testing::FsCall;
using testing::FsOp;
using testing::FsOpName;
using testing::MessageNamesStep;

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> OpNames(const std::vector<FsCall>& calls) {
  std::vector<std::string> names;
  for (const FsCall& call : calls) names.push_back(FsOpName(call.op));
  return names;
}

// Writes `data` with the real file system, whatever is installed (test set-up must not be faulted).
void WriteRaw(const std::string& path, const std::string& data) {
  ScopedFileSystem real(&PosixFileSystem());
  ASSERT_TRUE(WriteFileAtomically(path, data).ok());
}

std::string ReadOrMissing(const std::string& path) {
  auto data = ReadFileToString(path);
  return data.ok() ? *data : std::string("<missing: ") + std::string(data.status().message()) + ">";
}

class FileUtilFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "tutti_file_util_fault_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    RemoveAllQuietly(dir_);
    ASSERT_TRUE(CreateDirectories(dir_).ok());
  }
  void TearDown() override { RemoveAllQuietly(dir_); }

  // Checks one failed call against the fault that was injected: exactly one fault hit, and the error
  // names the file the failed call was acting on and the step.
  static void ExpectNamesInjectedStep(const Status& status, const FaultInjectingFileSystem& faults) {
    ASSERT_FALSE(status.ok()) << "the write succeeded although a fault was injected";
    ASSERT_EQ(faults.injected(), 1) << status;
    const FsCall call = faults.injected_calls()[0];
    const std::string message(status.message());
    // A rename's message names its destination (the file the caller asked for).
    const std::string& named = call.target.empty() ? call.path : call.target;
    EXPECT_THAT(message, HasSubstr(named)) << Describe(call);
    EXPECT_TRUE(MessageNamesStep(message, call.op)) << Describe(call) << ": " << message;
  }

  std::string dir_;
};

TEST_F(FileUtilFaultTest, InjectorFailsTheChosenCallAndTracksDescriptors) {
  FaultInjectingFileSystem faults;
  const std::string path = dir_ + "/f";
  int fd = -1;
  ASSERT_EQ(faults.Open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644, &fd), 0);
  faults.FailNth(FsOp::kWrite, 2, EIO);
  size_t n = 0;
  EXPECT_EQ(faults.Write(fd, "abcd", 4, &n), 0);
  EXPECT_EQ(n, 4u);
  EXPECT_EQ(faults.Write(fd, "efgh", 4, &n), EIO);  // the 2nd write
  EXPECT_EQ(faults.Write(fd, "ijkl", 4, &n), 0);    // one-shot: the 3rd succeeds
  EXPECT_EQ(faults.Close(fd), 0);
  // The failed write left a torn prefix ("ef"), as a short write before the error would.
  EXPECT_EQ(ReadOrMissing(path), "abcdefijkl");
  EXPECT_EQ(faults.calls(FsOp::kWrite), 3);
  ASSERT_EQ(faults.injected(), 1);
  EXPECT_EQ(faults.injected_calls()[0].path, path);  // fd calls are reported with the file's path

  // Sticky: the disk stays full.
  faults.ClearFaults();
  faults.FailFrom(FsOp::kFsync, 1, ENOSPC);
  ASSERT_EQ(faults.Open(path, O_WRONLY | O_CLOEXEC, 0, &fd), 0);
  EXPECT_EQ(faults.Fsync(fd), ENOSPC);
  EXPECT_EQ(faults.Fsync(fd), ENOSPC);
  EXPECT_EQ(faults.Close(fd), 0);

  // A directory fsync is its own kind of step.
  faults.ClearFaults();
  faults.ResetCounts();
  ASSERT_EQ(faults.Open(dir_, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, &fd), 0);
  EXPECT_EQ(faults.Fsync(fd), 0);
  EXPECT_EQ(faults.Close(fd), 0);
  EXPECT_THAT(OpNames(faults.trace()), ElementsAre("open-dir", "fsync-dir", "close"));
  EXPECT_EQ(faults.steps(), 2);  // close is not a step
}

TEST_F(FileUtilFaultTest, ScopedFileSystemInstallsAndRestores) {
  EXPECT_EQ(&CurrentFileSystem(), &PosixFileSystem());
  FaultInjectingFileSystem outer, inner;
  {
    ScopedFileSystem a(&outer);
    EXPECT_EQ(&CurrentFileSystem(), &outer);
    {
      ScopedFileSystem b(&inner);
      EXPECT_EQ(&CurrentFileSystem(), &inner);
    }
    EXPECT_EQ(&CurrentFileSystem(), &outer);
  }
  EXPECT_EQ(&CurrentFileSystem(), &PosixFileSystem());
}

// The core property: each step of a replacement fails in turn, with an I/O error and with a full disk.
TEST_F(FileUtilFaultTest, WriteFileAtomicallyEachStepFailingKeepsOldOrCompleteNew) {
  const std::string target = dir_ + "/state.json";
  const std::string old_bytes = "{\"version\": 1}\n";
  // Large enough that a torn write would be visible, small enough to be fast.
  std::string new_bytes(300000, 'n');
  for (size_t i = 0; i < new_bytes.size(); i += 7) new_bytes[i] = static_cast<char>('a' + i % 26);

  // 1. Count the steps of one successful replacement.
  WriteRaw(target, old_bytes);
  std::vector<FsCall> steps;
  {
    FaultInjectingFileSystem faults;
    ScopedFileSystem installed(&faults);
    ASSERT_TRUE(WriteFileAtomically(target, new_bytes).ok());
    steps = faults.step_trace();
  }
  // Every step of the protocol goes through the seam (a refactor that bypasses it fails here).
  ASSERT_THAT(OpNames(steps), ElementsAre("open", "write", "fsync", "rename", "open-dir", "fsync-dir"));
  ASSERT_EQ(ReadOrMissing(target), new_bytes);

  // 2. Each step failing in turn.
  for (int err : {EIO, ENOSPC}) {
    for (size_t k = 1; k <= steps.size(); ++k) {
      SCOPED_TRACE(absl::StrCat("step ", k, " (", FsOpName(steps[k - 1].op), ") fails with errno ", err));
      WriteRaw(target, old_bytes);
      FaultInjectingFileSystem faults;
      Status status;
      {
        ScopedFileSystem installed(&faults);
        faults.FailNthStep(static_cast<int64_t>(k), err);
        status = WriteFileAtomically(target, new_bytes);
      }
      ExpectNamesInjectedStep(status, faults);
      if (err == ENOSPC) {
        EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
        EXPECT_THAT(std::string(status.message()), HasSubstr("disk full"));
      }
      const FsOp failed = steps[k - 1].op;
      if (failed == FsOp::kOpenDirectory || failed == FsOp::kFsyncDirectory) {
        // After the rename: the new content is in place (complete), and the error says it is not durable.
        EXPECT_EQ(ReadOrMissing(target), new_bytes);
        EXPECT_THAT(std::string(status.message()), HasSubstr("not yet durable"));
      } else {
        EXPECT_EQ(ReadOrMissing(target), old_bytes);
      }
      // No temporary left beside the target.
      EXPECT_THAT(Names(dir_), ElementsAre("state.json"));
    }
  }
}

TEST_F(FileUtilFaultTest, WriteFileAtomicallyToANewFileLeavesNothingOnFailure) {
  const std::string target = dir_ + "/fresh.bin";
  FaultInjectingFileSystem faults;
  int64_t step_count = 0;
  {
    ScopedFileSystem installed(&faults);
    ASSERT_TRUE(WriteFileAtomically(target, "payload").ok());
    step_count = faults.steps();
  }
  ASSERT_EQ(step_count, 6);
  for (int64_t k = 1; k <= 4; ++k) {  // the steps before and including the rename
    SCOPED_TRACE(absl::StrCat("step ", k));
    RemoveAllQuietly(target);
    FaultInjectingFileSystem fresh;
    ScopedFileSystem installed(&fresh);
    fresh.FailNthStep(k, EIO);
    Status status = WriteFileAtomically(target, "payload");
    ExpectNamesInjectedStep(status, fresh);
    EXPECT_FALSE(fs::exists(target));
    EXPECT_TRUE(Names(dir_).empty()) << Names(dir_).size() << " entries left";
  }
}

TEST_F(FileUtilFaultTest, FullDiskDuringTheWriteKeepsTheOldFile) {
  const std::string target = dir_ + "/model.bin";
  WriteRaw(target, "old model");
  FaultInjectingFileSystem faults;
  Status status;
  {
    ScopedFileSystem installed(&faults);
    faults.FailFrom(FsOp::kWrite, 1, ENOSPC);  // the disk is full and stays full
    status = WriteFileAtomically(target, std::string(1 << 20, 'x'));
  }
  ASSERT_FALSE(status.ok());
  EXPECT_GE(faults.injected(), 1);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("ENOSPC"));
  EXPECT_THAT(std::string(status.message()), HasSubstr(target + ".tmp-"));  // names the file it was writing
  EXPECT_EQ(ReadOrMissing(target), "old model");
  EXPECT_THAT(Names(dir_), ElementsAre("model.bin"));
}

// A directory holding `files` (name -> content), written with the real file system.
void MakeTree(const std::string& dir, const std::vector<std::pair<std::string, std::string>>& files) {
  ScopedFileSystem real(&PosixFileSystem());
  ASSERT_TRUE(CreateDirectories(dir).ok());
  for (const auto& [name, content] : files) ASSERT_TRUE(WriteFileAtomically(dir + "/" + name, content).ok());
}

std::vector<std::pair<std::string, std::string>> ReadTree(const std::string& dir) {
  std::vector<std::pair<std::string, std::string>> files;
  for (const std::string& name : Names(dir)) files.emplace_back(name, ReadOrMissing(dir + "/" + name));
  return files;
}

TEST_F(FileUtilFaultTest, PublishDirectoryEachStepFailingKeepsOldOrCompleteNew) {
  const std::string target = dir_ + "/pack";
  const std::vector<std::pair<std::string, std::string>> old_tree = {{"a", "old a"}, {"manifest", "old"}};
  const std::vector<std::pair<std::string, std::string>> new_tree = {
      {"a", "new a"}, {"b", "new b"}, {"manifest", "new"}};

  // Count: swap over an existing directory.
  std::vector<FsCall> steps;
  {
    MakeTree(target, old_tree);
    auto staged = MakeTempDirectoryIn(dir_, "pack");
    ASSERT_TRUE(staged.ok()) << staged.status();
    for (const auto& [name, content] : new_tree) {
      ASSERT_TRUE(WriteFileAtomically(*staged + "/" + name, content).ok());
    }
    FaultInjectingFileSystem faults;
    ScopedFileSystem installed(&faults);
    ASSERT_TRUE(PublishDirectory(*staged, target).ok());
    steps = faults.step_trace();
  }
  ASSERT_THAT(OpNames(steps), ElementsAre("exchange", "open-dir", "fsync-dir"));
  ASSERT_EQ(ReadTree(target), new_tree);
  EXPECT_THAT(Names(dir_), ElementsAre("pack"));  // the old content was removed after the swap

  for (size_t k = 1; k <= steps.size(); ++k) {
    SCOPED_TRACE(absl::StrCat("step ", k, " (", FsOpName(steps[k - 1].op), ")"));
    RemoveAllQuietly(target);
    MakeTree(target, old_tree);
    auto staged = MakeTempDirectoryIn(dir_, "pack");
    ASSERT_TRUE(staged.ok()) << staged.status();
    for (const auto& [name, content] : new_tree) {
      ASSERT_TRUE(WriteFileAtomically(*staged + "/" + name, content).ok());
    }
    FaultInjectingFileSystem faults;
    Status status;
    {
      ScopedFileSystem installed(&faults);
      faults.FailNthStep(static_cast<int64_t>(k), EIO);
      status = PublishDirectory(*staged, target);
    }
    ExpectNamesInjectedStep(status, faults);
    if (steps[k - 1].op == FsOp::kExchange) {
      EXPECT_EQ(ReadTree(target), old_tree);
      EXPECT_EQ(ReadTree(*staged), new_tree);  // still the caller's to publish again or remove
      RemoveAllQuietly(*staged);
    } else {
      EXPECT_EQ(ReadTree(target), new_tree);
      EXPECT_THAT(std::string(status.message()), HasSubstr("not yet durable"));
    }
    EXPECT_THAT(Names(dir_), ElementsAre("pack"));
  }
}

TEST_F(FileUtilFaultTest, PublishDirectoryToANewNameFailingTheRenameLeavesNoTarget) {
  const std::string target = dir_ + "/fresh";
  auto staged = MakeTempDirectoryIn(dir_, "fresh");
  ASSERT_TRUE(staged.ok()) << staged.status();
  MakeTree(*staged, {{"x", "1"}});
  FaultInjectingFileSystem faults;
  Status status;
  {
    ScopedFileSystem installed(&faults);
    faults.FailNth(FsOp::kRename, 1, EIO);
    status = PublishDirectory(*staged, target);
  }
  ExpectNamesInjectedStep(status, faults);
  EXPECT_FALSE(fs::exists(target));
  EXPECT_EQ(ReadTree(*staged), (std::vector<std::pair<std::string, std::string>>{{"x", "1"}}));
}

TEST_F(FileUtilFaultTest, MakeTempDirectoryInAndSyncDirectoryNameWhatFailed) {
  FaultInjectingFileSystem faults;
  ScopedFileSystem installed(&faults);
  faults.FailNth(FsOp::kMakeTempDirectory, 1, EDQUOT);
  auto staged = MakeTempDirectoryIn(dir_, "stem");
  ASSERT_FALSE(staged.ok());
  EXPECT_EQ(staged.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(staged.status().message()), HasSubstr(dir_ + "/.stem.tmp-"));
  EXPECT_THAT(std::string(staged.status().message()), HasSubstr("EDQUOT"));

  faults.FailNth(FsOp::kOpenDirectory, 1, EMFILE);
  Status status = SyncDirectory(dir_);
  EXPECT_THAT(std::string(status.message()), HasSubstr(dir_ + ": cannot open directory for fsync"));
  faults.FailNth(FsOp::kFsyncDirectory, 1, EIO);
  status = SyncDirectory(dir_);
  EXPECT_THAT(std::string(status.message()), HasSubstr(dir_ + ": fsync of directory failed"));
  EXPECT_EQ(faults.injected(), 3);
  // Every descriptor the failed calls opened was closed again.
  EXPECT_EQ(faults.calls(FsOp::kOpenDirectory) - 1, faults.calls(FsOp::kClose));
}

}  // namespace
}  // namespace tutti
