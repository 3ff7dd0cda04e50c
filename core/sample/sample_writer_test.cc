#include "core/sample/sample_writer.h"

#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "core/base/file_util.h"
#include "core/npz/pianoroll_npz.h"
#include "core/render/wav.h"

namespace tutti {
namespace {

namespace fs = std::filesystem;

const SampleShape kShape{5, 64, 72};

std::string FreshDir(const std::string& name) {
  std::string dir = ::testing::TempDir() + "/sample_writer_test_" + name;
  fs::remove_all(dir);
  return dir;
}

std::vector<uint8_t> RandomSamples(int64_t n, double density, uint32_t seed) {
  std::mt19937 rng(seed);
  std::bernoulli_distribution on(density);
  std::vector<uint8_t> dense(static_cast<size_t>(n * kShape.cells()));
  for (uint8_t& cell : dense) cell = on(rng) ? 1 : 0;
  return dense;
}

TEST(SampleToMultitrack, MapsRowsToMidiPitchesWithLpd5Tracks) {
  std::vector<uint8_t> sample(static_cast<size_t>(kShape.cells()), 0);
  sample[static_cast<size_t>(kShape.CellIndex(3, 5, 10))] = 1;  // bass, step 5, row 10 -> MIDI 34
  sample[static_cast<size_t>(kShape.CellIndex(3, 6, 10))] = 1;  // same note, one step longer
  sample[static_cast<size_t>(kShape.CellIndex(0, 0, 12))] = 1;  // drums, MIDI 36 (bass drum)
  StatusOr<Multitrack> song = SampleToMultitrack(sample.data(), kShape, {}, "s");
  ASSERT_TRUE(song.ok()) << song.status();
  EXPECT_EQ(song->resolution, 4);
  EXPECT_EQ(song->name, "s");
  ASSERT_EQ(song->tracks.size(), 5u);
  const std::vector<std::string> names = {"Drums", "Piano", "Guitar", "Bass", "Strings"};
  const std::vector<int> programs = {0, 0, 24, 32, 48};
  for (size_t t = 0; t < 5; ++t) {
    EXPECT_EQ(song->tracks[t].name, names[t]);
    EXPECT_EQ(song->tracks[t].program, programs[t]);
    EXPECT_EQ(song->tracks[t].is_drum, t == 0);
    EXPECT_EQ(song->tracks[t].pianoroll.n_steps, 64);
    EXPECT_TRUE(song->tracks[t].pianoroll.binary);
    EXPECT_EQ(song->tracks[t].pianoroll.Validate(), "");
  }
  const SparsePianoroll& bass = song->tracks[3].pianoroll;
  EXPECT_EQ(bass.nnz(), 2);
  EXPECT_EQ(bass.CountNotes(), 1);
  EXPECT_EQ(bass.indptr[35] - bass.indptr[34], 2);  // both cells in MIDI column 34
  EXPECT_EQ(song->tracks[0].pianoroll.indptr[37] - song->tracks[0].pianoroll.indptr[36], 1);
  ASSERT_EQ(song->tempo.size(), 64u);
  EXPECT_EQ(song->tempo[0], 100);
  ASSERT_EQ(song->downbeat.size(), 64u);
  for (size_t s = 0; s < 64; ++s) EXPECT_EQ(song->downbeat[s], s % 16 == 0 ? 1 : 0) << s;
}

TEST(SampleToMultitrack, RejectsOptionsThatDoNotFitTheShape) {
  std::vector<uint8_t> sample(static_cast<size_t>(kShape.cells()), 0);
  SampleFileOptions options;
  options.programs = {0, 0, 25};
  StatusOr<Multitrack> song = SampleToMultitrack(sample.data(), kShape, options, "s");
  ASSERT_FALSE(song.ok());
  EXPECT_EQ(song.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(song.status().message().find("expected 5 programs"), std::string::npos) << song.status();

  options = {};
  options.lowest_pitch = 60;  // 60 + 72 rows > 128
  EXPECT_FALSE(SampleToMultitrack(sample.data(), kShape, options, "s").ok());
  options = {};
  options.steps_per_bar = 24;  // 64 steps are not whole bars of 24
  EXPECT_FALSE(SampleToMultitrack(sample.data(), kShape, options, "s").ok());
}

TEST(WriteSampleFiles, WritesReadableDeterministicFiles) {
  const std::vector<uint8_t> samples = RandomSamples(3, 0.02, 7);
  SampleFileOptions options;
  options.write_wav = false;
  options.tempo_qpm = 120;
  const std::string a = FreshDir("a"), b = FreshDir("b");
  StatusOr<SampleFilesReport> ra = WriteSampleFiles(samples.data(), 3, kShape, a, options);
  ASSERT_TRUE(ra.ok()) << ra.status();
  StatusOr<SampleFilesReport> rb = WriteSampleFiles(samples.data(), 3, kShape, b, options);
  ASSERT_TRUE(rb.ok()) << rb.status();
  ASSERT_EQ(ra->samples.size(), 3u);
  EXPECT_EQ(ra->wav_skipped, "");
  EXPECT_EQ(ra->overview_png, a + "/overview.png");
  const std::vector<std::string> files_a = ra->Files(), files_b = rb->Files();
  ASSERT_EQ(files_a.size(), 3u * 3 + 1);
  ASSERT_EQ(files_b.size(), files_a.size());
  for (size_t i = 0; i < files_a.size(); ++i) {
    const std::string& fa = files_a[i];
    const std::string& fb = files_b[i];
    EXPECT_EQ(fs::path(fa).filename(), fs::path(fb).filename());
    StatusOr<std::string> da = ReadFileToString(fa), db = ReadFileToString(fb);
    ASSERT_TRUE(da.ok() && db.ok()) << fa;
    EXPECT_FALSE(da->empty()) << fa;
    EXPECT_TRUE(*da == *db) << fa << " differs from " << fb;
  }
  EXPECT_EQ(ra->samples[1].midi, a + "/sample-1.mid");

  // The .npz reads back with the same active cells, at resolution 4.
  StatusOr<Multitrack> back = ReadPianorollNpz(ra->samples[2].npz);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->resolution, 4);
  ASSERT_EQ(back->tracks.size(), 5u);
  EXPECT_EQ(back->tempo.at(0), 120);
  int64_t cells = 0;
  for (const Track& t : back->tracks) cells += t.pianoroll.nnz();
  int64_t expected = 0;
  for (int64_t i = 2 * kShape.cells(); i < 3 * kShape.cells(); ++i) expected += samples[static_cast<size_t>(i)];
  EXPECT_EQ(cells, expected);
  EXPECT_GT(ra->samples[2].notes(), 0);
}

TEST(WriteSampleFiles, RendersWavWhenFluidSynthIsInstalled) {
  const std::vector<uint8_t> samples = RandomSamples(1, 0.01, 3);
  const std::string dir = FreshDir("wav");
  StatusOr<SampleFilesReport> report = WriteSampleFiles(samples.data(), 1, kShape, dir, {});
  ASSERT_TRUE(report.ok()) << report.status();
  const bool have_fluidsynth = FindExecutableOnPath("fluidsynth").ok() && FindSoundFont("").ok();
  if (!have_fluidsynth) {
    EXPECT_NE(report->wav_skipped.find("install-deps.sh --with-audio"), std::string::npos) << report->wav_skipped;
    EXPECT_EQ(report->samples[0].wav, "");
    GTEST_SKIP() << "fluidsynth or a GM SoundFont is not installed: " << report->wav_skipped;
  }
  EXPECT_EQ(report->wav_skipped, "");
  ASSERT_EQ(report->samples[0].wav, dir + "/sample-0.wav");
  StatusOr<std::string> wav = ReadFileToString(report->samples[0].wav);
  ASSERT_TRUE(wav.ok()) << wav.status();
  EXPECT_EQ(wav->substr(0, 4), "RIFF");
}

TEST(WriteSampleFiles, NamesTheFileThatCannotBeWritten) {
  const std::vector<uint8_t> samples = RandomSamples(1, 0.01, 3);
  const std::string file = FreshDir("blocker");
  ASSERT_TRUE(WriteFileAtomically(file, "not a folder").ok());
  SampleFileOptions options;
  options.write_wav = false;
  StatusOr<SampleFilesReport> report = WriteSampleFiles(samples.data(), 1, kShape, file + "/out", options);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find(file), std::string::npos) << report.status();
}

}  // namespace
}  // namespace tutti
