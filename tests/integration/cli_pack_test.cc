// `tutti synth-lpd | pack | pack-info | pack-verify | inspect` as a user runs them: real processes, real files.

#include <signal.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/data/pack_reader.h"
#include "core/midi/midi_writer.h"
#include "core/synth/song_generator.h"
#include "gtest/gtest.h"
#include "tests/testing/run_command.h"

namespace tutti {
namespace {

namespace fs = std::filesystem;
using testing::RunCommand;
using testing::ShellQuote;

const std::string kTutti = std::string(TUTTI_BIN_DIR) + "/tutti";

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// No staging directories ("/.<name>.tmp-*") anywhere under `dir`.
int CountTempEntries(const std::string& dir) {
  int n = 0;
  for (auto& e : fs::recursive_directory_iterator(dir)) n += Contains(e.path().filename().string(), ".tmp-");
  return n;
}

class CliPackTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(testing::FreshTempDir("cli_pack"));
    auto synth = RunCommand(kTutti + " synth-lpd --out " + *root_ + "/lpd --songs 200 --seed 1 -q");
    ASSERT_EQ(synth.exit_code, 0) << synth.err;
    auto pack = RunCommand(kTutti + " pack --lpd " + *root_ + "/lpd --genres rock,pop --out " + *root_ + "/packs -q");
    ASSERT_EQ(pack.exit_code, 0) << pack.err;
    pack_output_ = new std::string(pack.out);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
    delete pack_output_;
  }
  static std::string* root_;
  static std::string* pack_output_;
};
std::string* CliPackTest::root_ = nullptr;
std::string* CliPackTest::pack_output_ = nullptr;

TEST_F(CliPackTest, SynthThenPackGivesTwoGenrePacks) {
  EXPECT_TRUE(fs::exists(*root_ + "/lpd/cleansed_ids.txt"));
  EXPECT_TRUE(fs::exists(*root_ + "/lpd/lastfm/id_list_rock.txt"));
  EXPECT_TRUE(fs::exists(*root_ + "/packs/rock/manifest.json"));
  EXPECT_TRUE(fs::exists(*root_ + "/packs/pop/manifest.json"));
  EXPECT_EQ(CountTempEntries(*root_), 0);
  // The summary table names both genres and the skip reasons.
  EXPECT_TRUE(Contains(*pack_output_, "rock")) << *pack_output_;
  EXPECT_TRUE(Contains(*pack_output_, "listed")) << *pack_output_;
}

TEST_F(CliPackTest, PackInfoJsonReportsShapeAndCounts) {
  auto info = RunCommand(kTutti + " pack-info " + *root_ + "/packs/rock --json");
  ASSERT_EQ(info.exit_code, 0) << info.err;
  nlohmann::json j = nlohmann::json::parse(info.out);
  EXPECT_EQ(j["shape"], nlohmann::json::array({5, 64, 72}));
  EXPECT_EQ(j["genre"], "rock");
  EXPECT_GT(j["train_samples"].get<int64_t>(), 100);
  EXPECT_GT(j["heldout_samples"].get<int64_t>(), 0);
  EXPECT_EQ(j["samples"].get<int64_t>(), j["train_samples"].get<int64_t>() + j["heldout_samples"].get<int64_t>());
  // Held-out songs never share a file with training songs.
  auto reader = PackReader::Open(*root_ + "/packs/rock");
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::set<std::string> train, heldout;
  for (const PackSong& s : (*reader)->manifest().songs) (s.split == Split::kTrain ? train : heldout).insert(s.md5);
  for (const std::string& md5 : heldout) EXPECT_EQ(train.count(md5), 0u);
}

TEST_F(CliPackTest, PackVerifyPassesThenNamesTheFlippedShard) {
  std::string copy = *root_ + "/flip";
  fs::remove_all(copy);
  fs::copy(*root_ + "/packs/pop", copy, fs::copy_options::recursive);
  auto ok = RunCommand(kTutti + " pack-verify " + copy);
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  std::string shard = copy + "/train-00000.shard";
  ASSERT_TRUE(fs::exists(shard));
  {
    std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(200);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x10);
    f.seekp(200);
    f.write(&c, 1);
  }
  auto bad = RunCommand(kTutti + " pack-verify " + copy);
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_TRUE(Contains(bad.err, "train-00000.shard")) << bad.err;
  EXPECT_TRUE(Contains(bad.err, "sha256")) << bad.err;
}

