// Storage faults during a blob upload: every step (create the upload file, each write, fsync, mkdir of
// sha256/<xx>, the fsync of sha256/, the rename to the content address, the fsync of sha256/<xx>) fails in
// turn, then a close error and a disk that fills up. The failing call (StartUpload, Append or Commit)
// returns the error naming the file; nothing is published under sha256/, incoming/ is empty once the
// Writer is gone, and earlier blobs still verify. A failure of the very last step (the directory fsync
// after the rename) is reported, but the blob is then complete and verified.

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "coordinator/blob/blob_store.h"
#include "core/base/file_system.h"
#include "core/base/file_util.h"
#include "core/base/sha256.h"
#include "core/base/testing/fault_injecting_file_system.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tutti::coord {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using tutti::testing::Describe;
using tutti::testing::FaultInjectingFileSystem;
using tutti::testing::FsCall;
using tutti::testing::FsOp;
using tutti::testing::FsOpName;
using tutti::testing::MessageNamesStep;

std::string Bytes(size_t size, uint32_t seed) {
  std::string data(size, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    data[i] = static_cast<char>(x & 0xff);
  }
  return data;
}

std::vector<std::string> EntriesIn(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Regular files anywhere under `dir`.
std::vector<std::string> FilesUnder(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file()) files.push_back(it->path().lexically_relative(dir).string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Uploads `data` in 3 appends and commits it; returns the first error, from whichever call made it.
Status Upload(BlobStore* store, const std::string& data) {
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<BlobStore::Writer> writer, store->StartUpload());
  const size_t chunk = data.size() / 3 + 1;
  for (size_t at = 0; at < data.size(); at += chunk) {
    TUTTI_RETURN_IF_ERROR(writer->Append(data.data() + at, std::min(chunk, data.size() - at)));
  }
  return writer->Commit(Sha256Hex(data), static_cast<int64_t>(data.size()));
}

class BlobStoreFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = ::testing::TempDir() + "tutti_blob_fault_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    RemoveAllQuietly(base_);
    earlier_ = Bytes(50000, 1);
    // A new blob whose sha256/<xx> directory does not exist yet, so the mkdir and its sync are steps too.
    for (uint32_t seed = 2;; ++seed) {
      fresh_ = Bytes(70000, seed);
      if (Sha256Hex(fresh_).substr(0, 2) != Sha256Hex(earlier_).substr(0, 2)) break;
    }
  }
  void TearDown() override { RemoveAllQuietly(base_); }

  // A store in a new root holding the earlier blob, made with the real file system.
  std::unique_ptr<BlobStore> FreshStore(const std::string& name) {
    ScopedFileSystem real(&PosixFileSystem());
    const std::string root = base_ + "/" + name;
    auto store = BlobStore::Open(root);
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return nullptr;
    Status uploaded = Upload(store->get(), earlier_);
    EXPECT_TRUE(uploaded.ok()) << uploaded;
    return std::move(*store);
  }

  // The earlier blob verifies, and the new one is either absent (nothing under its name, no file of it
  // anywhere under sha256/) or, when `published` is true, present and verified.
  void ExpectState(BlobStore* store, bool published) {
    ScopedFileSystem real(&PosixFileSystem());
    const std::string earlier_sha = Sha256Hex(earlier_);
    const std::string fresh_sha = Sha256Hex(fresh_);
    EXPECT_TRUE(store->Verify(earlier_sha).ok());
    EXPECT_EQ(store->Contains(fresh_sha), published);
    std::vector<std::string> expected = {earlier_sha.substr(0, 2) + "/" + earlier_sha};
    if (published) {
      EXPECT_TRUE(store->Verify(fresh_sha).ok());
      expected.push_back(fresh_sha.substr(0, 2) + "/" + fresh_sha);
      std::sort(expected.begin(), expected.end());
    }
    EXPECT_EQ(FilesUnder(store->root() + "/sha256"), expected);
    EXPECT_THAT(EntriesIn(store->root() + "/incoming"), IsEmpty());
  }

  std::string base_;
  std::string earlier_;
  std::string fresh_;
};

