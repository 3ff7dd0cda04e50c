// `tutti accompany` as a musician runs it: an accompaniment checkpoint (model.condition_track: bass) trained for
// a few steps here, the binary as a subprocess, on a real LPD-5 song and on a real Standard MIDI File.

#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/accompany/given_part.h"
#include "core/base/file_util.h"
#include "core/midi/midi_to_multitrack.h"
#include "core/npz/pianoroll_npz.h"
#include "core/sample/sample_test_util.h"
#include "tests/testing/run_command.h"

namespace tutti::cli {
namespace {

namespace fs = std::filesystem;
using tutti::testing::CommandResult;
using tutti::testing::RunCommand;
using tutti::testing::ShellQuote;

const std::string kTutti = std::string(TUTTI_BIN_DIR) + "/tutti";
const std::string kReal = TUTTI_LPD5_REAL_DIR;
// Debian's openttd-openmsx (scripts/install-deps.sh installs it): real multi-instrument songs.
const std::string kOpenMsx = "/usr/share/games/openttd/baseset/openmsx";

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// (steps, 128) 0/1 of one track of a song read at resolution 4 (the model's grid), `steps` long.
std::vector<uint8_t> Dense(const Track& track, int64_t steps) {
  std::vector<uint8_t> out(static_cast<size_t>(steps * 128), 0);
  const SparsePianoroll& roll = track.pianoroll;
  for (int p = 0; p < 128; ++p) {
    for (int32_t i = roll.indptr[p]; i < roll.indptr[p + 1]; ++i) {
      if (roll.steps[i] < steps && roll.velocities[i] > 0) out[static_cast<size_t>(roll.steps[i] * 128 + p)] = 1;
    }
  }
  return out;
}

// The first real LPD-5 song of the slice with a bass part in its first 8 bars ("" when the slice is absent).
std::string RealSongWithBass() {
  const fs::path root = fs::path(kReal) / "lpd_5";
  if (!fs::exists(root)) return "";
  std::vector<std::string> songs;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.path().extension() == ".npz") songs.push_back(entry.path().string());
  }
  std::sort(songs.begin(), songs.end());
  GivenPartOptions options;
  options.bars = 8;
  for (const std::string& song : songs) {
    StatusOr<GivenPart> part = ReadGivenPart(song, options);
    if (part.ok() && part->notes >= 8 && part->bars == 8) return song;
  }
  return "";
}

class AccompanyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(tutti::testing::FreshTempDir("cli_accompany"));
    JobConfig config = tutti::testing::SmallSampleConfig(false);
    config.model.condition_track = "bass";
    checkpoint_ = new std::string(tutti::testing::MakeCheckpoint(*root_ + "/ckpt", config, 20));
  }
  static void TearDownTestSuite() {
    delete root_;
    delete checkpoint_;
  }
  void SetUp() override { ASSERT_FALSE(checkpoint_->empty()); }
  // After 20 steps of random data the generator's outputs are small: a low threshold gives notes (as in
  // generate_test).
  CommandResult Accompany(const std::string& args) {
    return RunCommand(kTutti + " accompany --checkpoint " + ShellQuote(*checkpoint_) + " --threshold 0.02 " + args);
  }
  // The piece's given track (Bass) and the others, read back from the written .npz and .mid.
  void ExpectGivenPartBack(const std::string& out_dir, const std::string& stem, const GivenPart& given) {
    const int64_t steps = given.steps();
    StatusOr<Multitrack> npz = ReadPianorollNpz(out_dir + "/" + stem + ".npz");
    ASSERT_TRUE(npz.ok()) << npz.status();
    ASSERT_EQ(npz->tracks.size(), 5u);
    EXPECT_EQ(npz->resolution, 4);
    EXPECT_EQ(npz->tracks[3].name, "Bass");
    EXPECT_TRUE(Dense(npz->tracks[3], steps) == given.roll) << "the given bass part changed in the .npz";
    for (int t : {0, 1, 2, 4}) EXPECT_GT(npz->tracks[static_cast<size_t>(t)].pianoroll.nnz(), 0) << "track " << t;
    MidiImportOptions grid;
    grid.resolution = 4;
    StatusOr<Multitrack> midi = ReadMidiAsLpd5(out_dir + "/" + stem + ".mid", grid);
    ASSERT_TRUE(midi.ok()) << midi.status();
    EXPECT_TRUE(Dense(midi->tracks[3], steps) == given.roll) << "the given bass part changed in the .mid";
    EXPECT_TRUE(fs::exists(out_dir + "/" + stem + ".png"));
  }
  static std::string* root_;
  static std::string* checkpoint_;
};
std::string* AccompanyTest::root_ = nullptr;
std::string* AccompanyTest::checkpoint_ = nullptr;

