#include "core/sample/sample_writer.h"

#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "core/base/file_util.h"
#include "core/npz/pianoroll_npz.h"

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

TEST(WriteSampleFiles, RendersWavInProcess) {
  const std::vector<uint8_t> samples = RandomSamples(1, 0.01, 3);
  const std::string dir = FreshDir("wav");
  StatusOr<SampleFilesReport> report = WriteSampleFiles(samples.data(), 1, kShape, dir, {});
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->samples[0].wav, dir + "/sample-0.wav");
  StatusOr<std::string> wav = ReadFileToString(report->samples[0].wav);
  ASSERT_TRUE(wav.ok()) << wav.status();
  EXPECT_EQ(wav->substr(0, 4), "RIFF");
  EXPECT_EQ(wav->substr(8, 4), "WAVE");
  // 4 bars at 100 qpm (9.6 s) and the 1 s tail, 44.1 kHz stereo 16-bit, within a few milliseconds.
  EXPECT_NEAR(static_cast<double>(wav->size() - 44) / (44100 * 4), 10.6, 0.01);
  EXPECT_EQ(report->Files().size(), 5u);
}

TEST(WriteSampleFiles, MissingSoundFontIsAnErrorNamingItAndTheInstallScript) {
  const std::vector<uint8_t> samples = RandomSamples(1, 0.01, 3);
  const std::string dir = FreshDir("no_soundfont");
  SampleFileOptions options;
  options.soundfont = "/nonexistent/gm.sf2";
  StatusOr<SampleFilesReport> report = WriteSampleFiles(samples.data(), 1, kShape, dir, options);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kNotFound) << report.status();
  EXPECT_NE(report.status().message().find("/nonexistent/gm.sf2"), std::string::npos) << report.status();
  EXPECT_NE(report.status().message().find("scripts/install-deps.sh"), std::string::npos) << report.status();
  EXPECT_FALSE(fs::exists(dir + "/sample-0.mid"));  // nothing written when encoding fails
}

TEST(EncodeSampleFiles, SameBytesAsTheFilesWriteSampleFilesWrites) {
  const std::vector<uint8_t> samples = RandomSamples(2, 0.005, 11);
  SampleFileOptions options;
  options.tempo_qpm = 110;
  const std::string dir = FreshDir("encode_vs_write");
  StatusOr<SampleFilesReport> report = WriteSampleFiles(samples.data(), 2, kShape, dir, options);
  ASSERT_TRUE(report.ok()) << report.status();
  SampleFormats formats;
  formats.wav = true;
  StatusOr<std::vector<EncodedSampleFile>> encoded = EncodeSampleFiles(samples.data(), 2, kShape, formats, options);
  ASSERT_TRUE(encoded.ok()) << encoded.status();

  const std::vector<std::string> files = report->Files();
  ASSERT_EQ(encoded->size(), files.size());
  const std::vector<std::string> names = {"sample-0.mid", "sample-0.npz", "sample-0.png", "sample-0.wav",
                                          "sample-1.mid", "sample-1.npz", "sample-1.png", "sample-1.wav",
                                          "overview.png"};
  for (size_t i = 0; i < files.size(); ++i) {
    EXPECT_EQ((*encoded)[i].name, names[i]);
    EXPECT_EQ(fs::path(files[i]).filename().string(), names[i]);
    StatusOr<std::string> on_disk = ReadFileToString(files[i]);
    ASSERT_TRUE(on_disk.ok()) << on_disk.status();
    EXPECT_TRUE((*encoded)[i].bytes == *on_disk) << names[i] << " differs from " << files[i];
  }
}

TEST(EncodeSampleFiles, FormatsAndFirstIndexPickTheFiles) {
  const std::vector<uint8_t> samples = RandomSamples(2, 0.005, 5);
  SampleFormats formats;
  formats.npz = false;
  formats.overview = false;
  StatusOr<std::vector<EncodedSampleFile>> encoded = EncodeSampleFiles(samples.data(), 2, kShape, formats, {}, 7);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  std::vector<std::string> names;
  for (const EncodedSampleFile& f : *encoded) names.push_back(f.name);
  EXPECT_EQ(names, (std::vector<std::string>{"sample-7.mid", "sample-7.png", "sample-8.mid", "sample-8.png"}));

  // The .npz of sample k carries the song name "sample-k", as WriteSampleFiles's would.
  formats = {};
  formats.midi = formats.png = false;
  encoded = EncodeSampleFiles(samples.data() + kShape.cells(), 1, kShape, formats, {}, 1);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  ASSERT_EQ(encoded->size(), 1u);
  const std::string dir = FreshDir("encode_npz");
  StatusOr<SampleFilesReport> report = WriteSampleFiles(samples.data(), 2, kShape, dir, [] {
    SampleFileOptions o;
    o.write_wav = false;
    return o;
  }());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE((*encoded)[0].bytes == *ReadFileToString(report->samples[1].npz));

  // Only a WAV: the MIDI is made for it but not returned.
  formats = {};
  formats.midi = formats.npz = formats.png = false;
  formats.wav = true;
  encoded = EncodeSampleFiles(samples.data(), 1, kShape, formats);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  ASSERT_EQ(encoded->size(), 1u);
  EXPECT_EQ((*encoded)[0].name, "sample-0.wav");
  EXPECT_EQ((*encoded)[0].bytes.substr(0, 4), "RIFF");
}

TEST(EncodeSampleFiles, RejectsBadArguments) {
  const std::vector<uint8_t> samples = RandomSamples(1, 0.02, 5);
  EXPECT_EQ(EncodeSampleFiles(samples.data(), 0, kShape, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodeSampleFiles(nullptr, 1, kShape, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodeSampleFiles(samples.data(), 1, kShape, {}, {}, -1).status().code(),
            absl::StatusCode::kInvalidArgument);
  SampleFileOptions options;
  options.programs = {0};
  EXPECT_EQ(EncodeSampleFiles(samples.data(), 1, kShape, {}, options).status().code(),
            absl::StatusCode::kInvalidArgument);
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
