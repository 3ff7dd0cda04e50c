#include "core/synth/synth_corpus.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/base/file_util.h"
#include "core/base/interrupt.h"
#include "core/npz/npy.h"
#include "core/npz/pianoroll_npz.h"
#include "core/npz/zip_io.h"
#include "gtest/gtest.h"

namespace tutti {
namespace {

namespace fs = std::filesystem;

class SynthCorpusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StatusOr<std::string> dir = MakeTempDirectoryIn(fs::temp_directory_path().string(), "synth_corpus_test");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *dir;
  }
  void TearDown() override { RemoveAllQuietly(dir_); }

  SynthCorpusOptions Options(const std::string& name) const {
    SynthCorpusOptions o;
    o.out_dir = (fs::path(dir_) / name).string();
    o.songs = 20;
    o.seed = 7;
    o.duplicate_share = 0.1;
    o.missing_share = 0.1;
    o.second_genre_share = 0.3;
    return o;
  }

  std::string dir_;
};

std::vector<std::string> Lines(const std::string& path) {
  StatusOr<std::string> text = ReadFileToString(path);
  EXPECT_TRUE(text.ok()) << text.status();
  if (!text.ok()) return {};
  EXPECT_EQ(text->find('\r'), std::string::npos) << path;
  if (!text->empty()) {
    EXPECT_EQ(text->back(), '\n') << path;
  }
  std::vector<std::string> lines;
  std::istringstream in(*text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Relative path -> bytes of every regular file under root.
std::map<std::string, std::string> Tree(const std::string& root) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    StatusOr<std::string> bytes = ReadFileToString(entry.path().string());
    EXPECT_TRUE(bytes.ok());
    files[fs::relative(entry.path(), root).string()] = bytes.ok() ? *bytes : "";
  }
  return files;
}

// One member of an archive, uncompressed.
std::string ReadMember(ZipReader& zip, const std::string& member) {
  ByteBuffer buffer;
  Status status = zip.Read(member, &buffer);
  EXPECT_TRUE(status.ok()) << status;
  return status.ok() ? std::string(buffer.view()) : std::string();
}

TEST_F(SynthCorpusTest, WritesThePublishedLayout) {
  SynthCorpusOptions o = Options("lpd");
  StatusOr<SynthCorpusSummary> summary = WriteSyntheticLpd(o, /*show_progress=*/false);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->songs_written, 20);
  EXPECT_EQ(summary->duplicate_ids, 2);
  EXPECT_EQ(summary->distinct_files, 18);
  EXPECT_EQ(summary->missing_ids, 2);
  EXPECT_EQ(summary->files_written, 20 + 5 + 2);
  const fs::path root = o.out_dir;

  // cleansed_ids.txt: "<md5>    <MSD id>", sorted by id, every id once.
  const std::regex line_re("^([0-9a-f]{32})    (TR[A-Z0-9]{16})$");
  std::map<std::string, std::string> md5_by_id;
  std::map<std::string, int> ids_per_md5;
  std::string previous;
  for (const std::string& line : Lines((root / "cleansed_ids.txt").string())) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, line_re)) << line;
    EXPECT_LT(previous, m[2].str());
    previous = m[2];
    md5_by_id[m[2]] = m[1];
    ids_per_md5[m[1]]++;
  }
  EXPECT_EQ(md5_by_id.size(), 22u);

  // One folder per on-disk id at <c3>/<c4>/<c5>/<id>, holding exactly <md5>.npz.
  int on_disk = 0, missing = 0;
  std::map<std::string, std::string> bytes_by_md5;
  for (const auto& [id, md5] : md5_by_id) {
    const fs::path folder = root / "lpd_5" / "lpd_5_cleansed" / id.substr(2, 1) / id.substr(3, 1) / id.substr(4, 1) / id;
    if (!fs::exists(folder)) {
      ++missing;
      continue;
    }
    ++on_disk;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(folder)) files.push_back(e.path());
    ASSERT_EQ(files.size(), 1u) << folder;
    EXPECT_EQ(files[0].filename().string(), md5 + ".npz");
    StatusOr<std::string> bytes = ReadFileToString(files[0].string());
    ASSERT_TRUE(bytes.ok());
    if (bytes_by_md5.count(md5)) {
      EXPECT_EQ(bytes_by_md5[md5], *bytes) << "duplicates must be identical files";
    }
    bytes_by_md5[md5] = *bytes;
  }
  EXPECT_EQ(on_disk, 20);
  EXPECT_EQ(missing, 2);
  int shared = 0;
  for (const auto& [md5, n] : ids_per_md5) shared += n > 1;
  EXPECT_GE(shared, 1) << "some md5 must sit under two MSD ids";

  // Genre lists: every genre has one, every listed id is known, and the lists overlap.
  std::map<std::string, int> genres_per_id;
  int listed_missing = 0;
  for (const std::string& g : o.genres) {
    const fs::path list = root / "lastfm" / ("id_list_" + g + ".txt");
    ASSERT_TRUE(fs::exists(list)) << list;
    int on_disk_here = 0;
    for (const std::string& id : Lines(list.string())) {
      ASSERT_TRUE(md5_by_id.count(id)) << id << " listed in " << g << " but not in cleansed_ids.txt";
      genres_per_id[id]++;
      const fs::path folder = root / "lpd_5" / "lpd_5_cleansed" / id.substr(2, 1) / id.substr(3, 1) / id.substr(4, 1) / id;
      if (fs::exists(folder)) {
        ++on_disk_here;
      } else {
        ++listed_missing;
      }
    }
    EXPECT_EQ(on_disk_here, summary->per_genre.at(g)) << g;
    EXPECT_GT(on_disk_here, 0) << g;
  }
  EXPECT_EQ(listed_missing, 2);
  int multi = 0;
  for (const auto& [id, n] : genres_per_id) multi += n > 1;
  EXPECT_GE(multi, 1);
  EXPECT_EQ(multi, summary->multi_genre_ids);
  EXPECT_EQ(genres_per_id.size(), md5_by_id.size()) << "every id is in some list";

  StatusOr<std::string> readme = ReadFileToString((root / "README.txt").string());
  ASSERT_TRUE(readme.ok());
  EXPECT_NE(readme->find("SYNTHETIC"), std::string::npos);
  // Nothing else beside the tree: the staging directory is gone.
  for (const auto& e : fs::directory_iterator(dir_)) EXPECT_EQ(e.path().filename().string(), "lpd") << e.path();
}