TEST_F(CliPackTest, BadInputsGiveOneClearMessageAndWriteNothing) {
  std::string out = *root_ + "/bad-out";
  auto unknown = RunCommand(kTutti + " pack --lpd " + *root_ + "/lpd --genres rock,polka --out " + out + " -q");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_TRUE(Contains(unknown.err, "unknown genre 'polka'")) << unknown.err;
  EXPECT_TRUE(Contains(unknown.err, "Known genres:")) << unknown.err;
  EXPECT_FALSE(fs::exists(out + "/rock"));  // validated before anything was packed

  auto missing = RunCommand(kTutti + " pack --lpd " + *root_ + "/nowhere --genres rock --out " + out + " -q");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_TRUE(Contains(missing.err, "nowhere")) << missing.err;

  // An empty genre list: the selection is empty.
  std::ofstream(*root_ + "/lpd/lastfm/id_list_empty.txt").close();
  auto empty = RunCommand(kTutti + " pack --lpd " + *root_ + "/lpd --genres empty --out " + out + " -q");
  EXPECT_NE(empty.exit_code, 0);
  EXPECT_TRUE(Contains(empty.err, "empty selection")) << empty.err;
  fs::remove(*root_ + "/lpd/lastfm/id_list_empty.txt");

  auto no_manifest = RunCommand(kTutti + " pack-info " + *root_ + "/lpd");
  EXPECT_NE(no_manifest.exit_code, 0);
  EXPECT_TRUE(Contains(no_manifest.err, "manifest.json")) << no_manifest.err;
  EXPECT_FALSE(fs::exists(out) && !fs::is_empty(out));
}

TEST_F(CliPackTest, BadSongsAreSkippedAndCountedByReason) {
  // Corrupt one song file of a copy of the corpus: pack must skip it, count it and still succeed.
  std::string lpd = *root_ + "/lpd-bad";
  fs::remove_all(lpd);
  fs::copy(*root_ + "/lpd", lpd, fs::copy_options::recursive);
  std::string victim;
  for (auto& e : fs::recursive_directory_iterator(lpd + "/lpd_5")) {
    if (e.path().extension() == ".npz") {
      victim = e.path().string();
      break;
    }
  }
  ASSERT_FALSE(victim.empty());
  fs::resize_file(victim, fs::file_size(victim) / 2);
  auto pack = RunCommand(kTutti + " pack --lpd " + lpd + " --genres rock,pop --out " + *root_ + "/packs-bad --json -q");
  ASSERT_EQ(pack.exit_code, 0) << pack.err;
  nlohmann::json j = nlohmann::json::parse(pack.out);
  int64_t unreadable = 0;
  for (const auto& g : j) unreadable += g["skipped_by_reason"].value("unreadable file", 0);
  EXPECT_GE(unreadable, 1) << pack.out;
}

TEST_F(CliPackTest, InspectShowsTracks) {
  std::string npz;
  for (auto& e : fs::recursive_directory_iterator(*root_ + "/lpd/lpd_5")) {
    if (e.path().extension() == ".npz") {
      npz = e.path().string();
      break;
    }
  }
  auto inspect = RunCommand(kTutti + " inspect " + npz + " --json");
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  nlohmann::json j = nlohmann::json::parse(inspect.out);
  EXPECT_EQ(j["resolution"], 24);
  ASSERT_EQ(j["tracks"].size(), 5u);
  EXPECT_EQ(j["tracks"][0]["name"], "Drums");
  EXPECT_EQ(j["tracks"][0]["is_drum"], true);
  auto bad = RunCommand(kTutti + " inspect " + *root_ + "/lpd/cleansed_ids.txt");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_TRUE(Contains(bad.err, "cleansed_ids.txt")) << bad.err;
}

