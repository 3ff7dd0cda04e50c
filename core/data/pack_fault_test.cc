// Storage faults while a pack is written over an existing one: every step of PackWriter (mkdtemp, each
// shard's create / write / header pwrite / fsync, the manifest's atomic write, chmod, the directory swap
// and its fsync) fails in turn, and a full disk hits the shard writes. Afterwards the error names the file,
// the pack directory holds the old pack (verified byte for byte) or, once the swap is done, the complete
// new one, and no staging directory is left beside it. Also the pack cache: each step of switching a pin
// failing in turn never publishes a half pack, and the next Ensure repairs everything.

#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/file_system.h"
#include "core/base/file_util.h"
#include "core/base/sha256.h"
#include "core/base/testing/fault_injecting_file_system.h"
#include "core/data/data_test_util.h"
#include "core/data/pack_cache.h"
#include "core/data/pack_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tutti {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Describe;
using testing::FaultInjectingFileSystem;
using testing::FsCall;
using testing::FsOp;
using testing::FsOpName;
using testing::ListDir;
using testing::MessageNamesStep;
using testing::TempDir;
using testing::TestSample;
using testing::WriteTestPack;

constexpr int64_t kTrain = 5;
constexpr int64_t kHeldout = 2;
constexpr int64_t kPerShard = 2;  // 3 train shards + 1 held-out shard

Status WritePack(const std::string& dir, uint64_t seed) {
  return WriteTestPack(dir, "rock", seed, kTrain, kHeldout, kPerShard);
}

// With the real file system, whatever is installed: set-up and checks must not be faulted.
Status WritePackForReal(const std::string& dir, uint64_t seed) {
  ScopedFileSystem real(&PosixFileSystem());
  return WritePack(dir, seed);
}

// The pack in `dir` verifies (every shard re-hashed) and is the one written with `seed`, sample for sample.
void ExpectPackIs(const std::string& dir, uint64_t seed) {
  Status verified = VerifyPack(dir);
  ASSERT_TRUE(verified.ok()) << verified;
  auto reader = PackReader::Open(dir);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->manifest().packing.value("seed", uint64_t{0}), seed);
  ASSERT_EQ((*reader)->size(Split::kTrain), kTrain);
  ASSERT_EQ((*reader)->size(Split::kHeldout), kHeldout);
  std::vector<uint8_t> cells(static_cast<size_t>((*reader)->shape().cells()));
  for (Split split : {Split::kTrain, Split::kHeldout}) {
    for (int64_t i = 0; i < (*reader)->size(split); ++i) {
      (*reader)->CopySample(split, i, cells.data());
      ASSERT_EQ(cells, TestSample((*reader)->shape(), seed, split, i)) << SplitName(split) << " sample " << i;
    }
  }
}

std::vector<std::string> OpNames(const std::vector<FsCall>& calls) {
  std::vector<std::string> names;
  for (const FsCall& call : calls) names.push_back(FsOpName(call.op));
  return names;
}

void ExpectNamesInjectedStep(const Status& status, const FaultInjectingFileSystem& faults) {
  ASSERT_FALSE(status.ok()) << "the pack was written although a fault was injected";
  ASSERT_EQ(faults.injected(), 1) << status;
  const FsCall call = faults.injected_calls()[0];
  const std::string message(status.message());
  const std::string& named = call.target.empty() ? call.path : call.target;
  EXPECT_THAT(message, HasSubstr(named)) << Describe(call);
  EXPECT_TRUE(MessageNamesStep(message, call.op)) << Describe(call) << ": " << message;
}

