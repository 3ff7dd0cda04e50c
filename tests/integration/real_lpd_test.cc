// The data path on the real LPD-5 slice (../shared/lpd5-real): packing counts, an independent numpy check of
// the sample recipe, and an interrupted pack that leaves nothing behind. Skips when the slice is absent.

#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/ingest/segmenter.h"
#include "core/lpd/lpd_index.h"
#include "core/npz/pianoroll_npz.h"
#include "gtest/gtest.h"
#include "tests/testing/run_command.h"

namespace tutti {
namespace {

namespace fs = std::filesystem;
using testing::RunCommand;
using testing::ShellQuote;

const std::string kTutti = std::string(TUTTI_BIN_DIR) + "/tutti";
const std::string kReal = TUTTI_LPD5_REAL_DIR;

#define SKIP_WITHOUT_REAL_SLICE() \
  if (!fs::exists(kReal + "/cleansed_ids.txt")) GTEST_SKIP() << "real LPD-5 slice not found at " << kReal

TEST(RealLpd, PackRockPopJazzReportsEveryCount) {
  SKIP_WITHOUT_REAL_SLICE();
  std::string out = testing::FreshTempDir("real_pack");
  auto pack = RunCommand(kTutti + " pack --lpd " + ShellQuote(kReal) + " --genres rock,pop,jazz --out " + out +
                         " --json -q");
  ASSERT_EQ(pack.exit_code, 0) << pack.err;
  nlohmann::json j = nlohmann::json::parse(pack.out);
  ASSERT_EQ(j.size(), 3u);
  // Listed ids and ids on disk per genre, as the slice's README gives them.
  std::map<std::string, std::pair<int, int>> expected = {{"rock", {4693, 900}}, {"pop", {5808, 723}},
                                                         {"jazz", {673, 109}}};
  for (const auto& g : j) {
    const std::string genre = g["genre"];
    EXPECT_EQ(g["listed"], expected[genre].first) << genre;
    EXPECT_EQ(g["on_disk"], expected[genre].second) << genre;
    EXPECT_EQ(g["listed"].get<int64_t>(),
              g["on_disk"].get<int64_t>() + g["missing_on_disk"].get<int64_t>() + g["not_in_cleansed_ids"].get<int64_t>());
    EXPECT_GT(g["duplicate_ids"].get<int64_t>(), 0) << genre;  // the same MIDI file under several MSD ids
    EXPECT_EQ(g["files"].get<int64_t>(), g["on_disk"].get<int64_t>() - g["duplicate_ids"].get<int64_t>());
    EXPECT_EQ(g["files"].get<int64_t>(), g["songs_packed"].get<int64_t>() + g["skipped"].get<int64_t>());
    EXPECT_GT(g["train_samples"].get<int64_t>(), 0) << genre;
    EXPECT_GT(g["heldout_samples"].get<int64_t>(), 0) << genre;
    // About half of LPD songs have an empty track: the every-track rule skips them, with a reason.
    EXPECT_GT(g["skipped_by_reason"].value("no segment with enough notes in every track", 0), 0) << g.dump();
  }
  // Rock of the slice yields roughly 2,000 samples by the every-track rule (slice README).
  int64_t rock = j[0]["train_samples"].get<int64_t>() + j[0]["heldout_samples"].get<int64_t>();
  EXPECT_GT(rock, 1200);
  EXPECT_LT(rock, 3000);
  auto verify = RunCommand(kTutti + " pack-verify " + out + "/rock");
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  fs::remove_all(out);
}

TEST(RealLpd, SegmentsEqualAnIndependentNumpyComputation) {
  SKIP_WITHOUT_REAL_SLICE();
  if (!fs::exists("/usr/bin/python3") || RunCommand("/usr/bin/python3 -c 'import numpy'").exit_code != 0) {
    GTEST_SKIP() << "Debian's python3-numpy not found under /usr/bin/python3";
  }
  LpdIndexOptions index_options;
  index_options.root = kReal;
  auto index = LpdIndex::Open(index_options);
  ASSERT_TRUE(index.ok()) << index.status();
  auto rock = index->Select("rock");
  ASSERT_TRUE(rock.ok()) << rock.status();
  SegmentOptions options;
  int checked_songs = 0, checked_segments = 0;
  for (size_t i = 0; i < rock->files.size() && checked_songs < 8; i += 37) {
    const std::string& path = rock->files[i].path;
    auto song = ReadPianorollNpz(path);
    ASSERT_TRUE(song.ok()) << song.status();
    DownsampledSong down = Downsample(*song, options);
    int64_t bars = down.length / 16;
    if (bars < 5) continue;
    std::vector<int64_t> starts = {0, bars / 2, bars - 4};
    std::string args;
    for (int64_t b : starts) args += " " + std::to_string(b);
    auto ref = RunCommand("/usr/bin/python3 " + ShellQuote(std::string(TUTTI_SOURCE_DIR) +
                                                           "/tests/reference/segment_reference.py") +
                          " " + ShellQuote(path) + args);
    ASSERT_EQ(ref.exit_code, 0) << ref.err;
    nlohmann::json j = nlohmann::json::parse(ref.out);
    EXPECT_EQ(j["length"].get<int64_t>(), down.length) << path;
    std::vector<uint8_t> dense(static_cast<size_t>(options.sample_cells()));
    for (int64_t b : starts) {
      RenderSegment(down, b, options, dense.data());
      std::vector<int64_t> ours;
      for (size_t c = 0; c < dense.size(); ++c) {
        if (dense[c]) ours.push_back(static_cast<int64_t>(c));
      }
      std::vector<int64_t> theirs = j["bars"][std::to_string(b)].get<std::vector<int64_t>>();
      EXPECT_EQ(ours, theirs) << path << " bar " << b;
      EXPECT_FALSE(ours.empty() && b == 0 && down.length > 64) << "suspiciously empty: " << path;
      ++checked_segments;
    }
    ++checked_songs;
  }
  EXPECT_EQ(checked_songs, 8);
  RecordProperty("segments_checked", checked_segments);
}

TEST(RealLpd, InterruptedPackLeavesNothingBehind) {
  SKIP_WITHOUT_REAL_SLICE();
  std::string out = testing::FreshTempDir("real_interrupt");
  // Ctrl-C as soon as the process has installed its SIGINT handler (SigCgt bit 2 in /proc/<pid>/status),
  // so the signal always lands while the first genre is still being read, however loaded the machine is.
  std::string script = "tutti=$1; lpd=$2; out=$3; \"$tutti\" pack --lpd \"$lpd\" --genres rock,pop --threads 1 "
                       "--out \"$out\" -q & pid=$!; "
                       "for i in $(seq 1 500); do "
                       "  cgt=$(awk '/^SigCgt/{print $2}' /proc/$pid/status 2>/dev/null); "
                       "  [ -n \"$cgt\" ] && [ $((0x$cgt & 2)) -ne 0 ] && break; sleep 0.01; "
                       "done; kill -INT $pid; wait $pid";
  auto run = RunCommand("sh -c " + ShellQuote(script) + " sh " + ShellQuote(kTutti) + " " + ShellQuote(kReal) + " " +
                        ShellQuote(out));
  EXPECT_EQ(run.exit_code, 130) << run.err;
  EXPECT_NE(run.err.find("interrupted"), std::string::npos) << run.err;
  int entries = 0;
  for (auto& e : fs::recursive_directory_iterator(out)) {
    ADD_FAILURE() << "left behind: " << e.path();
    ++entries;
  }
  EXPECT_EQ(entries, 0);
  fs::remove_all(out);
}

}  // namespace
}  // namespace tutti
