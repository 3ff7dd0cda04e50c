#include "core/npz/zip_io.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/base/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tutti {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const std::string kDir = std::string(TUTTI_TESTDATA_DIR) + "/npz/";

class ZipIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StatusOr<std::string> dir = MakeTempDirectoryIn(::testing::TempDir(), "zip_io_test");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *dir;
  }
  void TearDown() override { RemoveAllQuietly(dir_); }
  std::string dir_;
};

std::string Message(const Status& s) { return std::string(s.message()); }

TEST_F(ZipIoTest, BuildThenReadStoredAndDeflated) {
  std::string big(100000, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 7) % 13);
  StatusOr<std::string> zip = BuildZip({{"a.txt", "hello", false}, {"big.bin", big, true}, {"empty", "", true}});
  ASSERT_TRUE(zip.ok()) << zip.status();
  EXPECT_LT(zip->size(), big.size() / 10) << "deflated";
  const std::string path = dir_ + "/t.zip";
  ASSERT_TRUE(WriteFileAtomically(path, *zip).ok());

  StatusOr<std::unique_ptr<ZipReader>> reader = ZipReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->MemberNames(), (std::vector<std::string>{"a.txt", "big.bin", "empty"}));
  EXPECT_TRUE((*reader)->Contains("big.bin"));
  EXPECT_FALSE((*reader)->Contains("nope"));
  ByteBuffer out;
  ASSERT_TRUE((*reader)->Read("big.bin", &out).ok());
  EXPECT_TRUE(out.view() == big);
  ASSERT_TRUE((*reader)->Read("a.txt", &out).ok());
  EXPECT_EQ(out.view(), "hello");
  ASSERT_TRUE((*reader)->Read("empty", &out).ok());
  EXPECT_EQ(out.view(), "");

  Status missing = (*reader)->Read("nope", &out);
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(missing), StartsWith(path + ": nope: expected this member"));

  // Same content, same bytes: the modification time is fixed.
  StatusOr<std::string> again = BuildZip({{"a.txt", "hello", false}, {"big.bin", big, true}, {"empty", "", true}});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(*again == *zip);
}

TEST_F(ZipIoTest, DuplicateNamesAreRejected) {
  StatusOr<std::string> zip = BuildZip({{"a", "1", true}, {"a", "2", true}});
  EXPECT_EQ(zip.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ZipIoTest, ReadsNumpyZip64LocalHeaders) {
  // v1.npz comes from np.savez_compressed: every local header carries a ZIP64 extra field.
  StatusOr<std::unique_ptr<ZipReader>> reader = ZipReader::Open(kDir + "v1.npz");
  ASSERT_TRUE(reader.ok()) << reader.status();
  ByteBuffer out;
  for (const std::string& name : (*reader)->MemberNames()) {
    EXPECT_TRUE((*reader)->Read(name, &out).ok()) << name;
  }
  ASSERT_TRUE((*reader)->Read("info.json", &out).ok());
  EXPECT_THAT(std::string(out.view()), HasSubstr("\"resolution\": 24"));
}

TEST_F(ZipIoTest, BadArchivesNameTheFile) {
  for (const char* name : {"bad/truncated.npz", "bad/not_a_zip.npz"}) {
    StatusOr<std::unique_ptr<ZipReader>> reader = ZipReader::Open(kDir + name);
    ASSERT_FALSE(reader.ok()) << name;
    EXPECT_EQ(reader.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(reader.status()), StartsWith(kDir + name + ": expected a complete zip archive"));
  }
  StatusOr<std::unique_ptr<ZipReader>> absent = ZipReader::Open(dir_ + "/absent.npz");
  EXPECT_EQ(absent.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(absent.status()), HasSubstr("absent.npz"));
}

TEST_F(ZipIoTest, CrcMismatchIsDetected) {
  const std::string path = kDir + "bad/crc_mismatch.npz";
  StatusOr<std::unique_ptr<ZipReader>> reader = ZipReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  ByteBuffer out;
  EXPECT_TRUE((*reader)->Read("pianoroll_0_csc_data.npy", &out).ok());
  Status s = (*reader)->Read("pianoroll_0_csc_indices.npy", &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(s), StartsWith(path + ": pianoroll_0_csc_indices.npy: expected CRC-32 "));
}

TEST_F(ZipIoTest, CorruptDeflateStreamIsAnError) {
  std::string payload(5000, 'x');
  for (size_t i = 0; i < payload.size(); i += 7) payload[i] = static_cast<char>(i);
  StatusOr<std::string> zip = BuildZip({{"m", payload, true}});
  ASSERT_TRUE(zip.ok());
  // The member's data starts after the 30-byte local header and its 1-byte name; break it.
  std::string broken = *zip;
  for (size_t i = 31; i < 61; ++i) broken[i] = static_cast<char>(0xff);
  const std::string path = dir_ + "/broken.zip";
  ASSERT_TRUE(WriteFileAtomically(path, broken).ok());
  StatusOr<std::unique_ptr<ZipReader>> reader = ZipReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  ByteBuffer out;
  Status s = (*reader)->Read("m", &out);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(Message(s), StartsWith(path + ": m: expected"));
}

TEST_F(ZipIoTest, ReadersOnManyThreads) {
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &failures] {
      for (int round = 0; round < 20; ++round) {
        StatusOr<std::unique_ptr<ZipReader>> reader = ZipReader::Open(kDir + "legacy.npz");
        if (!reader.ok()) {
          ++failures[t];
          continue;
        }
        ByteBuffer out;
        for (const std::string& name : (*reader)->MemberNames()) failures[t] += !(*reader)->Read(name, &out).ok();
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures, (std::vector<int>{0, 0, 0, 0}));
}

}  // namespace
}  // namespace tutti
