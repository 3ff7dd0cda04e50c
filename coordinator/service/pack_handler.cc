#include "coordinator/service/pack_handler.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/sha256.h"
#include "core/data/pack_manifest.h"
#include "nlohmann/json.hpp"

namespace tutti::coord {
namespace {

// A manifest lists every song of the pack; real ones are tens of KiB, so this bound only stops a blob that
// is not a manifest from being read into memory whole.
constexpr int64_t kMaxManifestBytes = int64_t{64} << 20;

Status CheckSha(const std::string& sha, const char* what) {
  if (IsSha256Hex(sha)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(what, ": expected 64 lower-case hex digits, got \"", sha, "\""));
}

StatusOr<std::string> ReadWhole(BlobStore::Reader& reader) {
  std::string all, chunk;
  all.reserve(static_cast<size_t>(reader.size()));
  while (true) {
    TUTTI_RETURN_IF_ERROR(reader.Read(1 << 20, &chunk));
    if (chunk.empty()) return all;
    all += chunk;
  }
}

void ToProto(const PackRow& row, v1::Pack* pack) {
  pack->set_manifest_sha256(row.manifest_sha256);
  pack->set_genre(row.genre);
  pack->set_shards(row.shards);
  pack->set_size_bytes(row.size_bytes);
  pack->set_train_samples(row.train_samples);
  pack->set_heldout_samples(row.heldout_samples);
  pack->set_registered_ms(row.registered_ms);
}

}  // namespace

StatusOr<std::unique_ptr<PackHandler>> PackHandler::Create(ExperimentStore* store, BlobStore* blobs, const Clock* clock) {
  if (store == nullptr || blobs == nullptr || clock == nullptr) return absl::InvalidArgumentError("PackHandler: null dependency");
  std::unique_ptr<PackHandler> handler(new PackHandler(store, blobs, clock));
  TUTTI_ASSIGN_OR_RETURN(std::vector<std::string> named, store->ListPackBlobShas());
  handler->registered_blobs_.insert(named.begin(), named.end());
  return handler;
}

Status PackHandler::MissingBlobs(const v1::MissingBlobsRequest& request, v1::MissingBlobsResponse* response) {
  for (const std::string& sha : request.sha256()) TUTTI_RETURN_IF_ERROR(CheckSha(sha, "MissingBlobs: sha256"));
  for (const std::string& sha : request.sha256()) {
    if (!blobs_->Contains(sha)) response->add_sha256(sha);
  }
  return absl::OkStatus();
}

Status PackHandler::RegisterPack(const v1::RegisterPackRequest& request, v1::RegisterPackResponse* response) {
  const std::string& sha = request.manifest_sha256();
  TUTTI_RETURN_IF_ERROR(CheckSha(sha, "RegisterPack: manifest_sha256"));
  StatusOr<PackRow> existing = store_->GetPack(sha);
  if (existing.ok()) {
    ToProto(*existing, response->mutable_pack());
    response->set_created(false);
    return absl::OkStatus();
  }
  if (existing.status().code() != absl::StatusCode::kNotFound) return existing.status();

  StatusOr<std::unique_ptr<BlobStore::Reader>> reader = blobs_->OpenBlob(sha);
  if (!reader.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("RegisterPack: the manifest ", sha, " is not stored: upload it (UploadBlob) first"));
  }
  if ((*reader)->size() > kMaxManifestBytes) {
    return absl::InvalidArgumentError(absl::StrCat("RegisterPack: blob ", sha, " is ", (*reader)->size(),
                                                   " bytes, too large for a manifest.json"));
  }
  TUTTI_ASSIGN_OR_RETURN(std::string text, ReadWhole(**reader));
  const std::string where = absl::StrCat("pack manifest ", sha);
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(where, ": not JSON"));
  TUTTI_ASSIGN_OR_RETURN(PackManifest manifest, PackManifest::FromJson(json, where));

  PackRow row;
  row.manifest_sha256 = sha;
  row.genre = manifest.genre;
  row.blob_shas.push_back(sha);
  row.size_bytes = static_cast<int64_t>(text.size());
  std::vector<std::string> missing;
  for (Split split : kAllSplits) {
    for (const ShardInfo& shard : manifest.shards(split)) {
      ++row.shards;
      row.blob_shas.push_back(shard.sha256);
      row.size_bytes += static_cast<int64_t>(shard.bytes);
      StatusOr<std::unique_ptr<BlobStore::Reader>> stored = blobs_->OpenBlob(shard.sha256);
      if (!stored.ok()) {
        missing.push_back(absl::StrCat(shard.file, " (", shard.sha256, ")"));
      } else if ((*stored)->size() != static_cast<int64_t>(shard.bytes)) {
        // Content addressing makes this impossible unless the manifest lies about the size.
        return absl::InvalidArgumentError(absl::StrCat(where, ": ", shard.file, " is listed with ", shard.bytes,
                                                       " bytes, but its stored blob has ", (*stored)->size()));
      }
    }
  }
  if (!missing.empty()) {
    std::string named;
    for (size_t i = 0; i < missing.size() && i < 5; ++i) named += (i ? ", " : "") + missing[i];
    if (missing.size() > 5) named += absl::StrCat(" and ", missing.size() - 5, " more");
    return absl::FailedPreconditionError(absl::StrCat("RegisterPack: pack ", sha, " (", manifest.genre, "): ",
                                                      missing.size(), " shard(s) not stored: ", named,
                                                      "; upload them (UploadBlob) first"));
  }
  row.train_samples = manifest.samples(Split::kTrain);
  row.heldout_samples = manifest.samples(Split::kHeldout);
  row.registered_ms = clock_->NowMs();
  TUTTI_ASSIGN_OR_RETURN(bool created, store_->InsertPack(row));
  {
    std::lock_guard<std::mutex> lock(mu_);
    registered_blobs_.insert(row.blob_shas.begin(), row.blob_shas.end());
  }
  if (!created) {  // registered by a concurrent call in between: report the stored row
    TUTTI_ASSIGN_OR_RETURN(row, store_->GetPack(sha));
  }
  ToProto(row, response->mutable_pack());
  response->set_created(created);
  return absl::OkStatus();
}

