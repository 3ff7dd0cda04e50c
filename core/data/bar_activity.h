#pragma once
// Which tracks play in which bars of the training data: the arrangements GeneratorOptions::rest_plans samples
// from (core/model/rest_plans.h). Torch-free.

#include <cstdint>
#include <memory>
#include <vector>

#include "core/base/status.h"
#include "core/data/pack_reader.h"

namespace tutti {

// `count` samples spread evenly over the packs' `split`, concatenated in the order given: sample
// floor((r + 0.5) * total / count) for r = 0..count-1, so every part of every pack (songs are stored in order) is
// represented and no random numbers are drawn. Returns count * tracks * bars bytes, row-major over (r, track, bar):
// 1 when the track has any note in that bar, else 0. Samples repeat when the split holds fewer than `count`.
// InvalidArgument when there are no packs, their shapes differ, `steps_per_bar` does not divide the steps or
// `count` < 1; FailedPrecondition when the split holds no samples (naming the packs).
StatusOr<std::vector<uint8_t>> SpreadBarActivity(const std::vector<std::shared_ptr<const PackReader>>& packs,
                                                 Split split, int32_t steps_per_bar, int64_t count);

}  // namespace tutti
