#include "core/data/shard_assignment.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace tutti {

IndexRange RankSlice(int64_t total, int rank, int world_size, bool equal_sizes) {
  if (total < 0 || world_size < 1 || rank < 0 || rank >= world_size) {
    std::fprintf(stderr, "RankSlice: invalid arguments total=%lld rank=%d world_size=%d\n",
                 static_cast<long long>(total), rank, world_size);
    std::abort();
  }
  const int64_t base = total / world_size;
  if (equal_sizes) return IndexRange{rank * base, (rank + 1) * base};
  const int64_t extra = total % world_size;  // ranks [0, extra) get base + 1
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return IndexRange{begin, begin + base + (rank < extra ? 1 : 0)};
}

}  // namespace tutti
