#include "core/lpd/lpd_index.h"

#include <filesystem>
#include <fstream>

#include "core/base/file_util.h"
#include "gtest/gtest.h"

namespace tutti {
namespace {

namespace fs = std::filesystem;

void WriteText(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

LpdIndexOptions RootOnly(const std::string& root) {
  LpdIndexOptions options;
  options.root = root;
  return options;
}

// A tiny tree in the published layout: two ids share one file, one listed id is not on disk,
// one listed id is unknown to cleansed_ids.txt.
class LpdIndexTest : public testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::TempDir() + "/lpd_index_test";
    RemoveAllQuietly(root_);
    const std::string a = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", b = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    WriteText(root_ + "/cleansed_ids.txt", a + "    TRAAAAA128F0000001\n" + a + "    TRBBBBB128F0000002\n" + b +
                                               "    TRCCCCC128F0000003\n");
    WriteText(root_ + "/lpd_5/lpd_5_cleansed/A/A/A/TRAAAAA128F0000001/" + a + ".npz", "x");
    WriteText(root_ + "/lpd_5/lpd_5_cleansed/B/B/B/TRBBBBB128F0000002/" + a + ".npz", "x");
    WriteText(root_ + "/lastfm/id_list_rock.txt",
              "TRAAAAA128F0000001\nTRBBBBB128F0000002\nTRCCCCC128F0000003\nTRZZZZZ128F0000009\n");
    WriteText(root_ + "/lastfm/id_list_jazz.txt", "");
  }
  std::string root_;
};

TEST_F(LpdIndexTest, CountsListedOnDiskMissingDuplicatesAndUnknown) {
  auto index = LpdIndex::Open(RootOnly(root_));
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(index->genres(), (std::vector<std::string>{"jazz", "rock"}));
  auto rock = index->Select("rock");
  ASSERT_TRUE(rock.ok()) << rock.status();
  EXPECT_EQ(rock->listed, 4);
  EXPECT_EQ(rock->not_in_cleansed_ids, 1);
  EXPECT_EQ(rock->missing_on_disk, 1);
  EXPECT_EQ(rock->on_disk, 2);
  EXPECT_EQ(rock->duplicate_ids, 1);
  ASSERT_EQ(rock->files.size(), 1u);
  EXPECT_EQ(rock->files[0].msd_ids.size(), 2u);
  auto jazz = index->Select("jazz");
  ASSERT_TRUE(jazz.ok());
  EXPECT_TRUE(jazz->files.empty());
}

TEST_F(LpdIndexTest, UnknownGenreListsKnownOnes) {
  auto index = LpdIndex::Open(RootOnly(root_));
  ASSERT_TRUE(index.ok());
  auto polka = index->Select("polka");
  EXPECT_EQ(polka.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(polka.status().message()).find("Known genres: jazz, rock"), std::string::npos)
      << polka.status();
}

TEST_F(LpdIndexTest, AcceptsIdListsLastfmFolderName) {
  fs::rename(root_ + "/lastfm", root_ + "/id_lists_lastfm");
  auto index = LpdIndex::Open(RootOnly(root_));
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_NE(index->labels_dir().find("id_lists_lastfm"), std::string::npos);
}

TEST_F(LpdIndexTest, BadIdsLineNamesFileAndLine) {
  WriteText(root_ + "/cleansed_ids.txt", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa    TRAAAAA128F0000001\nnot a line\n");
  auto index = LpdIndex::Open(RootOnly(root_));
  ASSERT_FALSE(index.ok());
  EXPECT_NE(std::string(index.status().message()).find("cleansed_ids.txt:2: expected"), std::string::npos)
      << index.status();
}

TEST_F(LpdIndexTest, MissingRootIsClear) {
  auto index = LpdIndex::Open(RootOnly(root_ + "/nope"));
  ASSERT_FALSE(index.ok());
  EXPECT_NE(std::string(index.status().message()).find("LPD root folder not found"), std::string::npos);
}

TEST(LpdIndexReal, RealSliceCounts) {
  const std::string root = TUTTI_LPD5_REAL_DIR;
  if (!fs::exists(root)) GTEST_SKIP() << "real LPD-5 slice not found at " << root;
  auto index = LpdIndex::Open(RootOnly(root));
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(index->genres().size(), 69u);
  EXPECT_EQ(index->known_ids(), 21425);
  // The slice's README: songs on disk per list: rock 900, pop 723, jazz 109.
  for (auto [genre, on_disk] : std::vector<std::pair<std::string, int>>{{"rock", 900}, {"pop", 723}, {"jazz", 109}}) {
    auto selection = index->Select(genre);
    ASSERT_TRUE(selection.ok()) << selection.status();
    EXPECT_EQ(selection->on_disk, on_disk) << genre;
    EXPECT_EQ(selection->listed, selection->on_disk + selection->missing_on_disk + selection->not_in_cleansed_ids);
    EXPECT_EQ(static_cast<int64_t>(selection->files.size()), selection->on_disk - selection->duplicate_ids);
  }
}

}  // namespace
}  // namespace tutti
