#include "core/data/sample_shape.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "core/data/shard_format.h"

namespace tutti {
namespace {

TEST(SampleShapeTest, DefaultShapeSizes) {
  SampleShape shape;
  EXPECT_EQ(shape.cells(), 5 * 64 * 72);
  EXPECT_EQ(shape.packed_bytes(), 2880);
  EXPECT_EQ(shape.CellIndex(1, 2, 3), (1 * 64 + 2) * 72 + 3);
  EXPECT_EQ(shape.ToString(), "(5, 64, 72)");
  EXPECT_TRUE(ValidateShape(shape).ok());
  EXPECT_FALSE(ValidateShape(SampleShape{0, 64, 72}).ok());
  EXPECT_FALSE(ValidateShape(SampleShape{5, -1, 72}).ok());
  EXPECT_FALSE(ValidateShape(SampleShape{5, 64, kMaxSampleDim + 1}).ok());
}

// numpy.packbits(x, bitorder="little"): cell i -> byte i / 8, bit i % 8.
TEST(SampleShapeTest, PackMatchesNumpyLittleBitOrder) {
  std::vector<uint8_t> dense = {1, 0, 0, 0, 0, 0, 0, 0,  /**/ 0, 1, 1, 0, 0, 0, 0, 1,  /**/ 1, 1, 0};
  std::vector<uint8_t> packed(3, 0xAA);
  PackCells(dense.data(), static_cast<int64_t>(dense.size()), packed.data());
  EXPECT_EQ(packed[0], 0x01);
  EXPECT_EQ(packed[1], 0x86);
  EXPECT_EQ(packed[2], 0x03);  // unused high bits are zero
}

TEST(SampleShapeTest, RoundTripRandomAllLengths) {
  std::mt19937 rng(7);
  for (int64_t cells : {1, 7, 8, 9, 63, 64, 65, 1000, 23040}) {
    std::vector<uint8_t> dense(static_cast<size_t>(cells));
    for (auto& c : dense) c = static_cast<uint8_t>(rng() & 1);
    std::vector<uint8_t> packed(static_cast<size_t>((cells + 7) / 8));
    PackCells(dense.data(), cells, packed.data());
    std::vector<uint8_t> back(static_cast<size_t>(cells) + 8, 0xEE);
    UnpackCells(packed.data(), cells, back.data());
    for (int64_t i = 0; i < cells; ++i) ASSERT_EQ(back[i], dense[i]) << "cells=" << cells << " i=" << i;
    EXPECT_EQ(back[static_cast<size_t>(cells)], 0xEE) << "wrote past the end for cells=" << cells;
  }
}

TEST(SampleShapeTest, NonZeroPacksAsOne) {
  std::vector<uint8_t> dense = {0, 2, 255, 0, 0, 0, 0, 0};
  uint8_t packed = 0;
  PackCells(dense.data(), 8, &packed);
  EXPECT_EQ(packed, 0x06);
}

TEST(SampleShapeTest, FirstNonBinaryCell) {
  std::vector<uint8_t> dense(100, 1);
  EXPECT_EQ(FirstNonBinaryCell(dense.data(), 100), -1);
  dense[42] = 100;
  dense[77] = 2;
  EXPECT_EQ(FirstNonBinaryCell(dense.data(), 100), 42);
}

// The bytes docs/pack_format.md shows (computed there independently, from the table, with Python's hashlib).
TEST(ShardFormatTest, GoldenHeaderMatchesDoc) {
  ShardHeader header;
  header.sample_count = 4096;
  auto bytes = EncodeShardHeader(header);
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (uint8_t b : bytes) {
    hex.push_back(kHex[b >> 4]);
    hex.push_back(kHex[b & 15]);
  }
  EXPECT_EQ(hex,
            "5455545449534844010000004000000005000000400000004800000000000000"
            "0010000000000000400b0000000000000000000000000000000000003fbd1583");
}

TEST(ShardFormatTest, HeaderRoundTripAndCorruption) {
  ShardHeader header;
  header.shape = SampleShape{5, 64, 72};
  header.sample_count = 4096;
  header.split = Split::kHeldout;
  header.shard_index = 3;
  auto bytes = EncodeShardHeader(header);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(bytes.data()), 8), "TUTTISHD");
  EXPECT_EQ(bytes[32], 0x00);  // 4096 = 0x1000 little-endian
  EXPECT_EQ(bytes[33], 0x10);
  StatusOr<ShardHeader> back = DecodeShardHeader(bytes.data(), bytes.size());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->shape, header.shape);
  EXPECT_EQ(back->sample_count, 4096u);
  EXPECT_EQ(back->split, Split::kHeldout);
  EXPECT_EQ(back->shard_index, 3u);
  EXPECT_EQ(back->file_bytes(), 64u + 4096u * 2880u);
  EXPECT_EQ(ShardFileName(Split::kHeldout, 3), "heldout-00003.shard");

  auto flipped = bytes;
  flipped[33] ^= 0x01;
  StatusOr<ShardHeader> bad = DecodeShardHeader(flipped.data(), flipped.size());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(bad.status().message().find("checksum"), absl::string_view::npos) << bad.status();

  auto magic = bytes;
  magic[0] = 'X';
  EXPECT_NE(DecodeShardHeader(magic.data(), magic.size()).status().message().find("not a shard"),
            absl::string_view::npos);
  EXPECT_EQ(DecodeShardHeader(bytes.data(), 10).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace tutti