TEST_F(CliPackTest, PackOwnMidiFolder) {
  // Standard MIDI Files written from synthetic songs: the same packs come out of --midi.
  std::string midi = *root_ + "/midi";
  fs::create_directories(midi + "/sub");
  for (int i = 0; i < 12; ++i) {
    Multitrack song = GenerateSong("rock", 100 + i, 24);
    std::string path = midi + (i % 2 ? "/sub/" : "/") + "song" + std::to_string(i) + ".mid";
    ASSERT_TRUE(WriteMidiFile(song, path).ok());
  }
  std::ofstream(midi + "/broken.mid") << "MThd garbage";
  auto pack = RunCommand(kTutti + " pack --midi " + midi + " --genre mine --out " + *root_ + "/packs-midi --json -q");
  ASSERT_EQ(pack.exit_code, 0) << pack.err;
  nlohmann::json j = nlohmann::json::parse(pack.out);
  EXPECT_EQ(j[0]["files"], 13);
  EXPECT_EQ(j[0]["skipped_by_reason"]["unreadable file"], 1);
  EXPECT_GT(j[0]["train_samples"].get<int64_t>(), 0);
  auto verify = RunCommand(kTutti + " pack-verify " + *root_ + "/packs-midi/mine");
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
}

// --require and --explain: songs lacking tracks (most real MIDI songs lack one) are kept by a looser rule, the
// summary says what each rule keeps, --explain writes nothing, and the manifest records the rule.
TEST_F(CliPackTest, TrackRulesAreExplainedAppliedAndRecorded) {
  const std::string midi = *root_ + "/midi-partial";
  fs::create_directories(midi);
  for (int i = 0; i < 6; ++i) {
    Multitrack song = GenerateSong("rock", 200 + i, 24);
    if (i >= 3) {  // no piano, no strings
      song.tracks[1].pianoroll = SparsePianoroll{};
      song.tracks[4].pianoroll = SparsePianoroll{};
    }
    ASSERT_TRUE(WriteMidiFile(song, midi + "/song" + std::to_string(i) + ".mid").ok());
  }
  const std::string out = *root_ + "/packs-partial";
  auto explain = RunCommand(kTutti + " pack --midi " + midi + " --genre mine --out " + out + " --explain --json -q");
  ASSERT_EQ(explain.exit_code, 0) << explain.err;
  EXPECT_FALSE(fs::exists(out)) << "--explain wrote something";
  const nlohmann::json rules = nlohmann::json::parse(explain.out)[0]["rules"];
  ASSERT_EQ(rules.size(), 5u) << rules.dump();
  EXPECT_EQ(rules[0]["rule"], "every track");
  // Only the three complete songs can pass the default rule (a synthetic song may still have a segment where a
  // track rests); three tracks are all the others have.
  const int64_t every = rules[0]["songs"].get<int64_t>();
  EXPECT_GE(every, 1);
  EXPECT_LE(every, 3);
  EXPECT_TRUE(rules[0]["chosen"].get<bool>());
  EXPECT_EQ(rules[2]["rule"], "at least 3 of 5 tracks");
  EXPECT_GT(rules[2]["songs"].get<int64_t>(), every);
  EXPECT_GT(rules[2]["segments"].get<int64_t>(), rules[0]["segments"].get<int64_t>());
  for (size_t r = 1; r < rules.size(); ++r) {  // looser rules never keep less
    EXPECT_GE(rules[r]["segments"].get<int64_t>(), rules[r - 1]["segments"].get<int64_t>()) << rules.dump();
  }

  auto pack = RunCommand(kTutti + " pack --midi " + midi + " --genre mine --out " + out + " --require drums,bass -q");
  ASSERT_EQ(pack.exit_code, 0) << pack.err;
  EXPECT_TRUE(Contains(pack.out, "drums+bass")) << pack.out;
  EXPECT_TRUE(Contains(pack.out, "<- this pack")) << pack.out;
  auto info = RunCommand(kTutti + " pack-info " + out + "/mine --json");
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const nlohmann::json j = nlohmann::json::parse(info.out);
  EXPECT_EQ(j["packing"]["segment"]["require"]["tracks"], nlohmann::json({"drums", "bass"})) << j["packing"].dump();
  EXPECT_GT(j["summary"]["songs_packed"].get<int64_t>(), every);
  auto text = RunCommand(kTutti + " pack-info " + out + "/mine");
  EXPECT_TRUE(Contains(text.out, "a segment needs drums+bass")) << text.out;
  // A pack written before --require existed reads as "every track".
  auto old = RunCommand(kTutti + " pack-info " + *root_ + "/packs/rock");
  EXPECT_TRUE(Contains(old.out, "a segment needs every track")) << old.out;

  auto bad = RunCommand(kTutti + " pack --midi " + midi + " --genre mine --out " + out + "2 --require tuba -q");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_TRUE(Contains(bad.err, "--require tuba: no track named 'tuba'")) << bad.err;
  EXPECT_FALSE(fs::exists(out + "2"));
}

