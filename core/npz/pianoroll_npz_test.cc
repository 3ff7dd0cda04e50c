#include "core/npz/pianoroll_npz.h"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tutti {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const std::string kDir = std::string(TUTTI_TESTDATA_DIR) + "/npz/";
constexpr int64_t kFixtureSteps = 202;

// First difference between two pianorolls, or "" when identical.
std::string RollDiff(const SparsePianoroll& a, const SparsePianoroll& b) {
  if (a.n_steps != b.n_steps) return absl::StrCat("n_steps ", a.n_steps, " vs ", b.n_steps);
  if (a.binary != b.binary) return absl::StrCat("binary ", a.binary, " vs ", b.binary);
  if (a.indptr != b.indptr) return "indptr differs";
  if (a.steps != b.steps) return "steps differ";
  if (a.velocities != b.velocities) return "velocities differ";
  return "";
}

// First difference in content (pianorolls, tempo, downbeat, resolution, track metadata unless names are
// skipped), or "" when identical.
std::string SongDiff(const Multitrack& a, const Multitrack& b, bool names = true) {
  if (a.resolution != b.resolution) return absl::StrCat("resolution ", a.resolution, " vs ", b.resolution);
  if (names && a.name != b.name) return "song name differs";
  if (a.tempo != b.tempo) return absl::StrCat("tempo differs (", a.tempo.size(), " vs ", b.tempo.size(), ")");
  if (a.downbeat != b.downbeat) return "downbeat differs";
  if (a.tracks.size() != b.tracks.size()) return absl::StrCat(a.tracks.size(), " vs ", b.tracks.size(), " tracks");
  for (size_t i = 0; i < a.tracks.size(); ++i) {
    const Track& x = a.tracks[i];
    const Track& y = b.tracks[i];
    if (names && x.name != y.name) return absl::StrCat("track ", i, " name ", x.name, " vs ", y.name);
    if (x.program != y.program || x.is_drum != y.is_drum) return absl::StrCat("track ", i, " program/drum");
    const std::string d = RollDiff(x.pianoroll, y.pianoroll);
    if (!d.empty()) return absl::StrCat("track ", i, ": ", d);
  }
  return "";
}

Multitrack MustRead(const std::string& path, const NpzReadOptions& options = {}) {
  StatusOr<Multitrack> song = ReadPianorollNpz(path, options);
  EXPECT_TRUE(song.ok()) << song.status();
  return song.ok() ? *std::move(song) : Multitrack();
}

class PianorollNpzTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StatusOr<std::string> dir = MakeTempDirectoryIn(::testing::TempDir(), "pianoroll_npz_test");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *dir;
  }
  void TearDown() override { RemoveAllQuietly(dir_); }
  std::string dir_;
};

TEST_F(PianorollNpzTest, LegacyFixtureHasTheExpectedContent) {
  const Multitrack song = MustRead(kDir + "legacy.npz");
  EXPECT_EQ(song.resolution, 24);
  EXPECT_EQ(song.name, "fixture");
  ASSERT_EQ(song.tracks.size(), 4u);
  EXPECT_EQ(song.tracks[0].name, "Drums");
  EXPECT_TRUE(song.tracks[0].is_drum);
  EXPECT_EQ(song.tracks[1].name, "");
  EXPECT_EQ(song.tracks[2].program, 24);
  EXPECT_EQ(song.tracks[3].program, 32);
  for (const Track& t : song.tracks) EXPECT_EQ(t.pianoroll.n_steps, kFixtureSteps) << t.name;
  EXPECT_EQ(song.tracks[2].pianoroll.nnz(), 0) << "empty track stored as (0, 128)";
  EXPECT_FALSE(song.tracks[0].pianoroll.binary);
  EXPECT_TRUE(song.tracks[3].pianoroll.binary);
  EXPECT_EQ(song.tracks[3].pianoroll.velocities[0], 1);
  // Drums: a hit every 12 steps, kick (36) on the beat with velocity 100 + t % 20.
  const SparsePianoroll& drums = song.tracks[0].pianoroll;
  EXPECT_EQ(drums.indptr[37] - drums.indptr[36], 9);  // t = 0, 24, ..., 192
  EXPECT_EQ(drums.steps[drums.indptr[36] + 1], 24);
  EXPECT_EQ(drums.velocities[drums.indptr[36] + 1], 104);
  // Piano has cells at (0, 0) and (201, 127).
  const SparsePianoroll& piano = song.tracks[1].pianoroll;
  EXPECT_EQ(piano.indptr[1], 1);
  EXPECT_EQ(piano.steps.back(), kFixtureSteps - 1);
  EXPECT_EQ(piano.velocities.back(), 127);
  ASSERT_EQ(song.tempo.size(), static_cast<size_t>(kFixtureSteps));
  EXPECT_EQ(song.tempo[0], 120.0);
  EXPECT_EQ(song.tempo[150], 90.5);
  ASSERT_EQ(song.downbeat.size(), static_cast<size_t>(kFixtureSteps));
  EXPECT_EQ(song.downbeat[0], 1);
  EXPECT_EQ(song.downbeat[1], 0);
}

