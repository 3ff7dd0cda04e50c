#include "core/config/job_config.h"

namespace tutti {

int ConditionTrackIndex(const ModelConfig& model) {
  int index = 0;
  for (const char* name : kConditionTrackNames) {
    if (model.condition_track == name) return index;
    ++index;
  }
  return -1;
}

std::string ResolveUnderOutputDir(const JobConfig& config, const std::string& path) {
  if (path.empty() || path[0] == '/' || config.output_dir.empty()) return path;
  if (config.output_dir.back() == '/') return config.output_dir + path;
  return config.output_dir + "/" + path;
}

}  // namespace tutti
