// `tutti generate` as a user runs it: a checkpoint trained for a few steps here, the binary as a subprocess.

#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base/file_util.h"
#include "core/npz/pianoroll_npz.h"
#include "core/sample/checkpoint_sampler.h"
#include "core/sample/sample_test_util.h"
#include "tests/testing/run_command.h"

namespace tutti::cli {
namespace {

namespace fs = std::filesystem;
using tutti::testing::CommandResult;
using tutti::testing::RunCommand;
using tutti::testing::ShellQuote;

const std::string kTutti = std::string(TUTTI_BIN_DIR) + "/tutti";

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string Bytes(const std::string& path) {
  StatusOr<std::string> data = ReadFileToString(path);
  EXPECT_TRUE(data.ok()) << data.status();
  return data.ok() ? *data : "";
}

// After two training steps the generator's eval-mode output is small (largest value ~0.14 with these seeds),
// so tests that need notes pass a low --threshold; the default 0.5 gives empty rolls (and a warning).
class GenerateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tutti::testing::FreshTempDir("cli_generate");
    checkpoint_ = tutti::testing::MakeCheckpoint(root_ + "/ckpt", tutti::testing::SmallSampleConfig(false), 2);
    ASSERT_FALSE(checkpoint_.empty());
  }
  CommandResult Generate(const std::string& args) {
    return RunCommand(kTutti + " generate --checkpoint " + ShellQuote(checkpoint_) + " " + args);
  }
  std::string root_, checkpoint_;
};

TEST_F(GenerateTest, WritesEveryFileAndTheSameBytesForTheSameSeed) {
  CommandResult a = Generate("-n 3 --seed 5 --no-wav --threshold 0.02 --out " + root_ + "/a");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  CommandResult b = Generate("-n 3 --seed 5 --no-wav --threshold 0.02 --out " + root_ + "/b");
  ASSERT_EQ(b.exit_code, 0) << b.err;
  for (int i = 0; i < 3; ++i) {
    for (const char* ext : {".mid", ".npz", ".png"}) {
      const std::string name = "sample-" + std::to_string(i) + ext;
      ASSERT_TRUE(fs::exists(root_ + "/a/" + name)) << name << "\n" << a.out;
      EXPECT_TRUE(Contains(a.out, "wrote " + root_ + "/a/" + name)) << a.out;
      EXPECT_TRUE(Bytes(root_ + "/a/" + name) == Bytes(root_ + "/b/" + name)) << name << " differs";
    }
    EXPECT_FALSE(fs::exists(root_ + "/a/sample-" + std::to_string(i) + ".wav"));
  }
  EXPECT_TRUE(fs::exists(root_ + "/a/overview.png"));
  EXPECT_FALSE(Contains(a.out, "tmp-"));

  // Another seed gives other samples.
  CommandResult c = Generate("-n 3 --seed 6 --no-wav --threshold 0.02 --out " + root_ + "/c");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_FALSE(Bytes(root_ + "/a/sample-0.npz") == Bytes(root_ + "/c/sample-0.npz"));

  // The .npz reads back as five LPD-5 tracks at the sample grid, with notes.
  StatusOr<Multitrack> song = ReadPianorollNpz(root_ + "/a/sample-0.npz");
  ASSERT_TRUE(song.ok()) << song.status();
  ASSERT_EQ(song->tracks.size(), 5u);
  EXPECT_EQ(song->resolution, 4);
  EXPECT_EQ(song->MaxLength(), 64);
  EXPECT_EQ(song->tracks[0].name, "Drums");
  EXPECT_TRUE(song->tracks[0].is_drum);
  int64_t cells = 0;
  for (const Track& t : song->tracks) cells += t.pianoroll.nnz();
  EXPECT_GT(cells, 0);
}

