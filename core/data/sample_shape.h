#pragma once
// The shape of one training sample and the bit packing used on disk.
//
// Dense layout (everywhere in memory): one uint8 per cell, 0 or 1, row-major over (track, step, pitch):
//   index = ((track * steps) + step) * pitches + pitch
// Packed layout (in shards): cell i is bit (i % 8) of byte (i / 8), least significant bit first, exactly
// numpy.packbits(dense.reshape(-1), bitorder="little"). Unused bits of the last byte are zero.
//
// All functions here are pure and thread-safe.

#include <cstdint>
#include <string>

#include "core/base/status.h"

namespace tutti {

struct SampleShape {
  int32_t tracks = 5;    // LPD-5: drums, piano, guitar, bass, strings
  int32_t steps = 64;    // 4 bars x 16 steps (beat resolution 4)
  int32_t pitches = 72;  // MIDI 24..95

  int64_t cells() const { return int64_t{tracks} * steps * pitches; }
  // Bytes of one bit-packed sample: ceil(cells / 8).
  int64_t packed_bytes() const { return (cells() + 7) / 8; }
  int64_t CellIndex(int32_t track, int32_t step, int32_t pitch) const {
    return (int64_t{track} * steps + step) * pitches + pitch;
  }
  // "(5, 64, 72)".
  std::string ToString() const;

  friend bool operator==(const SampleShape& a, const SampleShape& b) {
    return a.tracks == b.tracks && a.steps == b.steps && a.pitches == b.pitches;
  }
  friend bool operator!=(const SampleShape& a, const SampleShape& b) { return !(a == b); }
};

// Largest dimension accepted anywhere (keeps cells() far from overflow and rejects garbage headers).
inline constexpr int32_t kMaxSampleDim = 1 << 16;

// OK when every dimension is in [1, kMaxSampleDim]; InvalidArgument naming the shape otherwise.
Status ValidateShape(const SampleShape& shape);

// Packs `cells` dense cells (each 0 or 1; any non-zero value counts as 1) into ceil(cells / 8) bytes.
// `dense` and `packed` must not overlap.
void PackCells(const uint8_t* dense, int64_t cells, uint8_t* packed);

// Inverse of PackCells: writes exactly `cells` bytes of 0/1 to `dense` (8 cells per table lookup).
void UnpackCells(const uint8_t* packed, int64_t cells, uint8_t* dense);

// Index of the first cell whose value is neither 0 nor 1, or -1 when all are binary.
int64_t FirstNonBinaryCell(const uint8_t* dense, int64_t cells);

}  // namespace tutti
