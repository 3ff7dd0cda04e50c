#include "core/data/pack_manifest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include "core/base/file_util.h"
#include "core/data/data_test_util.h"

namespace tutti {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

PackManifest SampleManifest() {
  PackManifest m;
  m.genre = "rock";
  m.shape = SampleShape{5, 64, 72};
  m.train_shards = {{"train-00000.shard", 3, 64 + 3 * 2880, std::string(64, 'a')},
                    {"train-00001.shard", 1, 64 + 2880, std::string(64, 'b')}};
  m.heldout_shards = {{"heldout-00000.shard", 2, 64 + 2 * 2880, std::string(64, 'c')}};
  m.songs = {{"d41d8cd9", {"TRAAAAW128F429D538"}, 4, Split::kTrain},
             {"0cc175b9", {"TRA1", "TRA2"}, 2, Split::kHeldout}};
  m.packing = {{"bars", 4}, {"seed", 7}};
  m.summary = {{"songs_seen", 10}};
  m.created_by = "tutti test";
  return m;
}

// Writes `j` to <dir>/manifest.json and reads it back through ReadManifest (real files, as the tools do).
StatusOr<PackManifest> WriteAndRead(const testing::TempDir& dir, const json& j) {
  std::string path = dir / "manifest.json";
  Status s = WriteFileAtomically(path, j.dump(2));
  if (!s.ok()) return s;
  return ReadManifest(path);
}

TEST(PackManifestTest, RoundTripThroughFile) {
  testing::TempDir dir;
  PackManifest m = SampleManifest();
  StatusOr<PackManifest> back = WriteAndRead(dir, m.ToJson());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->genre, "rock");
  EXPECT_EQ(back->shape, m.shape);
  ASSERT_EQ(back->train_shards.size(), 2u);
  EXPECT_EQ(back->train_shards[1].file, "train-00001.shard");
  EXPECT_EQ(back->train_shards[1].bytes, 64u + 2880u);
  EXPECT_EQ(back->heldout_shards[0].sha256, std::string(64, 'c'));
  EXPECT_EQ(back->samples(Split::kTrain), 4);
  EXPECT_EQ(back->samples(Split::kHeldout), 2);
  ASSERT_EQ(back->songs.size(), 2u);
  EXPECT_EQ(back->songs[1].msd_ids, (std::vector<std::string>{"TRA1", "TRA2"}));
  EXPECT_EQ(back->songs[1].split, Split::kHeldout);
  EXPECT_EQ(back->packing, m.packing);
  EXPECT_EQ(back->summary, m.summary);
  EXPECT_EQ(back->created_by, "tutti test");
  EXPECT_EQ(back->ToJson(), m.ToJson());
}

TEST(PackManifestTest, MissingFileIsNotFound) {
  testing::TempDir dir;
  EXPECT_EQ(ReadManifest(dir / "manifest.json").status().code(), absl::StatusCode::kNotFound);
}

TEST(PackManifestTest, BadJsonNamesPath) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir / "manifest.json", "{\"genre\": ").ok());
  Status s = ReadManifest(dir / "manifest.json").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr(dir / "manifest.json: not valid JSON"));
}

struct BadCase {
  const char* name;
  std::function<void(json&)> edit;
  const char* expected;  // substring of the error after "<path>: "
};

TEST(PackManifestTest, BadManifestsNameKeyAndExpectation) {
  const std::vector<BadCase> cases = {
      {"missing genre", [](json& j) { j.erase("genre"); },
       "key 'genre': expected a string, got nothing (the key is missing)"},
      {"genre wrong type", [](json& j) { j["genre"] = 12; }, "key 'genre': expected a string, got 12"},
      {"shape string", [](json& j) { j["shape"] = "abc"; },
       "key 'shape': expected an array of 3 positive integers (at most 65536), got \"abc\""},
      {"shape two dims", [](json& j) { j["shape"] = {5, 64}; }, "key 'shape': expected an array of 3"},
      {"shape zero", [](json& j) { j["shape"] = {5, 0, 72}; }, "got [5,0,72]"},
      {"future version", [](json& j) { j["format_version"] = 2; },
       "key 'format_version': this build reads version 1, got 2"},
      {"shards not array", [](json& j) { j["train_shards"] = json::object(); },
       "key 'train_shards': expected an array of shard objects, got {}"},
      {"bad sha", [](json& j) { j["train_shards"][1]["sha256"] = "xyz"; },
       "key 'train_shards[1].sha256': expected 64 lower-case hex digits, got \"xyz\""},
      {"negative samples", [](json& j) { j["heldout_shards"][0]["samples"] = -1; },
       "key 'heldout_shards[0].samples': expected an integer in [0, "},
      {"samples float", [](json& j) { j["heldout_shards"][0]["samples"] = 2.5; }, "got 2.5"},
      {"path in file", [](json& j) { j["train_shards"][0]["file"] = "../x.shard"; },
       "key 'train_shards[0].file': expected a plain file name"},
      {"duplicate file", [](json& j) { j["heldout_shards"][0]["file"] = "train-00000.shard"; },
       "key 'heldout_shards[0].file': 'train-00000.shard' is listed twice"},
      {"bytes mismatch", [](json& j) { j["train_shards"][0]["bytes"] = 100; },
       "key 'train_shards[0].bytes': expected 64 + 3 x 2880 = 8704 for shape (5, 64, 72), got 100"},
      {"song split", [](json& j) { j["songs"][0]["split"] = "test"; },
       "key 'songs[0].split': expected \"train\" or \"heldout\", got \"test\""},
      {"songs do not add up", [](json& j) { j["songs"][0]["samples"] = 3; },
       "key 'songs': the train songs account for 3 samples, the train shards hold 4"},
      {"stated totals", [](json& j) { j["samples"]["train"] = 5; },
       "key 'samples.train': expected 4 (the sum of the train shards), got 5"},
      {"missing packing", [](json& j) { j.erase("packing"); }, "key 'packing': expected a JSON value"},
      {"top level", [](json& j) { j = json::array(); }, "key '(top level)': expected a JSON object, got []"},
  };
  testing::TempDir dir;
  for (const BadCase& c : cases) {
    json j = SampleManifest().ToJson();
    c.edit(j);
    Status s = WriteAndRead(dir, j).status();
    EXPECT_FALSE(s.ok()) << c.name;
    EXPECT_THAT(std::string(s.message()), HasSubstr(dir / "manifest.json: "))
        << c.name;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.expected)) << c.name;
  }
}

TEST(PackManifestTest, UnknownKeysAreIgnoredAndEmptySongsAllowed) {
  json j = SampleManifest().ToJson();
  j["future_field"] = {1, 2, 3};
  j["songs"] = json::array();
  StatusOr<PackManifest> m = PackManifest::FromJson(j, "x/manifest.json");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_TRUE(m->songs.empty());
}

TEST(PackManifestTest, SplitNames) {
  EXPECT_STREQ(SplitName(Split::kTrain), "train");
  EXPECT_EQ(*ParseSplit("heldout"), Split::kHeldout);
  EXPECT_FALSE(ParseSplit("valid").ok());
}

}  // namespace
}  // namespace tutti
