// PackHandler over a real blob store and a real pack (PackWriter): upload, register, list, download, and
// the errors a client can cause — a shard not uploaded, bytes that are not what the header says, a blob
// no registered pack names, malformed shas. Registered packs' blobs survive a restart's garbage collection.
#include "coordinator/service/pack_handler.h"

#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "coordinator/service/service_test_util.h"
#include "core/base/file_util.h"
#include "core/base/sha256.h"
#include "core/data/data_test_util.h"
#include "core/data/pack_manifest.h"

namespace tutti::coord {
namespace {

using ::testing::HasSubstr;
using testing::Fixture;

struct PackFiles {
  std::string manifest_sha;
  std::vector<std::pair<std::string, std::string>> blobs;  // sha -> bytes, manifest first
};

PackFiles WritePack(const std::string& dir) {
  EXPECT_TRUE(tutti::testing::WriteTestPack(dir, "rock", 3, 20, 4, 8).ok());
  PackFiles files;
  const std::string manifest = *ReadFileToString(dir + "/manifest.json");
  files.manifest_sha = Sha256Hex(manifest);
  files.blobs.push_back({files.manifest_sha, manifest});
  StatusOr<PackManifest> parsed = ReadManifest(dir + "/manifest.json");
  EXPECT_TRUE(parsed.ok());
  for (Split split : kAllSplits) {
    for (const ShardInfo& shard : parsed->shards(split)) {
      files.blobs.push_back({shard.sha256, *ReadFileToString(dir + "/" + shard.file)});
    }
  }
  return files;
}

Status Upload(PackHandler& handler, const std::string& sha, const std::string& bytes, bool* stored = nullptr) {
  auto session = handler.StartUpload();
  v1::UploadBlobRequest header;
  header.mutable_header()->set_sha256(sha);
  header.mutable_header()->set_size_bytes(static_cast<int64_t>(bytes.size()));
  TUTTI_RETURN_IF_ERROR(session->OnMessage(header));
  v1::UploadBlobRequest data;
  data.set_data(bytes);
  TUTTI_RETURN_IF_ERROR(session->OnMessage(data));
  v1::UploadBlobResponse response;
  TUTTI_RETURN_IF_ERROR(session->Finish(&response));
  if (stored != nullptr) *stored = response.stored();
  return absl::OkStatus();
}

TEST(PackHandler, APackIsUploadedOnceRegisteredListedDownloadedAndKeptAcrossRestarts) {
  Fixture f("packs");
  const PackFiles pack = WritePack(f.dir + "/pack");
  auto handler = PackHandler::Create(f.store.get(), f.blobs.get(), &f.clock);
  ASSERT_TRUE(handler.ok()) << handler.status();

  v1::MissingBlobsRequest ask;
  for (const auto& [sha, bytes] : pack.blobs) ask.add_sha256(sha);
  v1::MissingBlobsResponse missing;
  ASSERT_TRUE((*handler)->MissingBlobs(ask, &missing).ok());
  EXPECT_EQ(missing.sha256_size(), static_cast<int>(pack.blobs.size()));
  for (const auto& [sha, bytes] : pack.blobs) {
    bool stored = false;
    ASSERT_TRUE(Upload(**handler, sha, bytes, &stored).ok());
    EXPECT_TRUE(stored);
  }
  bool stored = true;
  ASSERT_TRUE(Upload(**handler, pack.blobs[1].first, pack.blobs[1].second, &stored).ok());
  EXPECT_FALSE(stored) << "a second upload of the same bytes is verified and dropped";
  missing.Clear();
  ASSERT_TRUE((*handler)->MissingBlobs(ask, &missing).ok());
  EXPECT_EQ(missing.sha256_size(), 0);

  v1::RegisterPackRequest request;
  request.set_manifest_sha256(pack.manifest_sha);
  v1::RegisterPackResponse registered;
  ASSERT_TRUE((*handler)->RegisterPack(request, &registered).ok());
  EXPECT_TRUE(registered.created());
  EXPECT_EQ(registered.pack().genre(), "rock");
  EXPECT_EQ(registered.pack().train_samples(), 20);
  EXPECT_EQ(registered.pack().heldout_samples(), 4);
  EXPECT_EQ(registered.pack().shards(), static_cast<int>(pack.blobs.size()) - 1);
  registered.Clear();
  ASSERT_TRUE((*handler)->RegisterPack(request, &registered).ok());
  EXPECT_FALSE(registered.created());

  v1::ListPacksRequest list_request;
  list_request.set_genre("rock");
  v1::ListPacksResponse listed;
  ASSERT_TRUE((*handler)->ListPacks(list_request, &listed).ok());
  ASSERT_EQ(listed.packs_size(), 1);
  EXPECT_EQ(listed.packs(0).manifest_sha256(), pack.manifest_sha);

  // A restart's garbage collection keeps every blob of the registered pack; they download intact.
  f.Restart();
  handler = PackHandler::Create(f.store.get(), f.blobs.get(), &f.clock);
  ASSERT_TRUE(handler.ok());
  EXPECT_EQ(f.registry->recovered().orphan_blobs_removed, 0);
  for (const auto& [sha, bytes] : pack.blobs) {
    v1::DownloadBlobRequest download;
    download.set_sha256(sha);
    auto reader = (*handler)->OpenDownload(download);
    ASSERT_TRUE(reader.ok()) << reader.status();
    std::string all, chunk;
    do {
      ASSERT_TRUE((*reader)->Read(1 << 16, &chunk).ok());
      all += chunk;
    } while (!chunk.empty());
    EXPECT_EQ(all, bytes);
  }
}

TEST(PackHandler, BadUploadsAndRegistrationsAreClearErrorsAndLeaveNothing) {
  Fixture f("packs-bad");
  const PackFiles pack = WritePack(f.dir + "/pack");
  auto handler = PackHandler::Create(f.store.get(), f.blobs.get(), &f.clock);
  ASSERT_TRUE(handler.ok());

  // Bytes that are not what the header names: DataLoss, nothing stored.
  Status wrong = Upload(**handler, pack.blobs[1].first, pack.blobs[2].second);
  EXPECT_EQ(wrong.code(), absl::StatusCode::kDataLoss) << wrong;
  EXPECT_FALSE(f.blobs->Contains(pack.blobs[1].first));
  // Data before the header; a malformed sha.
  auto session = (*handler)->StartUpload();
  v1::UploadBlobRequest data;
  data.set_data("x");
  EXPECT_EQ(session->OnMessage(data).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Upload(**handler, "NOT-A-SHA", "x").code(), absl::StatusCode::kInvalidArgument);
  v1::MissingBlobsRequest ask;
  ask.add_sha256("abc");
  v1::MissingBlobsResponse missing;
  Status bad_ask = (*handler)->MissingBlobs(ask, &missing);
  EXPECT_EQ(bad_ask.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad_ask.message()), HasSubstr("\"abc\""));