TEST_F(GenerateTest, MidiOpensInMidoWithFiveNamedTracksAndNotes) {
  if (RunCommand("/usr/bin/python3 -c 'import mido'").exit_code != 0) {
    GTEST_SKIP() << "python3 with mido is not installed (apt-get install python3-mido)";
  }
  CommandResult g = Generate("-n 1 --seed 1 --no-wav --threshold 0.02 --tempo 120 --out " + root_ + "/m");
  ASSERT_EQ(g.exit_code, 0) << g.err;
  const std::string script =
      "import json, sys, mido\n"
      "m = mido.MidiFile(sys.argv[1])\n"
      "tempo = [x.tempo for t in m.tracks for x in t if x.type == 'set_tempo']\n"
      "print(json.dumps({'type': m.type, 'tempo': tempo, 'tracks': [{'name': t.name,\n"
      "  'notes': sum(1 for x in t if x.type == 'note_on' and x.velocity > 0),\n"
      "  'channels': sorted({x.channel for x in t if hasattr(x, 'channel')}),\n"
      "  'programs': [x.program for x in t if x.type == 'program_change']} for t in m.tracks]}))\n";
  const std::string script_path = root_ + "/read_midi.py";
  ASSERT_TRUE(WriteFileAtomically(script_path, script).ok());
  CommandResult py = RunCommand("/usr/bin/python3 " + script_path + " " + root_ + "/m/sample-0.mid");
  ASSERT_EQ(py.exit_code, 0) << py.err;
  nlohmann::json j = nlohmann::json::parse(py.out);
  EXPECT_EQ(j["type"], 1);
  ASSERT_EQ(j["tempo"].size(), 1u);
  EXPECT_EQ(j["tempo"][0], 500000);  // 120 qpm
  ASSERT_EQ(j["tracks"].size(), 6u);  // tempo track + 5 instruments
  const std::vector<std::string> names = {"Drums", "Piano", "Guitar", "Bass", "Strings"};
  const std::vector<int> programs = {0, 0, 24, 32, 48};
  int notes = 0;
  for (size_t t = 0; t < 5; ++t) {
    const nlohmann::json& track = j["tracks"][t + 1];
    EXPECT_EQ(track["name"], names[t]);
    EXPECT_EQ(track["programs"], nlohmann::json::array({programs[t]}));
    if (t == 0) {
      EXPECT_EQ(track["channels"], nlohmann::json::array({9}));  // channel 10
    } else {
      EXPECT_NE(track["channels"], nlohmann::json::array({9}));
    }
    notes += track["notes"].get<int>();
  }
  EXPECT_GT(notes, 0) << py.out;
}

TEST_F(GenerateTest, JsonListsTheFilesAndRendersWav) {
  CommandResult g = Generate("-n 2 --seed 3 --json --out " + root_ + "/j");
  ASSERT_EQ(g.exit_code, 0) << g.err;
  nlohmann::json j = nlohmann::json::parse(g.out);
  EXPECT_EQ(j["step"], 2);
  EXPECT_EQ(j["n"], 2);
  EXPECT_EQ(j["genre"], "rock");
  EXPECT_EQ(j["threshold"], 0.5);
  EXPECT_EQ(j["tempo_qpm"], 100);
  ASSERT_EQ(j["samples"].size(), 2u);
  for (const auto& f : j["files"]) EXPECT_TRUE(fs::exists(f.get<std::string>())) << f;
  // WAV is rendered in process with the installed General MIDI soundfont: never skipped.
  ASSERT_TRUE(fs::exists(root_ + "/j/sample-1.wav"));
  EXPECT_EQ(Bytes(root_ + "/j/sample-1.wav").substr(0, 4), "RIFF");
  EXPECT_EQ(j["samples"][1]["wav"], root_ + "/j/sample-1.wav");
}

TEST_F(GenerateTest, CorruptedCheckpointFailsNamingTheFile) {
  std::string bytes = Bytes(checkpoint_);
  ASSERT_GT(bytes.size(), 1000u);
  bytes[bytes.size() - 100] ^= 0x5a;
  const std::string bad = root_ + "/bad.tutti";
  ASSERT_TRUE(WriteFileAtomically(bad, bytes).ok());
  CommandResult g = RunCommand(kTutti + " generate --checkpoint " + bad + " -n 1 --no-wav --out " + root_ + "/x");
  EXPECT_NE(g.exit_code, 0);
  EXPECT_TRUE(Contains(g.err, bad)) << g.err;
  EXPECT_TRUE(Contains(g.err, "corrupted")) << g.err;
  EXPECT_FALSE(fs::exists(root_ + "/x/sample-0.mid"));

  CommandResult missing = RunCommand(kTutti + " generate --checkpoint " + root_ + "/nope.tutti --out " + root_ + "/x");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_TRUE(Contains(missing.err, root_ + "/nope.tutti")) << missing.err;
}

TEST_F(GenerateTest, UnconditionalModelRefusesAnotherGenre) {
  CommandResult ok = Generate("-n 1 --genre rock --no-wav --out " + root_ + "/g");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  CommandResult pop = Generate("-n 1 --genre pop --no-wav --out " + root_ + "/g");
  EXPECT_NE(pop.exit_code, 0);
  EXPECT_TRUE(Contains(pop.err, "unconditional")) << pop.err;
  EXPECT_TRUE(Contains(pop.err, "rock")) << pop.err;
}

