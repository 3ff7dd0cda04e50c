#include "core/base/allocator_tuning.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace tutti {

void KeepFreedMemoryForReuse() {
#if defined(__GLIBC__)
  // Both calls only tune; a refusal (a libc that caps the values lower) leaves the defaults, which work.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

}  // namespace tutti