TEST_F(PianorollNpzTest, AllLayoutsLoadToIdenticalPianorolls) {
  const Multitrack legacy = MustRead(kDir + "legacy.npz");
  for (const char* name : {"v1.npz", "v1_ff_sizes.npz", "v1_stored.npz", "dense.npz"}) {
    const Multitrack other = MustRead(kDir + name);
    EXPECT_EQ(SongDiff(legacy, other, /*names=*/false), "") << name;
  }
  const Multitrack v1 = MustRead(kDir + "v1.npz");
  EXPECT_FALSE(v1.name.has_value()) << "null name";
  EXPECT_EQ(v1.tracks[1].name, "");
}

TEST_F(PianorollNpzTest, OptionsSkipTempoAndDownbeat) {
  const Multitrack song = MustRead(kDir + "v1.npz", {/*load_tempo=*/false, /*load_downbeat=*/false});
  EXPECT_TRUE(song.tempo.empty());
  EXPECT_TRUE(song.downbeat.empty());
  EXPECT_EQ(song.tracks[2].pianoroll.n_steps, kFixtureSteps);
}

// Every bad fixture fails with a message that starts with the path and names what was expected.
struct BadCase {
  const char* file;
  absl::StatusCode code;
  const char* message;  // the text after "<path>: "
};

class BadFileTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadFileTest, ErrorNamesFileAndExpectation) {
  const BadCase& c = GetParam();
  const std::string path = kDir + "bad/" + c.file;
  StatusOr<Multitrack> song = ReadPianorollNpz(path);
  ASSERT_FALSE(song.ok()) << c.file;
  EXPECT_EQ(song.status().code(), c.code) << song.status();
  EXPECT_THAT(std::string(song.status().message()), StartsWith(path + ": " + c.message));
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, BadFileTest,
    ::testing::Values(
        BadCase{"truncated.npz", absl::StatusCode::kInvalidArgument, "expected a complete zip archive"},
        BadCase{"not_a_zip.npz", absl::StatusCode::kInvalidArgument, "expected a complete zip archive"},
        BadCase{"missing_member.npz", absl::StatusCode::kNotFound,
                "pianoroll_0_csc_indices.npy: expected this member in the archive"},
        BadCase{"wrong_dtype.npz", absl::StatusCode::kInvalidArgument,
                "pianoroll_0_csc_indptr.npy: expected dtype <i4 or <i8, got <f4"},
        BadCase{"indptr_length.npz", absl::StatusCode::kInvalidArgument,
                "pianoroll_0_csc_indptr.npy: expected shape (129,) (shape[1] + 1 column pointers), got (128,)"},
        BadCase{"data_length.npz", absl::StatusCode::kInvalidArgument,
                "pianoroll_0_csc_data.npy: expected shape (3,) (one value per index), got (2,)"},
        BadCase{"index_out_of_range.npz", absl::StatusCode::kInvalidArgument,
                "pianoroll_0_csc_*.npy: expected a valid CSC pianoroll, got time index 30"},
        BadCase{"wrong_columns.npz", absl::StatusCode::kInvalidArgument,
                "pianoroll_0_csc_shape.npy: expected 128 columns (MIDI pitches), got shape (30, 129)"},
        BadCase{"invalid_json.npz", absl::StatusCode::kInvalidArgument,
                "info.json: expected valid JSON, got a parse error"},
        BadCase{"no_resolution.npz", absl::StatusCode::kInvalidArgument,
                "info.json: expected key \"resolution\" (pypianoroll >= 1.0) or \"beat_resolution\""},
        BadCase{"crc_mismatch.npz", absl::StatusCode::kInvalidArgument,
                "pianoroll_0_csc_indices.npy: expected CRC-32"}),
    [](const ::testing::TestParamInfo<BadCase>& info) {
      std::string name = info.param.file;
      name = name.substr(0, name.find('.'));
      for (char& ch : name) ch = ch == '_' ? 'X' : ch;  // gtest names: alphanumerics only
      return name;
    });

