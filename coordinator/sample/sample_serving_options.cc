#include "coordinator/sample/sample_serving_options.h"

#include <cctype>

namespace tutti::coord {
namespace {

bool IsDeviceString(const std::string& device) {
  if (device == "cpu" || device == "cuda" || device == "auto") return true;
  const std::string prefix = "cuda:";
  if (device.size() <= prefix.size() || device.compare(0, prefix.size(), prefix) != 0) return false;
  for (size_t i = prefix.size(); i < device.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(device[i]))) return false;
  }
  return true;
}

}  // namespace

Status ValidateSampleServingOptions(const SampleServingOptions& options) {
  if (options.max_batch_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_batch_size: expected at least 1 sample, got ", options.max_batch_size));
  }
  if (!(options.max_queue_delay_ms >= 0 && options.max_queue_delay_ms <= 60'000)) {
    return absl::InvalidArgumentError(absl::StrCat("max_queue_delay_ms: expected 0..60000 milliseconds, got ",
                                                   options.max_queue_delay_ms));
  }
  if (!(options.default_deadline_s > 0 && options.default_deadline_s <= 86'400)) {
    return absl::InvalidArgumentError(absl::StrCat("default_deadline_s: expected more than 0 and at most 86400 "
                                                   "seconds, got ", options.default_deadline_s));
  }
  if (options.cache_bytes < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("cache_bytes: expected at least 1 byte, got ", options.cache_bytes));
  }
  if (!IsDeviceString(options.device)) {
    return absl::InvalidArgumentError(
        absl::StrCat("device: expected cpu, cuda, cuda:N or auto, got \"", options.device, "\""));
  }
  if (options.batch_threads < 1 || options.batch_threads > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_threads: expected 1..64, got ", options.batch_threads));
  }
  return absl::OkStatus();
}

}  // namespace tutti::coord
