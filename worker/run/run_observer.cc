#include "worker/run/run_observer.h"

#include <cmath>
#include <set>

namespace tutti {
namespace {

std::string Join(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

// The key component of each element of `array`: its "name" when every element is an object with a
// distinct, non-empty string name (a track list), its index otherwise. All or nothing, so one array never
// mixes the two forms.
std::vector<std::string> ArrayKeys(const nlohmann::json& array) {
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const nlohmann::json& element : array) {
    if (!element.is_object()) break;
    const auto name = element.find("name");
    if (name == element.end() || !name->is_string() || name->get_ref<const std::string&>().empty() ||
        !seen.insert(name->get<std::string>()).second) {
      break;
    }
    names.push_back(name->get<std::string>());
  }
  if (names.size() == array.size()) return names;
  std::vector<std::string> indices;
  for (size_t i = 0; i < array.size(); ++i) indices.push_back(std::to_string(i));
  return indices;
}

void Flatten(const nlohmann::json& value, const std::string& prefix, std::map<std::string, double>* out) {
  switch (value.type()) {
    case nlohmann::json::value_t::object:
      for (const auto& [key, item] : value.items()) Flatten(item, Join(prefix, key), out);
      return;
    case nlohmann::json::value_t::array: {
      const std::vector<std::string> keys = ArrayKeys(value);
      for (size_t i = 0; i < value.size(); ++i) Flatten(value[i], Join(prefix, keys[i]), out);
      return;
    }
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float:
      if (!prefix.empty()) (*out)[prefix] = value.get<double>();
      return;
    case nlohmann::json::value_t::boolean:
      if (!prefix.empty()) (*out)[prefix] = value.get<bool>() ? 1.0 : 0.0;
      return;
    case nlohmann::json::value_t::null:
      if (!prefix.empty()) (*out)[prefix] = std::nan("");
      return;
    default:  // strings, binary, discarded: not metrics
      return;
  }
}

}  // namespace

const char* StopReasonName(StopReason reason) {
  switch (reason) {
    case StopReason::kNotStopped: return "not stopped";
    case StopReason::kCompleted: return "completed";
    case StopReason::kTimeLimit: return "time limit";
    case StopReason::kInterrupted: return "interrupted";
    case StopReason::kByCoordinator: return "stopped by the coordinator";
    case StopReason::kPruned: return "pruned";
    case StopReason::kFailed: return "failed";
  }
  return "?";
}

nlohmann::json StepReport::ToJson() const {
  nlohmann::json line = {{"step", step},
                         {"d_loss", d_loss},
                         {"g_loss", g_loss},
                         {"gradient_penalty", gradient_penalty},
                         {"wasserstein", wasserstein},
                         {"d_grad_norm", d_grad_norm},
                         {"g_grad_norm", g_grad_norm},
                         {"steps_per_s", steps_per_s},
                         {"elapsed_s", elapsed_s}};
  if (data_parallel) {
    line["comm_s"] = comm_s;
    line["comm_share"] = comm_share;
  }
  return line;
}

std::map<std::string, double> FlattenMetrics(const nlohmann::json& value, const std::string& prefix) {
  std::map<std::string, double> out;
  Flatten(value, prefix, &out);
  return out;
}

}  // namespace tutti
