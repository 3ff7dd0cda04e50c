#include "core/config/experiment_config_yaml.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/config/coordinator_settings.h"
#include "core/config/job_config_yaml.h"

namespace tutti {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every file in configs/ parses with the parser its kind needs: the coordinator's settings, or an
// experiment (which every job file also is).
TEST(ExperimentConfigTest, EveryFileInConfigsParses) {
  int experiments = 0, settings = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(TUTTI_SOURCE_DIR) / "configs")) {
    if (entry.path().extension() != ".yaml") continue;
    const std::string name = entry.path().filename().string();
    if (name.rfind("coordinator", 0) == 0) {
      StatusOr<CoordinatorSettings> s = LoadCoordinatorSettings(entry.path().string());
      ASSERT_TRUE(s.ok()) << s.status();
      EXPECT_TRUE(ValidateCoordinatorSettings(*s).ok()) << name;
      ++settings;
      continue;
    }
    StatusOr<ExperimentConfig> e = LoadExperimentConfig(entry.path().string());
    ASSERT_TRUE(e.ok()) << name << ": " << e.status();
    ++experiments;
  }
  EXPECT_GE(experiments, 7);
  EXPECT_EQ(settings, 1);
}

// The reference file holds every key at its default: parsing it gives the default config, and every key
// path appears in it.
TEST(ExperimentConfigTest, ReferenceFileIsCompleteAndAtTheDefaults) {
  const fs::path path = fs::path(TUTTI_SOURCE_DIR) / "configs" / "reference.yaml";
  StatusOr<ExperimentConfig> e = LoadExperimentConfig(path.string());
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(ExperimentConfigToYaml(*e), ExperimentConfigToYaml(ExperimentConfig()));
  const std::string text = ReadText(path);
  for (const std::string& key : ExperimentConfigKeyPaths()) {
    const std::string leaf = key.substr(key.rfind('.') + 1);
    EXPECT_THAT(text, HasSubstr(leaf + ":")) << key << " is not documented in configs/reference.yaml";
  }
  EXPECT_THAT(text, HasSubstr("hyperparameters:"));
  StatusOr<CoordinatorSettings> s = LoadCoordinatorSettings(std::string(TUTTI_SOURCE_DIR) + "/configs/coordinator.yaml");
  ASSERT_TRUE(s.ok()) << s.status();
  CoordinatorSettings defaults;
  defaults.home = "coord-home";
  EXPECT_EQ(CoordinatorSettingsToYaml(*s), CoordinatorSettingsToYaml(defaults));
}

TEST(ExperimentConfigTest, AJobFileIsAnExperimentWithOneTrial) {
  StatusOr<ExperimentConfig> e = LoadExperimentConfig(std::string(TUTTI_SOURCE_DIR) + "/configs/quickstart.yaml");
  ASSERT_TRUE(e.ok()) << e.status();
  StatusOr<JobConfig> job = LoadJobConfig(std::string(TUTTI_SOURCE_DIR) + "/configs/quickstart.yaml");
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(e->job, *job);
  EXPECT_EQ(e->searcher.name, "single");
  EXPECT_TRUE(e->hyperparameters.empty());
  EXPECT_EQ(ToSearcherConfig(*e).max_length, job->train.steps);
}

TEST(ExperimentConfigTest, SweepKeysParseAndRoundTrip) {
  StatusOr<ExperimentConfig> e = LoadExperimentConfig(std::string(TUTTI_SOURCE_DIR) + "/configs/sweep-asha.yaml",
                                                      {"searcher.max_trials=8", "train.batch_size=8"});
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->searcher.name, "asha");
  EXPECT_EQ(e->searcher.max_trials, 8);
  EXPECT_EQ(e->job.train.batch_size, 8);
  EXPECT_EQ(e->resources.ranks, 2);
  ASSERT_EQ(e->hyperparameters.size(), 3u);
  EXPECT_EQ(e->hyperparameters[0].path, "data.genres");
  EXPECT_EQ(e->hyperparameters[0].type, sweep::HyperparameterSpec::Type::kCategorical);
  EXPECT_EQ(e->hyperparameters[0].values, (std::vector<std::string>{"[rock]", "[pop]"}));
  EXPECT_EQ(e->hyperparameters[1].type, sweep::HyperparameterSpec::Type::kLogUniform);
  EXPECT_DOUBLE_EQ(e->hyperparameters[1].min, 3e-4);
  const std::string yaml = ExperimentConfigToYaml(*e);
  StatusOr<ExperimentConfig> back = ParseExperimentConfig(yaml, "round-trip.yaml");
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << yaml;
  EXPECT_EQ(ExperimentConfigToYaml(*back), yaml);
}

