#include <filesystem>

#include "core/base/file_util.h"
#include "core/base/sha256.h"
#include "core/base/status.h"
#include "gtest/gtest.h"

namespace tutti {
namespace {

namespace fs = std::filesystem;

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, StreamingEqualsOneShot) {
  std::string data(1000, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31 + 7);
  Sha256 streaming;
  for (size_t i = 0; i < data.size(); i += 37) streaming.Update(std::string_view(data).substr(i, 37));
  EXPECT_EQ(streaming.FinishHex(), Sha256Hex(data));
}

Status FailsWith(Status s) {
  TUTTI_RETURN_IF_ERROR(s);
  return absl::OkStatus();
}

StatusOr<int> Twice(StatusOr<int> v) {
  TUTTI_ASSIGN_OR_RETURN(int x, v);
  return 2 * x;
}

TEST(Status, MacrosPropagate) {
  EXPECT_TRUE(FailsWith(absl::OkStatus()).ok());
  EXPECT_EQ(FailsWith(absl::NotFoundError("x")).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*Twice(21), 42);
  EXPECT_EQ(Twice(absl::InvalidArgumentError("bad")).status().message(), "bad");
  EXPECT_EQ(Annotate(absl::NotFoundError("gone"), "a.npz").message(), "a.npz: gone");
}

TEST(FileUtil, AtomicWriteAndPublish) {
  std::string root = testing::TempDir() + "/tutti_base_test";
  RemoveAllQuietly(root);
  ASSERT_TRUE(CreateDirectories(root).ok());
  ASSERT_TRUE(WriteFileAtomically(root + "/f.txt", "hello").ok());
  EXPECT_EQ(*ReadFileToString(root + "/f.txt"), "hello");
  EXPECT_EQ(ReadFileToString(root + "/missing").status().code(), absl::StatusCode::kNotFound);

  auto staged = MakeTempDirectoryIn(root, "pack");
  ASSERT_TRUE(staged.ok());
  ASSERT_TRUE(WriteFileAtomically(*staged + "/a", "new").ok());
  ASSERT_TRUE(CreateDirectories(root + "/target").ok());
  ASSERT_TRUE(WriteFileAtomically(root + "/target/old", "old").ok());
  ASSERT_TRUE(PublishDirectory(*staged, root + "/target").ok());
  EXPECT_TRUE(fs::exists(root + "/target/a"));
  EXPECT_FALSE(fs::exists(root + "/target/old"));
  EXPECT_FALSE(fs::exists(*staged));
  // No temporaries left behind.
  int entries = 0;
  for (auto& e : fs::directory_iterator(root)) entries += e.path().filename().string()[0] == '.';
  EXPECT_EQ(entries, 0);
}

TEST(Sha256, RecognisesItsHexForm) {
  EXPECT_TRUE(IsSha256Hex(Sha256Hex("x")));
  EXPECT_FALSE(IsSha256Hex(""));
  EXPECT_FALSE(IsSha256Hex(std::string(64, 'A')));
  EXPECT_FALSE(IsSha256Hex(std::string(63, 'a')));
}

}  // namespace
}  // namespace tutti
