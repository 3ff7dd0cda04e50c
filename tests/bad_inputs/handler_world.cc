#include "tests/bad_inputs/handler_world.h"

#include <functional>
#include <map>
#include <sstream>

#include <google/protobuf/text_format.h>

#include "coordinator/blob/blob_store.h"
#include "coordinator/service/checkpoint_handler.h"
#include "coordinator/service/checkpoint_registry.h"
#include "coordinator/service/clock.h"
#include "coordinator/service/experiment_handler.h"
#include "coordinator/service/experiment_manager.h"
#include "coordinator/service/genre_catalog.h"
#include "coordinator/service/listen_handler.h"
#include "coordinator/service/pack_handler.h"
#include "coordinator/service/sample_handler.h"
#include "coordinator/service/trial_lifecycle.h"
#include "coordinator/service/worker_handler.h"
#include "coordinator/store/sqlite_store.h"
#include "core/base/sha256.h"
#include "core/data/pack_manifest.h"

namespace tutti::bad_inputs {
namespace {

using namespace tutti::coord;  // NOLINT: the handlers and their protos

// See the header: a bad request must never get this far.
class RefusingBackend final : public SampleBackend {
 public:
  StatusOr<std::vector<SampleFile>> Generate(const SampleJob& job) override {
    return absl::InternalError(absl::StrCat("a bad request reached the sample backend (checkpoint ", job.checkpoint_id,
                                            ", n ", job.n, ")"));
  }
};

constexpr char kCheckpointBytes[] = "checkpoint bytes of trial 1, step 10";
constexpr char kNotJson[] = "this blob is not a manifest.json";
constexpr char kBadManifest[] = R"({"format_version": 1, "genre": 7})";
constexpr char kNeverUploadedShard[] = "a shard that was never uploaded";

// Splits a streamed request file at lines holding only "---".
std::vector<std::string> SplitMessages(const std::string& text) {
  std::vector<std::string> parts(1);
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line == "---") {
      parts.emplace_back();
    } else {
      parts.back() += line + "\n";
    }
  }
  return parts;
}

template <typename Message>
Status ParseText(const std::string& text, Message* message) {
  if (google::protobuf::TextFormat::ParseFromString(text, message)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("bad test input: does not parse as ", Message::descriptor()->full_name(), " text format"));
}

using Caller = std::function<Status(const std::string&)>;

template <typename Handler, typename Request, typename Response>
Caller Unary(Handler* handler, Status (Handler::*method)(const Request&, Response*)) {
  return [handler, method](const std::string& text) -> Status {
    Request request;
    TUTTI_RETURN_IF_ERROR(ParseText(text, &request));
    Response response;
    return (handler->*method)(request, &response);
  };
}

// One upload stream: every message in order (the first error ends it, as the gRPC adapter does), then Finish.
template <typename Session, typename Request, typename Response>
Status Stream(std::unique_ptr<Session> session, const std::string& text) {
  for (const std::string& part : SplitMessages(text)) {
    Request message;
    TUTTI_RETURN_IF_ERROR(ParseText(part, &message));
    TUTTI_RETURN_IF_ERROR(session->OnMessage(message));
  }
  Response response;
  return session->Finish(&response);
}

}  // namespace

struct HandlerWorld::Parts {
  ManualClock clock;
  std::unique_ptr<SqliteStore> store;
  std::unique_ptr<BlobStore> blobs;
  std::unique_ptr<TrialLifecycle> lifecycle;
  std::unique_ptr<CheckpointRegistry> registry;
  std::unique_ptr<ExperimentManager> manager;
  std::unique_ptr<ExperimentHandler> experiments;
  std::unique_ptr<WorkerHandler> workers;
  std::unique_ptr<CheckpointHandler> checkpoints;
  std::unique_ptr<GenreCatalog> catalog;
  RefusingBackend backend;
  std::unique_ptr<SampleHandler> samples;
  std::unique_ptr<ListenHandler> listen;
  std::unique_ptr<PackHandler> packs;
  std::map<std::string, std::string> names;  // ${NAME} -> value
  std::map<std::string, Caller> calls;

  Status Build(const std::string& dir);
  Status Seed();
  Status UploadBlob(const std::string& bytes);
  void RegisterCalls();
};

