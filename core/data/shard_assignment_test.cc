#include "core/data/shard_assignment.h"

#include <gtest/gtest.h>

#include <vector>

namespace tutti {
namespace {

TEST(RankSliceTest, DisjointCoveringBalanced) {
  for (int world = 1; world <= 8; ++world) {
    for (int64_t total : {0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 100, 1001}) {
      std::vector<int> owner(static_cast<size_t>(total), -1);
      int64_t min_size = total, max_size = 0, expected_begin = 0;
      for (int rank = 0; rank < world; ++rank) {
        IndexRange r = RankSlice(total, rank, world, /*equal_sizes=*/false);
        EXPECT_EQ(r.begin, expected_begin) << "contiguous, in rank order";
        expected_begin = r.end;
        min_size = std::min(min_size, r.size());
        max_size = std::max(max_size, r.size());
        for (int64_t i = r.begin; i < r.end; ++i) {
          ASSERT_EQ(owner[static_cast<size_t>(i)], -1) << "N=" << world << " total=" << total << " i=" << i;
          owner[static_cast<size_t>(i)] = rank;
        }
      }
      EXPECT_EQ(expected_begin, total);
      for (int64_t i = 0; i < total; ++i) EXPECT_NE(owner[static_cast<size_t>(i)], -1) << "uncovered " << i;
      EXPECT_LE(max_size - min_size, 1) << "N=" << world << " total=" << total;
    }
  }
}

TEST(RankSliceTest, EqualSizes) {
  for (int world = 1; world <= 8; ++world) {
    for (int64_t total : {0, 1, 3, 7, 8, 9, 100}) {
      int64_t end = 0;
      for (int rank = 0; rank < world; ++rank) {
        IndexRange r = RankSlice(total, rank, world, /*equal_sizes=*/true);
        EXPECT_EQ(r.size(), total / world);
        EXPECT_EQ(r.begin, end);
        end = r.end;
      }
      EXPECT_EQ(end, total - total % world);
    }
  }
}

TEST(RankSliceTest, Examples) {
  EXPECT_EQ(RankSlice(10, 0, 3, false), (IndexRange{0, 4}));
  EXPECT_EQ(RankSlice(10, 1, 3, false), (IndexRange{4, 7}));
  EXPECT_EQ(RankSlice(10, 2, 3, false), (IndexRange{7, 10}));
  EXPECT_EQ(RankSlice(10, 2, 3, true), (IndexRange{6, 9}));
  EXPECT_EQ(RankSlice(2, 3, 4, false), (IndexRange{2, 2}));
}

TEST(RankSliceDeathTest, BadArgumentsAbort) {
  EXPECT_DEATH(RankSlice(10, 3, 3, false), "invalid arguments");
  EXPECT_DEATH(RankSlice(-1, 0, 1, false), "invalid arguments");
}

}  // namespace
}  // namespace tutti