TEST(PackFaultTest, EachStepOfRepackingFailingKeepsTheOldPackOrTheCompleteNewOne) {
  TempDir tmp;
  const std::string pack = tmp / "rock";

  // 1. One successful repack, counted.
  ASSERT_TRUE(WritePackForReal(pack, 1).ok());
  std::vector<FsCall> steps;
  {
    FaultInjectingFileSystem faults;
    ScopedFileSystem installed(&faults);
    ASSERT_TRUE(WritePack(pack, 2).ok());
    steps = faults.step_trace();
  }
  ExpectPackIs(pack, 2);
  // Every kind of step goes through the seam. Each shard is created, written, given its header and
  // fsynced; the third train shard is still open (one sample) while the held-out shard is written, and is
  // closed by Finish.
  const std::vector<std::string> expected = {
      "mkdtemp",
      "open", "write", "pwrite", "fsync",                              // train-00000
      "open", "write", "pwrite", "fsync",                              // train-00001
      "open",                                                          // train-00002 opened
      "open", "write", "pwrite", "fsync",                              // heldout-00000
      "write", "pwrite", "fsync",                                      // train-00002 closed by Finish
      "open", "write", "fsync", "rename", "open-dir", "fsync-dir",     // manifest.json, atomically
      "chmod", "exchange", "open-dir", "fsync-dir"};                   // the swap with the old pack
  ASSERT_EQ(OpNames(steps), expected);

  // 2. Each step failing in turn.
  for (size_t k = 1; k <= steps.size(); ++k) {
    const FsOp op = steps[k - 1].op;
    SCOPED_TRACE(absl::StrCat("step ", k, ": ", FsOpName(op), " ", steps[k - 1].path));
    RemoveAllQuietly(pack);
    ASSERT_TRUE(WritePackForReal(pack, 1).ok());
    FaultInjectingFileSystem faults;
    Status status;
    {
      ScopedFileSystem installed(&faults);
      faults.FailNthStep(static_cast<int64_t>(k), EIO);
      status = WritePack(pack, 2);
    }
    ExpectNamesInjectedStep(status, faults);
    // The last two steps come after the swap: the new pack is in place, complete, and said to be not durable.
    const bool after_swap = k > steps.size() - 2;
    ExpectPackIs(pack, after_swap ? 2 : 1);
    if (after_swap) {
      EXPECT_THAT(std::string(status.message()), HasSubstr("not yet durable"));
    }
    EXPECT_THAT(ListDir(tmp.path()), ElementsAre("rock"));  // no staging directory, no old copy
  }
}

TEST(PackFaultTest, FullDiskOnAShardWriteNamesTheShardAndKeepsTheOldPack) {
  TempDir tmp;
  const std::string pack = tmp / "rock";
  ASSERT_TRUE(WritePackForReal(pack, 1).ok());
  // The second write (the second train shard) hits a full disk that stays full.
  FaultInjectingFileSystem faults;
  Status status;
  {
    ScopedFileSystem installed(&faults);
    faults.FailFrom(FsOp::kWrite, 2, ENOSPC);
    status = WritePack(pack, 2);
  }
  ASSERT_FALSE(status.ok());
  ASSERT_GE(faults.injected(), 1);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  const std::string shard = faults.injected_calls()[0].path;
  EXPECT_THAT(shard, HasSubstr("train-00001"));
  EXPECT_THAT(std::string(status.message()), HasSubstr(shard));
  EXPECT_THAT(std::string(status.message()), HasSubstr("write failed"));
  ExpectPackIs(pack, 1);
  EXPECT_THAT(ListDir(tmp.path()), ElementsAre("rock"));
}

TEST(PackFaultTest, FirstPackFailingLeavesNoPackAtAll) {
  TempDir tmp;
  const std::string pack = tmp / "jazz";
  int64_t step_count = 0;
  {
    FaultInjectingFileSystem faults;
    ScopedFileSystem installed(&faults);
    ASSERT_TRUE(WritePack(pack, 3).ok());
    step_count = faults.steps();
  }
  RemoveAllQuietly(pack);
  // Every step up to and including the rename into place (the last two are the directory fsync).
  for (int64_t k = 1; k <= step_count - 2; ++k) {
    SCOPED_TRACE(absl::StrCat("step ", k));
    FaultInjectingFileSystem faults;
    Status status;
    {
      ScopedFileSystem installed(&faults);
      faults.FailNthStep(k, ENOSPC);
      status = WritePack(pack, 3);
    }
    ExpectNamesInjectedStep(status, faults);
    EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
    EXPECT_TRUE(ListDir(tmp.path()).empty()) << ListDir(tmp.path()).front();
  }
}

// A blob fetcher over packs on disk: the pack cache asks for shards and manifests by sha256.
class DiskFetcher {
 public:
  void Add(const std::string& pack_dir) {
    auto manifest_bytes = ReadFileToString(pack_dir + "/manifest.json");
    ASSERT_TRUE(manifest_bytes.ok());
    blobs_[Sha256Hex(*manifest_bytes)] = *manifest_bytes;
    for (const std::string& name : ListDir(pack_dir)) {
      auto bytes = ReadFileToString(pack_dir + "/" + name);
      ASSERT_TRUE(bytes.ok());
      blobs_[Sha256Hex(*bytes)] = *bytes;
    }
  }
  BlobFetcher Fetcher() const {
    return [this](const std::string& sha256) -> StatusOr<std::string> {
      auto it = blobs_.find(sha256);
      if (it == blobs_.end()) return absl::NotFoundError(sha256);
      return it->second;
    };
  }

