// BlobStore: the upload protocol (verify, publish, clean up), reads, verification, limits, and a real full
// disk (a 1 MiB tmpfs, when this process may mount one).

#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "coordinator/blob/blob_store.h"
#include "core/base/file_util.h"
#include "core/base/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tutti::coord {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Deterministic, non-repeating-looking bytes.
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
  return names;
}

// Uploads `data` in `chunk`-byte appends and commits it under its real sha256 and size.
Status Upload(BlobStore* store, const std::string& data, size_t chunk = 4096) {
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<BlobStore::Writer> writer, store->StartUpload());
  for (size_t at = 0; at < data.size(); at += chunk) {
    TUTTI_RETURN_IF_ERROR(writer->Append(data.data() + at, std::min(chunk, data.size() - at)));
  }
  return writer->Commit(Sha256Hex(data), static_cast<int64_t>(data.size()));
}

StatusOr<std::string> ReadAll(BlobStore* store, const std::string& sha256, size_t chunk) {
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<BlobStore::Reader> reader, store->OpenBlob(sha256));
  std::string all;
  std::string piece;
  while (true) {
    TUTTI_RETURN_IF_ERROR(reader->Read(chunk, &piece));
    if (piece.empty()) break;
    if (piece.size() > chunk) return absl::InternalError("read more than asked");
    all += piece;
  }
  if (static_cast<int64_t>(all.size()) != reader->size()) return absl::InternalError("size() disagrees");
  return all;
}

class BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = ::testing::TempDir() + "tutti_blob_store_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    RemoveAllQuietly(root_);
  }
  void TearDown() override { RemoveAllQuietly(root_); }

  std::unique_ptr<BlobStore> MustOpen(BlobStoreOptions options = {}) {
    auto store = BlobStore::Open(root_, options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  std::string incoming() const { return root_ + "/incoming"; }

  std::string root_;
};

TEST_F(BlobStoreTest, CommitThenReadBack) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  const std::string data = Bytes(300000, 1);
  const std::string sha = Sha256Hex(data);
  EXPECT_FALSE(store->Contains(sha));

  auto writer = store->StartUpload();
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE((*writer)->Append(data.data(), 100000).ok());
  ASSERT_TRUE((*writer)->Append(data.data() + 100000, 0).ok());  // empty appends are fine
  ASSERT_TRUE((*writer)->Append(data.data() + 100000, 200000).ok());
  EXPECT_EQ((*writer)->size(), 300000);
  EXPECT_THAT(EntriesIn(incoming()), ::testing::SizeIs(1));  // in progress, not published
  EXPECT_FALSE(store->Contains(sha));
  ASSERT_TRUE((*writer)->Commit(sha, 300000).ok());
  writer->reset();  // destroying a committed writer removes nothing

  EXPECT_TRUE(store->Contains(sha));
  EXPECT_EQ(store->PathOf(sha), root_ + "/sha256/" + sha.substr(0, 2) + "/" + sha);
  EXPECT_TRUE(fs::is_regular_file(store->PathOf(sha)));
  EXPECT_THAT(EntriesIn(incoming()), IsEmpty());
  // Odd chunk sizes: every chunk but the last is full.
  for (size_t chunk : {size_t{1} << 20, size_t{4096}, size_t{7777}}) {
    auto back = ReadAll(store.get(), sha, chunk);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(*back == data) << "chunk " << chunk;
  }
  auto reader = store->OpenBlob(sha);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->size(), 300000);
  std::string piece;
  EXPECT_EQ((*reader)->Read(0, &piece).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(store->Verify(sha).ok());
  auto listed = store->List();
  ASSERT_TRUE(listed.ok());
  EXPECT_THAT(*listed, ElementsAre(sha));

  // The empty blob is a blob too.
  ASSERT_TRUE(Upload(store.get(), "").ok());
  EXPECT_TRUE(store->Contains(Sha256Hex("")));
  auto empty = ReadAll(store.get(), Sha256Hex(""), 10);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "");
}

TEST_F(BlobStoreTest, SizeOrShaMismatchIsDataLossAndPublishesNothing) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  const std::string data = Bytes(5000, 2);
  const std::string sha = Sha256Hex(data);
  {
    auto writer = store->StartUpload();
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append(data.data(), data.size()).ok());
    Status status = (*writer)->Commit(sha, 4999);
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr("expected 4999 bytes"));
    EXPECT_THAT(std::string(status.message()), HasSubstr("got 5000 bytes"));
    EXPECT_THAT(EntriesIn(incoming()), IsEmpty()) << "removed at the error, not only at destruction";
    // The upload is dead.
    EXPECT_FALSE((*writer)->Append("x", 1).ok());
    EXPECT_FALSE((*writer)->Commit(sha, 5000).ok());
  }
  {
    const std::string wrong = Sha256Hex("something else");
    auto writer = store->StartUpload();
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append(data.data(), data.size()).ok());
    Status status = (*writer)->Commit(wrong, 5000);
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr(wrong));
    EXPECT_THAT(std::string(status.message()), HasSubstr(sha));
    EXPECT_FALSE(store->Contains(wrong));
  }
  {
    auto writer = store->StartUpload();
    ASSERT_TRUE(writer.ok());
    EXPECT_EQ((*writer)->Commit("not-a-sha", 0).code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_FALSE(store->Contains(sha));
  EXPECT_THAT(EntriesIn(incoming()), IsEmpty());
  auto listed = store->List();
  ASSERT_TRUE(listed.ok());
  EXPECT_THAT(*listed, IsEmpty());
}

TEST_F(BlobStoreTest, WriterDestroyedWithoutCommitLeavesNothing) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  {
    auto writer = store->StartUpload();
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append("partial", 7).ok());
    EXPECT_THAT(EntriesIn(incoming()), ::testing::SizeIs(1));
  }
  EXPECT_THAT(EntriesIn(incoming()), IsEmpty());
  auto listed = store->List();
  ASSERT_TRUE(listed.ok());
  EXPECT_THAT(*listed, IsEmpty());
  EXPECT_EQ(store->removed_at_open(), 0);
}

