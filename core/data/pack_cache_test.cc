// PackCache on real packs (PackWriter) served from an in-memory blob map, as the coordinator's blob store
// would serve them: first fetch, hits, damage repair, bad blobs, bad manifests, eviction, and two processes
// sharing one cache root.

#include "core/data/pack_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/base/file_util.h"
#include "core/base/sha256.h"
#include "core/data/data_test_util.h"
#include "core/data/pack_reader.h"

namespace tutti {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

const SampleShape kSmall{2, 8, 12};  // 24 packed bytes per sample: fast, same code paths
constexpr int kFilesPerPack = 5;     // manifest + train-0000{0,1,2} + heldout-00000 (10 + 3 samples, 4 per shard)

// The coordinator's content-addressed store, in memory: sha256 -> bytes, filled from real pack directories.
class BlobMap {
 public:
  // Adds manifest.json and every file the manifest lists; returns the manifest's sha256 (the pin).
  std::string AddPack(const std::string& pack_dir) {
    StatusOr<PackManifest> manifest = ReadManifest(pack_dir + "/manifest.json");
    EXPECT_TRUE(manifest.ok()) << manifest.status();
    for (Split split : kAllSplits) {
      for (const ShardInfo& shard : manifest->shards(split)) Add(Read(pack_dir + "/" + shard.file));
    }
    return Add(Read(pack_dir + "/manifest.json"));
  }
  std::string Add(std::string bytes) {
    std::string sha = Sha256Hex(bytes);
    blobs_[sha] = std::move(bytes);
    return sha;
  }
  const std::string& Get(const std::string& sha) const { return blobs_.at(sha); }

  // A fetcher serving these blobs and counting its calls per sha256.
  BlobFetcher Fetcher() {
    return [this](const std::string& sha) -> StatusOr<std::string> {
      ++calls_[sha];
      ++total_calls_;
      auto it = blobs_.find(sha);
      if (it == blobs_.end()) return absl::NotFoundError("no blob " + sha);
      return it->second;
    };
  }
  int total_calls() const { return total_calls_; }
  int calls(const std::string& sha) const { return calls_.count(sha) ? calls_.at(sha) : 0; }

 private:
  static std::string Read(const std::string& path) {
    StatusOr<std::string> bytes = ReadFileToString(path);
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    return bytes.ok() ? *bytes : "";
  }
  std::map<std::string, std::string> blobs_;
  std::map<std::string, int> calls_;
  int total_calls_ = 0;
};

class PackCacheTest : public ::testing::Test {
 protected:
  // Writes a source pack of `genre` made with `seed` and serves it; returns the manifest sha256.
  std::string MakePack(const std::string& genre, uint64_t seed) {
    const std::string dir = tmp_ / ("src/" + genre);
    Status status = testing::WriteTestPack(dir, genre, seed, 10, 3, 4, kSmall);
    EXPECT_TRUE(status.ok()) << status;
    return blobs_.AddPack(dir);
  }
  std::unique_ptr<PackCache> OpenCache(int64_t max_bytes = int64_t{1} << 30) {
    StatusOr<std::unique_ptr<PackCache>> cache = PackCache::Open({root_, max_bytes});
    EXPECT_TRUE(cache.ok()) << cache.status();
    return cache.ok() ? std::move(*cache) : nullptr;
  }
  int64_t SourcePackBytes(const std::string& genre) {
    int64_t total = 0;
    for (const auto& entry : fs::directory_iterator(tmp_ / ("src/" + genre))) total += fs::file_size(entry.path());
    return total;
  }
  // Every sample of the pack at `dir` equals the one the test pack made with `seed` holds.
  static void ExpectSamples(const std::string& dir, uint64_t seed) {
    StatusOr<std::unique_ptr<PackReader>> reader = PackReader::Open(dir);
    ASSERT_TRUE(reader.ok()) << reader.status();
    EXPECT_EQ((*reader)->size(Split::kTrain), 10);
    EXPECT_EQ((*reader)->size(Split::kHeldout), 3);
    std::vector<uint8_t> dense(static_cast<size_t>(kSmall.cells()));
    for (Split split : kAllSplits) {
      for (int64_t i = 0; i < (*reader)->size(split); ++i) {
        (*reader)->CopySample(split, i, dense.data());
        ASSERT_EQ(dense, testing::TestSample(kSmall, seed, split, i)) << SplitName(split) << " " << i;
      }
    }
  }

