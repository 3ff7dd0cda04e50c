// PackWriter + PackReader + VerifyPack on real files in a temp directory.

#include <fcntl.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/base/file_util.h"
#include "core/data/data_test_util.h"
#include "core/data/pack_reader.h"
#include "core/data/pack_writer.h"
#include "core/data/shard_format.h"

namespace tutti {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

const SampleShape kSmall{2, 8, 12};  // 192 cells, 24 bytes: fast tests, same code paths

void FlipByte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 0x10));
}

TEST(PackTest, WriteReadRoundTrip) {
  testing::TempDir dir;
  const std::string pack = dir / "packs/rock";
  ASSERT_TRUE(testing::WriteTestPack(pack, "rock", 11, 10, 3, 4).ok());
  EXPECT_THAT(testing::ListDir(dir / "packs"), ElementsAre("rock"));  // no staging left behind
  EXPECT_NE(fs::status(pack).permissions() & fs::perms::others_read, fs::perms::none) << "readable by all ranks";
  EXPECT_THAT(testing::ListDir(pack), ElementsAre("heldout-00000.shard", "manifest.json", "train-00000.shard",
                                                  "train-00001.shard", "train-00002.shard"));
  StatusOr<std::unique_ptr<PackReader>> reader = PackReader::Open(pack);
  ASSERT_TRUE(reader.ok()) << reader.status();
  const PackManifest& m = (*reader)->manifest();
  EXPECT_EQ(m.genre, "rock");
  EXPECT_EQ(m.shape, SampleShape{});
  EXPECT_EQ(m.train_shards.size(), 3u);
  EXPECT_EQ(m.train_shards[2].samples, 2);
  EXPECT_EQ(m.packing["seed"], 11);
  EXPECT_EQ((*reader)->size(Split::kTrain), 10);
  EXPECT_EQ((*reader)->size(Split::kHeldout), 3);
  std::vector<uint8_t> dense(static_cast<size_t>(m.shape.cells()));
  for (Split split : kAllSplits) {
    for (int64_t i = 0; i < (*reader)->size(split); ++i) {
      (*reader)->CopySample(split, i, dense.data());
      ASSERT_EQ(dense, testing::TestSample(m.shape, 11, split, i)) << SplitName(split) << " " << i;
    }
  }
  // The file bytes are exactly header + packed samples.
  EXPECT_EQ(*FileSize(pack + "/train-00000.shard"), 64u + 4u * 2880u);
  EXPECT_TRUE(VerifyPack(pack).ok());
}

TEST(PackTest, OddShapeAndEmptySplit) {
  testing::TempDir dir;
  const SampleShape odd{1, 3, 5};  // 15 cells: last byte has a padding bit
  ASSERT_TRUE(testing::WriteTestPack(dir / "p", "jazz", 3, 5, 0, 100, odd).ok());
  auto reader = PackReader::Open(dir / "p");
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->size(Split::kHeldout), 0);
  std::vector<uint8_t> dense(15);
  (*reader)->CopySample(Split::kTrain, 4, dense.data());
  EXPECT_EQ(dense, testing::TestSample(odd, 3, Split::kTrain, 4));
  EXPECT_TRUE(VerifyPack(dir / "p").ok());
}

TEST(PackTest, FlippedByteFailsVerifyNamingTheShard) {
  testing::TempDir dir;
  const std::string pack = dir / "rock";
  ASSERT_TRUE(testing::WriteTestPack(pack, "rock", 1, 6, 2, 3, kSmall).ok());
  FlipByte(pack + "/train-00001.shard", 64 + 30);  // a data byte: the header still checks out
  EXPECT_TRUE(PackReader::Open(pack).ok());          // Open does not hash
  Status s = VerifyPack(pack);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr(pack + "/train-00001.shard: sha256 mismatch: manifest says "));
  EXPECT_THAT(std::string(s.message()), HasSubstr(", file has "));
}

TEST(PackTest, FlippedHeaderByteFailsOpen) {
  testing::TempDir dir;
  const std::string pack = dir / "rock";
  ASSERT_TRUE(testing::WriteTestPack(pack, "rock", 1, 6, 2, 3, kSmall).ok());
  FlipByte(pack + "/heldout-00000.shard", 20);
  Status s = PackReader::Open(pack).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr(pack + "/heldout-00000.shard: shard header checksum mismatch"));
}

TEST(PackTest, TruncatedShardFailsOpenNamingIt) {
  testing::TempDir dir;
  const std::string pack = dir / "rock";
  ASSERT_TRUE(testing::WriteTestPack(pack, "rock", 1, 6, 2, 3, kSmall).ok());
  const std::string shard = pack + "/train-00001.shard";
  ASSERT_EQ(::truncate(shard.c_str(), 64 + 24 + 5), 0);
  Status s = PackReader::Open(pack).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr(shard + ": file is 93 bytes, manifest says 136 (truncated?)"));
  EXPECT_THAT(std::string(VerifyPack(pack).message()), HasSubstr(shard + ": file is 93 bytes"));
  ASSERT_EQ(::truncate(shard.c_str(), 10), 0);  // shorter than a header
  EXPECT_THAT(std::string(PackReader::Open(pack).status().message()), HasSubstr(shard + ": file is 10 bytes"));
}

