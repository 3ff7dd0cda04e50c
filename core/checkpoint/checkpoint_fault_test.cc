// Storage faults while a checkpoint is saved: every step of SaveCheckpoint (the file's create / write /
// fsync / rename / directory fsync, then the same for "<file>.sha256") fails in turn. The previous
// checkpoint must still verify byte for byte, a ckpt-*.tutti file is never partial, no temporary is left,
// and a "<file>.sha256" that exists always names the bytes of its file.

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "core/base/file_system.h"
#include "core/base/file_util.h"
#include "core/base/sha256.h"
#include "core/base/testing/fault_injecting_file_system.h"
#include "core/checkpoint/checkpoint.h"
#include "core/train/gan_trainer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tutti {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::Describe;
using testing::FaultInjectingFileSystem;
using testing::FsCall;
using testing::FsOp;
using testing::FsOpName;
using testing::MessageNamesStep;

// The smallest trainer the model options allow (as checkpoint_test.cc makes it).
std::unique_ptr<GanTrainer> SmallTrainer() {
  TrainOptions train;
  train.batch_size = 2;
  train.seed = 3;
  train.intra_op_threads = 1;
  GeneratorOptions g;
  g.latent_dim(16);
  auto trainer = GanTrainer::Create(g, DiscriminatorOptions(), train);
  EXPECT_TRUE(trainer.ok()) << trainer.status();
  return trainer.ok() ? std::move(*trainer) : nullptr;
}

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class CheckpointFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "tutti_checkpoint_fault_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    RemoveAllQuietly(dir_);
    trainer_ = SmallTrainer();
    ASSERT_NE(trainer_, nullptr);
  }
  void TearDown() override { RemoveAllQuietly(dir_); }

  // Saves the trainer as step `step` with the real file system.
  void SaveForReal(const std::string& path, int64_t step) {
    ScopedFileSystem real(&PosixFileSystem());
    CheckpointMeta meta;
    meta.step = step;
    auto digest = SaveCheckpoint(path, *trainer_, meta);
    ASSERT_TRUE(digest.ok()) << digest.status();
  }

  // Restores `path` and its sidecar to exactly `bytes` / `sidecar` (the previous checkpoint).
  void Restore(const std::string& path, const std::string& bytes, const std::string& sidecar) {
    ScopedFileSystem real(&PosixFileSystem());
    ASSERT_TRUE(WriteFileAtomically(path, bytes).ok());
    ASSERT_TRUE(WriteFileAtomically(path + ".sha256", sidecar).ok());
  }

  // Every file in the directory is a checkpoint that verifies or its sidecar naming exactly its bytes;
  // nothing else (no temporaries).
  void ExpectDirectoryConsistent() {
    ScopedFileSystem real(&PosixFileSystem());
    for (const std::string& name : Names(dir_)) {
      const std::string path = dir_ + "/" + name;
      if (name.size() > 7 && name.compare(name.size() - 7, 7, ".sha256") == 0) {
        const std::string file = path.substr(0, path.size() - 7);
        auto sidecar = ReadFileToString(path);
        auto bytes = ReadFileToString(file);
        ASSERT_TRUE(sidecar.ok() && bytes.ok()) << name << " has no checkpoint beside it";
        EXPECT_EQ(*sidecar, Sha256Hex(*bytes) + "  " + fs::path(file).filename().string() + "\n")
            << name << " does not name the bytes of its checkpoint";
      } else {
        ASSERT_EQ(name.rfind("ckpt-", 0), 0u) << "unexpected file " << name;
        ASSERT_EQ(fs::path(name).extension(), ".tutti") << "unexpected file " << name;
        auto meta = ReadCheckpointMeta(path);
        EXPECT_TRUE(meta.ok()) << meta.status();
      }
    }
  }

  static void ExpectNamesInjectedStep(const Status& status, const FaultInjectingFileSystem& faults) {
    ASSERT_FALSE(status.ok()) << "the save succeeded although a fault was injected";
    ASSERT_EQ(faults.injected(), 1) << status;
    const FsCall call = faults.injected_calls()[0];
    const std::string message(status.message());
    const std::string& named = call.target.empty() ? call.path : call.target;
    EXPECT_THAT(message, HasSubstr(named)) << Describe(call);
    EXPECT_TRUE(MessageNamesStep(message, call.op)) << Describe(call) << ": " << message;
  }

  std::string dir_;
  std::unique_ptr<GanTrainer> trainer_;
};

