#include "core/checkpoint/checkpoint.h"

#include <filesystem>
#include <fstream>

#include <torch/torch.h>

#include "core/base/file_util.h"
#include "core/base/sha256.h"
#include "core/train/gan_trainer.h"
#include "gtest/gtest.h"

namespace tutti {
namespace {

namespace fs = std::filesystem;

std::unique_ptr<GanTrainer> SmallTrainer(int64_t latent_dim = 128, uint64_t seed = 3) {
  TrainOptions train;
  train.batch_size = 2;
  train.seed = seed;
  train.intra_op_threads = 1;
  GeneratorOptions g;
  g.latent_dim(latent_dim);
  auto trainer = GanTrainer::Create(g, DiscriminatorOptions(), train);
  EXPECT_TRUE(trainer.ok()) << trainer.status();
  return std::move(*trainer);
}

torch::Tensor RealBatch() {
  torch::manual_seed(11);
  return (torch::rand({2, 5, 64, 72}) > 0.9).to(torch::kFloat32);
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/checkpoint_test";
    RemoveAllQuietly(dir_);
  }
  std::string dir_;
};

TEST_F(CheckpointTest, RoundTripRestoresTrainerAndMeta) {
  auto trainer = SmallTrainer();
  ASSERT_TRUE(trainer->Step(RealBatch()).ok());
  CheckpointMeta meta;
  meta.step = trainer->step();
  meta.loader_epoch = 2;
  meta.loader_batch_in_epoch = 7;
  meta.config_yaml = "name: test\n";
  std::string path = CheckpointPath(dir_, meta.step);
  auto digest = SaveCheckpoint(path, *trainer, meta);
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_EQ(*digest, Sha256Hex(*ReadFileToString(path)));
  EXPECT_NE(ReadFileToString(path + ".sha256")->find(*digest), std::string::npos);

  auto fresh = SmallTrainer(128, /*seed=*/99);
  auto loaded = LoadCheckpoint(path, fresh.get());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 1);
  EXPECT_EQ(loaded->loader_epoch, 2);
  EXPECT_EQ(loaded->loader_batch_in_epoch, 7);
  EXPECT_EQ(loaded->config_yaml, "name: test\n");
  EXPECT_EQ(fresh->step(), 1);
  auto a = trainer->generator()->named_parameters();
  auto b = fresh->generator()->named_parameters();
  for (const auto& item : a) EXPECT_TRUE(torch::equal(item.value(), b[item.key()])) << item.key();
}

TEST_F(CheckpointTest, CorruptedTruncatedAndForeignFilesAreRefused) {
  auto trainer = SmallTrainer();
  std::string path = CheckpointPath(dir_, 0);
  ASSERT_TRUE(SaveCheckpoint(path, *trainer, CheckpointMeta{}).ok());
  std::string bytes = *ReadFileToString(path);

  std::string flipped = dir_ + "/flipped.tutti";
  std::string corrupt = bytes;
  corrupt[corrupt.size() - 100] ^= 0x01;
  ASSERT_TRUE(WriteFileAtomically(flipped, corrupt).ok());
  auto bad = ReadCheckpointMeta(flipped);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(std::string(bad.status().message()).find("flipped.tutti: corrupted checkpoint"), std::string::npos)
      << bad.status();

  std::string truncated = dir_ + "/truncated.tutti";
  ASSERT_TRUE(WriteFileAtomically(truncated, bytes.substr(0, bytes.size() / 2)).ok());
  auto short_file = LoadCheckpoint(truncated, trainer.get());
  EXPECT_EQ(short_file.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(std::string(short_file.status().message()).find("truncated"), std::string::npos) << short_file.status();

  std::string other = dir_ + "/other.tutti";
  ASSERT_TRUE(WriteFileAtomically(other, "hello, not a checkpoint").ok());
  EXPECT_NE(std::string(ReadCheckpointMeta(other).status().message()).find("not a Tutti checkpoint"),
            std::string::npos);

  // A checkpoint of another model (latent 64) cannot be loaded into this one, and the trainer is unchanged.
  auto small = SmallTrainer(64);
  std::string foreign = CheckpointPath(dir_, 5);
  ASSERT_TRUE(SaveCheckpoint(foreign, *small, CheckpointMeta{}).ok());
  auto before = trainer->generator()->parameters()[0].clone();
  auto mismatch = LoadCheckpoint(foreign, trainer.get());
  EXPECT_FALSE(mismatch.ok());
  EXPECT_NE(std::string(mismatch.status().message()).find("ckpt-00000005.tutti"), std::string::npos)
      << mismatch.status();
  EXPECT_TRUE(torch::equal(before, trainer->generator()->parameters()[0]));
}

TEST_F(CheckpointTest, PruneKeepsTheNewest) {
  auto trainer = SmallTrainer();
  for (int64_t step : {100, 200, 300, 400}) {
    ASSERT_TRUE(SaveCheckpoint(CheckpointPath(dir_, step), *trainer, CheckpointMeta{}).ok());
  }
  ASSERT_TRUE(PruneCheckpoints(dir_, 2).ok());
  StatusOr<std::vector<std::string>> left = ListCheckpoints(dir_);
  ASSERT_TRUE(left.ok()) << left.status();
  ASSERT_EQ(left->size(), 2u);
  EXPECT_NE((*left)[0].find("ckpt-00000300"), std::string::npos);
  EXPECT_FALSE(fs::exists(CheckpointPath(dir_, 100) + ".sha256"));
}

// A missing directory holds no checkpoints; one that cannot be read is an error naming it, never "none"
// (a re-queued trial would otherwise restart from step 0). As root, chmod 000 does not stop reading, so
// the unreadable directory here is a path whose last component is a regular file (ENOTDIR).
TEST_F(CheckpointTest, ListingAnUnreadableDirectoryIsAnErrorNamingIt) {
  StatusOr<std::vector<std::string>> none = ListCheckpoints(dir_ + "/never-created");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());

  ASSERT_TRUE(CreateDirectories(dir_).ok());
  const std::string file = dir_ + "/checkpoints";
  ASSERT_TRUE(WriteFileAtomically(file, "not a directory").ok());
  for (const std::string& dir : {file, file + "/below"}) {
    StatusOr<std::vector<std::string>> listed = ListCheckpoints(dir);
    EXPECT_EQ(listed.status().code(), absl::StatusCode::kFailedPrecondition) << listed.status();
    EXPECT_NE(std::string(listed.status().message()).find(dir + ": cannot list the checkpoint directory"),
              std::string::npos)
        << listed.status();
    Status pruned = PruneCheckpoints(dir, 1);
    EXPECT_EQ(pruned.code(), absl::StatusCode::kFailedPrecondition) << pruned;
  }
}

