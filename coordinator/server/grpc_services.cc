#include "coordinator/server/grpc_services.h"

#include "proto/client/channel.h"

namespace tutti::coord {
namespace {

// Checks the token, then runs `call` (a handler method returning Status) and maps its result.
template <typename Call>
grpc::Status Serve(const TokenAuth* auth, grpc::ServerContext* context, Call&& call) {
  grpc::Status allowed = auth->Check(*context);
  if (!allowed.ok()) return allowed;
  return rpc::ToGrpcStatus(call());
}

}  // namespace

// --- ExperimentService ---

grpc::Status ExperimentServiceImpl::SubmitExperiment(grpc::ServerContext* c, const v1::SubmitExperimentRequest* q,
                                                     v1::SubmitExperimentResponse* r) {
  return Serve(auth_, c, [&] { return handler_->Submit(*q, r); });
}
grpc::Status ExperimentServiceImpl::ListExperiments(grpc::ServerContext* c, const v1::ListExperimentsRequest* q,
                                                    v1::ListExperimentsResponse* r) {
  return Serve(auth_, c, [&] { return handler_->List(*q, r); });
}
grpc::Status ExperimentServiceImpl::GetExperiment(grpc::ServerContext* c, const v1::GetExperimentRequest* q,
                                                  v1::GetExperimentResponse* r) {
  return Serve(auth_, c, [&] { return handler_->Get(*q, r); });
}
grpc::Status ExperimentServiceImpl::KillExperiment(grpc::ServerContext* c, const v1::KillExperimentRequest* q,
                                                   v1::KillExperimentResponse* r) {
  return Serve(auth_, c, [&] { return handler_->Kill(*q, r); });
}
grpc::Status ExperimentServiceImpl::ListTrials(grpc::ServerContext* c, const v1::ListTrialsRequest* q,
                                               v1::ListTrialsResponse* r) {
  return Serve(auth_, c, [&] { return handler_->ListTrials(*q, r); });
}
grpc::Status ExperimentServiceImpl::GetTrial(grpc::ServerContext* c, const v1::GetTrialRequest* q,
                                             v1::GetTrialResponse* r) {
  return Serve(auth_, c, [&] { return handler_->GetTrial(*q, r); });
}
grpc::Status ExperimentServiceImpl::KillTrial(grpc::ServerContext* c, const v1::KillTrialRequest* q,
                                              v1::KillTrialResponse* r) {
  return Serve(auth_, c, [&] { return handler_->KillTrial(*q, r); });
}
grpc::Status ExperimentServiceImpl::StreamTrialMetrics(grpc::ServerContext* c,
                                                       const v1::StreamTrialMetricsRequest* q,
                                                       grpc::ServerWriter<v1::StreamTrialMetricsResponse>* w) {
  return Serve(auth_, c, [&] {
    return handler_->StreamMetrics(
        *q, [&](const v1::StreamTrialMetricsResponse& batch) { return w->Write(batch); },
        [&] { return c->IsCancelled(); });
  });
}

grpc::Status ExperimentServiceImpl::PauseExperiment(grpc::ServerContext* c, const v1::PauseExperimentRequest* q,
                                                    v1::PauseExperimentResponse* r) {
  return Serve(auth_, c, [&] { return handler_->Pause(*q, r); });
}
grpc::Status ExperimentServiceImpl::ResumeExperiment(grpc::ServerContext* c, const v1::ResumeExperimentRequest* q,
                                                     v1::ResumeExperimentResponse* r) {
  return Serve(auth_, c, [&] { return handler_->Resume(*q, r); });
}
grpc::Status ExperimentServiceImpl::ExtendExperiment(grpc::ServerContext* c, const v1::ExtendExperimentRequest* q,
                                                     v1::ExtendExperimentResponse* r) {
  return Serve(auth_, c, [&] { return handler_->Extend(*q, r); });
}
grpc::Status ExperimentServiceImpl::ForkTrial(grpc::ServerContext* c, const v1::ForkTrialRequest* q,
                                              v1::ForkTrialResponse* r) {
  return Serve(auth_, c, [&] { return handler_->Fork(*q, r); });
}

// --- WorkerService ---

grpc::Status WorkerServiceImpl::LeaseTrial(grpc::ServerContext* c, const v1::LeaseTrialRequest* q,
                                           v1::LeaseTrialResponse* r) {
  return Serve(auth_, c, [&] { return handler_->LeaseTrial(*q, r); });
}
grpc::Status WorkerServiceImpl::Heartbeat(grpc::ServerContext* c, const v1::HeartbeatRequest* q,
                                          v1::HeartbeatResponse* r) {
  return Serve(auth_, c, [&] { return handler_->Heartbeat(*q, r); });
}
grpc::Status WorkerServiceImpl::ReportMetrics(grpc::ServerContext* c, const v1::ReportMetricsRequest* q,
                                              v1::ReportMetricsResponse* r) {
  return Serve(auth_, c, [&] { return handler_->ReportMetrics(*q, r); });
}
grpc::Status WorkerServiceImpl::ReportCheckpoint(grpc::ServerContext* c, const v1::ReportCheckpointRequest* q,
                                                 v1::ReportCheckpointResponse* r) {
  return Serve(auth_, c, [&] { return handler_->ReportCheckpoint(*q, r); });
}
grpc::Status WorkerServiceImpl::UploadCheckpoint(grpc::ServerContext* c,
                                                 grpc::ServerReader<v1::UploadCheckpointRequest>* reader,
                                                 v1::UploadCheckpointResponse* r) {
  return Serve(auth_, c, [&]() -> Status {
    std::unique_ptr<WorkerHandler::UploadSession> session = handler_->StartUpload();
    v1::UploadCheckpointRequest message;
    while (reader->Read(&message)) TUTTI_RETURN_IF_ERROR(session->OnMessage(message));
    // Read() is false both at the client's end of stream and when the call broke: a cancelled call must
    // not publish what arrived so far (Finish would refuse a short upload anyway).
    if (c->IsCancelled()) return absl::CancelledError("the upload was cancelled by the client");
    return session->Finish(r);
  });
}
grpc::Status WorkerServiceImpl::CompleteTrial(grpc::ServerContext* c, const v1::CompleteTrialRequest* q,
                                              v1::CompleteTrialResponse* r) {
  return Serve(auth_, c, [&] { return handler_->CompleteTrial(*q, r); });
}
grpc::Status WorkerServiceImpl::ReleaseTrial(grpc::ServerContext* c, const v1::ReleaseTrialRequest* q,
                                             v1::ReleaseTrialResponse* r) {
  return Serve(auth_, c, [&] { return handler_->ReleaseTrial(*q, r); });
}
grpc::Status WorkerServiceImpl::FailTrial(grpc::ServerContext* c, const v1::FailTrialRequest* q,
                                          v1::FailTrialResponse* r) {
  return Serve(auth_, c, [&] { return handler_->FailTrial(*q, r); });
}

// --- CheckpointService ---

grpc::Status CheckpointServiceImpl::ListCheckpoints(grpc::ServerContext* c, const v1::ListCheckpointsRequest* q,
                                                    v1::ListCheckpointsResponse* r) {
  return Serve(auth_, c, [&] { return handler_->List(*q, r); });
}
grpc::Status CheckpointServiceImpl::GetCheckpoint(grpc::ServerContext* c, const v1::GetCheckpointRequest* q,
                                                  v1::GetCheckpointResponse* r) {
  return Serve(auth_, c, [&] { return handler_->Get(*q, r); });
}
grpc::Status CheckpointServiceImpl::DownloadCheckpoint(grpc::ServerContext* c,
                                                       const v1::DownloadCheckpointRequest* q,
                                                       grpc::ServerWriter<v1::DownloadCheckpointResponse>* w) {
  return Serve(auth_, c, [&]() -> Status {
    TUTTI_ASSIGN_OR_RETURN(CheckpointHandler::Download download, handler_->OpenDownload(*q));
    v1::DownloadCheckpointResponse message;
    *message.mutable_header() = download.header;
    if (!w->Write(message)) return absl::OkStatus();
    std::string chunk;
    while (true) {
      TUTTI_RETURN_IF_ERROR(download.reader->Read(static_cast<size_t>(rpc::kChunkBytes), &chunk));
      if (chunk.empty()) return absl::OkStatus();
      message.set_data(chunk);
      if (!w->Write(message)) return absl::OkStatus();  // the client left
    }
  });
}
grpc::Status CheckpointServiceImpl::DeleteCheckpoint(grpc::ServerContext* c, const v1::DeleteCheckpointRequest* q,
                                                     v1::DeleteCheckpointResponse* r) {
  return Serve(auth_, c, [&] { return handler_->Delete(*q, r); });
}

grpc::Status CheckpointServiceImpl::BestCheckpoint(grpc::ServerContext* c, const v1::BestCheckpointRequest* q,
                                                   v1::BestCheckpointResponse* r) {
  return Serve(auth_, c, [&] { return handler_->Best(*q, r); });
}

// --- SampleService ---

grpc::Status SampleServiceImpl::Generate(grpc::ServerContext* c, const v1::GenerateRequest* q,
                                         grpc::ServerWriter<v1::GenerateResponse>* w) {
  return Serve(auth_, c, [&] {
    // The client's deadline bounds the time a request may wait for a batch.
    auto deadline = std::chrono::steady_clock::time_point::max();
    const auto remaining = c->deadline() - std::chrono::system_clock::now();
    if (c->deadline() != std::chrono::system_clock::time_point::max() && remaining < std::chrono::hours(24 * 365)) {
      deadline = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(remaining);
    }
    return handler_->Generate(*q, [&](const v1::GenerateResponse& m) { return w->Write(m); }, deadline);
  });
}
grpc::Status SampleServiceImpl::ListGenres(grpc::ServerContext* c, const v1::ListGenresRequest* q,
                                           v1::ListGenresResponse* r) {
  return Serve(auth_, c, [&] { return handler_->ListGenres(*q, r); });
}

// --- ListenService ---

grpc::Status ListenServiceImpl::CreateListenPair(grpc::ServerContext* c, const v1::CreateListenPairRequest* q,
                                                 v1::CreateListenPairResponse* r) {
  return Serve(auth_, c, [&] { return handler_->CreatePair(*q, r); });
}
grpc::Status ListenServiceImpl::RateListenPair(grpc::ServerContext* c, const v1::RateListenPairRequest* q,
                                               v1::RateListenPairResponse* r) {
  return Serve(auth_, c, [&] { return handler_->Rate(*q, r); });
}
grpc::Status ListenServiceImpl::ListRatings(grpc::ServerContext* c, const v1::ListRatingsRequest* q,
                                            v1::ListRatingsResponse* r) {
  return Serve(auth_, c, [&] { return handler_->ListRatings(*q, r); });
}
grpc::Status ListenServiceImpl::Leaderboard(grpc::ServerContext* c, const v1::LeaderboardRequest* q,
                                            v1::LeaderboardResponse* r) {
  return Serve(auth_, c, [&] { return handler_->Leaderboard(*q, r); });
}

// --- PackService ---

grpc::Status PackServiceImpl::MissingBlobs(grpc::ServerContext* c, const v1::MissingBlobsRequest* q,
                                           v1::MissingBlobsResponse* r) {
  return Serve(auth_, c, [&] { return handler_->MissingBlobs(*q, r); });
}
grpc::Status PackServiceImpl::UploadBlob(grpc::ServerContext* c, grpc::ServerReader<v1::UploadBlobRequest>* reader,
                                         v1::UploadBlobResponse* r) {
  return Serve(auth_, c, [&]() -> Status {
    std::unique_ptr<PackHandler::UploadSession> session = handler_->StartUpload();
    v1::UploadBlobRequest message;
    while (reader->Read(&message)) TUTTI_RETURN_IF_ERROR(session->OnMessage(message));
    if (c->IsCancelled()) return absl::CancelledError("the upload was cancelled by the client");
    return session->Finish(r);
  });
}
grpc::Status PackServiceImpl::RegisterPack(grpc::ServerContext* c, const v1::RegisterPackRequest* q,
                                           v1::RegisterPackResponse* r) {
  return Serve(auth_, c, [&] { return handler_->RegisterPack(*q, r); });
}
grpc::Status PackServiceImpl::ListPacks(grpc::ServerContext* c, const v1::ListPacksRequest* q, v1::ListPacksResponse* r) {
  return Serve(auth_, c, [&] { return handler_->ListPacks(*q, r); });
}
grpc::Status PackServiceImpl::DownloadBlob(grpc::ServerContext* c, const v1::DownloadBlobRequest* q,
                                           grpc::ServerWriter<v1::DownloadBlobResponse>* w) {
  return Serve(auth_, c, [&]() -> Status {
    TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<BlobStore::Reader> reader, handler_->OpenDownload(*q));
    v1::DownloadBlobResponse message;
    message.set_size_bytes(reader->size());
    std::string chunk;
    for (bool first = true;; first = false) {
      TUTTI_RETURN_IF_ERROR(reader->Read(static_cast<size_t>(rpc::kChunkBytes), &chunk));
      if (chunk.empty() && !first) return absl::OkStatus();
      message.set_data(chunk);  // the first message carries the size even when the blob is empty
      if (!w->Write(message)) return absl::OkStatus();  // the client left
      if (chunk.empty()) return absl::OkStatus();
      message.clear_size_bytes();
    }
  });
}

}  // namespace tutti::coord