TEST_F(CheckpointFaultTest, EachStepOfANewCheckpointFailingKeepsThePreviousOne) {
  const std::string previous = CheckpointPath(dir_, 1);
  const std::string next = CheckpointPath(dir_, 2);
  SaveForReal(previous, 1);
  const std::string previous_bytes = *ReadFileToString(previous);

  std::vector<FsCall> steps;
  {
    FaultInjectingFileSystem faults;
    ScopedFileSystem installed(&faults);
    CheckpointMeta meta;
    meta.step = 2;
    ASSERT_TRUE(SaveCheckpoint(next, *trainer_, meta).ok());
    steps = faults.step_trace();
  }
  // The file and its sidecar, each written atomically: 6 steps each, all through the seam.
  std::vector<std::string> ops;
  for (const FsCall& call : steps) ops.push_back(FsOpName(call.op));
  const std::vector<std::string> one_file = {"open", "write", "fsync", "rename", "open-dir", "fsync-dir"};
  std::vector<std::string> expected = one_file;
  expected.insert(expected.end(), one_file.begin(), one_file.end());
  ASSERT_EQ(ops, expected);
  EXPECT_EQ(steps[3].target, next);
  EXPECT_EQ(steps[9].target, next + ".sha256");

  for (size_t k = 1; k <= steps.size(); ++k) {
    SCOPED_TRACE(absl::StrCat("step ", k, ": ", Describe(steps[k - 1])));
    RemoveAllQuietly(next);
    RemoveAllQuietly(next + ".sha256");
    FaultInjectingFileSystem faults;
    StatusOr<std::string> digest;
    {
      ScopedFileSystem installed(&faults);
      faults.FailNthStep(static_cast<int64_t>(k), k % 2 == 0 ? ENOSPC : EIO);
      CheckpointMeta meta;
      meta.step = 2;
      digest = SaveCheckpoint(next, *trainer_, meta);
    }
    ExpectNamesInjectedStep(digest.status(), faults);
    // The previous checkpoint: the same bytes, and it still verifies.
    EXPECT_EQ(*ReadFileToString(previous), previous_bytes);
    auto meta = ReadCheckpointMeta(previous);
    ASSERT_TRUE(meta.ok()) << meta.status();
    EXPECT_EQ(meta->step, 1);
    // The new one is absent until its rename, complete after it.
    EXPECT_EQ(fs::exists(next), k > 4) << "step " << k;  // step 4 is the file's rename
    ExpectDirectoryConsistent();
  }
}

TEST_F(CheckpointFaultTest, EachStepOfOverwritingACheckpointFailingLeavesOldOrNewNeverAWrongSidecar) {
  // The same path saved again (a resumed run reaching a step it had already saved).
  const std::string path = CheckpointPath(dir_, 5);
  SaveForReal(path, 5);
  const std::string old_bytes = *ReadFileToString(path);
  const std::string old_sidecar = *ReadFileToString(path + ".sha256");

  int64_t step_count = 0;
  {
    FaultInjectingFileSystem faults;
    ScopedFileSystem installed(&faults);
    CheckpointMeta meta;
    meta.step = 6;  // different metadata: different bytes
    ASSERT_TRUE(SaveCheckpoint(path, *trainer_, meta).ok());
    step_count = faults.steps();
  }
  ASSERT_EQ(step_count, 12);

  for (int64_t k = 1; k <= step_count; ++k) {
    SCOPED_TRACE(absl::StrCat("step ", k));
    Restore(path, old_bytes, old_sidecar);
    FaultInjectingFileSystem faults;
    StatusOr<std::string> digest;
    {
      ScopedFileSystem installed(&faults);
      faults.FailNthStep(k, EIO);
      CheckpointMeta meta;
      meta.step = 6;
      digest = SaveCheckpoint(path, *trainer_, meta);
    }
    ExpectNamesInjectedStep(digest.status(), faults);
    auto meta = ReadCheckpointMeta(path);
    ASSERT_TRUE(meta.ok()) << meta.status();
    // Old up to a failed rename of the file (step 4), new after it.
    EXPECT_EQ(meta->step, k <= 4 ? 5 : 6);
    if (k <= 4) {
      EXPECT_EQ(*ReadFileToString(path), old_bytes);
    }
    ExpectDirectoryConsistent();
  }
}

TEST_F(CheckpointFaultTest, FailingToRemoveAStaleSidecarChangesNothing) {
  const std::string path = CheckpointPath(dir_, 7);
  SaveForReal(path, 7);
  const std::string old_bytes = *ReadFileToString(path);
  FaultInjectingFileSystem faults;
  StatusOr<std::string> digest;
  {
    ScopedFileSystem installed(&faults);
    faults.FailNth(FsOp::kUnlink, 1, EIO);
    CheckpointMeta meta;
    meta.step = 8;
    digest = SaveCheckpoint(path, *trainer_, meta);
  }
  ASSERT_FALSE(digest.ok());
  ASSERT_EQ(faults.injected(), 1);
  EXPECT_THAT(std::string(digest.status().message()), HasSubstr(path + ".sha256"));
  EXPECT_EQ(*ReadFileToString(path), old_bytes);
  ExpectDirectoryConsistent();
}

TEST_F(CheckpointFaultTest, FullDiskWhileSavingKeepsThePreviousCheckpointLoadable) {
  const std::string previous = CheckpointPath(dir_, 1);
  SaveForReal(previous, 1);
  FaultInjectingFileSystem faults;
  StatusOr<std::string> digest;
  {
    ScopedFileSystem installed(&faults);
    faults.FailFrom(FsOp::kWrite, 1, ENOSPC);
    CheckpointMeta meta;
    meta.step = 2;
    digest = SaveCheckpoint(CheckpointPath(dir_, 2), *trainer_, meta);
  }
  ASSERT_FALSE(digest.ok());
  ASSERT_GE(faults.injected(), 1);
  EXPECT_EQ(digest.status().code(), absl::StatusCode::kResourceExhausted) << digest.status();
  EXPECT_THAT(std::string(digest.status().message()), HasSubstr("disk full"));
  auto checkpoints = ListCheckpoints(dir_);
  ASSERT_TRUE(checkpoints.ok()) << checkpoints.status();
  EXPECT_EQ(*checkpoints, std::vector<std::string>{previous});
  // Loads into a fresh trainer, not only verifies.
  auto fresh = SmallTrainer();
  auto loaded = LoadCheckpoint(previous, fresh.get());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 1);
  ExpectDirectoryConsistent();
}

}  // namespace
}  // namespace tutti
