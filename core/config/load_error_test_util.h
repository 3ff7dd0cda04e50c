#pragma once
// Test helpers shared by the config tests: a YAML text in a real temp file, and the error loading it gives.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/config/job_config.h"

namespace tutti {
namespace config_test {

// A YAML text written to a fresh temp file, removed afterwards, so errors name a real path.
class TempYaml {
 public:
  explicit TempYaml(const std::string& text) {
    static int counter = 0;
    path_ = (std::filesystem::temp_directory_path() /
             ("tutti_config_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + ".yaml"))
                .string();
    std::ofstream(path_) << text;
  }
  ~TempYaml() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::string LoadError(const std::string& text, const std::vector<std::string>& overrides = {},
                              std::string* path = nullptr) {
  TempYaml file(text);
  if (path) *path = file.path();
  StatusOr<JobConfig> config = LoadJobConfig(file.path(), overrides);
  EXPECT_FALSE(config.ok()) << "expected an error for:\n" << text;
  if (config.ok()) return "";
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << config.status();
  return std::string(config.status().message());
}

}  // namespace config_test
}  // namespace tutti
