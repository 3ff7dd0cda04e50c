// Longer phrases and finer grids end to end, as a user runs them: `tutti pack --bars 8` and `--beat-resolution
// 12`, `tutti-worker` with the model sized to match, `tutti generate`, and the MIDI read back by mido.

#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base/file_util.h"
#include "tests/testing/run_command.h"

namespace tutti {
namespace {

using testing::CommandResult;
using testing::RunCommand;

const std::string kBin = std::string(TUTTI_BIN_DIR);

class PhraseShapesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(testing::FreshTempDir("phrase_shapes"));
    CommandResult synth = RunCommand(kBin + "/tutti synth-lpd --out " + *root_ + "/lpd --songs 40 --seed 3 -q");
    ASSERT_EQ(synth.exit_code, 0) << synth.err;
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*root_);
    delete root_;
  }
  static std::string* root_;
};
std::string* PhraseShapesTest::root_ = nullptr;

bool HasMido() { return RunCommand("/usr/bin/python3 -c 'import mido'").exit_code == 0; }

// `midi` as mido reads it: {"seconds": length, "tracks": [{"name", "notes", "channels", "programs"}...]} for every
// track after the tempo track. Fails the test (and returns null) when the file does not read.
nlohmann::json ReadWithMido(const std::string& dir, const std::string& midi) {
  const std::string script =
      "import json, sys, mido\n"
      "m = mido.MidiFile(sys.argv[1])\n"
      "print(json.dumps({'seconds': m.length, 'tracks': [{'name': t.name,\n"
      "  'notes': sum(1 for x in t if x.type == 'note_on' and x.velocity > 0),\n"
      "  'channels': sorted({x.channel for x in t if hasattr(x, 'channel')}),\n"
      "  'programs': [x.program for x in t if x.type == 'program_change']} for t in m.tracks[1:]]}))\n";
  EXPECT_TRUE(WriteFileAtomically(dir + "/read_midi.py", script).ok());
  CommandResult py = RunCommand("/usr/bin/python3 " + dir + "/read_midi.py " + midi);
  EXPECT_EQ(py.exit_code, 0) << py.err;
  return py.exit_code == 0 ? nlohmann::json::parse(py.out) : nlohmann::json();
}

TEST_F(PhraseShapesTest, AnEightBarPackTrainsAndGeneratesEightBarMidi) {
  const std::string& root = *root_;
  CommandResult pack = RunCommand(kBin + "/tutti pack --lpd " + root + "/lpd --genres rock --bars 8 --out " + root +
                                  "/packs8 -q");
  ASSERT_EQ(pack.exit_code, 0) << pack.err;
  CommandResult info = RunCommand(kBin + "/tutti pack-info " + root + "/packs8/rock --json");
  const nlohmann::json manifest = nlohmann::json::parse(info.out);
  EXPECT_EQ(manifest["shape"], nlohmann::json({5, 128, 72}));
  EXPECT_EQ(manifest["packing"]["segment"]["bars_per_sample"], 8);

  // The tutorial's 4-bar model is refused with the keys to set; the 8-bar one trains.
  const std::string worker = kBin + "/tutti-worker --config " + std::string(TUTTI_SOURCE_DIR) +
                             "/configs/quickstart.yaml --set data.packs_dir=" + root + "/packs8 --set train.steps=10" +
                             " --set eval.every=10 --set eval.samples=8 --set train.intra_op_threads=2";
  CommandResult refused = RunCommand(worker + " --set output_dir=" + root + "/run4");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("set model.measures: 8"), std::string::npos) << refused.err;
  CommandResult trained = RunCommand(worker + " --set model.measures=8 --set output_dir=" + root + "/run8");
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  const std::string checkpoint = root + "/run8/checkpoints/ckpt-00000010.tutti";
  ASSERT_TRUE(std::filesystem::exists(checkpoint)) << trained.out;
  CommandResult generated = RunCommand(kBin + "/tutti generate --checkpoint " + checkpoint +
                                       " -n 1 --no-wav --threshold 0.05 --tempo 120 --out " + root + "/samples8");
  ASSERT_EQ(generated.exit_code, 0) << generated.err;

  if (!HasMido()) GTEST_SKIP() << "python3 with mido is not installed (apt-get install python3-mido)";
  const nlohmann::json midi = ReadWithMido(root, root + "/samples8/sample-0.mid");
  ASSERT_TRUE(midi.is_object());
  EXPECT_LE(midi["seconds"].get<double>(), 16.0 + 1e-6) << "8 bars of 4/4 at 120 qpm";
  EXPECT_GT(midi["seconds"].get<double>(), 8.0) << "more than 4 bars";
  const std::vector<std::string> names = {"Drums", "Piano", "Guitar", "Bass", "Strings"};
  const std::vector<int> programs = {0, 0, 24, 32, 48};
  ASSERT_EQ(midi["tracks"].size(), 5u);
  for (size_t t = 0; t < 5; ++t) {
    EXPECT_EQ(midi["tracks"][t]["name"], names[t]);
    EXPECT_EQ(midi["tracks"][t]["programs"], nlohmann::json::array({programs[t]}));
  }
}

