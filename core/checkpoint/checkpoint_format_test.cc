// The checkpoint file format without LibTorch: what EncodeCheckpointFile writes reads back, and each way a
// file can be damaged comes back as its documented error naming the file.
#include "core/checkpoint/checkpoint_format.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/base/sha256.h"

namespace tutti {
namespace {

using ::testing::HasSubstr;

CheckpointMeta Meta() {
  CheckpointMeta meta;
  meta.step = 42;
  meta.loader_epoch = 3;
  meta.loader_batch_in_epoch = 9;
  meta.config_yaml = "name: test\n";
  meta.extra = {{"loss", 0.25}};
  meta.created_at = "2026-12-06T10:00:00Z";
  return meta;
}

TEST(CheckpointFormat, EncodedFileReadsBack) {
  const std::string payload = "not really a LibTorch archive";
  const std::string file = EncodeCheckpointFile(Meta(), payload);
  auto meta = ReadCheckpointMetaFromBytes(file, "a.tutti");
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_EQ(meta->step, 42);
  EXPECT_EQ(meta->loader_epoch, 3);
  EXPECT_EQ(meta->loader_batch_in_epoch, 9);
  EXPECT_EQ(meta->config_yaml, "name: test\n");
  EXPECT_EQ(meta->extra, Meta().extra);
  EXPECT_EQ(meta->created_at, "2026-12-06T10:00:00Z");
  EXPECT_EQ(meta->payload_sha256, Sha256Hex(payload));
  EXPECT_EQ(meta->payload_bytes, payload.size());
  EXPECT_EQ(file.substr(meta->payload_offset), payload);
}

TEST(CheckpointFormat, DamagedFilesNameTheFileAndWhatIsWrong) {
  const std::string good = EncodeCheckpointFile(Meta(), "payload");
  auto read = [](const std::string& bytes) { return ReadCheckpointMetaFromBytes(bytes, "x.tutti").status(); };

  Status s = read("TUTTI");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("x.tutti: not a Tutti checkpoint"));

  std::string version = good;
  version[8] = 2;
  EXPECT_EQ(read(version).code(), absl::StatusCode::kFailedPrecondition);

  // A metadata length far past the file (or past 64 MiB) is refused before anything is allocated.
  std::string huge = good;
  for (int i = 12; i < 20; ++i) huge[i] = '\xff';
  s = read(huge);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("truncated checkpoint: metadata of 18446744073709551615 bytes"));

  s = read(good.substr(0, good.size() - 1));
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("payload is 6 bytes, metadata says 7"));

  std::string corrupted = good;
  corrupted.back() ^= 1;
  s = read(corrupted);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("corrupted checkpoint"));

  // A float where an integer belongs (nlohmann would cast it, undefined past int64's range: found by fuzzing).
  CheckpointMeta meta = Meta();
  std::string text = EncodeCheckpointFile(meta, "payload");
  const size_t at = text.find("\"step\":42");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 9, "\"step\":1e300");
  text.replace(12, 8, std::string(8, '\0'));
  const uint64_t meta_bytes = text.size() - 20 - 7;
  for (int i = 0; i < 8; ++i) text[12 + i] = static_cast<char>((meta_bytes >> (8 * i)) & 0xff);
  s = read(text);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("\"step\" must be an integer, got 1e+300"));

  std::string not_json = good;
  not_json[20] = '[';
  EXPECT_EQ(read(not_json).code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace tutti
