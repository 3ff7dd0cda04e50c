// Fuzz target: ParseExperimentConfig (job keys plus hyperparameters, searcher, early stopping, resources,
// and the cross-field validation that builds a searcher). A parsed experiment must print
// (ExperimentConfigToYaml) as YAML that parses again, as the header promises.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/config/experiment_config_yaml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  tutti::StatusOr<tutti::ExperimentConfig> config = tutti::ParseExperimentConfig(text, "fuzz.yaml");
  if (!config.ok()) return 0;
  std::string printed = tutti::ExperimentConfigToYaml(*config);
  tutti::StatusOr<tutti::ExperimentConfig> again = tutti::ParseExperimentConfig(printed, "printed.yaml");
  if (!again.ok()) {
    std::fprintf(stderr, "printed experiment does not parse: %s\n%s\n",
                 std::string(again.status().message()).c_str(), printed.c_str());
    std::abort();
  }
  return 0;
}