TEST_F(AccompanyTest, RealLpdSongKeepsItsBassBitForBitAndGetsFourNewTracks) {
  const std::string song = RealSongWithBass();
  if (song.empty()) GTEST_SKIP() << "real LPD-5 slice not found at " << kReal;
  const std::string out = *root_ + "/lpd";
  CommandResult r = Accompany("--input " + ShellQuote(song) + " --track bass --bars 8 --no-wav --json --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["bars"], 8);
  EXPECT_EQ(j["phrases"], 2);
  EXPECT_EQ(j["given_track"], "bass");
  EXPECT_EQ(j["latent"], "shared");
  GivenPartOptions options;
  options.bars = 8;
  StatusOr<GivenPart> given = ReadGivenPart(song, options);
  ASSERT_TRUE(given.ok()) << given.status();
  EXPECT_EQ(j["given_notes"], given->notes);
  ExpectGivenPartBack(out, fs::path(song).stem().string() + "-accompanied", *given);

  // Same request, same bytes; another seed, another accompaniment around the same part.
  CommandResult again = Accompany("--input " + ShellQuote(song) + " --bars 8 --no-wav --out " + out + "2");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  const std::string stem = fs::path(song).stem().string() + "-accompanied.npz";
  EXPECT_TRUE(ReadFileToString(out + "/" + stem).value() == ReadFileToString(out + "2/" + stem).value());
  CommandResult other = Accompany("--input " + ShellQuote(song) + " --bars 8 --seed 3 --no-wav --out " + out + "3");
  ASSERT_EQ(other.exit_code, 0) << other.err;
  EXPECT_TRUE(ReadFileToString(out + "/" + stem).value() != ReadFileToString(out + "3/" + stem).value());
}

TEST_F(AccompanyTest, RealMidiFileByProgramAndByHandWithAudio) {
  const std::string song = kOpenMsx + "/be_sharp_bw_redfarn.mid";
  if (!fs::exists(song)) GTEST_SKIP() << song << " not found (Debian package openttd-openmsx)";
  const std::string out = *root_ + "/midi";
  CommandResult r = Accompany("--input " + ShellQuote(song) + " --start-bar 4 --bars 12 --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_TRUE(Contains(r.out, "12 bars from bar 4 (3 phrases of 4 bars)")) << r.out;
  EXPECT_TRUE(Contains(r.out, "Bass")) << r.out;
  GivenPartOptions options;
  options.start_bar = 4;
  options.bars = 12;
  StatusOr<GivenPart> given = ReadGivenPart(song, options);
  ASSERT_TRUE(given.ok()) << given.status();
  ExpectGivenPartBack(out, "be_sharp_bw_redfarn-accompanied", *given);
  ASSERT_TRUE(fs::exists(out + "/be_sharp_bw_redfarn-accompanied.wav"));
  EXPECT_GT(fs::file_size(out + "/be_sharp_bw_redfarn-accompanied.wav"), 44u + 12 * 2 * 44100 * 4 / 2);

  // A song without bass instruments: by program there is nothing to accompany, so pick a track by hand.
  const std::string blues = kOpenMsx + "/city_blues_redfarn.mid";
  CommandResult none = Accompany("--input " + ShellQuote(blues) + " --no-wav --out " + out + "-blues");
  EXPECT_NE(none.exit_code, 0);
  EXPECT_TRUE(Contains(none.err, "nothing to accompany")) << none.err;
  EXPECT_TRUE(Contains(none.err, "--input-track")) << none.err;
  CommandResult by_hand =
      Accompany("--input " + ShellQuote(blues) + " --input-track channel:3 --no-wav --json --out " + out + "-blues");
  ASSERT_EQ(by_hand.exit_code, 0) << by_hand.err;
  EXPECT_TRUE(Contains(nlohmann::json::parse(by_hand.out)["given_source"].get<std::string>(), "MIDI channel 3"));
}

TEST_F(AccompanyTest, RefusesModelsAndTracksThatDoNotFit) {
  const std::string song = kOpenMsx + "/be_sharp_bw_redfarn.mid";
  if (!fs::exists(song)) GTEST_SKIP() << song << " not found (Debian package openttd-openmsx)";
  CommandResult wrong_track = Accompany("--input " + ShellQuote(song) + " --track piano --out " + *root_ + "/x");
  EXPECT_NE(wrong_track.exit_code, 0);
  EXPECT_TRUE(Contains(wrong_track.err, "accompanies a given bass part")) << wrong_track.err;
  CommandResult short_bars = Accompany("--input " + ShellQuote(song) + " --bars 2 --out " + *root_ + "/x");
  EXPECT_NE(short_bars.exit_code, 0);
  EXPECT_TRUE(Contains(short_bars.err, "at least one phrase of 4 bars")) << short_bars.err;
  EXPECT_FALSE(fs::exists(*root_ + "/x"));

  // An accompaniment checkpoint cannot generate from noise alone, and says what to use instead.
  CommandResult generate = RunCommand(kTutti + " generate --checkpoint " + ShellQuote(*checkpoint_) + " --out " +
                                      *root_ + "/g");
  EXPECT_NE(generate.exit_code, 0);
  EXPECT_TRUE(Contains(generate.err, "tutti accompany")) << generate.err;

  // A model without a condition track is not an accompaniment model.
  const std::string plain =
      tutti::testing::MakeCheckpoint(*root_ + "/plain", tutti::testing::SmallSampleConfig(false), 1);
  CommandResult refused = RunCommand(kTutti + " accompany --checkpoint " + ShellQuote(plain) + " --input " +
                                     ShellQuote(song) + " --out " + *root_ + "/y");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_TRUE(Contains(refused.err, "not an accompaniment model")) << refused.err;
}

}  // namespace
}  // namespace tutti::cli