Status HandlerWorld::Parts::Build(const std::string& dir) {
  TUTTI_ASSIGN_OR_RETURN(store, SqliteStore::Open(dir + "/tutti.db"));
  TUTTI_ASSIGN_OR_RETURN(blobs, BlobStore::Open(dir + "/blobs"));
  TUTTI_ASSIGN_OR_RETURN(lifecycle, TrialLifecycle::Create(store.get(), &clock, LifecycleOptions{}));
  TUTTI_ASSIGN_OR_RETURN(registry, CheckpointRegistry::Create(store.get(), blobs.get(), lifecycle.get(), &clock));
  TUTTI_ASSIGN_OR_RETURN(manager, ExperimentManager::Create(store.get(), lifecycle.get(), &clock));
  experiments = std::make_unique<ExperimentHandler>(store.get(), lifecycle.get(), registry.get(), manager.get());
  workers = std::make_unique<WorkerHandler>(store.get(), lifecycle.get(), registry.get(), manager.get(), &clock);
  checkpoints = std::make_unique<CheckpointHandler>(store.get(), lifecycle.get(), registry.get());
  catalog = std::make_unique<GenreCatalog>(store.get(), lifecycle.get(), registry.get());
  samples = std::make_unique<SampleHandler>(lifecycle.get(), registry.get(), catalog.get(), &backend);
  listen = std::make_unique<ListenHandler>(store.get(), lifecycle.get(), registry.get(), catalog.get(), samples.get(),
                                           &clock);
  TUTTI_ASSIGN_OR_RETURN(packs, PackHandler::Create(store.get(), blobs.get(), &clock));
  return absl::OkStatus();
}

Status HandlerWorld::Parts::UploadBlob(const std::string& bytes) {
  v1::UploadBlobRequest header, data;
  header.mutable_header()->set_sha256(Sha256Hex(bytes));
  header.mutable_header()->set_size_bytes(static_cast<int64_t>(bytes.size()));
  data.set_data(bytes);
  auto session = packs->StartUpload();
  TUTTI_RETURN_IF_ERROR(session->OnMessage(header));
  TUTTI_RETURN_IF_ERROR(session->OnMessage(data));
  v1::UploadBlobResponse response;
  return session->Finish(&response);
}

