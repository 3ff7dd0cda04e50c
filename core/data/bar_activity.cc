#include "core/data/bar_activity.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace tutti {

StatusOr<std::vector<uint8_t>> SpreadBarActivity(const std::vector<std::shared_ptr<const PackReader>>& packs,
                                                 Split split, int32_t steps_per_bar, int64_t count) {
  if (packs.empty()) return absl::InvalidArgumentError("SpreadBarActivity: no packs");
  if (count < 1) return absl::InvalidArgumentError(absl::StrCat("SpreadBarActivity: count must be >= 1, got ", count));
  const SampleShape shape = packs.front()->shape();
  int64_t total = 0;
  std::string names;
  for (const std::shared_ptr<const PackReader>& pack : packs) {
    if (pack->shape() != shape) {
      return absl::InvalidArgumentError(absl::StrCat("SpreadBarActivity: ", pack->pack_dir(), " has samples ",
                                                     pack->shape().ToString(), ", ", packs.front()->pack_dir(),
                                                     " has ", shape.ToString()));
    }
    total += pack->size(split);
    names += (names.empty() ? "" : ", ") + pack->pack_dir();
  }
  if (steps_per_bar < 1 || shape.steps % steps_per_bar != 0) {
    return absl::InvalidArgumentError(absl::StrCat("SpreadBarActivity: ", steps_per_bar, " steps per bar do not divide",
                                                   " the samples' ", shape.steps, " steps"));
  }
  if (total == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("SpreadBarActivity: no ", SplitName(split), " samples in ", names));
  }
  const int32_t bars = shape.steps / steps_per_bar;
  const int64_t bar_cells = int64_t{steps_per_bar} * shape.pitches;
  std::vector<uint8_t> activity(static_cast<size_t>(count * shape.tracks * bars));
  std::vector<uint8_t> dense(static_cast<size_t>(shape.cells()));
  for (int64_t r = 0; r < count; ++r) {
    // The middle of the r-th of `count` equal stretches of the index space, found in its pack.
    int64_t index = static_cast<int64_t>((static_cast<double>(r) + 0.5) * static_cast<double>(total) /
                                         static_cast<double>(count));
    size_t p = 0;
    while (index >= packs[p]->size(split)) index -= packs[p++]->size(split);
    packs[p]->CopySample(split, index, dense.data());
    for (int32_t track = 0; track < shape.tracks; ++track) {
      for (int32_t bar = 0; bar < bars; ++bar) {
        const uint8_t* cell = dense.data() + shape.CellIndex(track, bar * steps_per_bar, 0);
        uint8_t plays = 0;
        for (int64_t i = 0; i < bar_cells && !plays; ++i) plays = cell[i];
        activity[static_cast<size_t>((r * shape.tracks + track) * bars + bar)] = plays ? 1 : 0;
      }
    }
  }
  return activity;
}

}  // namespace tutti