TEST_F(SynthCorpusTest, EverySongReadsBackAsLpd5) {
  SynthCorpusOptions o = Options("lpd");
  StatusOr<SynthCorpusSummary> summary = WriteSyntheticLpd(o, false);
  ASSERT_TRUE(summary.ok()) << summary.status();
  int songs = 0, with_empty = 0, partial_bars = 0;
  for (const auto& e : fs::recursive_directory_iterator(fs::path(o.out_dir) / "lpd_5" / "lpd_5_cleansed")) {
    if (e.path().extension() != ".npz") continue;
    ++songs;
    const std::string path = e.path().string();
    StatusOr<Multitrack> song = ReadPianorollNpz(path);
    ASSERT_TRUE(song.ok()) << song.status();
    EXPECT_EQ(song->name, e.path().stem().string());
    EXPECT_EQ(song->resolution, 24);
    ASSERT_EQ(song->tracks.size(), 5u);
    const int64_t length = song->MaxLength();
    EXPECT_EQ(static_cast<int64_t>(song->tempo.size()), length);
    EXPECT_GE(length, 16 * 96);
    EXPECT_LT(length, 49 * 96);
    partial_bars += length % 96 != 0;
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(song->tracks[i].name, kLpd5TrackSpecs[i].name);
      EXPECT_EQ(song->tracks[i].program, kLpd5TrackSpecs[i].program);
      EXPECT_EQ(song->tracks[i].is_drum, kLpd5TrackSpecs[i].is_drum);
    }

    // On disk: the legacy layout, and an empty track stored as shape (0, 128) with bool data.
    StatusOr<std::unique_ptr<ZipReader>> zip = ZipReader::Open(path);
    ASSERT_TRUE(zip.ok()) << zip.status();
    const std::string info = ReadMember(**zip, "info.json");
    EXPECT_NE(info.find("\"beat_resolution\""), std::string::npos);
    bool has_empty = false;
    for (int i = 0; i < 5; ++i) {
      std::string member = ReadMember(**zip, "pianoroll_" + std::to_string(i) + "_csc_shape.npy");
      StatusOr<NpyArray> shape = ParseNpy(member, "shape");
      ASSERT_TRUE(shape.ok()) << shape.status();
      ASSERT_EQ(shape->size, 2);
      int64_t dims[2];
      std::memcpy(dims, shape->data, sizeof dims);
      EXPECT_EQ(dims[1], 128);
      if (dims[0] == 0) {
        has_empty = true;
        EXPECT_EQ(song->tracks[i].pianoroll.nnz(), 0);
        member = ReadMember(**zip, "pianoroll_" + std::to_string(i) + "_csc_data.npy");
        StatusOr<NpyArray> data = ParseNpy(member, "data");
        ASSERT_TRUE(data.ok());
        EXPECT_EQ(data->dtype, NpyDtype::kBool);
      } else {
        EXPECT_EQ(dims[0], length);
        member = ReadMember(**zip, "pianoroll_" + std::to_string(i) + "_csc_data.npy");
        StatusOr<NpyArray> data = ParseNpy(member, "data");
        ASSERT_TRUE(data.ok());
        EXPECT_EQ(data->dtype, NpyDtype::kUint8) << "velocities, not binary";
      }
    }
    with_empty += has_empty;
  }
  EXPECT_EQ(songs, 20);
  EXPECT_GE(with_empty, 3);
  EXPECT_LE(with_empty, 17);
  EXPECT_GE(partial_bars, 2);
  EXPECT_LE(partial_bars, 18);
}