Status HandlerWorld::Parts::Seed() {
  // Experiment 1, trial 1 leased by w:1 with checkpoint 1.
  v1::SubmitExperimentRequest submit;
  submit.set_config_yaml("name: bad-inputs-rock\ndata:\n  genres: [rock]\ntrain:\n  steps: 100\n");
  submit.set_source_name("rock.yaml");
  v1::SubmitExperimentResponse submitted;
  TUTTI_RETURN_IF_ERROR(experiments->Submit(submit, &submitted));
  v1::LeaseTrialRequest lease_request;
  lease_request.set_worker("w:1");
  v1::LeaseTrialResponse lease;
  TUTTI_RETURN_IF_ERROR(workers->LeaseTrial(lease_request, &lease));
  if (!lease.leased() || lease.trial().id() != 1) return absl::InternalError("seed: trial 1 was not leased");
  names["LEASE"] = lease.lease_id();

  const std::string bytes = kCheckpointBytes;
  v1::ReportCheckpointRequest report;
  report.set_lease_id(lease.lease_id());
  report.set_trial_id(1);
  report.set_step(10);
  report.set_sha256(Sha256Hex(bytes));
  report.set_size_bytes(static_cast<int64_t>(bytes.size()));
  (*report.mutable_metrics())["eval.realism.score"] = 3;
  v1::ReportCheckpointResponse reported;
  TUTTI_RETURN_IF_ERROR(workers->ReportCheckpoint(report, &reported));
  auto upload = workers->StartUpload();
  v1::UploadCheckpointRequest header, data;
  *header.mutable_header() = report;
  data.set_data(bytes);
  TUTTI_RETURN_IF_ERROR(upload->OnMessage(header));
  TUTTI_RETURN_IF_ERROR(upload->OnMessage(data));
  v1::UploadCheckpointResponse uploaded;
  TUTTI_RETURN_IF_ERROR(upload->Finish(&uploaded));
  if (uploaded.checkpoint().id() != 1) return absl::InternalError("seed: checkpoint 1 was not recorded");
  names["CKPT_SHA"] = Sha256Hex(bytes);

  // Experiment 2, killed.
  submit.set_config_yaml("name: bad-inputs-killed\ndata:\n  genres: [jazz]\ntrain:\n  steps: 100\n");
  submit.set_source_name("jazz.yaml");
  TUTTI_RETURN_IF_ERROR(experiments->Submit(submit, &submitted));
  v1::KillExperimentRequest kill;
  kill.set_experiment_id(submitted.experiment().id());
  v1::KillExperimentResponse killed;
  TUTTI_RETURN_IF_ERROR(experiments->Kill(kill, &killed));

  // Blobs for RegisterPack: not JSON, JSON that is no manifest, a manifest whose shard is missing.
  PackManifest manifest;
  manifest.genre = "rock";
  manifest.shape = SampleShape{1, 4, 8};
  ShardInfo shard;
  shard.file = "train-00000.shard";
  shard.samples = 1;
  shard.bytes = 64 + static_cast<uint64_t>(manifest.shape.packed_bytes());
  shard.sha256 = Sha256Hex(kNeverUploadedShard);
  manifest.train_shards.push_back(shard);
  PackSong song;
  song.md5 = "0123456789abcdef0123456789abcdef";
  song.samples = 1;
  manifest.songs.push_back(song);
  manifest.created_by = "tests/bad_inputs";
  const std::string manifest_text = manifest.ToJson().dump();
  for (const std::string& blob : {std::string(kNotJson), std::string(kBadManifest), manifest_text}) {
    TUTTI_RETURN_IF_ERROR(UploadBlob(blob));
  }
  names["SHA_NOT_JSON"] = Sha256Hex(kNotJson);
  names["SHA_BAD_MANIFEST"] = Sha256Hex(kBadManifest);
  names["SHA_MANIFEST"] = Sha256Hex(manifest_text);
  names["SHA_SHARD"] = shard.sha256;
  return absl::OkStatus();
}