  // Registering before the manifest is there, then with a shard missing: FailedPrecondition naming it.
  v1::RegisterPackRequest request;
  request.set_manifest_sha256(pack.manifest_sha);
  v1::RegisterPackResponse registered;
  Status early = (*handler)->RegisterPack(request, &registered);
  EXPECT_EQ(early.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(early.message()), HasSubstr("upload it (UploadBlob) first"));
  ASSERT_TRUE(Upload(**handler, pack.manifest_sha, pack.blobs[0].second).ok());
  Status incomplete = (*handler)->RegisterPack(request, &registered);
  EXPECT_EQ(incomplete.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(incomplete.message()), HasSubstr("train-00000.shard (" + pack.blobs[1].first + ")"));
  EXPECT_TRUE(f.store->ListPacks("")->empty());

  // A blob that is not a manifest.
  ASSERT_TRUE(Upload(**handler, pack.blobs[1].first, pack.blobs[1].second).ok());
  request.set_manifest_sha256(pack.blobs[1].first);
  Status not_manifest = (*handler)->RegisterPack(request, &registered);
  EXPECT_EQ(not_manifest.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(not_manifest.message()), HasSubstr("pack manifest " + pack.blobs[1].first));

  // Stored but not part of a registered pack: not served.
  v1::DownloadBlobRequest download;
  download.set_sha256(pack.blobs[1].first);
  auto refused = (*handler)->OpenDownload(download);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("not part of any registered pack"));
  // And a restart removes those unregistered blobs.
  f.Restart();
  EXPECT_EQ(f.registry->recovered().orphan_blobs_removed, 2);
}

}  // namespace
}  // namespace tutti::coord