TEST_F(PianorollNpzTest, GoodTwinOfTheBadFilesLoads) {
  const Multitrack song = MustRead(kDir + "bad/good.npz");
  ASSERT_EQ(song.tracks.size(), 1u);
  EXPECT_EQ(song.tracks[0].pianoroll.nnz(), 3);  // drum hits at steps 0, 12, 24
  EXPECT_TRUE(song.tempo.empty()) << "no tempo member";
}

TEST_F(PianorollNpzTest, MissingFileIsNotFound) {
  StatusOr<Multitrack> song = ReadPianorollNpz(dir_ + "/absent.npz");
  EXPECT_EQ(song.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(song.status().message()), HasSubstr("absent.npz"));
}

Multitrack MakeSong() {
  Multitrack song;
  song.name = "round trip";
  song.resolution = 12;
  const int64_t steps = 500;
  for (int i = 0; i < 4; ++i) {
    Track track;
    track.name = i == 1 ? "" : absl::StrCat("track ", i);
    track.program = i * 10;
    track.is_drum = i == 0;
    SparsePianorollBuilder builder;
    if (i != 2) {  // track 2 stays empty
      for (int64_t t = 0; t < steps - 20; t += 17 + i) builder.AddNote(30 + (t * 7 + i) % 90, t, t + 9, 1 + t % 127);
      builder.Set(steps - 1, 127, 127);
      builder.Set(0, 0, 1);
    }
    track.pianoroll = builder.Build(steps, /*binary=*/i == 3);
    song.tracks.push_back(std::move(track));
  }
  // Empty tracks come back binary (stored as |b1); make the expectation exact.
  song.tracks[2].pianoroll.binary = true;
  for (int64_t t = 0; t < steps; ++t) {
    song.tempo.push_back(t < 200 ? 100.0 : 133.25);
    song.downbeat.push_back(t % 48 == 0);
  }
  return song;
}

TEST_F(PianorollNpzTest, RoundTripBothLayouts) {
  const Multitrack song = MakeSong();
  for (NpzLayout layout : {NpzLayout::kLegacy, NpzLayout::kV1}) {
    const std::string path = dir_ + (layout == NpzLayout::kLegacy ? "/legacy.npz" : "/v1.npz");
    ASSERT_TRUE(WritePianorollNpz(song, path, layout).ok());
    EXPECT_EQ(SongDiff(song, MustRead(path)), "") << path;
    Multitrack unnamed = song;
    unnamed.name.reset();
    unnamed.tempo.clear();
    ASSERT_TRUE(WritePianorollNpz(unnamed, path, layout).ok()) << "overwrites";
    EXPECT_EQ(SongDiff(unnamed, MustRead(path)), "") << path;
  }
  // Only the two targets remain: no temporary files left behind.
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) files += entry.is_regular_file();
  EXPECT_EQ(files, 2);
}

TEST_F(PianorollNpzTest, AllEmptySongTakesItsLengthFromTempo) {
  Multitrack song;
  song.name = "silence";
  song.tracks.resize(2);
  for (Track& t : song.tracks) t.pianoroll.binary = true;
  song.tempo.assign(96, 120.0);
  const std::string path = dir_ + "/silence.npz";
  ASSERT_TRUE(WritePianorollNpz(song, path).ok());
  for (bool load_tempo : {true, false}) {
    const Multitrack back = MustRead(path, {load_tempo, true});
    ASSERT_EQ(back.tracks.size(), 2u);
    EXPECT_EQ(back.tracks[0].pianoroll.n_steps, 96) << "load_tempo=" << load_tempo;
    EXPECT_EQ(back.tempo.size(), load_tempo ? 96u : 0u);
  }
}

TEST_F(PianorollNpzTest, FixturesSurviveARewrite) {
  const Multitrack legacy = MustRead(kDir + "legacy.npz");
  ASSERT_TRUE(WritePianorollNpz(legacy, dir_ + "/x.npz", NpzLayout::kV1).ok());
  EXPECT_EQ(SongDiff(legacy, MustRead(dir_ + "/x.npz")), "");
}