TEST(ResolveGenreTest, ConditionalModelsPickTheirGenreAndListTheKnownOnes) {
  JobConfig conditional = tutti::testing::SmallSampleConfig(true);
  EXPECT_EQ(ResolveGenre(conditional, "").value(), 0);
  EXPECT_EQ(ResolveGenre(conditional, "pop").value(), 1);
  EXPECT_EQ(ResolveGenre(conditional, "", "pop").value(), 1);
  EXPECT_EQ(ResolveGenre(conditional, "", "jazz").value(), 0);
  StatusOr<int64_t> jazz = ResolveGenre(conditional, "jazz");
  ASSERT_FALSE(jazz.ok());
  EXPECT_TRUE(Contains(std::string(jazz.status().message()), "rock, pop")) << jazz.status();
  JobConfig mixed = tutti::testing::SmallSampleConfig(false);
  mixed.data.genres = {"rock", "pop"};
  EXPECT_EQ(ResolveGenre(mixed, "").value(), -1);
  EXPECT_FALSE(ResolveGenre(mixed, "rock").ok());
}

TEST(GenerateConditionalTest, GenreSelectsTheEmbeddingAndUnknownGenresAreListed) {
  const std::string root = tutti::testing::FreshTempDir("cli_generate_conditional");
  const std::string ckpt = tutti::testing::MakeCheckpoint(root + "/ckpt", tutti::testing::SmallSampleConfig(true), 1);
  ASSERT_FALSE(ckpt.empty());
  const std::string base = kTutti + " generate --checkpoint " + ckpt + " -n 2 --no-wav --json --out ";
  CommandResult pop = RunCommand(base + root + "/pop --genre pop");
  ASSERT_EQ(pop.exit_code, 0) << pop.err;
  EXPECT_EQ(nlohmann::json::parse(pop.out)["genre"], "pop");
  CommandResult jazz = RunCommand(base + root + "/jazz --genre jazz");
  EXPECT_NE(jazz.exit_code, 0);
  EXPECT_TRUE(Contains(jazz.err, "unknown genre 'jazz'")) << jazz.err;
  EXPECT_TRUE(Contains(jazz.err, "rock, pop")) << jazz.err;
}

// --phrases: a piece of several of the model's phrases, their latents sharing one part.
TEST_F(GenerateTest, PhrasesStringSamplesIntoOnePiece) {
  CommandResult g = Generate("-n 2 --phrases 3 --phrase-variation 0.5 --seed 4 --no-wav --threshold 0.02 --out " +
                             root_ + "/p");
  ASSERT_EQ(g.exit_code, 0) << g.err;
  StatusOr<Multitrack> piece = ReadPianorollNpz(root_ + "/p/sample-1.npz");
  ASSERT_TRUE(piece.ok()) << piece.status();
  EXPECT_EQ(piece->MaxLength(), 192);  // 3 phrases of 4 bars of 16 steps
  // Variation 0 repeats one phrase; variation 1 strings independent ones.
  auto phrase_cells = [](const Multitrack& song, int64_t k) {
    std::vector<std::pair<size_t, std::pair<int32_t, int>>> cells;
    for (size_t t = 0; t < song.tracks.size(); ++t) {
      const SparsePianoroll& roll = song.tracks[t].pianoroll;
      for (int p = 0; p < 128; ++p) {
        for (int32_t i = roll.indptr[p]; i < roll.indptr[p + 1]; ++i) {
          if (roll.steps[i] / 64 == k) cells.push_back({t, {roll.steps[i] % 64, p}});
        }
      }
    }
    std::sort(cells.begin(), cells.end());
    return cells;
  };
  CommandResult same = Generate("-n 1 --phrases 2 --phrase-variation 0 --no-wav --threshold 0.02 --out " + root_ + "/p0");
  ASSERT_EQ(same.exit_code, 0) << same.err;
  StatusOr<Multitrack> repeated = ReadPianorollNpz(root_ + "/p0/sample-0.npz");
  ASSERT_TRUE(repeated.ok()) << repeated.status();
  EXPECT_FALSE(phrase_cells(*repeated, 0).empty());
  EXPECT_TRUE(phrase_cells(*repeated, 0) == phrase_cells(*repeated, 1));
  CommandResult apart = Generate("-n 1 --phrases 2 --phrase-variation 1 --no-wav --threshold 0.02 --out " + root_ + "/p1");
  ASSERT_EQ(apart.exit_code, 0) << apart.err;
  StatusOr<Multitrack> independent = ReadPianorollNpz(root_ + "/p1/sample-0.npz");
  ASSERT_TRUE(independent.ok()) << independent.status();
  EXPECT_FALSE(phrase_cells(*independent, 0) == phrase_cells(*independent, 1));
}

}  // namespace
}  // namespace tutti::cli
