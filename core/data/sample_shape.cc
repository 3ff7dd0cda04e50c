#include "core/data/sample_shape.h"

#include <array>
#include <cstring>

namespace tutti {
namespace {

// kUnpackTable[b] holds the 8 dense cells of packed byte b, in memory order (cell 0 first). Stored as
// bytes, not as a uint64 literal, so the result does not depend on the host's endianness.
struct UnpackTable {
  std::array<std::array<uint8_t, 8>, 256> rows{};
  constexpr UnpackTable() {
    for (int b = 0; b < 256; ++b) {
      for (int bit = 0; bit < 8; ++bit) rows[b][bit] = static_cast<uint8_t>((b >> bit) & 1);
    }
  }
};
constexpr UnpackTable kUnpackTable;

}  // namespace

std::string SampleShape::ToString() const { return absl::StrCat("(", tracks, ", ", steps, ", ", pitches, ")"); }

Status ValidateShape(const SampleShape& shape) {
  auto ok = [](int32_t d) { return d >= 1 && d <= kMaxSampleDim; };
  if (!ok(shape.tracks) || !ok(shape.steps) || !ok(shape.pitches)) {
    return absl::InvalidArgumentError(absl::StrCat("sample shape ", shape.ToString(),
                                                   ": every dimension must be in [1, ", kMaxSampleDim, "]"));
  }
  return absl::OkStatus();
}

void PackCells(const uint8_t* dense, int64_t cells, uint8_t* packed) {
  const int64_t full = cells / 8;
  for (int64_t i = 0; i < full; ++i) {
    const uint8_t* d = dense + 8 * i;
    // Written out so the compiler turns it into branch-free code.
    packed[i] = static_cast<uint8_t>((d[0] != 0) | (d[1] != 0) << 1 | (d[2] != 0) << 2 | (d[3] != 0) << 3 |
                                     (d[4] != 0) << 4 | (d[5] != 0) << 5 | (d[6] != 0) << 6 |
                                     (d[7] != 0) << 7);
  }
  const int64_t rest = cells - 8 * full;
  if (rest > 0) {
    uint8_t last = 0;
    for (int64_t bit = 0; bit < rest; ++bit) last |= static_cast<uint8_t>((dense[8 * full + bit] != 0) << bit);
    packed[full] = last;
  }
}

void UnpackCells(const uint8_t* packed, int64_t cells, uint8_t* dense) {
  const int64_t full = cells / 8;
  for (int64_t i = 0; i < full; ++i) std::memcpy(dense + 8 * i, kUnpackTable.rows[packed[i]].data(), 8);
  const int64_t rest = cells - 8 * full;
  if (rest > 0) std::memcpy(dense + 8 * full, kUnpackTable.rows[packed[full]].data(), static_cast<size_t>(rest));
}

int64_t FirstNonBinaryCell(const uint8_t* dense, int64_t cells) {
  // Fast path: OR every byte (vectorises); only search when something above bit 0 is set.
  uint8_t acc = 0;
  for (int64_t i = 0; i < cells; ++i) acc |= dense[i];
  if ((acc & 0xFE) == 0) return -1;
  for (int64_t i = 0; i < cells; ++i) {
    if (dense[i] > 1) return i;
  }
  return -1;
}

}  // namespace tutti