TEST_F(BlobStoreTest, OpenRemovesAndCountsLeftovers) {
  const std::string kept = Bytes(1000, 3);
  {
    auto store = MustOpen();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(Upload(store.get(), kept).ok());
  }
  // What a crash mid-upload leaves behind: files in incoming/ (and, defensively, a directory).
  ASSERT_TRUE(WriteFileAtomically(incoming() + "/upload-0123", "half").ok());
  ASSERT_TRUE(WriteFileAtomically(incoming() + "/upload-4567", "").ok());
  ASSERT_TRUE(CreateDirectories(incoming() + "/upload-dir/x").ok());
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->removed_at_open(), 3);
  EXPECT_THAT(EntriesIn(incoming()), IsEmpty());
  EXPECT_EQ(store->root(), root_);
  // Published blobs are untouched.
  EXPECT_TRUE(store->Verify(Sha256Hex(kept)).ok());
  auto again = MustOpen();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->removed_at_open(), 0);
}

TEST_F(BlobStoreTest, ConcurrentUploadsOfTheSameContent) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  const std::string data = Bytes(1 << 20, 4);
  const std::string sha = Sha256Hex(data);
  // Interleaved by hand first (deterministic): both in progress, then both commit.
  auto first = store->StartUpload();
  auto second = store->StartUpload();
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_TRUE((*first)->Append(data.data(), data.size() / 2).ok());
  ASSERT_TRUE((*second)->Append(data.data(), data.size()).ok());
  ASSERT_TRUE((*first)->Append(data.data() + data.size() / 2, data.size() - data.size() / 2).ok());
  EXPECT_THAT(EntriesIn(incoming()), ::testing::SizeIs(2));
  ASSERT_TRUE((*second)->Commit(sha, static_cast<int64_t>(data.size())).ok());
  ASSERT_TRUE((*first)->Commit(sha, static_cast<int64_t>(data.size())).ok());
  EXPECT_TRUE(store->Verify(sha).ok());

  // Then real threads.
  constexpr int kThreads = 4;
  const std::string other = Bytes(300000, 5);
  std::vector<Status> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] { results[static_cast<size_t>(t)] = Upload(store.get(), other, 1000 + t); });
  }
  for (std::thread& thread : threads) thread.join();
  for (const Status& status : results) EXPECT_TRUE(status.ok()) << status;
  EXPECT_TRUE(store->Verify(Sha256Hex(other)).ok());
  EXPECT_THAT(EntriesIn(incoming()), IsEmpty());
  auto listed = store->List();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 2u);
}

TEST_F(BlobStoreTest, RemoveIsIdempotent) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  const std::string a = Bytes(100, 6);
  const std::string b = Bytes(100, 7);
  ASSERT_TRUE(Upload(store.get(), a).ok());
  ASSERT_TRUE(Upload(store.get(), b).ok());
  ASSERT_TRUE(store->Remove(Sha256Hex(a)).ok());
  EXPECT_FALSE(store->Contains(Sha256Hex(a)));
  EXPECT_TRUE(store->Remove(Sha256Hex(a)).ok());               // again
  EXPECT_TRUE(store->Remove(Sha256Hex("never stored")).ok());  // never there
  auto listed = store->List();
  ASSERT_TRUE(listed.ok());
  EXPECT_THAT(*listed, ElementsAre(Sha256Hex(b)));

  auto missing = store->OpenBlob(Sha256Hex(a));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr(Sha256Hex(a)));
  EXPECT_EQ(store->Verify(Sha256Hex(a)).code(), absl::StatusCode::kNotFound);
}

