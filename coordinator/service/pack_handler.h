#pragma once
// PackHandler: PackService (proto/tutti/v1/pack_service.proto) — training packs stored as blobs so that they
// travel with experiments to nodes without a shared filesystem.
//
// A pack is its manifest.json plus its shards, each stored in the coordinator's BlobStore under the sha256
// of its bytes (the same store as checkpoints: one place to back up, one verification path). Uploading is
// two steps: every missing blob (MissingBlobs tells which), then RegisterPack, which reads the manifest back
// from the store, parses it with the pack format's own parser and checks that every shard it lists is stored
// with that size. Only then is a row written (ExperimentStore::InsertPack), and only registered packs keep
// their blobs through the start-up garbage collection (CheckpointRegistry::Recover) and can be downloaded.
//
// Thread-safety: every method may be called from any thread.

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "coordinator/blob/blob_store.h"
#include "coordinator/service/clock.h"
#include "coordinator/store/experiment_store.h"
#include "core/base/status.h"
#include "tutti/v1/pack_service.pb.h"

namespace tutti::coord {

class PackHandler {
 public:
  // Loads the set of blobs registered packs name (DownloadBlob's allow-list).
  static StatusOr<std::unique_ptr<PackHandler>> Create(ExperimentStore* store, BlobStore* blobs, const Clock* clock);

  // InvalidArgument naming the first malformed sha256.
  Status MissingBlobs(const v1::MissingBlobsRequest& request, v1::MissingBlobsResponse* response);
  // See the proto. FailedPrecondition listing the shards not stored (at most 5 named, then a count);
  // InvalidArgument when the manifest blob is not a valid manifest (the parser's message).
  Status RegisterPack(const v1::RegisterPackRequest& request, v1::RegisterPackResponse* response);
  Status ListPacks(const v1::ListPacksRequest& request, v1::ListPacksResponse* response);

  // One UploadBlob stream: the header first, then data chunks, then Finish.
  class UploadSession {
   public:
    // InvalidArgument when the first message is not a header, a header arrives twice, or the header's
    // sha256/size are malformed; the blob store's errors (ResourceExhausted for a full disk) as they come.
    Status OnMessage(const v1::UploadBlobRequest& message);
    // DataLoss when the bytes do not match the header (nothing is kept), or the stream ended without a header.
    Status Finish(v1::UploadBlobResponse* response);

   private:
    friend class PackHandler;
    explicit UploadSession(BlobStore* blobs) : blobs_(blobs) {}
    BlobStore* const blobs_;
    std::unique_ptr<BlobStore::Writer> writer_;
    v1::UploadBlobHeader header_;
    bool already_stored_ = false;
    bool failed_ = false;
  };
  std::unique_ptr<UploadSession> StartUpload() { return std::unique_ptr<UploadSession>(new UploadSession(blobs_)); }

  // A registered pack's blob for reading. NotFound naming the sha256 when no registered pack names it (a
  // checkpoint's bytes are not served here: CheckpointService has its own checks).
  StatusOr<std::unique_ptr<BlobStore::Reader>> OpenDownload(const v1::DownloadBlobRequest& request);

 private:
  PackHandler(ExperimentStore* store, BlobStore* blobs, const Clock* clock) : store_(store), blobs_(blobs), clock_(clock) {}

  ExperimentStore* const store_;
  BlobStore* const blobs_;
  const Clock* const clock_;
  std::mutex mu_;
  std::set<std::string> registered_blobs_;  // guarded by mu_
};

}  // namespace tutti::coord