 private:
  std::map<std::string, std::string> blobs_;
};

// Every packs/<sha>/ holding manifest.json is complete (the cache's rule, the same as PackWriter's).
void ExpectEveryPublishedCachePackVerifies(const std::string& root) {
  ScopedFileSystem real(&PosixFileSystem());
  for (const std::string& name : ListDir(root + "/packs")) {
    const std::string dir = root + "/packs/" + name;
    if (!std::filesystem::exists(dir + "/manifest.json")) continue;
    Status verified = VerifyPack(dir);
    EXPECT_TRUE(verified.ok()) << verified;
  }
}

TEST(PackFaultTest, PackCacheEachStepFailingNeverPublishesAHalfPackAndTheNextEnsureRepairs) {
  TempDir tmp;
  ASSERT_TRUE(WritePackForReal(tmp / "src-old", 1).ok());
  ASSERT_TRUE(WritePackForReal(tmp / "src-new", 2).ok());
  DiskFetcher fetcher;
  fetcher.Add(tmp / "src-old");
  fetcher.Add(tmp / "src-new");
  const std::vector<PackPin> old_pin = {{"rock", Sha256Hex(*ReadFileToString(tmp / "src-old/manifest.json"))}};
  const std::vector<PackPin> new_pin = {{"rock", Sha256Hex(*ReadFileToString(tmp / "src-new/manifest.json"))}};
  PackCacheOptions options;
  options.root = tmp / "cache";
  options.max_bytes = 1;  // only the packs in use stay: switching to the new pin evicts the old pack

  // A cache holding the old pack, with the real file system.
  auto fresh_cache = [&]() -> std::unique_ptr<PackCache> {
    ScopedFileSystem real(&PosixFileSystem());
    RemoveAllQuietly(options.root);
    auto cache = PackCache::Open(options);
    EXPECT_TRUE(cache.ok()) << cache.status();
    if (!cache.ok()) return nullptr;
    auto view = (*cache)->Ensure(old_pin, fetcher.Fetcher());
    EXPECT_TRUE(view.ok()) << view.status();
    return std::move(*cache);
  };

  // 1. Count the steps of switching the pin (fetch the new pack, evict the old one, re-point the view).
  std::vector<FsCall> steps;
  {
    auto cache = fresh_cache();
    ASSERT_NE(cache, nullptr);
    FaultInjectingFileSystem faults;
    ScopedFileSystem installed(&faults);
    PackCacheReport report;
    auto view = cache->Ensure(new_pin, fetcher.Fetcher(), &report);
    ASSERT_TRUE(view.ok()) << view.status();
    EXPECT_EQ(report.packs_evicted, 1);
    steps = faults.step_trace();
  }
  // The eviction (packs/<old> -> incoming/) and the view switch (a new link renamed over the old) are
  // among the steps: both renames go through the seam.
  int renames_out_of_packs = 0, view_renames = 0;
  for (const FsCall& call : steps) {
    if (call.op != FsOp::kRename) continue;
    if (call.path == options.root + "/packs/" + old_pin[0].manifest_sha256) ++renames_out_of_packs;
    const std::string views = options.root + "/views/";
    if (call.target.compare(0, views.size(), views) == 0 && call.target.size() > 5 &&
        call.target.compare(call.target.size() - 5, 5, "/rock") == 0) {
      ++view_renames;
    }
  }
  EXPECT_EQ(renames_out_of_packs, 1);
  EXPECT_EQ(view_renames, 1);
  ASSERT_GE(steps.size(), 20u);

  // 2. Each step failing in turn.
  for (size_t k = 1; k <= steps.size(); ++k) {
    SCOPED_TRACE(absl::StrCat("step ", k, ": ", Describe(steps[k - 1])));
    auto cache = fresh_cache();
    ASSERT_NE(cache, nullptr);
    FaultInjectingFileSystem faults;
    StatusOr<std::string> view;
    {
      ScopedFileSystem installed(&faults);
      faults.FailNthStep(static_cast<int64_t>(k), EIO);
      view = cache->Ensure(new_pin, fetcher.Fetcher());
    }
    ExpectNamesInjectedStep(view.status(), faults);
    ExpectEveryPublishedCachePackVerifies(options.root);
    // The next Ensure, on a healthy disk, finishes the job.
    auto repaired = cache->Ensure(new_pin, fetcher.Fetcher());
    ASSERT_TRUE(repaired.ok()) << repaired.status();
    ExpectPackIs(*repaired + "/rock", 2);
  }
}

}  // namespace
}  // namespace tutti