TEST_F(PianorollNpzTest, InvalidSongsAreNotWritten) {
  Multitrack song = MakeSong();
  song.tracks[1].pianoroll.steps[0] = 10000;
  Status s = WritePianorollNpz(song, dir_ + "/bad.npz");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("track 1 (): expected a valid pianoroll"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/bad.npz"));
  song = MakeSong();
  song.tracks[0].program = 128;
  EXPECT_THAT(std::string(WritePianorollNpz(song, dir_ + "/bad.npz").message()),
              HasSubstr("expected program 0..127, got 128"));
}

TEST_F(PianorollNpzTest, NumpyLoadsWhatWeWrite) {
  const char* python = "/usr/bin/python3";
  if (access(python, X_OK) != 0 || std::system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0) {
    GTEST_SKIP() << "/usr/bin/python3 with numpy not found: cannot check numpy compatibility";
  }
  const Multitrack song = MakeSong();
  for (NpzLayout layout : {NpzLayout::kLegacy, NpzLayout::kV1}) {
    const std::string path = dir_ + "/np.npz";
    ASSERT_TRUE(WritePianorollNpz(song, path, layout).ok());
    const std::string tempo_shape = layout == NpzLayout::kLegacy ? "(500,)" : "(500, 1)";
    const std::string key = layout == NpzLayout::kLegacy ? "beat_resolution" : "resolution";
    // Rebuild the dense roll of track 1 from the CSC members and compare its sum of velocities.
    int64_t velocity_sum = 0;
    for (uint8_t v : song.tracks[1].pianoroll.velocities) velocity_sum += v;
    const std::string script = absl::StrCat(
        "import json, numpy as np\n"
        "z = np.load('", path, "')\n",
        "info = json.loads(z.zip.read('info.json'))\n"
        "assert info['", key, "'] == 12 and info['name'] == 'round trip', info\n"
        "assert z['tempo'].shape == ", tempo_shape, " and z['tempo'].dtype == np.float64\n"
        "assert z['downbeat'].shape == ", tempo_shape, " and z['downbeat'].dtype == bool\n"
        "assert tuple(z['pianoroll_2_csc_shape']) == (0, 128) and z['pianoroll_2_csc_data'].dtype == bool\n"
        "assert z['pianoroll_3_csc_data'].dtype == bool and z['pianoroll_1_csc_data'].dtype == np.uint8\n"
        "d, i, p = z['pianoroll_1_csc_data'], z['pianoroll_1_csc_indices'], z['pianoroll_1_csc_indptr']\n"
        "dense = np.zeros(tuple(z['pianoroll_1_csc_shape']), np.int64)\n"
        "for c in range(128): dense[i[p[c]:p[c+1]], c] = d[p[c]:p[c+1]]\n"
        "assert dense.sum() == ", velocity_sum, ", dense.sum()\n");
    const std::string script_path = dir_ + "/check.py";
    ASSERT_TRUE(WriteFileAtomically(script_path, script).ok());
    EXPECT_EQ(std::system((std::string(python) + " " + script_path).c_str()), 0) << script;
  }
}

TEST(RealDataTest, ReadsEveryLpd5CleansedFile) {
  const std::string root = std::string(TUTTI_LPD5_REAL_DIR) + "/lpd_5/lpd_5_cleansed";
  if (!std::filesystem::is_directory(root)) GTEST_SKIP() << root << " not found: real LPD-5 slice unavailable";
  std::vector<std::string> paths;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (entry.is_regular_file() && entry.path().extension() == ".npz") paths.push_back(entry.path().string());
  }
  ASSERT_FALSE(paths.empty());
  for (bool with_tempo : {true, false}) {
    const auto start = std::chrono::steady_clock::now();
    const std::clock_t cpu_start = std::clock();
    int64_t cells = 0, empty_tracks = 0;
    for (const std::string& path : paths) {
      StatusOr<Multitrack> song = ReadPianorollNpz(path, {with_tempo, with_tempo});
      ASSERT_TRUE(song.ok()) << song.status();
      ASSERT_EQ(song->tracks.size(), static_cast<size_t>(kLpd5Tracks)) << path;
      EXPECT_EQ(song->resolution, 24) << path;
      const int64_t length = song->MaxLength();
      if (with_tempo) {
        EXPECT_EQ(static_cast<int64_t>(song->tempo.size()), length) << path;
      }
      for (int i = 0; i < kLpd5Tracks; ++i) {
        const Track& track = song->tracks[i];
        EXPECT_EQ(track.name, kLpd5TrackSpecs[i].name) << path;
        EXPECT_EQ(track.program, kLpd5TrackSpecs[i].program) << path;
        EXPECT_EQ(track.is_drum, kLpd5TrackSpecs[i].is_drum) << path;
        EXPECT_EQ(track.pianoroll.n_steps, length) << path;
        cells += track.pianoroll.nnz();
        empty_tracks += track.pianoroll.nnz() == 0;
      }
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double cpu_seconds = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
    std::cout << "[ timing ] read " << paths.size() << " LPD-5 files (" << cells << " active cells, "
              << empty_tracks << " empty tracks) " << (with_tempo ? "with" : "without")
              << " tempo/downbeat in " << seconds << " s wall, " << cpu_seconds << " s CPU ("
              << 1000 * seconds / paths.size() << " ms/file, one thread)\n";
  }
}

}  // namespace
}  // namespace tutti