void HandlerWorld::Parts::RegisterCalls() {
  ExperimentHandler* e = experiments.get();
  calls["ExperimentService.SubmitExperiment"] = Unary(e, &ExperimentHandler::Submit);
  calls["ExperimentService.GetExperiment"] = Unary(e, &ExperimentHandler::Get);
  calls["ExperimentService.KillExperiment"] = Unary(e, &ExperimentHandler::Kill);
  calls["ExperimentService.ListTrials"] = Unary(e, &ExperimentHandler::ListTrials);
  calls["ExperimentService.GetTrial"] = Unary(e, &ExperimentHandler::GetTrial);
  calls["ExperimentService.KillTrial"] = Unary(e, &ExperimentHandler::KillTrial);
  calls["ExperimentService.PauseExperiment"] = Unary(e, &ExperimentHandler::Pause);
  calls["ExperimentService.ResumeExperiment"] = Unary(e, &ExperimentHandler::Resume);
  calls["ExperimentService.ExtendExperiment"] = Unary(e, &ExperimentHandler::Extend);
  calls["ExperimentService.ForkTrial"] = Unary(e, &ExperimentHandler::Fork);
  calls["ExperimentService.StreamTrialMetrics"] = [e](const std::string& text) -> Status {
    v1::StreamTrialMetricsRequest request;
    TUTTI_RETURN_IF_ERROR(ParseText(text, &request));
    return e->StreamMetrics(request, [](const v1::StreamTrialMetricsResponse&) { return true; },
                            [] { return true; });
  };

  WorkerHandler* w = workers.get();
  calls["WorkerService.LeaseTrial"] = Unary(w, &WorkerHandler::LeaseTrial);
  calls["WorkerService.Heartbeat"] = Unary(w, &WorkerHandler::Heartbeat);
  calls["WorkerService.ReportMetrics"] = Unary(w, &WorkerHandler::ReportMetrics);
  calls["WorkerService.ReportCheckpoint"] = Unary(w, &WorkerHandler::ReportCheckpoint);
  calls["WorkerService.CompleteTrial"] = Unary(w, &WorkerHandler::CompleteTrial);
  calls["WorkerService.ReleaseTrial"] = Unary(w, &WorkerHandler::ReleaseTrial);
  calls["WorkerService.FailTrial"] = Unary(w, &WorkerHandler::FailTrial);
  calls["WorkerService.UploadCheckpoint"] = [w](const std::string& text) {
    return Stream<WorkerHandler::UploadSession, v1::UploadCheckpointRequest, v1::UploadCheckpointResponse>(
        w->StartUpload(), text);
  };

  CheckpointHandler* c = checkpoints.get();
  calls["CheckpointService.ListCheckpoints"] = Unary(c, &CheckpointHandler::List);
  calls["CheckpointService.GetCheckpoint"] = Unary(c, &CheckpointHandler::Get);
  calls["CheckpointService.DeleteCheckpoint"] = Unary(c, &CheckpointHandler::Delete);
  calls["CheckpointService.BestCheckpoint"] = Unary(c, &CheckpointHandler::Best);
  calls["CheckpointService.DownloadCheckpoint"] = [c](const std::string& text) -> Status {
    v1::DownloadCheckpointRequest request;
    TUTTI_RETURN_IF_ERROR(ParseText(text, &request));
    return c->OpenDownload(request).status();
  };

  PackHandler* p = packs.get();
  calls["PackService.MissingBlobs"] = Unary(p, &PackHandler::MissingBlobs);
  calls["PackService.RegisterPack"] = Unary(p, &PackHandler::RegisterPack);
  calls["PackService.ListPacks"] = Unary(p, &PackHandler::ListPacks);
  calls["PackService.DownloadBlob"] = [p](const std::string& text) -> Status {
    v1::DownloadBlobRequest request;
    TUTTI_RETURN_IF_ERROR(ParseText(text, &request));
    return p->OpenDownload(request).status();
  };
  calls["PackService.UploadBlob"] = [p](const std::string& text) {
    return Stream<PackHandler::UploadSession, v1::UploadBlobRequest, v1::UploadBlobResponse>(p->StartUpload(), text);
  };

  SampleHandler* s = samples.get();
  calls["SampleService.Generate"] = [s](const std::string& text) -> Status {
    v1::GenerateRequest request;
    TUTTI_RETURN_IF_ERROR(ParseText(text, &request));
    return s->Generate(request, [](const v1::GenerateResponse&) { return true; });
  };
  calls["SampleService.ListGenres"] = Unary(s, &SampleHandler::ListGenres);

  ListenHandler* l = listen.get();
  calls["ListenService.CreateListenPair"] = Unary(l, &ListenHandler::CreatePair);
  calls["ListenService.RateListenPair"] = Unary(l, &ListenHandler::Rate);
  calls["ListenService.ListRatings"] = Unary(l, &ListenHandler::ListRatings);
  calls["ListenService.Leaderboard"] = Unary(l, &ListenHandler::Leaderboard);
}

HandlerWorld::HandlerWorld(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}
HandlerWorld::~HandlerWorld() = default;

StatusOr<std::unique_ptr<HandlerWorld>> HandlerWorld::Create(const std::string& dir) {
  auto parts = std::make_unique<Parts>();
  TUTTI_RETURN_IF_ERROR(Annotate(parts->Build(dir), "HandlerWorld: build"));
  TUTTI_RETURN_IF_ERROR(Annotate(parts->Seed(), "HandlerWorld: seed state"));
  parts->RegisterCalls();
  return std::unique_ptr<HandlerWorld>(new HandlerWorld(std::move(parts)));
}

std::string HandlerWorld::Substitute(const std::string& text) const {
  std::string out = text;
  for (const auto& [name, value] : parts_->names) {
    const std::string key = "${" + name + "}";
    for (size_t at = out.find(key); at != std::string::npos; at = out.find(key, at + value.size())) {
      out.replace(at, key.size(), value);
    }
  }
  return out;
}

Status HandlerWorld::Call(const std::string& method, const std::string& request_text) {
  auto it = parts_->calls.find(method);
  if (it == parts_->calls.end()) {
    return absl::InvalidArgumentError(absl::StrCat("bad test input: unknown method '", method, "'"));
  }
  return it->second(Substitute(request_text));
}

}  // namespace tutti::bad_inputs
