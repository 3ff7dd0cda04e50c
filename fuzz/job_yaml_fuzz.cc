// Fuzz target: ParseJobConfig (yaml-cpp, the schema walk, value conversion and range checks). Exceptions
// from yaml-cpp must be turned into Status inside the parser: one escaping here is a bug. A config that
// parses must print (JobConfigToYaml) as YAML that parses again, as the header promises.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/config/job_config_yaml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  tutti::StatusOr<tutti::JobConfig> config = tutti::ParseJobConfig(text, "fuzz.yaml");
  if (!config.ok()) return 0;
  std::string printed = tutti::JobConfigToYaml(*config);
  tutti::StatusOr<tutti::JobConfig> again = tutti::ParseJobConfig(printed, "printed.yaml");
  if (!again.ok()) {
    std::fprintf(stderr, "printed config does not parse: %s\n%s\n", std::string(again.status().message()).c_str(),
                 printed.c_str());
    std::abort();
  }
  return 0;
}
