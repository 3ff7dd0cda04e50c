// SpreadBarActivity on real packs written to a temp directory.

#include "core/data/bar_activity.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/data/data_test_util.h"
#include "core/data/pack_writer.h"

namespace tutti {
namespace {

using ::testing::HasSubstr;

const SampleShape kShape{2, 8, 12};  // 2 tracks, 2 bars of 4 steps

// Sample i: track 0 rests in bar 0 when i is even; track 1 rests in bar 1 when i is a multiple of 3. Every playing
// bar holds a single note, at a place that moves with i, so a reader that looks at one cell only would miss some.
std::vector<uint8_t> ArrangedSample(int64_t i) {
  std::vector<uint8_t> cells(static_cast<size_t>(kShape.cells()), 0);
  for (int32_t track = 0; track < 2; ++track) {
    for (int32_t bar = 0; bar < 2; ++bar) {
      const bool rests = (track == 0 && bar == 0 && i % 2 == 0) || (track == 1 && bar == 1 && i % 3 == 0);
      if (!rests) cells[static_cast<size_t>(kShape.CellIndex(track, bar * 4 + i % 4, (5 * i) % 12))] = 1;
    }
  }
  return cells;
}

std::vector<uint8_t> Expected(int64_t i) {
  return {static_cast<uint8_t>(i % 2 != 0), 1, 1, static_cast<uint8_t>(i % 3 != 0)};
}

Status WriteArrangedPack(const std::string& dir, int64_t first, int64_t train) {
  PackWriterOptions options;
  options.genre = "rock";
  options.shape = kShape;
  options.samples_per_shard = 4;
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<PackWriter> writer, PackWriter::Create(dir, options));
  for (int64_t i = first; i < first + train; ++i) {
    TUTTI_RETURN_IF_ERROR(writer->Add(Split::kTrain, ArrangedSample(i).data()));
  }
  TUTTI_RETURN_IF_ERROR(writer->Add(Split::kHeldout, ArrangedSample(0).data()));
  std::vector<PackSong> songs{testing::TestSong(1, 1, Split::kHeldout)};
  if (train > 0) songs.push_back(testing::TestSong(0, static_cast<int32_t>(train), Split::kTrain));
  return writer->Finish(std::move(songs), {}, {});
}

std::shared_ptr<const PackReader> Open(const std::string& dir) {
  StatusOr<std::unique_ptr<PackReader>> reader = PackReader::Open(dir);
  EXPECT_TRUE(reader.ok()) << reader.status();
  return reader.ok() ? std::shared_ptr<const PackReader>(std::move(*reader)) : nullptr;
}

TEST(BarActivityTest, SpreadsOverEveryPackAndReadsEachBar) {
  testing::TempDir dir;
  // Samples 0..9 in the first pack, 10..15 in the second: index 12 of the concatenation is the second's third.
  ASSERT_TRUE(WriteArrangedPack(dir / "a", 0, 10).ok());
  ASSERT_TRUE(WriteArrangedPack(dir / "b", 10, 6).ok());
  const std::vector<std::shared_ptr<const PackReader>> packs{Open(dir / "a"), Open(dir / "b")};
  ASSERT_TRUE(packs[0] && packs[1]);

  // 16 samples, 16 rows: every sample once, in order.
  StatusOr<std::vector<uint8_t>> all = SpreadBarActivity(packs, Split::kTrain, 4, 16);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 16u * 4);
  for (int64_t i = 0; i < 16; ++i) {
    EXPECT_EQ(std::vector<uint8_t>(all->begin() + i * 4, all->begin() + (i + 1) * 4), Expected(i)) << "sample " << i;
  }
  // 4 rows: the middles of four stretches of 4, samples 2, 6, 10 and 14.
  StatusOr<std::vector<uint8_t>> four = SpreadBarActivity(packs, Split::kTrain, 4, 4);
  ASSERT_TRUE(four.ok()) << four.status();
  const int64_t picked[] = {2, 6, 10, 14};
  for (int64_t r = 0; r < 4; ++r) {
    EXPECT_EQ(std::vector<uint8_t>(four->begin() + r * 4, four->begin() + (r + 1) * 4), Expected(picked[r]))
        << "row " << r;
  }
  // More rows than samples: each sample repeats, none is skipped.
  StatusOr<std::vector<uint8_t>> many = SpreadBarActivity(packs, Split::kTrain, 4, 32);
  ASSERT_TRUE(many.ok()) << many.status();
  for (int64_t r = 0; r < 32; ++r) {
    EXPECT_EQ(std::vector<uint8_t>(many->begin() + r * 4, many->begin() + (r + 1) * 4), Expected(r / 2)) << "row " << r;
  }
  // Bars of 8 steps: one bar per sample, resting only when both halves rest (never here).
  StatusOr<std::vector<uint8_t>> whole = SpreadBarActivity(packs, Split::kTrain, 8, 16);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(*whole, std::vector<uint8_t>(32, 1));
}

TEST(BarActivityTest, RefusesBadArgumentsByName) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteArrangedPack(dir / "a", 0, 4).ok());
  ASSERT_TRUE(WriteArrangedPack(dir / "empty", 0, 0).ok());
  const std::shared_ptr<const PackReader> a = Open(dir / "a"), empty = Open(dir / "empty");
  ASSERT_TRUE(a && empty);
  EXPECT_THAT(SpreadBarActivity({}, Split::kTrain, 4, 8).status().message(), HasSubstr("no packs"));
  EXPECT_THAT(SpreadBarActivity({a}, Split::kTrain, 3, 8).status().message(),
              HasSubstr("3 steps per bar do not divide the samples' 8 steps"));
  EXPECT_THAT(SpreadBarActivity({a}, Split::kTrain, 4, 0).status().message(), HasSubstr("count must be >= 1"));
  const Status none = SpreadBarActivity({empty}, Split::kTrain, 4, 8).status();
  EXPECT_EQ(none.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(none.message(), HasSubstr("no train samples in " + dir / "empty"));

  ASSERT_TRUE(testing::WriteTestPack(dir / "other", "rock", 1, 2, 0, 4, SampleShape{2, 16, 12}).ok());
  const std::shared_ptr<const PackReader> other = Open(dir / "other");
  ASSERT_TRUE(other);
  EXPECT_THAT(SpreadBarActivity({a, other}, Split::kTrain, 4, 8).status().message(),
              HasSubstr("has samples (2, 16, 12)"));
}

}  // namespace
}  // namespace tutti