// LPD-17 as published (../shared/lpd17-real): a 17-track pack, a 17-track model, MIDI with LPD-17's names and
// programs (a track the sample leaves silent has no channel to spare: MIDI has 15 melodic ones).
TEST_F(PhraseShapesTest, AnLpd17PackTrainsAndGeneratesSeventeenNamedTracks) {
  const std::string lpd17 = std::string(TUTTI_LPD5_REAL_DIR) + "/../lpd17-real";
  if (!std::filesystem::exists(lpd17)) GTEST_SKIP() << lpd17 << " not found";
  const std::string& root = *root_;
  CommandResult pack = RunCommand(kBin + "/tutti pack --npz " + lpd17 + " --genre one --track-set lpd17 --require 3 --out " +
                                  root + "/packs17 -q");
  ASSERT_EQ(pack.exit_code, 0) << pack.err;
  const nlohmann::json manifest = nlohmann::json::parse(RunCommand(kBin + "/tutti pack-info " + root + "/packs17/one --json").out);
  EXPECT_EQ(manifest["shape"], nlohmann::json({17, 64, 72}));
  EXPECT_EQ(manifest["packing"]["track_set"]["name"], "lpd17");
  EXPECT_EQ(manifest["packing"]["track_set"]["tracks"][5]["name"], "Bass");
  CommandResult trained = RunCommand(
      kBin + "/tutti-worker --config " + std::string(TUTTI_SOURCE_DIR) + "/configs/quickstart.yaml --set data.packs_dir=" +
      root + "/packs17 --set data.genres=[one] --set model.tracks=17 --set train.steps=10 --set train.batch_size=4" +
      " --set eval.every=10 --set eval.samples=8 --set train.intra_op_threads=2 --set output_dir=" + root + "/run17");
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  CommandResult generated = RunCommand(kBin + "/tutti generate --checkpoint " + root +
                                       "/run17/checkpoints/ckpt-00000010.tutti -n 1 --no-wav --threshold 0.05 --out " +
                                       root + "/samples17");
  ASSERT_EQ(generated.exit_code, 0) << generated.err;
  EXPECT_NE(generated.out.find("Synth Lead"), std::string::npos) << generated.out;
  if (!HasMido()) GTEST_SKIP() << "python3 with mido is not installed (apt-get install python3-mido)";
  const nlohmann::json midi = ReadWithMido(root, root + "/samples17/sample-0.mid");
  ASSERT_TRUE(midi.is_object());
  const nlohmann::json& tracks = midi["tracks"];
  ASSERT_EQ(tracks.size(), 17u);
  for (size_t t = 0; t < 17; ++t) {
    EXPECT_EQ(tracks[t]["name"], manifest["packing"]["track_set"]["tracks"][t]["name"]) << t;
    if (tracks[t]["notes"].get<int>() > 0) {
      EXPECT_EQ(tracks[t]["programs"], nlohmann::json::array({manifest["packing"]["track_set"]["tracks"][t]["program"]}))
          << t;
    }
  }
  EXPECT_EQ(tracks[0]["channels"], nlohmann::json::array({9})) << "drums on channel 10";
}

TEST_F(PhraseShapesTest, ATwelveStepsPerBeatPackHasTheFinerGrid) {
  const std::string& root = *root_;
  CommandResult pack = RunCommand(kBin + "/tutti pack --lpd " + root + "/lpd --genres rock --beat-resolution 12 --out " +
                                  root + "/packs12 -q");
  ASSERT_EQ(pack.exit_code, 0) << pack.err;
  CommandResult info = RunCommand(kBin + "/tutti pack-info " + root + "/packs12/rock --json");
  const nlohmann::json manifest = nlohmann::json::parse(info.out);
  EXPECT_EQ(manifest["shape"], nlohmann::json({5, 192, 72}));
  EXPECT_EQ(manifest["packing"]["segment"]["beat_resolution"], 12);
  EXPECT_EQ(manifest["packing"]["segment"]["steps_per_bar"], 48);
}

}  // namespace
}  // namespace tutti
