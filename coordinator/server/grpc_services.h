#pragma once
// The gRPC adapters: each method checks the token, forwards to its handler and maps the Status. Streams
// are read or written here; everything else is the handlers' (coordinator/service).
//
// Synchronous gRPC services: each call runs on a thread of the server's pool (bounded by
// CoordinatorServerOptions::max_threads), which keeps the streaming calls (uploads, downloads, following
// a trial's metrics) straight-line code.

#include <grpcpp/grpcpp.h>

#include "coordinator/server/auth.h"
#include "coordinator/service/checkpoint_handler.h"
#include "coordinator/service/experiment_handler.h"
#include "coordinator/service/listen_handler.h"
#include "coordinator/service/pack_handler.h"
#include "coordinator/service/sample_handler.h"
#include "coordinator/service/worker_handler.h"
#include "tutti/v1/checkpoint_service.grpc.pb.h"
#include "tutti/v1/experiment_service.grpc.pb.h"
#include "tutti/v1/listen_service.grpc.pb.h"
#include "tutti/v1/pack_service.grpc.pb.h"
#include "tutti/v1/sample_service.grpc.pb.h"
#include "tutti/v1/worker_service.grpc.pb.h"

namespace tutti::coord {

class ExperimentServiceImpl final : public v1::ExperimentService::Service {
 public:
  ExperimentServiceImpl(ExperimentHandler* handler, const TokenAuth* auth) : handler_(handler), auth_(auth) {}
  grpc::Status SubmitExperiment(grpc::ServerContext*, const v1::SubmitExperimentRequest*,
                                v1::SubmitExperimentResponse*) override;
  grpc::Status ListExperiments(grpc::ServerContext*, const v1::ListExperimentsRequest*,
                               v1::ListExperimentsResponse*) override;
  grpc::Status GetExperiment(grpc::ServerContext*, const v1::GetExperimentRequest*,
                             v1::GetExperimentResponse*) override;
  grpc::Status KillExperiment(grpc::ServerContext*, const v1::KillExperimentRequest*,
                              v1::KillExperimentResponse*) override;
  grpc::Status ListTrials(grpc::ServerContext*, const v1::ListTrialsRequest*, v1::ListTrialsResponse*) override;
  grpc::Status GetTrial(grpc::ServerContext*, const v1::GetTrialRequest*, v1::GetTrialResponse*) override;
  grpc::Status KillTrial(grpc::ServerContext*, const v1::KillTrialRequest*, v1::KillTrialResponse*) override;
  grpc::Status StreamTrialMetrics(grpc::ServerContext*, const v1::StreamTrialMetricsRequest*,
                                  grpc::ServerWriter<v1::StreamTrialMetricsResponse>*) override;
  grpc::Status PauseExperiment(grpc::ServerContext*, const v1::PauseExperimentRequest*,
                               v1::PauseExperimentResponse*) override;
  grpc::Status ResumeExperiment(grpc::ServerContext*, const v1::ResumeExperimentRequest*,
                                v1::ResumeExperimentResponse*) override;
  grpc::Status ExtendExperiment(grpc::ServerContext*, const v1::ExtendExperimentRequest*,
                                v1::ExtendExperimentResponse*) override;
  grpc::Status ForkTrial(grpc::ServerContext*, const v1::ForkTrialRequest*, v1::ForkTrialResponse*) override;

 private:
  ExperimentHandler* const handler_;
  const TokenAuth* const auth_;
};

class WorkerServiceImpl final : public v1::WorkerService::Service {
 public:
  WorkerServiceImpl(WorkerHandler* handler, const TokenAuth* auth) : handler_(handler), auth_(auth) {}
  grpc::Status LeaseTrial(grpc::ServerContext*, const v1::LeaseTrialRequest*, v1::LeaseTrialResponse*) override;
  grpc::Status Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest*, v1::HeartbeatResponse*) override;
  grpc::Status ReportMetrics(grpc::ServerContext*, const v1::ReportMetricsRequest*,
                             v1::ReportMetricsResponse*) override;
  grpc::Status ReportCheckpoint(grpc::ServerContext*, const v1::ReportCheckpointRequest*,
                                v1::ReportCheckpointResponse*) override;
  grpc::Status UploadCheckpoint(grpc::ServerContext*, grpc::ServerReader<v1::UploadCheckpointRequest>*,
                                v1::UploadCheckpointResponse*) override;
  grpc::Status CompleteTrial(grpc::ServerContext*, const v1::CompleteTrialRequest*,
                             v1::CompleteTrialResponse*) override;
  grpc::Status ReleaseTrial(grpc::ServerContext*, const v1::ReleaseTrialRequest*, v1::ReleaseTrialResponse*) override;
  grpc::Status FailTrial(grpc::ServerContext*, const v1::FailTrialRequest*, v1::FailTrialResponse*) override;