// Rewrites the manifest with `edit` applied (keeping it internally consistent is the edit's job).
void EditManifest(const std::string& pack, const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json j = nlohmann::json::parse(*ReadFileToString(pack + "/manifest.json"));
  edit(j);
  ASSERT_TRUE(WriteFileAtomically(pack + "/manifest.json", j.dump()).ok());
}

TEST(PackTest, ManifestCountMismatchWithShardHeader) {
  testing::TempDir dir;
  const std::string pack = dir / "rock";
  ASSERT_TRUE(testing::WriteTestPack(pack, "rock", 1, 6, 2, 3, kSmall).ok());
  // Claim 2 samples in the last train shard: consistent manifest, but the file and header say 3.
  EditManifest(pack, [](nlohmann::json& j) {
    j["train_shards"][1]["samples"] = 2;
    j["train_shards"][1]["bytes"] = 64 + 2 * 24;
    j["samples"]["train"] = 5;
    j["songs"][0]["samples"] = 5;
  });
  Status s = PackReader::Open(pack).status();
  EXPECT_THAT(std::string(s.message()),
              HasSubstr(pack + "/train-00001.shard: file is 136 bytes, manifest says 112"));
  ASSERT_EQ(::truncate((pack + "/train-00001.shard").c_str(), 112), 0);  // now only the header disagrees
  s = PackReader::Open(pack).status();
  EXPECT_THAT(std::string(s.message()),
              HasSubstr(pack + "/train-00001.shard: header says 3 samples, manifest says 2"));
  // A manifest that is inconsistent in itself is rejected before any shard is opened.
  EditManifest(pack, [](nlohmann::json& j) { j["samples"]["train"] = 99; });
  EXPECT_THAT(std::string(PackReader::Open(pack).status().message()),
              HasSubstr(pack + "/manifest.json: key 'samples.train'"));
}

TEST(PackTest, SwappedShardsDetected) {
  testing::TempDir dir;
  const std::string pack = dir / "rock";
  ASSERT_TRUE(testing::WriteTestPack(pack, "rock", 1, 6, 0, 3, kSmall).ok());
  fs::rename(pack + "/train-00000.shard", pack + "/tmp");
  fs::rename(pack + "/train-00001.shard", pack + "/train-00000.shard");
  fs::rename(pack + "/tmp", pack + "/train-00001.shard");
  EXPECT_THAT(std::string(PackReader::Open(pack).status().message()),
              HasSubstr("train-00000.shard: header says this is train-00001.shard"));
}

TEST(PackTest, VerifyReportsMissingAndExtraShards) {
  testing::TempDir dir;
  const std::string pack = dir / "rock";
  ASSERT_TRUE(testing::WriteTestPack(pack, "rock", 1, 6, 2, 3, kSmall).ok());
  fs::rename(pack + "/heldout-00000.shard", pack + "/heldout-00007.shard");
  EXPECT_EQ(PackReader::Open(pack).status().code(), absl::StatusCode::kNotFound);
  Status s = VerifyPack(pack, /*show_progress=*/false);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("2 problems"));
  EXPECT_THAT(std::string(s.message()), HasSubstr(pack + "/heldout-00007.shard: shard file not listed in"));
  EXPECT_THAT(std::string(s.message()),
              HasSubstr(pack + "/heldout-00000.shard: cannot open shard listed in the manifest"));
}

TEST(PackTest, NoHalfPackWhenWriterIsDestroyedBeforeFinish) {
  testing::TempDir dir;
  PackWriterOptions options;
  options.genre = "rock";
  options.shape = kSmall;
  options.samples_per_shard = 2;
  {
    auto writer = PackWriter::Create(dir / "rock", options);
    ASSERT_TRUE(writer.ok()) << writer.status();
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE((*writer)->Add(Split::kTrain, testing::TestSample(kSmall, 1, Split::kTrain, i).data()).ok());
    }
    EXPECT_TRUE(fs::exists((*writer)->staging_dir()));
    EXPECT_FALSE(fs::exists(dir / "rock"));  // nothing visible before Finish
    EXPECT_THAT(testing::ListDir((*writer)->staging_dir()), ElementsAre("train-00000.shard", "train-00001.shard",
                                                                        "train-00002.shard"));
  }
  EXPECT_TRUE(testing::ListDir(dir.path()).empty());  // no pack, no temp
}

TEST(PackTest, FailedFinishLeavesNothing) {
  testing::TempDir dir;
  PackWriterOptions options;
  options.genre = "rock";
  options.shape = kSmall;
  auto writer = PackWriter::Create(dir / "rock", options);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Add(Split::kTrain, testing::TestSample(kSmall, 1, Split::kTrain, 0).data()).ok());
  // The songs claim 2 samples, only 1 was added.
  Status s = (*writer)->Finish({testing::TestSong(0, 2, Split::kTrain)}, {}, {});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("the train songs account for 2 samples, the train shards hold 1"));
  EXPECT_TRUE(testing::ListDir(dir.path()).empty());
  // Sticky: later calls report the same error.
  EXPECT_EQ((*writer)->Add(Split::kTrain, testing::TestSample(kSmall, 1, Split::kTrain, 0).data()), s);
}

