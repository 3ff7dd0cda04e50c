#pragma once
// Which part of an index space a rank owns. Pure functions; thread-safe.

#include <cstdint>

namespace tutti {

// Half-open range [begin, end) of indices.
struct IndexRange {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
  friend bool operator==(const IndexRange& a, const IndexRange& b) { return a.begin == b.begin && a.end == b.end; }
};

// The contiguous slice of [0, total) owned by `rank` of `world_size` ranks. Slices are disjoint and in
// rank order (rank r's slice ends where rank r+1's begins).
//   equal_sizes = false: the slices cover [0, total) exactly; sizes differ by at most 1 (the first
//                        total % world_size ranks get one more). Ranks may get an empty slice when
//                        total < world_size.
//   equal_sizes = true:  every rank gets exactly floor(total / world_size) indices, so all ranks run the
//                        same number of steps; the last total % world_size indices belong to no rank.
// Preconditions (abort with a message otherwise): total >= 0, world_size >= 1, 0 <= rank < world_size.
IndexRange RankSlice(int64_t total, int rank, int world_size, bool equal_sizes);

}  // namespace tutti