 private:
  WorkerHandler* const handler_;
  const TokenAuth* const auth_;
};

class CheckpointServiceImpl final : public v1::CheckpointService::Service {
 public:
  CheckpointServiceImpl(CheckpointHandler* handler, const TokenAuth* auth) : handler_(handler), auth_(auth) {}
  grpc::Status ListCheckpoints(grpc::ServerContext*, const v1::ListCheckpointsRequest*,
                               v1::ListCheckpointsResponse*) override;
  grpc::Status GetCheckpoint(grpc::ServerContext*, const v1::GetCheckpointRequest*,
                             v1::GetCheckpointResponse*) override;
  grpc::Status DownloadCheckpoint(grpc::ServerContext*, const v1::DownloadCheckpointRequest*,
                                  grpc::ServerWriter<v1::DownloadCheckpointResponse>*) override;
  grpc::Status DeleteCheckpoint(grpc::ServerContext*, const v1::DeleteCheckpointRequest*,
                                v1::DeleteCheckpointResponse*) override;
  grpc::Status BestCheckpoint(grpc::ServerContext*, const v1::BestCheckpointRequest*,
                              v1::BestCheckpointResponse*) override;

 private:
  CheckpointHandler* const handler_;
  const TokenAuth* const auth_;
};

class SampleServiceImpl final : public v1::SampleService::Service {
 public:
  SampleServiceImpl(SampleHandler* handler, const TokenAuth* auth) : handler_(handler), auth_(auth) {}
  grpc::Status Generate(grpc::ServerContext*, const v1::GenerateRequest*,
                        grpc::ServerWriter<v1::GenerateResponse>*) override;
  grpc::Status ListGenres(grpc::ServerContext*, const v1::ListGenresRequest*, v1::ListGenresResponse*) override;

 private:
  SampleHandler* const handler_;
  const TokenAuth* const auth_;
};

class ListenServiceImpl final : public v1::ListenService::Service {
 public:
  ListenServiceImpl(ListenHandler* handler, const TokenAuth* auth) : handler_(handler), auth_(auth) {}
  grpc::Status CreateListenPair(grpc::ServerContext*, const v1::CreateListenPairRequest*,
                                v1::CreateListenPairResponse*) override;
  grpc::Status RateListenPair(grpc::ServerContext*, const v1::RateListenPairRequest*,
                              v1::RateListenPairResponse*) override;
  grpc::Status ListRatings(grpc::ServerContext*, const v1::ListRatingsRequest*, v1::ListRatingsResponse*) override;
  grpc::Status Leaderboard(grpc::ServerContext*, const v1::LeaderboardRequest*, v1::LeaderboardResponse*) override;

 private:
  ListenHandler* const handler_;
  const TokenAuth* const auth_;
};

class PackServiceImpl final : public v1::PackService::Service {
 public:
  PackServiceImpl(PackHandler* handler, const TokenAuth* auth) : handler_(handler), auth_(auth) {}
  grpc::Status MissingBlobs(grpc::ServerContext*, const v1::MissingBlobsRequest*, v1::MissingBlobsResponse*) override;
  grpc::Status UploadBlob(grpc::ServerContext*, grpc::ServerReader<v1::UploadBlobRequest>*,
                          v1::UploadBlobResponse*) override;
  grpc::Status RegisterPack(grpc::ServerContext*, const v1::RegisterPackRequest*, v1::RegisterPackResponse*) override;
  grpc::Status ListPacks(grpc::ServerContext*, const v1::ListPacksRequest*, v1::ListPacksResponse*) override;
  grpc::Status DownloadBlob(grpc::ServerContext*, const v1::DownloadBlobRequest*,
                            grpc::ServerWriter<v1::DownloadBlobResponse>*) override;

 private:
  PackHandler* const handler_;
  const TokenAuth* const auth_;
};

}  // namespace tutti::coord
