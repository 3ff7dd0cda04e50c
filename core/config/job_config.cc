#include "core/config/job_config.h"

#include <algorithm>
#include <iterator>
#include <string>

#include "absl/strings/str_cat.h"

namespace tutti {

int Lpd5TrackIndex(const std::string& name) {
  for (int i = 0; i < static_cast<int>(std::size(kConditionTrackNames)); ++i) {
    if (name == kConditionTrackNames[i]) return i;
  }
  return -1;
}

int ConditionTrackIndex(const ModelConfig& model) { return Lpd5TrackIndex(model.condition_track); }

StatusOr<std::vector<int64_t>> TrackIndices(const std::vector<std::string>& entries, int64_t tracks,
                                            const std::string& key) {
  std::vector<int64_t> indices;
  for (const std::string& entry : entries) {
    int64_t index = Lpd5TrackIndex(entry);
    if (index < 0 && !entry.empty() && entry.size() < 10 &&
        entry.find_first_not_of("0123456789") == std::string::npos) {
      index = std::stoll(entry);
    }
    if (index < 0 || index >= tracks) {
      return absl::InvalidArgumentError(absl::StrCat(
          key, ": expected track names (drums, piano, guitar, bass, strings) or indices in [0, ", tracks,
          "), got \"", entry, "\""));
    }
    if (std::find(indices.begin(), indices.end(), index) != indices.end()) {
      return absl::InvalidArgumentError(absl::StrCat(key, ": track ", index, " is listed twice (\"", entry, "\")"));
    }
    indices.push_back(index);
  }
  std::sort(indices.begin(), indices.end());
  return indices;
}

StatusOr<std::vector<int64_t>> HeldTrackIndices(const ModelConfig& model) {
  return TrackIndices(model.held_tracks, model.tracks, "model.held_tracks");
}

StatusOr<std::vector<int64_t>> HarmonyTrackIndices(const ModelConfig& model) {
  return TrackIndices(model.harmony_tracks, model.tracks, "model.harmony_tracks");
}

StatusOr<std::vector<int64_t>> HeldReleaseTrackIndices(const ModelConfig& model) {
  return TrackIndices(model.held_release_tracks, model.tracks, "model.held_release_tracks");
}

StatusOr<std::vector<int64_t>> HeldReleaseLateTrackIndices(const ModelConfig& model) {
  return TrackIndices(model.held_release_late_tracks, model.tracks, "model.held_release_late_tracks");
}

StatusOr<std::vector<int64_t>> HarmonyRootTrackIndices(const ModelConfig& model) {
  return TrackIndices(model.harmony_root_tracks, model.tracks, "model.harmony_root_tracks");
}

std::string ResolveUnderOutputDir(const JobConfig& config, const std::string& path) {
  if (path.empty() || path[0] == '/' || config.output_dir.empty()) return path;
  if (config.output_dir.back() == '/') return config.output_dir + path;
  return config.output_dir + "/" + path;
}

}  // namespace tutti