TEST_F(BlobStoreFaultTest, EachStepOfAnUploadFailingPublishesNothingAndLeavesNothing) {
  // 1. The steps of one upload.
  std::vector<FsCall> steps;
  {
    auto store = FreshStore("count");
    ASSERT_NE(store, nullptr);
    FaultInjectingFileSystem faults;
    ScopedFileSystem installed(&faults);
    ASSERT_TRUE(Upload(store.get(), fresh_).ok());
    steps = faults.step_trace();
  }
  std::vector<std::string> ops;
  for (const FsCall& call : steps) ops.push_back(FsOpName(call.op));
  EXPECT_THAT(ops, ElementsAre("open", "write", "write", "write", "fsync", "mkdir", "open-dir", "fsync-dir",
                               "rename", "open-dir", "fsync-dir"));

  // 2. Each failing in turn, with an I/O error and with a full disk.
  for (int err : {EIO, ENOSPC}) {
    for (size_t k = 1; k <= steps.size(); ++k) {
      SCOPED_TRACE(absl::StrCat("step ", k, ": ", Describe(steps[k - 1]), " fails with errno ", err));
      auto store = FreshStore(absl::StrCat("e", err, "-", k));
      ASSERT_NE(store, nullptr);
      FaultInjectingFileSystem faults;
      Status status;
      {
        ScopedFileSystem installed(&faults);
        faults.FailNthStep(static_cast<int64_t>(k), err);
        status = Upload(store.get(), fresh_);  // the Writer is destroyed on return
      }
      ASSERT_FALSE(status.ok()) << "the upload succeeded although a fault was injected";
      ASSERT_EQ(faults.injected(), 1) << status;
      const FsCall call = faults.injected_calls()[0];
      const std::string message(status.message());
      EXPECT_THAT(message, HasSubstr(call.target.empty() ? call.path : call.target));
      EXPECT_TRUE(MessageNamesStep(message, call.op)) << message;
      if (err == ENOSPC) {
        EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
        EXPECT_THAT(message, HasSubstr("disk full"));
      }
      const bool after_rename = k > steps.size() - 2;
      if (after_rename) {
        EXPECT_THAT(message, HasSubstr("published but not synced"));
      }
      ExpectState(store.get(), after_rename);
    }
  }
}

TEST_F(BlobStoreFaultTest, CloseErrorAtCommitPublishesNothing) {
  auto store = FreshStore("close");
  ASSERT_NE(store, nullptr);
  FaultInjectingFileSystem faults;
  Status status;
  {
    ScopedFileSystem installed(&faults);
    faults.FailNth(FsOp::kClose, 1, EIO);  // the upload file's close, right after its fsync
    status = Upload(store.get(), fresh_);
  }
  ASSERT_FALSE(status.ok());
  ASSERT_EQ(faults.injected(), 1);
  EXPECT_THAT(std::string(status.message()), HasSubstr("close failed"));
  EXPECT_THAT(std::string(status.message()), HasSubstr(faults.injected_calls()[0].path));
  ExpectState(store.get(), false);
}

TEST_F(BlobStoreFaultTest, DiskFillingUpMidUploadFailsTheAppendAndTheWriterIsDead) {
  auto store = FreshStore("full");
  ASSERT_NE(store, nullptr);
  FaultInjectingFileSystem faults;
  ScopedFileSystem installed(&faults);
  auto writer = store->StartUpload();
  ASSERT_TRUE(writer.ok()) << writer.status();
  faults.FailFrom(FsOp::kWrite, 2, ENOSPC);
  ASSERT_TRUE((*writer)->Append(fresh_.data(), 1000).ok());
  Status failed = (*writer)->Append(fresh_.data() + 1000, 1000);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(failed.message()), HasSubstr("ENOSPC"));
  EXPECT_THAT(std::string(failed.message()), HasSubstr(store->root() + "/incoming/upload-"));
  // The upload is over: its file is already gone, and later calls are refused without touching the disk.
  EXPECT_THAT(EntriesIn(store->root() + "/incoming"), IsEmpty());
  const int64_t writes = faults.calls(FsOp::kWrite);
  EXPECT_EQ((*writer)->Append("x", 1).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*writer)->Commit(Sha256Hex(fresh_), static_cast<int64_t>(fresh_.size())).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(faults.calls(FsOp::kWrite), writes);
  writer->reset();
  faults.ClearFaults();
  ExpectState(store.get(), false);
  // The store still takes uploads once there is space again.
  ASSERT_TRUE(Upload(store.get(), fresh_).ok());
  ExpectState(store.get(), true);
}

}  // namespace
}  // namespace tutti::coord