  testing::TempDir tmp_;
  const std::string root_ = tmp_ / "cache";
  BlobMap blobs_;
};

TEST_F(PackCacheTest, FirstEnsureFetchesEverythingThenHits) {
  const std::string rock = MakePack("rock", 7);
  const std::string jazz = MakePack("jazz", 8);
  std::unique_ptr<PackCache> cache = OpenCache();
  ASSERT_NE(cache, nullptr);

  PackCacheReport report;
  StatusOr<std::string> view = cache->Ensure({{"rock", rock}, {"jazz", jazz}}, blobs_.Fetcher(), &report);
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(report.packs_fetched, 2);
  EXPECT_EQ(report.packs_hit, 0);
  EXPECT_EQ(report.files_fetched, 2 * kFilesPerPack);
  EXPECT_EQ(report.files_damaged, 0);
  EXPECT_EQ(report.bytes_fetched, SourcePackBytes("rock") + SourcePackBytes("jazz"));
  EXPECT_EQ(report.packs_evicted, 0);
  EXPECT_EQ(blobs_.total_calls(), 2 * kFilesPerPack);
  EXPECT_EQ(fs::read_symlink(*view + "/rock").string(), "../../packs/" + rock);
  EXPECT_TRUE(fs::path(*view).is_absolute());
  ExpectSamples(*view + "/rock", 7);
  ExpectSamples(*view + "/jazz", 8);
  EXPECT_TRUE(VerifyPack(*view + "/rock").ok());
  EXPECT_TRUE(testing::ListDir(root_ + "/incoming").empty()) << "no temporaries left";

  // Same pins in another order (and one twice): nothing fetched, same directory.
  StatusOr<std::string> again =
      cache->Ensure({{"jazz", jazz}, {"rock", rock}, {"jazz", jazz}}, blobs_.Fetcher(), &report);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *view);
  EXPECT_EQ(report.packs_hit, 2);
  EXPECT_EQ(report.packs_fetched, 0);
  EXPECT_EQ(report.files_fetched, 0);
  EXPECT_EQ(report.bytes_fetched, 0);
  EXPECT_EQ(blobs_.total_calls(), 2 * kFilesPerPack);

  // A wrong symlink and a leftover temporary are repaired / removed; a different pin set gets another view.
  fs::remove(*view + "/rock");
  fs::create_symlink("../../packs/" + jazz, *view + "/rock");
  std::ofstream(root_ + "/incoming/.leftover.tmp-1-1") << "x";
  ASSERT_TRUE(cache->Ensure({{"rock", rock}, {"jazz", jazz}}, blobs_.Fetcher()).ok());
  EXPECT_EQ(fs::read_symlink(*view + "/rock").string(), "../../packs/" + rock);
  EXPECT_TRUE(testing::ListDir(root_ + "/incoming").empty());
  StatusOr<std::string> rock_only = cache->Ensure({{"rock", rock}}, blobs_.Fetcher());
  ASSERT_TRUE(rock_only.ok()) << rock_only.status();
  EXPECT_NE(*rock_only, *view);
  EXPECT_EQ(testing::ListDir(*rock_only), std::vector<std::string>{"rock"});
}