// The bytes forms: what a data-parallel rank restores from rank 0's broadcast. Same checks, same messages
// (with the given name), nothing written.
TEST_F(CheckpointTest, LoadFromBytesRestoresTheSameStateAndNamesTheSource) {
  auto trainer = SmallTrainer();
  ASSERT_TRUE(trainer->Step(RealBatch()).ok());
  CheckpointMeta meta;
  meta.step = trainer->step();
  meta.loader_batch_in_epoch = 3;
  meta.config_yaml = "name: bytes\n";
  const std::string path = CheckpointPath(dir_, meta.step);
  ASSERT_TRUE(SaveCheckpoint(path, *trainer, meta).ok());
  const std::string bytes = *ReadFileToString(path);

  StatusOr<CheckpointMeta> read = ReadCheckpointMetaFromBytes(bytes, "rank 0's " + path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->step, 1);
  EXPECT_EQ(read->config_yaml, "name: bytes\n");
  EXPECT_EQ(read->payload_offset + read->payload_bytes, bytes.size());

  auto from_file = SmallTrainer(128, /*seed=*/41);
  auto from_bytes = SmallTrainer(128, /*seed=*/42);
  ASSERT_TRUE(LoadCheckpoint(path, from_file.get()).ok());
  StatusOr<CheckpointMeta> loaded = LoadCheckpointFromBytes(bytes, path, from_bytes.get());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->loader_batch_in_epoch, 3);
  EXPECT_EQ(from_bytes->step(), 1);
  auto a = from_file->generator()->named_parameters(), b = from_bytes->generator()->named_parameters();
  for (const auto& item : a) EXPECT_TRUE(torch::equal(item.value(), b[item.key()])) << item.key();
  auto da = from_file->discriminator()->named_parameters(), db = from_bytes->discriminator()->named_parameters();
  for (const auto& item : da) EXPECT_TRUE(torch::equal(item.value(), db[item.key()])) << item.key();
  // Both continue identically (optimiser state and random stream restored too).
  StatusOr<StepMetrics> ma = from_file->Step(RealBatch()), mb = from_bytes->Step(RealBatch());
  ASSERT_TRUE(ma.ok() && mb.ok());
  EXPECT_EQ(ma->d_loss, mb->d_loss);
  EXPECT_EQ(ma->g_loss, mb->g_loss);

  std::string corrupt = bytes;
  corrupt[corrupt.size() - 50] ^= 0x10;
  StatusOr<CheckpointMeta> bad = LoadCheckpointFromBytes(corrupt, "broadcast of " + path, from_bytes.get());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss) << bad.status();
  EXPECT_NE(std::string(bad.status().message()).find("broadcast of " + path + ": corrupted checkpoint"),
            std::string::npos)
      << bad.status();
  bad = LoadCheckpointFromBytes(bytes.substr(0, 30), "short", from_bytes.get());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss) << bad.status();
  auto small = SmallTrainer(64);
  bad = LoadCheckpointFromBytes(bytes, "foreign.tutti", small.get());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kFailedPrecondition) << bad.status();
  EXPECT_NE(std::string(bad.status().message()).find("foreign.tutti: "), std::string::npos) << bad.status();
  // Nothing was written beside the original.
  StatusOr<std::vector<std::string>> listed = ListCheckpoints(dir_);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(*listed, std::vector<std::string>{path});
}

}  // namespace
}  // namespace tutti