TEST(ExperimentConfigTest, ATrialsJobIsTheJobWithItsHyperparametersAndLength) {
  StatusOr<ExperimentConfig> e = LoadExperimentConfig(std::string(TUTTI_SOURCE_DIR) + "/configs/sweep-asha.yaml");
  ASSERT_TRUE(e.ok()) << e.status();
  StatusOr<JobConfig> job = TrialJobConfig(*e, {{"data.genres", "[pop]"}, {"train.g_lr", "0.0005"}}, 30);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->data.genres, std::vector<std::string>{"pop"});
  EXPECT_DOUBLE_EQ(job->train.g_lr, 0.0005);
  EXPECT_EQ(job->train.steps, 30);
  StatusOr<JobConfig> bad = TrialJobConfig(*e, {{"train.g_lr", "-1"}}, 30);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("hyperparameters.train.g_lr"));
}

// tests/testdata/experiments/bad/*.yaml: each file says what its error must contain ("# expect: ..." lines,
// all of them for a file with several errors). A file with "# agent-ranks: N" is a valid file whose trials
// do not fit workers with N ranks (`tutti validate --ranks N`).
TEST(ExperimentConfigTest, EveryBadFileGetsItsMessage) {
  int files = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(TUTTI_TESTDATA_DIR) / "experiments" / "bad")) {
    const std::string text = ReadText(entry.path());
    std::vector<std::string> expected;
    int agent_ranks = 0;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("# expect: ", 0) == 0) expected.push_back(line.substr(10));
      if (line.rfind("# agent-ranks: ", 0) == 0) agent_ranks = std::stoi(line.substr(15));
    }
    ASSERT_FALSE(expected.empty()) << entry.path() << " says nothing about its error";
    const std::string name = entry.path().filename().string();
    StatusOr<ExperimentConfig> e = LoadExperimentConfig(entry.path().string());
    if (agent_ranks > 0) {
      ASSERT_TRUE(e.ok()) << name << ": " << e.status();
      EXPECT_TRUE(CheckFitsRanks(*e, 0, entry.path().string()).ok()) << name;  // unchecked: fits
      EXPECT_TRUE(CheckFitsRanks(*e, e->resources.ranks, entry.path().string()).ok()) << name;
      Status fits = CheckFitsRanks(*e, agent_ranks, entry.path().string());
      e = fits.ok() ? absl::InternalError("fits") : fits;
    }
    ASSERT_FALSE(e.ok()) << name << " parsed";
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument) << name;
    const std::string message(e.status().message());
    for (const std::string& want : expected) EXPECT_THAT(message, HasSubstr(want)) << name;
    if (expected[0].rfind(":", 0) == 0) {
      EXPECT_THAT(message, HasSubstr(entry.path().string() + expected[0])) << name;
    }
    ++files;
  }
  EXPECT_GE(files, 20);
}

TEST(ExperimentConfigTest, CoordinatorSettingsErrorsAreListed) {
  StatusOr<CoordinatorSettings> s =
      ParseCoordinatorSettings("home: h\nlease_second: 3\nheartbeat_seconds: many\n", "coord.yaml");
  ASSERT_FALSE(s.ok());
  const std::string message(s.status().message());
  EXPECT_THAT(message, HasSubstr("coord.yaml:2:1: lease_second: unknown key; did you mean lease_seconds?"));
  EXPECT_THAT(message, HasSubstr("coord.yaml:3:20: heartbeat_seconds: expected a positive number, got 'many'"));
  s = ParseCoordinatorSettings("home: h\nlease_seconds: 3\nheartbeat_seconds: 5\n", "coord.yaml");
  ASSERT_TRUE(s.ok());
  EXPECT_THAT(std::string(ValidateCoordinatorSettings(*s).message()), HasSubstr("heartbeat_seconds: expected less"));
}

}  // namespace
}  // namespace tutti