TEST_F(PackCacheTest, DamagedFilesAreDetectedAndFetchedAgain) {
  const std::string rock = MakePack("rock", 7);
  std::unique_ptr<PackCache> cache = OpenCache();
  ASSERT_TRUE(cache->Ensure({{"rock", rock}}, blobs_.Fetcher()).ok());
  const std::string pack = cache->PackDir(rock);

  // Same size, different bytes (past the header, so only the sha256 can tell), and a truncation.
  {
    std::fstream f(pack + "/train-00001.shard", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(80);
    f.put('\x5a');
    f.put('\xa5');
  }
  const uint64_t size_before = fs::file_size(pack + "/train-00001.shard");
  fs::resize_file(pack + "/heldout-00000.shard", 70);
  ASSERT_EQ(fs::file_size(pack + "/train-00001.shard"), size_before);

  PackCacheReport report;
  const int calls_before = blobs_.total_calls();
  StatusOr<std::string> view = cache->Ensure({{"rock", rock}}, blobs_.Fetcher(), &report);
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(report.files_damaged, 2);
  EXPECT_EQ(report.files_fetched, 2);
  EXPECT_EQ(report.packs_fetched, 1);
  EXPECT_EQ(report.packs_hit, 0);
  EXPECT_EQ(blobs_.total_calls(), calls_before + 2);
  Status verified = VerifyPack(*view + "/rock");
  EXPECT_TRUE(verified.ok()) << verified;
  ExpectSamples(*view + "/rock", 7);

  // A damaged manifest.json (and a missing shard: not "damaged", just fetched).
  std::ofstream(pack + "/manifest.json", std::ios::app) << " ";
  fs::remove(pack + "/train-00000.shard");
  ASSERT_TRUE(cache->Ensure({{"rock", rock}}, blobs_.Fetcher(), &report).ok());
  EXPECT_EQ(report.files_damaged, 1);
  EXPECT_EQ(report.files_fetched, 2);
  EXPECT_EQ(Sha256Hex(*ReadFileToString(pack + "/manifest.json")), rock);
  EXPECT_TRUE(VerifyPack(pack).ok());
}

TEST_F(PackCacheTest, WrongBytesAreDataLossAndLeaveNoCompletePack) {
  const std::string rock = MakePack("rock", 7);
  std::unique_ptr<PackCache> cache = OpenCache();
  const std::string pack = cache->PackDir(rock);

  // The manifest itself arrives damaged.
  BlobFetcher bad_manifest = [&](const std::string& sha) -> StatusOr<std::string> {
    std::string bytes = blobs_.Get(sha);
    if (sha == rock) bytes[0] ^= 1;
    return bytes;
  };
  StatusOr<std::string> view = cache->Ensure({{"rock", rock}}, bad_manifest);
  ASSERT_FALSE(view.ok());
  EXPECT_EQ(view.status().code(), absl::StatusCode::kDataLoss) << view.status();
  EXPECT_THAT(view.status().message(), HasSubstr(rock));
  EXPECT_FALSE(fs::exists(pack + "/manifest.json"));

  // A shard arrives with the right size but other bytes: DataLoss naming the shard's sha256.
  StatusOr<PackManifest> manifest = ReadManifest(tmp_ / "src/rock/manifest.json");
  ASSERT_TRUE(manifest.ok());
  const std::string bad_shard = manifest->train_shards[2].sha256;
  BlobFetcher flips_shard = [&](const std::string& sha) -> StatusOr<std::string> {
    std::string bytes = blobs_.Get(sha);
    if (sha == bad_shard) bytes.back() ^= 1;
    return bytes;
  };
  view = cache->Ensure({{"rock", rock}}, flips_shard);
  ASSERT_FALSE(view.ok());
  EXPECT_EQ(view.status().code(), absl::StatusCode::kDataLoss) << view.status();
  EXPECT_THAT(view.status().message(), HasSubstr(bad_shard));
  EXPECT_THAT(view.status().message(), HasSubstr("train-00002.shard"));
  EXPECT_FALSE(fs::exists(pack + "/manifest.json")) << "a pack with a manifest must be complete";
  EXPECT_FALSE(fs::exists(pack + "/train-00002.shard"));

  // The transport fails: its code comes back with the sha256 and the genre.
  BlobFetcher unavailable = [](const std::string&) -> StatusOr<std::string> {
    return absl::UnavailableError("coordinator unreachable");
  };
  view = cache->Ensure({{"rock", rock}}, unavailable);
  ASSERT_FALSE(view.ok());
  EXPECT_EQ(view.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(view.status().message(), HasSubstr(rock));
  EXPECT_THAT(view.status().message(), HasSubstr("'rock'"));
  EXPECT_THAT(view.status().message(), HasSubstr("coordinator unreachable"));

  // A good fetcher then completes the pack; the shards already verified are not fetched again.
  PackCacheReport report;
  view = cache->Ensure({{"rock", rock}}, blobs_.Fetcher(), &report);
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(report.files_fetched, 3)  // manifest.json, train-00002.shard (bad before), heldout-00000 (never reached)
      << report.files_fetched;
  EXPECT_TRUE(VerifyPack(*view + "/rock").ok());
}

TEST_F(PackCacheTest, BadPinsAndManifestsAreRefused) {
  const std::string rock = MakePack("rock", 7);
  std::unique_ptr<PackCache> cache = OpenCache();

  StatusOr<std::string> view = cache->Ensure({{"jazz", rock}}, blobs_.Fetcher());
  ASSERT_FALSE(view.ok());
  EXPECT_EQ(view.status().code(), absl::StatusCode::kFailedPrecondition) << view.status();
  EXPECT_THAT(view.status().message(), HasSubstr("'rock'"));
  EXPECT_THAT(view.status().message(), HasSubstr("'jazz'"));

  // A manifest naming a shard outside the pack directory.
  nlohmann::json json = nlohmann::json::parse(blobs_.Get(rock));
  json["train_shards"][0]["file"] = "../evil.shard";
  const std::string evil = blobs_.Add(json.dump(2));
  view = cache->Ensure({{"rock", evil}}, blobs_.Fetcher());
  ASSERT_FALSE(view.ok());
  EXPECT_EQ(view.status().code(), absl::StatusCode::kInvalidArgument) << view.status();
  EXPECT_THAT(view.status().message(), HasSubstr(evil));
  EXPECT_FALSE(fs::exists(root_ + "/packs/evil.shard"));
  EXPECT_EQ(blobs_.calls(json["train_shards"][0]["sha256"].get<std::string>()), 0);

  // Not JSON at all.
  const std::string junk = blobs_.Add("not json {");
  view = cache->Ensure({{"rock", junk}}, blobs_.Fetcher());
  ASSERT_FALSE(view.ok());
  EXPECT_EQ(view.status().code(), absl::StatusCode::kInvalidArgument) << view.status();
  EXPECT_THAT(view.status().message(), HasSubstr(junk));

  // Pins that cannot be used, refused before anything is fetched.
  const int calls = blobs_.total_calls();
  EXPECT_EQ(cache->Ensure({{"rock", "ABC"}}, blobs_.Fetcher()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cache->Ensure({{"../x", rock}}, blobs_.Fetcher()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cache->Ensure({{"..", rock}}, blobs_.Fetcher()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cache->Ensure({{"rock", rock}, {"rock", junk}}, blobs_.Fetcher()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(blobs_.total_calls(), calls);
  EXPECT_EQ(PackCache::Open({"", 1}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(PackCacheTest, LeastRecentlyUsedPacksAreEvictedButNeverThoseInUse) {
  const std::string a = MakePack("rock", 7);
  const std::string b = MakePack("jazz", 8);
  const int64_t two_packs = SourcePackBytes("rock") + SourcePackBytes("jazz");
  std::unique_ptr<PackCache> cache = OpenCache(two_packs - 1);

  PackCacheReport report;
  StatusOr<std::string> view_a = cache->Ensure({{"rock", a}}, blobs_.Fetcher(), &report);
  ASSERT_TRUE(view_a.ok()) << view_a.status();
  EXPECT_EQ(report.packs_evicted, 0);
  StatusOr<std::string> view_b = cache->Ensure({{"jazz", b}}, blobs_.Fetcher(), &report);
  ASSERT_TRUE(view_b.ok()) << view_b.status();
  EXPECT_EQ(report.packs_evicted, 1);
  EXPECT_FALSE(fs::exists(cache->PackDir(a)));
  EXPECT_TRUE(VerifyPack(*view_b + "/jazz").ok());
  EXPECT_FALSE(fs::exists(*view_a + "/rock")) << "the old view dangles";
  EXPECT_TRUE(testing::ListDir(root_ + "/incoming").empty());

  // A again: fetched again in full, and now B is the least recently used.
  view_a = cache->Ensure({{"rock", a}}, blobs_.Fetcher(), &report);
  ASSERT_TRUE(view_a.ok()) << view_a.status();
  EXPECT_EQ(report.files_fetched, kFilesPerPack);
  EXPECT_EQ(report.packs_evicted, 1);
  EXPECT_FALSE(fs::exists(cache->PackDir(b)));
  ExpectSamples(*view_a + "/rock", 7);

  // A bound below one call's packs: the packs in use stay (the bound is soft).
  std::unique_ptr<PackCache> tiny = OpenCache(1);
  StatusOr<std::string> both = tiny->Ensure({{"rock", a}, {"jazz", b}}, blobs_.Fetcher(), &report);
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(report.packs_evicted, 0);
  EXPECT_TRUE(VerifyPack(*both + "/rock").ok());
  EXPECT_TRUE(VerifyPack(*both + "/jazz").ok());
}

// Two processes (as two ranks of one node) ensure the same pins on one root at the same moment. Each fetch
// appends one line to a shared file (O_APPEND: whole-line writes), so the count spans both processes.
TEST_F(PackCacheTest, TwoProcessesFetchEachFileOnce) {
  const std::string rock = MakePack("rock", 7);
  const std::string jazz = MakePack("jazz", 8);
  const std::string log = tmp_ / "fetches.log";
  int gate[2];
  ASSERT_EQ(::pipe(gate), 0);

  std::vector<pid_t> children;
  for (int rank = 0; rank < 2; ++rank) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // Child: no gtest assertions here; the exit code is the verdict.
      ::close(gate[1]);
      char c;
      while (::read(gate[0], &c, 1) < 0 && errno == EINTR) {
      }
      StatusOr<std::unique_ptr<PackCache>> cache = PackCache::Open({root_, int64_t{1} << 30});
      if (!cache.ok()) ::_exit(2);
      BlobFetcher fetch = [&](const std::string& sha) -> StatusOr<std::string> {
        int fd = ::open(log.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
        std::string line = sha + "\n";
        if (fd < 0 || ::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) ::_exit(3);
        ::close(fd);
        // Slow transport, so the other process certainly arrives while this one holds the lock.
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        return blobs_.Get(sha);
      };
      StatusOr<std::string> view = (*cache)->Ensure({{"rock", rock}, {"jazz", jazz}}, fetch);
      if (!view.ok()) {
        std::fprintf(stderr, "rank %d: %s\n", rank, view.status().ToString().c_str());
        ::_exit(1);
      }
      ::_exit(VerifyPack(*view + "/rock").ok() && VerifyPack(*view + "/jazz").ok() ? 0 : 4);
    }
    children.push_back(pid);
  }
  ::close(gate[0]);
  ::close(gate[1]);  // both children start now
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  std::ifstream in(log);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  EXPECT_EQ(lines.size(), size_t{2 * kFilesPerPack}) << "one fetch per file across both processes";
  EXPECT_EQ(std::set<std::string>(lines.begin(), lines.end()).size(), lines.size());
}

// Every Ensure re-hashes every cached shard; this prints what that costs per MB on this machine. No
// assertion on time: it is a log line for people sizing max_bytes and start-up latency.
TEST(PackCacheHashSpeed, Sha256Of100MB) {
  std::string buffer(size_t{100} * 1000 * 1000, '\0');
  for (size_t i = 0; i < buffer.size(); i += 4096) buffer[i] = static_cast<char>(i * 2654435761u >> 24);
  const auto start = std::chrono::steady_clock::now();
  const std::string hex = Sha256Hex(buffer);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(IsSha256Hex(hex));
  std::printf("[ hash speed ] sha256 of 100 MB in %.1f ms: %.0f MB/s\n", seconds * 1e3, 100.0 / seconds);
}

}  // namespace
}  // namespace tutti