TEST(PackTest, IoFailureMidPackLeavesNothing) {
  testing::TempDir dir;
  PackWriterOptions options;
  options.genre = "rock";
  options.shape = kSmall;
  options.samples_per_shard = 1;
  auto writer = PackWriter::Create(dir / "rock", options);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Add(Split::kTrain, testing::TestSample(kSmall, 1, Split::kTrain, 0).data()).ok());
  RemoveAllQuietly((*writer)->staging_dir());  // the filesystem pulls the rug: the next shard cannot be created
  Status s = (*writer)->Add(Split::kTrain, testing::TestSample(kSmall, 1, Split::kTrain, 1).data());
  EXPECT_THAT(std::string(s.message()), HasSubstr("train-00001.shard: cannot create shard"));
  EXPECT_FALSE((*writer)->Finish({}, {}, {}).ok());
  EXPECT_TRUE(testing::ListDir(dir.path()).empty());
}

TEST(PackTest, NonBinaryCellRejectedWithCoordinates) {
  testing::TempDir dir;
  PackWriterOptions options;
  options.genre = "rock";
  options.shape = kSmall;
  auto writer = PackWriter::Create(dir / "rock", options);
  ASSERT_TRUE(writer.ok());
  std::vector<uint8_t> cells(static_cast<size_t>(kSmall.cells()), 0);
  cells[static_cast<size_t>(kSmall.CellIndex(1, 2, 3))] = 100;
  Status s = (*writer)->Add(Split::kHeldout, cells.data());
  EXPECT_THAT(std::string(s.message()), HasSubstr("sample 0 of heldout: cell (track 1, step 2, pitch 3) is 100"));
  // Not sticky: the writer is still usable.
  cells[static_cast<size_t>(kSmall.CellIndex(1, 2, 3))] = 1;
  EXPECT_TRUE((*writer)->Add(Split::kHeldout, cells.data()).ok());
  EXPECT_TRUE((*writer)->Finish({}, nullptr, nullptr).ok());
  auto reader = PackReader::Open(dir / "rock");
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_TRUE((*reader)->manifest().packing.is_object());
}

TEST(PackTest, AddPackedEqualsAdd) {
  testing::TempDir dir;
  const SampleShape odd{1, 3, 5};  // 15 cells: one padding bit
  PackWriterOptions options;
  options.genre = "rock";
  options.shape = odd;
  auto writer = PackWriter::Create(dir / "rock", options);
  ASSERT_TRUE(writer.ok());
  std::vector<uint8_t> packed(2);
  for (int i = 0; i < 3; ++i) {
    std::vector<uint8_t> dense = testing::TestSample(odd, 4, Split::kTrain, i);
    PackCells(dense.data(), odd.cells(), packed.data());
    ASSERT_TRUE((*writer)->AddPacked(Split::kTrain, packed.data()).ok());
  }
  packed[1] |= 0x80;
  EXPECT_THAT(std::string((*writer)->AddPacked(Split::kTrain, packed.data()).message()),
              HasSubstr("sample 3 of train: padding bits of the last packed byte are not zero"));
  ASSERT_TRUE((*writer)->Finish({}, {}, {}).ok());
  auto reader = PackReader::Open(dir / "rock");
  ASSERT_TRUE(reader.ok());
  ASSERT_EQ((*reader)->size(Split::kTrain), 3);
  std::vector<uint8_t> dense(15);
  for (int i = 0; i < 3; ++i) {
    (*reader)->CopySample(Split::kTrain, i, dense.data());
    EXPECT_EQ(dense, testing::TestSample(odd, 4, Split::kTrain, i));
  }
}

TEST(PackTest, RepackReplacesExistingPackAtomically) {
  testing::TempDir dir;
  ASSERT_TRUE(testing::WriteTestPack(dir / "rock", "rock", 1, 6, 2, 3, kSmall).ok());
  ASSERT_TRUE(testing::WriteTestPack(dir / "rock/", "rock", 2, 4, 0, 10, kSmall).ok());  // trailing slash
  EXPECT_THAT(testing::ListDir(dir.path()), ElementsAre("rock"));
  EXPECT_THAT(testing::ListDir(dir / "rock"), ElementsAre("manifest.json", "train-00000.shard"));
  auto reader = PackReader::Open(dir / "rock");
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->size(Split::kTrain), 4);
  EXPECT_EQ((*reader)->manifest().packing["seed"], 2);
}

TEST(PackTest, BadWriterOptions) {
  testing::TempDir dir;
  PackWriterOptions options;
  EXPECT_EQ(PackWriter::Create(dir / "x", options).status().code(), absl::StatusCode::kInvalidArgument);
  options.genre = "rock";
  options.samples_per_shard = 0;
  EXPECT_EQ(PackWriter::Create(dir / "x", options).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(testing::ListDir(dir.path()).empty());
}

}  // namespace
}  // namespace tutti
