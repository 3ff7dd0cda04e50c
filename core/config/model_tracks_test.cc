// The model's track lists (held_tracks, harmony_tracks) and the options that need them: names or indices, and
// every bad entry or missing prerequisite refused by key.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/config/job_config.h"
#include "core/config/job_config_yaml.h"
#include "core/config/load_error_test_util.h"

namespace tutti {
namespace {

using ::testing::HasSubstr;
using config_test::LoadError;

TEST(JobConfigTest, HeldTracksTakeNamesOrIndices) {
  ModelConfig model;
  model.held_tracks = {"strings", "1", "bass"};
  const StatusOr<std::vector<int64_t>> held = HeldTrackIndices(model);
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(*held, (std::vector<int64_t>{1, 3, 4}));
  model.held_tracks.clear();
  EXPECT_TRUE(HeldTrackIndices(model)->empty());
  // Every bad entry is named, with what was expected.
  EXPECT_THAT(LoadError("model:\n  held_tracks: [piano, violin]\n"),
              HasSubstr("model.held_tracks: expected track names (drums, piano, guitar, bass, strings) or indices in "
                        "[0, 5), got \"violin\""));
  EXPECT_THAT(LoadError("model:\n  held_tracks: [5]\n"), HasSubstr("got \"5\""));
  EXPECT_THAT(LoadError("model:\n  held_tracks: [bass, 3]\n"),
              HasSubstr("model.held_tracks: track 3 is listed twice (\"3\")"));
  EXPECT_THAT(LoadError("model:\n  held_tracks: [bass, \"\"]\n"), HasSubstr("model.held_tracks"));
  EXPECT_THAT(LoadError("model:\n  tracks: 3\n", {"model.held_tracks=[strings]"}), HasSubstr("[0, 3)"));
  EXPECT_THAT(LoadError("model:\n  held_on_eighths: true\n"),
              HasSubstr("model.held_on_eighths: needs model.held_tracks"));
  EXPECT_THAT(LoadError("model:\n  held_detail: true\n"), HasSubstr("model.held_detail: needs model.held_tracks"));
  // held_release shortens notes on the 8th grid, and a gate on 0/1 notes would leave fractions.
  EXPECT_THAT(LoadError("model:\n  held_tracks: [bass]\n  held_release: true\n"),
              HasSubstr("model.held_release: needs model.held_on_eighths true"));
  EXPECT_THAT(LoadError("model:\n  held_tracks: [bass]\n  held_on_eighths: true\n  held_release: true\n"
                        "  output: binary\n"),
              HasSubstr("model.held_release: needs model.output relu or sigmoid"));
  // held_release_tracks narrows the gate to held tracks.
  const std::string release = "model:\n  held_tracks: [piano, bass]\n  held_on_eighths: true\n";
  EXPECT_THAT(LoadError(release + "  held_release_tracks: [piano]\n"),
              HasSubstr("model.held_release_tracks: needs model.held_release true"));
  EXPECT_THAT(LoadError(release + "  held_release: true\n  held_release_tracks: [piano, drums]\n"),
              HasSubstr("model.held_release_tracks: drums is not in model.held_tracks"));
  EXPECT_THAT(LoadError(release + "  held_release: true\n  held_release_tracks: [piano, cello]\n"),
              HasSubstr("model.held_release_tracks: expected track names"));
  // held_release_late_tracks moves the cut of gated tracks to the beat's last 16th.
  EXPECT_THAT(LoadError(release + "  held_release_late_tracks: [bass]\n"),
              HasSubstr("model.held_release_late_tracks: needs model.held_release true"));
  EXPECT_THAT(LoadError(release + "  held_release: true\n  held_release_late_tracks: [guitar]\n"),
              HasSubstr("model.held_release_late_tracks: guitar is not in model.held_tracks"));
  EXPECT_THAT(LoadError(release + "  held_release: true\n  held_release_tracks: [piano]\n  held_release_late_tracks: [bass]\n"),
              HasSubstr("model.held_release_late_tracks: bass is not in model.held_release_tracks"));
  ModelConfig listed;
  listed.held_release_tracks = {"bass", "1"};
  const StatusOr<std::vector<int64_t>> released = HeldReleaseTrackIndices(listed);
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_EQ(*released, (std::vector<int64_t>{1, 3}));
}

TEST(JobConfigTest, HarmonyTracksTakeNamesOrIndicesAndNeedSixOctaves) {
  ModelConfig model;
  model.harmony_tracks = {"bass", "piano", "4"};
  const StatusOr<std::vector<int64_t>> harmony = HarmonyTrackIndices(model);
  ASSERT_TRUE(harmony.ok()) << harmony.status();
  EXPECT_EQ(*harmony, (std::vector<int64_t>{1, 3, 4}));
  EXPECT_EQ(Lpd5TrackIndex("strings"), 4);
  EXPECT_EQ(Lpd5TrackIndex("Strings"), -1);
  EXPECT_THAT(LoadError("model:\n  harmony_tracks: [piano, cello]\n"),
              HasSubstr("model.harmony_tracks: expected track names (drums, piano, guitar, bass, strings) or indices "
                        "in [0, 5), got \"cello\""));
  EXPECT_THAT(LoadError("model:\n  harmony_tracks: [bass, bass]\n"),
              HasSubstr("model.harmony_tracks: track 3 is listed twice"));
  // The shared chroma is 12 pitch classes repeated over six octaves: another pitch range is refused up front.
  EXPECT_THAT(LoadError("model:\n  pitches: 84\n  harmony_tracks: [bass]\n"),
              HasSubstr("model.harmony_tracks: needs model.pitches 72 (six octaves of 12 pitch classes), got "
                        "model.pitches 84"));
  EXPECT_THAT(LoadError("model:\n  harmony_gain: 3\n"), HasSubstr("model.harmony_gain: needs model.harmony_tracks"));
  EXPECT_THAT(LoadError("model:\n  harmony_gate: true\n"), HasSubstr("model.harmony_gate: needs model.harmony_tracks"));
  EXPECT_THAT(LoadError("model:\n  harmony_tracks: [bass]\n  harmony_gate: true\n  output: binary\n"),
              HasSubstr("model.harmony_gate: needs model.output relu or sigmoid"));
  EXPECT_THAT(LoadError("model:\n  harmony_tracks: [bass]\n  harmony_gate_lower_only: true\n"),
              HasSubstr("model.harmony_gate_lower_only: needs model.harmony_gate true"));
  // harmony_root_tracks sharpens the gate of tracks on the shared chroma.
  EXPECT_THAT(LoadError("model:\n  harmony_tracks: [piano, bass]\n  harmony_root_tracks: [bass]\n"),
              HasSubstr("model.harmony_root_tracks: needs model.harmony_gate true"));
  EXPECT_THAT(LoadError("model:\n  harmony_tracks: [piano]\n  harmony_gate: true\n  harmony_root_tracks: [bass]\n"),
              HasSubstr("model.harmony_root_tracks: bass is not in model.harmony_tracks"));
  EXPECT_THAT(LoadError("model:\n  harmony_tracks: [bass]\n  harmony_gate: true\n  harmony_root_tracks: [tuba]\n"),
              HasSubstr("model.harmony_root_tracks: expected track names"));
  EXPECT_THAT(LoadError("model:\n  harmony_after_norm: true\n"),
              HasSubstr("model.harmony_after_norm: needs model.harmony_tracks"));
  EXPECT_THAT(LoadError("model:\n  harmony_tracks: [bass]\n  harmony_gain: -1\n"), HasSubstr("model.harmony_gain"));
  // bar_gate changes what the bar levels do: without them it has nothing to scale by.
  EXPECT_THAT(LoadError("model:\n  bar_gate: true\n"), HasSubstr("model.bar_gate: needs model.bar_levels true"));
  EXPECT_THAT(LoadError("model:\n  bar_levels: true\n  bar_gate: true\n  output: binary\n"),
              HasSubstr("model.bar_gate: needs model.output relu or sigmoid"));
  EXPECT_THAT(LoadError("model:\n  bar_levels: true\n  bar_gate_hard: true\n"),
              HasSubstr("model.bar_gate_hard: needs model.bar_gate true"));
  EXPECT_THAT(LoadError("model:\n  bar_level_scale: 0.1\n"),
              HasSubstr("model.bar_level_scale: needs model.bar_levels true"));
  EXPECT_THAT(LoadError("model:\n  bar_levels: true\n  bar_level_scale: 0\n"),
              HasSubstr("model.bar_level_scale"));
}

}  // namespace
}  // namespace tutti