TEST_F(CliPackTest, EverySkippedFileIsNamedAndTheReportListsEveryInput) {
  // A folder where nothing can be packed: each file is named with its reason, and the report lists them.
  const std::string midi = *root_ + "/midi-unusable";
  fs::create_directories(midi);
  std::ofstream(midi + "/garbage.mid") << "MThd garbage";
  std::ofstream(midi + "/empty.mid") << "";
  ASSERT_TRUE(WriteMidiFile(GenerateSong("rock", 7, 1), midi + "/one-bar.mid").ok());  // too short for a sample
  const std::string report = *root_ + "/unusable-report.json";
  auto failed = RunCommand(kTutti + " pack --midi " + midi + " --genre none --out " + *root_ + "/packs-none -q --report " + report);
  EXPECT_NE(failed.exit_code, 0);
  for (const char* name : {"garbage.mid: unreadable file", "empty.mid: unreadable file", "one-bar.mid: "}) {
    EXPECT_TRUE(Contains(failed.err, midi + "/" + name)) << name << " not named in:\n" << failed.err;
  }
  EXPECT_FALSE(fs::exists(*root_ + "/packs-none/none"));
  nlohmann::json r = nlohmann::json::parse(std::ifstream(report));
  EXPECT_EQ(r["ok"], false);
  ASSERT_EQ(r["inputs"].size(), 3u);
  for (const auto& input : r["inputs"]) {
    EXPECT_EQ(input["outcome"], "skipped") << input;
    EXPECT_FALSE(input["reason"].get<std::string>().empty()) << input;
  }

  // A successful pack: every input of both genres is in the report, with outcomes that add up to the summary.
  const std::string full = *root_ + "/full-report.json";
  auto pack = RunCommand(kTutti + " pack --lpd " + *root_ + "/lpd --genres rock,pop --out " + *root_ +
                         "/packs-report --json -q --report " + full);
  ASSERT_EQ(pack.exit_code, 0) << pack.err;
  nlohmann::json summary = nlohmann::json::parse(pack.out);
  nlohmann::json all = nlohmann::json::parse(std::ifstream(full));
  EXPECT_EQ(all["ok"], true);
  int64_t files = 0, skipped = 0, heldout_songs = 0;
  for (const auto& g : summary) {
    files += g["files"].get<int64_t>();
    for (const auto& [reason, count] : g["skipped_by_reason"].items()) skipped += count.get<int64_t>();
    heldout_songs += g["heldout_songs"].get<int64_t>();
  }
  EXPECT_EQ(static_cast<int64_t>(all["inputs"].size()), files);
  int64_t skipped_in_report = 0, heldout_in_report = 0;
  for (const auto& input : all["inputs"]) {
    skipped_in_report += input["outcome"] == "skipped";
    heldout_in_report += input["outcome"] == "heldout";
    EXPECT_TRUE(fs::exists(input["path"].get<std::string>())) << input;
  }
  EXPECT_EQ(skipped_in_report, skipped);
  EXPECT_EQ(heldout_in_report, heldout_songs);
}

TEST_F(CliPackTest, HelpIsUseful) {
  auto help = RunCommand(kTutti + " --help");
  EXPECT_EQ(help.exit_code, 0);
  for (const char* cmd : {"synth-lpd", "pack", "pack-info", "pack-verify", "inspect"}) {
    EXPECT_TRUE(Contains(help.out, cmd)) << help.out;
  }
  auto none = RunCommand(kTutti);
  EXPECT_NE(none.exit_code, 0);
}

}  // namespace
}  // namespace tutti
