#include "core/config/job_config.h"

#include <algorithm>
#include <iterator>
#include <string>

#include "absl/strings/str_cat.h"

namespace tutti {

int ConditionTrackIndex(const ModelConfig& model) {
  int index = 0;
  for (const char* name : kConditionTrackNames) {
    if (model.condition_track == name) return index;
    ++index;
  }
  return -1;
}

StatusOr<std::vector<int64_t>> HeldTrackIndices(const ModelConfig& model) {
  std::vector<int64_t> indices;
  for (const std::string& entry : model.held_tracks) {
    int64_t index = -1;
    for (int64_t i = 0; i < static_cast<int64_t>(std::size(kConditionTrackNames)); ++i) {
      if (entry == kConditionTrackNames[i]) index = i;
    }
    if (index < 0 && !entry.empty() && entry.size() < 10 &&
        entry.find_first_not_of("0123456789") == std::string::npos) {
      index = std::stoll(entry);
    }
    if (index < 0 || index >= model.tracks) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model.held_tracks: expected track names (drums, piano, guitar, bass, strings) or indices in [0, ",
          model.tracks, "), got \"", entry, "\""));
    }
    if (std::find(indices.begin(), indices.end(), index) != indices.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("model.held_tracks: track ", index, " is listed twice (\"", entry, "\")"));
    }
    indices.push_back(index);
  }
  std::sort(indices.begin(), indices.end());
  return indices;
}

std::string ResolveUnderOutputDir(const JobConfig& config, const std::string& path) {
  if (path.empty() || path[0] == '/' || config.output_dir.empty()) return path;
  if (config.output_dir.back() == '/') return config.output_dir + path;
  return config.output_dir + "/" + path;
}

}  // namespace tutti