TEST_F(SynthCorpusTest, SameSeedSameBytes) {
  SynthCorpusOptions a = Options("a"), b = Options("b"), c = Options("c");
  c.seed = 8;
  ASSERT_TRUE(WriteSyntheticLpd(a, false).ok());
  ASSERT_TRUE(WriteSyntheticLpd(b, false).ok());
  ASSERT_TRUE(WriteSyntheticLpd(c, false).ok());
  std::map<std::string, std::string> ta = Tree(a.out_dir), tb = Tree(b.out_dir), tc = Tree(c.out_dir);
  EXPECT_EQ(ta.size(), 27u);
  EXPECT_TRUE(ta == tb) << "same options must give byte-identical trees";
  EXPECT_FALSE(ta == tc);
}

TEST_F(SynthCorpusTest, ReplacesOnlyASyntheticTree) {
  SynthCorpusOptions o = Options("lpd");
  ASSERT_TRUE(WriteSyntheticLpd(o, false).ok());
  o.seed = 9;
  o.songs = 5;
  StatusOr<SynthCorpusSummary> again = WriteSyntheticLpd(o, false);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(Lines((fs::path(o.out_dir) / "cleansed_ids.txt").string()).size(), 6u);

  const fs::path foreign = fs::path(dir_) / "precious";
  ASSERT_TRUE(CreateDirectories(foreign.string()).ok());
  ASSERT_TRUE(WriteFileAtomically((foreign / "thesis.tex").string(), "x").ok());
  o.out_dir = foreign.string();
  StatusOr<SynthCorpusSummary> refused = WriteSyntheticLpd(o, false);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(fs::exists(foreign / "thesis.tex"));
}

TEST_F(SynthCorpusTest, RejectsBadOptions) {
  SynthCorpusOptions o = Options("x");
  o.songs = 0;
  EXPECT_EQ(WriteSyntheticLpd(o, false).status().code(), absl::StatusCode::kInvalidArgument);
  o = Options("x");
  o.genres = {"Rock"};
  EXPECT_EQ(WriteSyntheticLpd(o, false).status().code(), absl::StatusCode::kInvalidArgument);
  o = Options("x");
  o.genres = {"rock", "rock"};
  EXPECT_EQ(WriteSyntheticLpd(o, false).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(fs::path(dir_) / "x"));
}

// Ctrl-C leaves nothing behind. The interrupt flag cannot be cleared, so this runs in a child process.
TEST_F(SynthCorpusTest, InterruptLeavesNothing) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const SynthCorpusOptions o = Options("lpd");
  const std::string dir = dir_;
  EXPECT_EXIT(
      {
        RequestInterrupt();
        StatusOr<SynthCorpusSummary> r = WriteSyntheticLpd(o, false);
        const bool clean = r.status().code() == absl::StatusCode::kCancelled && fs::is_empty(dir);
        RemoveAllQuietly(dir);  // the child exits without TearDown
        std::_Exit(clean ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

// The full default corpus; run with --gtest_also_run_disabled_tests to time it.
TEST_F(SynthCorpusTest, DISABLED_Default200Songs) {
  SynthCorpusOptions o;
  o.out_dir = (fs::path(dir_) / "lpd").string();
  StatusOr<SynthCorpusSummary> summary = WriteSyntheticLpd(o, true);
  ASSERT_TRUE(summary.ok()) << summary.status();
  std::printf("200 songs: %.2f s, %lld bytes, %d distinct files, %d with an empty track\n", summary->seconds,
              static_cast<long long>(summary->bytes_written), summary->distinct_files,
              summary->songs_with_empty_track);
}

}  // namespace
}  // namespace tutti
