// `tutti metrics` on a pack made here (synth-lpd + pack) and on a checkpoint trained for a few steps.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/sample/sample_test_util.h"
#include "tests/testing/run_command.h"

namespace tutti::cli {
namespace {

using tutti::testing::CommandResult;
using tutti::testing::RunCommand;

const std::string kTutti = std::string(TUTTI_BIN_DIR) + "/tutti";

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class MetricsCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tutti::testing::FreshTempDir("cli_metrics");
    CommandResult synth = RunCommand(kTutti + " synth-lpd --out " + root_ + "/lpd --songs 40 --seed 2 -q");
    ASSERT_EQ(synth.exit_code, 0) << synth.err;
    CommandResult pack =
        RunCommand(kTutti + " pack --lpd " + root_ + "/lpd --genres rock --heldout 0.3 --out " + root_ + "/packs -q");
    ASSERT_EQ(pack.exit_code, 0) << pack.err << pack.out;
  }
  std::string root_;
};

TEST_F(MetricsCommandTest, PrintsTheTableOfRealSamples) {
  CommandResult table = RunCommand(kTutti + " metrics --packs " + root_ + "/packs/rock");
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_TRUE(Contains(table.out, "heldout")) << table.out;
  for (const char* track : {"Drums", "Piano", "Guitar", "Bass", "Strings", "B-G"}) {
    EXPECT_TRUE(Contains(table.out, track)) << track << "\n" << table.out;
  }

  CommandResult json = RunCommand(kTutti + " metrics --packs " + root_ + "/packs/rock --split train --limit 5 --json");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  nlohmann::json j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["split"], "train");
  ASSERT_TRUE(j.contains("real")) << j.dump();
  EXPECT_EQ(j["real"]["samples"], 5) << j["real"].dump();

  CommandResult missing = RunCommand(kTutti + " metrics --packs " + root_ + "/nowhere");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_TRUE(Contains(missing.err, root_ + "/nowhere")) << missing.err;
}

TEST_F(MetricsCommandTest, ComparesGeneratedWithHeldOutRealSamples) {
  const std::string ckpt = tutti::testing::MakeCheckpoint(root_ + "/ckpt", tutti::testing::SmallSampleConfig(false), 1);
  ASSERT_FALSE(ckpt.empty());
  // A packs folder works too: the unconditional model's single genre picks the pack.
  CommandResult compare = RunCommand(kTutti + " metrics --packs " + root_ + "/packs --checkpoint " + ckpt +
                                     " -n 16 --seed 4 --threshold 0.02");
  ASSERT_EQ(compare.exit_code, 0) << compare.err;
  EXPECT_TRUE(Contains(compare.out, "generated: 16 samples")) << compare.out;
  EXPECT_TRUE(Contains(compare.out, root_ + "/packs/rock")) << compare.out;
  EXPECT_TRUE(Contains(compare.out, "Bass")) << compare.out;

  CommandResult json = RunCommand(kTutti + " metrics --packs " + root_ + "/packs/rock --checkpoint " + ckpt +
                                  " -n 8 --json");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  nlohmann::json j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["step"], 1);
  EXPECT_EQ(j["generated"]["samples"], 8) << j["generated"].dump();
  EXPECT_GT(j["real"]["samples"].get<int>(), 0);
}

}  // namespace
}  // namespace tutti::cli
