#pragma once
// CheckpointHandler: the CheckpointService calls (checkpoint_service.proto) as a plain class. Downloads
// return the header and a reader; the gRPC adapter streams the chunks.
//
// Thread-safety: all methods may be called concurrently.

#include <memory>

#include "coordinator/blob/blob_store.h"
#include "coordinator/service/checkpoint_registry.h"
#include "coordinator/service/trial_lifecycle.h"
#include "core/base/status.h"
#include "tutti/v1/checkpoint_service.pb.h"

namespace tutti::coord {

class CheckpointHandler {
 public:
  CheckpointHandler(ExperimentStore* store, TrialLifecycle* lifecycle, CheckpointRegistry* checkpoints)
      : store_(store), lifecycle_(lifecycle), checkpoints_(checkpoints) {}

  Status List(const v1::ListCheckpointsRequest& request, v1::ListCheckpointsResponse* response);
  Status Get(const v1::GetCheckpointRequest& request, v1::GetCheckpointResponse* response);
  // The record (as the stream's header) and its bytes.
  struct Download {
    v1::Checkpoint header;
    std::unique_ptr<BlobStore::Reader> reader;
  };
  StatusOr<Download> OpenDownload(const v1::DownloadCheckpointRequest& request);
  Status Delete(const v1::DeleteCheckpointRequest& request, v1::DeleteCheckpointResponse* response);
  // The best checkpoint for a genre across experiments (see the proto).
  Status Best(const v1::BestCheckpointRequest& request, v1::BestCheckpointResponse* response);

 private:
  StatusOr<int64_t> ExperimentOf(int64_t trial_id);

  ExperimentStore* const store_;
  TrialLifecycle* const lifecycle_;
  CheckpointRegistry* const checkpoints_;
};

}  // namespace tutti::coord