TEST_F(BlobStoreTest, NamesThatAreNotShasAreRefused) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  // A file outside the store that a crafted name would reach.
  ASSERT_TRUE(WriteFileAtomically(root_ + "/secret", "x").ok());
  for (const std::string& name : {std::string("../../secret"), std::string("ABC"), std::string(64, 'G'),
                                  std::string(63, 'a'), std::string()}) {
    EXPECT_FALSE(store->Contains(name)) << name;
    EXPECT_EQ(store->OpenBlob(name).status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_EQ(store->Remove(name).code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_EQ(store->Verify(name).code(), absl::StatusCode::kInvalidArgument) << name;
  }
  EXPECT_TRUE(fs::exists(root_ + "/secret"));
}

TEST_F(BlobStoreTest, VerifyDetectsAFlippedByte) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  const std::string data = Bytes(3 << 20, 8);  // several read chunks
  const std::string sha = Sha256Hex(data);
  ASSERT_TRUE(Upload(store.get(), data, 1 << 16).ok());
  ASSERT_TRUE(store->Verify(sha).ok());
  {
    std::fstream file(store->PathOf(sha), std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(file.is_open());
    file.seekp(2 << 20);
    char flipped = static_cast<char>(data[2 << 20] ^ 0x01);
    file.write(&flipped, 1);
  }
  Status status = store->Verify(sha);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(sha));
  EXPECT_THAT(std::string(status.message()), HasSubstr(store->PathOf(sha)));
}

TEST_F(BlobStoreTest, MaxBlobBytesIsResourceExhausted) {
  BlobStoreOptions options;
  options.max_blob_bytes = 1000;
  auto store = MustOpen(options);
  ASSERT_NE(store, nullptr);
  const std::string data = Bytes(1200, 9);
  {
    auto writer = store->StartUpload();
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append(data.data(), 600).ok());
    Status status = (*writer)->Append(data.data() + 600, 600);
    EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr("max_blob_bytes"));
    EXPECT_THAT(EntriesIn(incoming()), IsEmpty());
    EXPECT_FALSE((*writer)->Commit(Sha256Hex(data), 1200).ok());
  }
  // Exactly the limit is allowed.
  EXPECT_TRUE(Upload(store.get(), data.substr(0, 1000)).ok());
  EXPECT_EQ(BlobStore::Open(root_ + "-bad", BlobStoreOptions{0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// --- a real full disk --------------------------------------------------------------------------------------

class FullDiskTest : public BlobStoreTest {
 protected:
  void SetUp() override {
    BlobStoreTest::SetUp();
    ASSERT_TRUE(CreateDirectories(root_).ok());
    if (::mount("tmpfs", root_.c_str(), "tmpfs", 0, "size=1m") != 0) {
      int err = errno;
      RemoveAllQuietly(root_);
      GTEST_SKIP() << "cannot mount a 1 MiB tmpfs on " << root_ << ": mount(2) failed with " << std::strerror(err)
                   << " (needs root / CAP_SYS_ADMIN); the full-disk path is untested here";
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) {
      // MNT_DETACH as a fallback: a failed assertion may leave a descriptor open on the mount.
      if (::umount(root_.c_str()) != 0) ::umount2(root_.c_str(), MNT_DETACH);
    }
    BlobStoreTest::TearDown();
  }
  bool mounted_ = false;
};

TEST_F(FullDiskTest, FullDiskIsResourceExhaustedAndLeavesNothing) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  const std::string big = Bytes(2 << 20, 10);
  Status failure;
  {
    auto writer = store->StartUpload();
    ASSERT_TRUE(writer.ok()) << writer.status();
    for (size_t at = 0; at < big.size() && failure.ok(); at += 65536) {
      failure = (*writer)->Append(big.data() + at, 65536);
    }
    ASSERT_FALSE(failure.ok()) << "2 MiB fit on a 1 MiB tmpfs?";
    EXPECT_EQ(failure.code(), absl::StatusCode::kResourceExhausted) << failure;
    EXPECT_THAT(std::string(failure.message()), HasSubstr("disk full"));
    EXPECT_THAT(std::string(failure.message()), HasSubstr(incoming()));
    EXPECT_FALSE((*writer)->Commit(Sha256Hex(big), static_cast<int64_t>(big.size())).ok());
  }
  // Nothing half-written is visible, and the space came back.
  EXPECT_THAT(EntriesIn(incoming()), IsEmpty());
  EXPECT_FALSE(store->Contains(Sha256Hex(big)));
  auto listed = store->List();
  ASSERT_TRUE(listed.ok());
  EXPECT_THAT(*listed, IsEmpty());

  const std::string small = Bytes(100000, 11);
  Status status = Upload(store.get(), small);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_TRUE(store->Verify(Sha256Hex(small)).ok());
  // Fill the disk again, past the published blob: the earlier blob stays intact, and removing it frees
  // room for another upload.
  {
    auto writer = store->StartUpload();
    ASSERT_TRUE(writer.ok());
    Status again;
    for (size_t at = 0; at < big.size() && again.ok(); at += 65536) again = (*writer)->Append(big.data() + at, 65536);
    EXPECT_EQ(again.code(), absl::StatusCode::kResourceExhausted) << again;
  }
  EXPECT_TRUE(store->Verify(Sha256Hex(small)).ok());
  ASSERT_TRUE(store->Remove(Sha256Hex(small)).ok());
  const std::string medium = Bytes(700000, 12);
  status = Upload(store.get(), medium);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_TRUE(store->Verify(Sha256Hex(medium)).ok());
}

}  // namespace
}  // namespace tutti::coord
