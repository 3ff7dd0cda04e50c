// `tutti metrics` on a pack made here (synth-lpd + pack) and on a checkpoint trained for a few steps, with the
// realism measure (core/metrics/realism.h) after the tables.

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

  // The realism measure without a checkpoint: the held-out bar alone, at N = -n (256 by default, more than
  // this pack holds: all of its held-out samples, with a note).
  EXPECT_TRUE(Contains(table.out, "band [low, high]")) << table.out;
  EXPECT_TRUE(Contains(table.out, "realism (held-out real samples only): ")) << table.out;
  EXPECT_TRUE(Contains(table.out, "fewer than the 256 a draw takes")) << table.out;
  EXPECT_TRUE(Contains(table.out, "Drums.qualified_notes_ge_32nd_paper = 1")) << table.out;  // left out
  ASSERT_TRUE(j.contains("realism")) << j.dump();
  EXPECT_TRUE(j["realism"]["score"].is_null());
  EXPECT_TRUE(j["realism"]["heldout_score"].is_number()) << j["realism"].dump();
  EXPECT_GT(j["realism"]["metrics"].get<int>(), 10);
  EXPECT_EQ(j["realism"]["reference"]["draws"], 200);

  CommandResult none = RunCommand(kTutti + " metrics --packs " + root_ + "/packs/rock --no-realism");
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_FALSE(Contains(none.out, "realism")) << none.out;

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
  EXPECT_TRUE(Contains(compare.out, "Realism: 16 generated samples against the band of 200 draws of 16 real"))
      << compare.out;
  EXPECT_TRUE(Contains(compare.out, " metrics outside the real band (held-out real: ")) << compare.out;

  const std::string json_command = kTutti + " metrics --packs " + root_ + "/packs/rock --checkpoint " + ckpt +
                                   " -n 8 --json --realism-draws 50 --realism-seed 3";
  CommandResult json = RunCommand(json_command);
  ASSERT_EQ(json.exit_code, 0) << json.err;
  nlohmann::json j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["step"], 1);
  EXPECT_EQ(j["generated"]["samples"], 8) << j["generated"].dump();
  EXPECT_GT(j["real"]["samples"].get<int>(), 0);
  // The realism of the 8 generated samples against bands of 8 real ones, beside the held-out bar.
  ASSERT_TRUE(j.contains("realism")) << j.dump();
  const nlohmann::json& realism = j["realism"];
  EXPECT_EQ(realism["samples"], 8);
  EXPECT_TRUE(realism["score"].is_number()) << realism.dump();
  EXPECT_TRUE(realism["outside"].is_number());
  EXPECT_TRUE(realism["heldout_score"].is_number());
  EXPECT_EQ(realism["heldout_samples"], 8);
  EXPECT_EQ(realism["reference"]["draws"], 50);
  EXPECT_EQ(realism["reference"]["seed"], 3);
  ASSERT_EQ(realism["per_metric"].size(), realism["metrics"].get<size_t>());
  for (const char* key : {"name", "low", "median", "high", "value", "distance", "heldout_value", "heldout_distance"}) {
    EXPECT_TRUE(realism["per_metric"][0].contains(key)) << key;
  }
  // Seeded: the same command gives the same realism.
  CommandResult again = RunCommand(json_command);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(nlohmann::json::parse(again.out)["realism"], realism);
}

}  // namespace
}  // namespace tutti::cli