Status PackHandler::ListPacks(const v1::ListPacksRequest& request, v1::ListPacksResponse* response) {
  TUTTI_ASSIGN_OR_RETURN(std::vector<PackRow> rows, store_->ListPacks(request.genre()));
  for (const PackRow& row : rows) ToProto(row, response->add_packs());
  return absl::OkStatus();
}

StatusOr<std::unique_ptr<BlobStore::Reader>> PackHandler::OpenDownload(const v1::DownloadBlobRequest& request) {
  TUTTI_RETURN_IF_ERROR(CheckSha(request.sha256(), "DownloadBlob: sha256"));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (registered_blobs_.count(request.sha256()) == 0) {
      return absl::NotFoundError(absl::StrCat("blob ", request.sha256(), " is not part of any registered pack"));
    }
  }
  return blobs_->OpenBlob(request.sha256());
}

Status PackHandler::UploadSession::OnMessage(const v1::UploadBlobRequest& message) {
  if (failed_) return absl::FailedPreconditionError("UploadBlob: the upload already failed");
  if (message.has_header()) {
    if (writer_ != nullptr || already_stored_) {
      failed_ = true;
      return absl::InvalidArgumentError("UploadBlob: a second header in one stream");
    }
    header_ = message.header();
    if (Status s = CheckSha(header_.sha256(), "UploadBlob: header.sha256"); !s.ok()) return failed_ = true, s;
    if (header_.size_bytes() < 0) {
      failed_ = true;
      return absl::InvalidArgumentError(absl::StrCat("UploadBlob: header.size_bytes: expected >= 0, got ", header_.size_bytes()));
    }
    // Bytes already stored are still read (the stream carries them) and verified, then dropped.
    already_stored_ = blobs_->Contains(header_.sha256());
    StatusOr<std::unique_ptr<BlobStore::Writer>> writer = blobs_->StartUpload();
    if (!writer.ok()) return failed_ = true, writer.status();
    writer_ = *std::move(writer);
    return absl::OkStatus();
  }
  if (writer_ == nullptr) {
    failed_ = true;
    return absl::InvalidArgumentError("UploadBlob: the first message must be the header");
  }
  Status appended = writer_->Append(message.data().data(), message.data().size());
  if (!appended.ok()) failed_ = true;
  return appended;
}

Status PackHandler::UploadSession::Finish(v1::UploadBlobResponse* response) {
  if (failed_) return absl::FailedPreconditionError("UploadBlob: the upload already failed");
  if (writer_ == nullptr) return absl::DataLossError("UploadBlob: the stream ended before its header");
  TUTTI_RETURN_IF_ERROR(writer_->Commit(header_.sha256(), header_.size_bytes()));
  response->set_stored(!already_stored_);
  return absl::OkStatus();
}

}  // namespace tutti::coord
