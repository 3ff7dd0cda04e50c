// Fuzz target: the coordinator's request handlers (coordinator/service), called directly as the gRPC
// adapter calls them, with decoded protobuf requests. No gRPC server: what is fuzzed is what a request can
// do to the coordinator's state once it got past authentication.
//
// Input: a sequence of at most kMaxRequests records, each
//   [method: 1 byte, taken modulo kMethodCount] [length: u16 little-endian] [length bytes]
// where the bytes are the method's request message (ParseFromArray; a record that does not parse is
// skipped). The two client streams (UploadCheckpoint, UploadBlob) take, instead, a sequence of
// [u16 length][message] parts, ended by the record's end or by a part that does not parse, then Finish.
// Besides the RPCs: "tick" (advance the clock by a u32 of ms, then expire leases, as the server does
// twice a second) and "restart" (new lifecycle, registry, manager and handlers over the same store and
// blob directory: a coordinator restart).
//
// Every input starts from the same world, built afresh (an in-memory store, a blob store in a temporary
// directory wiped first), so a crash replays from its input alone: two experiments of genre rock with one
// leased trial and one checkpoint each, one rated-able listen pair, and a queued pop trial. Random lease
// ids and pair ids cannot be guessed by a mutator, so some request strings stand for known values:
//   lease_id "L" -> the lease most recently granted, "L0" / "L1" -> the two seeded leases;
//   pair_id "P" -> the seeded pair; a stream header's sha256 "S" -> the sha256 of the stream's data parts
//   (its size_bytes < 0 -> their size); sha256 "M" (RegisterPack, DownloadBlob, MissingBlobs) -> the blob
//   uploaded last in this input.
//
// A bug is a crash, a sanitizer report, an exception, or an OK answer that breaks a documented contract:
// a worker call accepted under a lease that was never granted; a download whose bytes do not hash to the
// record's sha256; a Get* answering another id than asked; a lease grant for a trial that is not RUNNING
// under it; an upload committed with other bytes than sent; and, after every request, a trial whose
// lease fields disagree with its state, or whose row in the store disagrees with the lifecycle's cache.
//
// The sample backend (LibTorch) is not in the torch-free fuzz build: a small backend here stands at the
// SampleBackend boundary, checks the job it is given (n, formats, checkpoint blob) and returns one
// labelled file per sample and format, so Generate and the listening tests run their whole handler path.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "absl/strings/str_cat.h"
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
#include "coordinator/store/memory_store.h"
#include "core/base/sha256.h"

namespace tutti::coord {
namespace {

constexpr int kMaxRequests = 24;

[[noreturn]] void Bug(const std::string& what) {
  std::fprintf(stderr, "handlers: %s\n", what.c_str());
  std::abort();
}

void Expect(const Status& status, const char* what) {
  if (!status.ok()) Bug(absl::StrCat("seeding: ", what, ": ", status.ToString()));
}

// At the SampleBackend boundary (see the file comment).
class CheckingBackend final : public SampleBackend {
 public:
  explicit CheckingBackend(BlobStore* const* blobs) : blobs_(blobs) {}
  StatusOr<std::vector<SampleFile>> Generate(const SampleJob& job) override {
    if (job.n < 1 || job.n > SampleHandlerOptions().max_samples) Bug(absl::StrCat("backend asked for n=", job.n));
    if (job.formats.empty()) Bug("backend asked for no format");
    if (!IsSha256Hex(job.checkpoint_sha256) || !(*blobs_)->Contains(job.checkpoint_sha256)) {
      Bug(absl::StrCat("backend asked for checkpoint ", job.checkpoint_id, " whose blob is not stored"));
    }
    std::vector<SampleFile> files;
    for (int64_t i = 0; i < job.n; ++i) {
      for (const std::string& format : job.formats) {
        files.push_back({absl::StrCat("sample-", i, ".", format), absl::StrCat(job.checkpoint_id, ":", job.seed)});
      }
    }
    return files;
  }

 private:
  BlobStore* const* blobs_;  // the world's current blob store (replaced on restart)
};

std::string BlobDir() {
  // Blob commits fsync: in memory when the machine has /dev/shm, or the fuzzer would mostly wait on disk.
  std::error_code ec;
  const std::filesystem::path base =
      std::filesystem::is_directory("/dev/shm", ec) ? std::filesystem::path("/dev/shm")
                                                    : std::filesystem::temp_directory_path();
  return (base / ("tutti-handlers-fuzz-" + std::to_string(::getpid()))).string();
}

struct World {
  const std::string dir = BlobDir();
  ManualClock clock;
  std::unique_ptr<MemoryStore> store = std::make_unique<MemoryStore>();
  std::unique_ptr<BlobStore> blobs;
  BlobStore* blobs_raw = nullptr;
  CheckingBackend backend{&blobs_raw};
  std::unique_ptr<TrialLifecycle> lifecycle;
  std::unique_ptr<CheckpointRegistry> registry;
  std::unique_ptr<ExperimentManager> manager;
  std::unique_ptr<ExperimentHandler> experiments;
  std::unique_ptr<WorkerHandler> workers;
  std::unique_ptr<CheckpointHandler> checkpoints;
  std::unique_ptr<GenreCatalog> catalog;
  std::unique_ptr<SampleHandler> samples;
  std::unique_ptr<ListenHandler> listen;
  std::unique_ptr<PackHandler> packs;

  std::vector<std::string> seeded_leases;
  std::set<std::string> granted;  // every lease id granted in this input
  std::string last_lease, pair_id, last_blob;

  World() {
    std::filesystem::remove_all(dir);
    Start();
    Seed();
  }
  ~World() {
    Stop();
    std::filesystem::remove_all(dir);
  }

  void Stop() {
    packs.reset();
    listen.reset();
    samples.reset();
    catalog.reset();
    checkpoints.reset();
    workers.reset();
    experiments.reset();
    manager.reset();
    registry.reset();
    lifecycle.reset();
    blobs.reset();
    blobs_raw = nullptr;
  }

  // What CoordinatorServer::Start builds, in the same order, over the same store and blob directory.
  void Start() {
    auto b = BlobStore::Open(dir);
    Expect(b.status(), "BlobStore::Open");
    blobs = *std::move(b);
    blobs_raw = blobs.get();
    auto l = TrialLifecycle::Create(store.get(), &clock, LifecycleOptions());
    Expect(l.status(), "TrialLifecycle::Create");
    lifecycle = *std::move(l);
    auto r = CheckpointRegistry::Create(store.get(), blobs.get(), lifecycle.get(), &clock);
    Expect(r.status(), "CheckpointRegistry::Create");
    registry = *std::move(r);
    auto m = ExperimentManager::Create(store.get(), lifecycle.get(), &clock);
    Expect(m.status(), "ExperimentManager::Create");
    manager = *std::move(m);
    experiments = std::make_unique<ExperimentHandler>(store.get(), lifecycle.get(), registry.get(), manager.get(),
                                                      ExperimentHandlerOptions{1 << 16, 50, 0});
    workers = std::make_unique<WorkerHandler>(store.get(), lifecycle.get(), registry.get(), manager.get(), &clock);
    checkpoints = std::make_unique<CheckpointHandler>(store.get(), lifecycle.get(), registry.get());
    catalog = std::make_unique<GenreCatalog>(store.get(), lifecycle.get(), registry.get());
    samples = std::make_unique<SampleHandler>(lifecycle.get(), registry.get(), catalog.get(), &backend);
    registry->SetRecordListener([handler = samples.get()](const CheckpointRow& row) {
      handler->OnCheckpointRecorded(row);
    });
    listen = std::make_unique<ListenHandler>(store.get(), lifecycle.get(), registry.get(), catalog.get(),
                                             samples.get(), &clock);
    auto p = PackHandler::Create(store.get(), blobs.get(), &clock);
    Expect(p.status(), "PackHandler::Create");
    packs = *std::move(p);
  }

  void Seed() {
    for (const char* genre : {"rock", "rock", "pop"}) {
      v1::SubmitExperimentRequest submit;
      submit.set_config_yaml(absl::StrCat("name: ", genre, "-job\ndata:\n  genres: [", genre,
                                          "]\ntrain:\n  steps: 100\n"));
      submit.set_source_name("seed.yaml");
      v1::SubmitExperimentResponse submitted;
      Expect(experiments->Submit(submit, &submitted), "Submit");
    }
    for (int i = 0; i < 2; ++i) {
      v1::LeaseTrialRequest lease;
      lease.set_worker(absl::StrCat("seed:", i));
      v1::LeaseTrialResponse leased;
      Expect(workers->LeaseTrial(lease, &leased), "LeaseTrial");
      if (!leased.leased()) Bug("seeding: no trial to lease");
      seeded_leases.push_back(leased.lease_id());
      granted.insert(leased.lease_id());
      last_lease = leased.lease_id();
      const std::string bytes = absl::StrCat("checkpoint of trial ", leased.trial().id());
      v1::UploadCheckpointRequest header;
      v1::ReportCheckpointRequest* h = header.mutable_header();
      h->set_lease_id(leased.lease_id());
      h->set_trial_id(leased.trial().id());
      h->set_step(10);
      h->set_sha256(Sha256Hex(bytes));
      h->set_size_bytes(static_cast<int64_t>(bytes.size()));
      (*h->mutable_metrics())["eval.realism.score"] = 5.0 - i;
      std::unique_ptr<WorkerHandler::UploadSession> upload = workers->StartUpload();
      Expect(upload->OnMessage(header), "UploadCheckpoint header");
      v1::UploadCheckpointRequest data;
      data.set_data(bytes);
      Expect(upload->OnMessage(data), "UploadCheckpoint data");
      v1::UploadCheckpointResponse uploaded;
      Expect(upload->Finish(&uploaded), "UploadCheckpoint finish");
    }
    v1::CreateListenPairRequest pair;
    pair.set_genre("rock");
    pair.set_seed(7);
    pair.add_formats("midi");
    v1::CreateListenPairResponse created;
    Expect(listen->CreatePair(pair, &created), "CreateListenPair");
    pair_id = created.pair_id();
  }

  // The substitutions of the file comment.
  std::string Lease(const std::string& given) const {
    if (given == "L") return last_lease;
    if (given == "L0") return seeded_leases[0];
    if (given == "L1") return seeded_leases[1];
    return given;
  }
  std::string Blob(const std::string& given) const { return given == "M" ? last_blob : given; }

  // After every request: each trial's lease fields agree with its state, and the store with the cache.
  void CheckTrials() {
    std::vector<TrialRow> cached = lifecycle->AllTrials();
    auto stored = store->ListAllTrials();
    Expect(stored.status(), "ListAllTrials");
    if (stored->size() != cached.size()) {
      Bug(absl::StrCat("the store holds ", stored->size(), " trials, the lifecycle ", cached.size()));
    }
    for (size_t i = 0; i < cached.size(); ++i) {
      const TrialRow& t = cached[i];
      const TrialRow& s = (*stored)[i];
      const bool running = t.state == TrialState::kRunning;
      if (running == t.lease_id.empty() || (!running && t.lease_expires_ms != 0)) {
        Bug(absl::StrCat("trial ", t.id, " is ", StateName(t.state), " with lease '", t.lease_id, "' expiring at ",
                         t.lease_expires_ms));
      }
      if (!IsTerminal(t.state) && t.state != TrialState::kPaused && !t.stop_reason.empty()) {
        Bug(absl::StrCat("trial ", t.id, " is ", StateName(t.state), " with stop reason '", t.stop_reason, "'"));
      }
      if (s.id != t.id || s.state != t.state || s.lease_id != t.lease_id) {
        Bug(absl::StrCat("trial ", t.id, ": the store says ", StateName(s.state), " lease '", s.lease_id,
                         "', the lifecycle ", StateName(t.state), " lease '", t.lease_id, "'"));
      }
    }
  }
};

// Reads a blob through `reader` and checks it against the sha256 and size it was served as.
void CheckServed(BlobStore::Reader* reader, const std::string& sha256, int64_t size, const char* what) {
  Sha256 hash;
  int64_t total = 0;
  std::string chunk;
  for (;;) {
    Status s = reader->Read(4096, &chunk);
    if (!s.ok()) Bug(absl::StrCat(what, ": reading a served blob failed: ", s.ToString()));
    if (chunk.empty()) break;
    hash.Update(chunk.data(), chunk.size());
    total += static_cast<int64_t>(chunk.size());
  }
  if (hash.FinishHex() != sha256 || total != size) {
    Bug(absl::StrCat(what, ": served ", total, " bytes that do not match ", sha256, " (", size, " bytes)"));
  }
}

// The parts of a client stream (see the file comment), each parsed as `Message`.
template <typename Message>
std::vector<Message> StreamParts(const uint8_t* data, size_t size) {
  std::vector<Message> parts;
  while (size >= 2 && parts.size() < 16) {
    size_t length = data[0] | (size_t{data[1]} << 8);
    data += 2;
    size -= 2;
    if (length > size) length = size;
    Message part;
    if (!part.ParseFromArray(data, static_cast<int>(length))) break;
    parts.push_back(std::move(part));
    data += length;
    size -= length;
  }
  return parts;
}

template <typename Header>
void FillStreamHeader(Header* header, const std::string& data) {
  if (header->sha256() == "S") header->set_sha256(Sha256Hex(data));
  if (header->size_bytes() < 0) header->set_size_bytes(static_cast<int64_t>(data.size()));
}

enum Method : uint8_t {
  kSubmit, kListExperiments, kGetExperiment, kKillExperiment, kListTrials, kGetTrial, kKillTrial, kPause,
  kResume, kExtend, kFork, kStreamMetrics,
  kLease, kHeartbeat, kReportMetrics, kReportCheckpoint, kUploadCheckpoint, kComplete, kRelease, kFail,
  kListCheckpoints, kGetCheckpoint, kDownloadCheckpoint, kDeleteCheckpoint, kBestCheckpoint,
  kGenerate, kListGenres,
  kCreatePair, kRate, kListRatings, kLeaderboard,
  kMissingBlobs, kUploadBlob, kRegisterPack, kListPacks, kDownloadBlob,
  kTick, kRestart,
  kMethodCount
};

template <typename Request>
bool Parse(const uint8_t* data, size_t size, Request* request) {
  return request->ParseFromArray(data, static_cast<int>(size));
}

// A worker call: OK is only allowed under a lease this input was granted.
void CheckLeaseUse(World& w, const Status& status, const std::string& lease_id, const char* what) {
  if (status.ok() && w.granted.count(lease_id) == 0) {
    Bug(absl::StrCat(what, " accepted under lease '", lease_id, "', never granted"));
  }
}

// With TUTTI_FUZZ_VERBOSE set, every request's method and answer go to stderr (for writing seeds).
const bool kVerbose = std::getenv("TUTTI_FUZZ_VERBOSE") != nullptr;

void Run(World& w, uint8_t method, const uint8_t* data, size_t size) {
  Status last = absl::UnknownError("not parsed");
  switch (static_cast<Method>(method % kMethodCount)) {
    case kSubmit: {
      v1::SubmitExperimentRequest q;
      v1::SubmitExperimentResponse r;
      if (Parse(data, size, &q)) last = w.experiments->Submit(q, &r);
      break;
    }
    case kListExperiments: {
      v1::ListExperimentsResponse r;
      last = w.experiments->List({}, &r);
      break;
    }
    case kGetExperiment: {
      v1::GetExperimentRequest q;
      v1::GetExperimentResponse r;
      if (Parse(data, size, &q) && (last = w.experiments->Get(q, &r)).ok() && r.experiment().id() != q.experiment_id()) {
        Bug(absl::StrCat("GetExperiment ", q.experiment_id(), " answered experiment ", r.experiment().id()));
      }
      break;
    }
    case kKillExperiment: {
      v1::KillExperimentRequest q;
      v1::KillExperimentResponse r;
      if (Parse(data, size, &q)) last = w.experiments->Kill(q, &r);
      break;
    }
    case kListTrials: {
      v1::ListTrialsRequest q;
      v1::ListTrialsResponse r;
      if (Parse(data, size, &q)) last = w.experiments->ListTrials(q, &r);
      break;
    }
    case kGetTrial: {
      v1::GetTrialRequest q;
      v1::GetTrialResponse r;
      if (Parse(data, size, &q) && (last = w.experiments->GetTrial(q, &r)).ok() && r.trial().id() != q.trial_id()) {
        Bug(absl::StrCat("GetTrial ", q.trial_id(), " answered trial ", r.trial().id()));
      }
      break;
    }
    case kKillTrial: {
      v1::KillTrialRequest q;
      v1::KillTrialResponse r;
      if (Parse(data, size, &q)) last = w.experiments->KillTrial(q, &r);
      break;
    }
    case kPause: {
      v1::PauseExperimentRequest q;
      v1::PauseExperimentResponse r;
      if (Parse(data, size, &q)) last = w.experiments->Pause(q, &r);
      break;
    }
    case kResume: {
      v1::ResumeExperimentRequest q;
      v1::ResumeExperimentResponse r;
      if (Parse(data, size, &q)) last = w.experiments->Resume(q, &r);
      break;
    }
    case kExtend: {
      v1::ExtendExperimentRequest q;
      v1::ExtendExperimentResponse r;
      if (Parse(data, size, &q)) last = w.experiments->Extend(q, &r);
      break;
    }
    case kFork: {
      v1::ForkTrialRequest q;
      v1::ForkTrialResponse r;
      if (Parse(data, size, &q)) last = w.experiments->Fork(q, &r);
      break;
    }
    case kStreamMetrics: {
      v1::StreamTrialMetricsRequest q;
      if (!Parse(data, size, &q)) break;
      int batches = 0;
      // Cancelled at once: a follower would otherwise wait for the trial to end.
      last = w.experiments->StreamMetrics(
          q, [&batches](const v1::StreamTrialMetricsResponse&) { return ++batches < 64; }, [] { return true; });
      break;
    }
    case kLease: {
      v1::LeaseTrialRequest q;
      v1::LeaseTrialResponse r;
      if (!Parse(data, size, &q)) break;
      q.set_lease_id(w.Lease(q.lease_id()));
      Status s = last = w.workers->LeaseTrial(q, &r);
      if (!s.ok() || !r.leased()) break;
      auto trial = w.lifecycle->CheckLease(r.lease_id(), r.trial().id());
      if (!trial.ok() || trial->state != TrialState::kRunning) {
        Bug(absl::StrCat("LeaseTrial granted lease '", r.lease_id(), "' on trial ", r.trial().id(),
                         " that it does not hold: ", trial.status().ToString()));
      }
      w.granted.insert(r.lease_id());
      w.last_lease = r.lease_id();
      break;
    }
    case kHeartbeat: {
      v1::HeartbeatRequest q;
      v1::HeartbeatResponse r;
      if (!Parse(data, size, &q)) break;
      q.set_lease_id(w.Lease(q.lease_id()));
      CheckLeaseUse(w, last = w.workers->Heartbeat(q, &r), q.lease_id(), "Heartbeat");
      break;
    }
    case kReportMetrics: {
      v1::ReportMetricsRequest q;
      v1::ReportMetricsResponse r;
      if (!Parse(data, size, &q)) break;
      q.set_lease_id(w.Lease(q.lease_id()));
      Status s = last = w.workers->ReportMetrics(q, &r);
      CheckLeaseUse(w, s, q.lease_id(), "ReportMetrics");
      if (s.ok() && r.stored() > q.points_size()) {
        Bug(absl::StrCat("ReportMetrics stored ", r.stored(), " of ", q.points_size(), " points"));
      }
      break;
    }
    case kReportCheckpoint: {
      v1::ReportCheckpointRequest q;
      v1::ReportCheckpointResponse r;
      if (!Parse(data, size, &q)) break;
      q.set_lease_id(w.Lease(q.lease_id()));
      CheckLeaseUse(w, last = w.workers->ReportCheckpoint(q, &r), q.lease_id(), "ReportCheckpoint");
      break;
    }
    case kUploadCheckpoint: {
      std::vector<v1::UploadCheckpointRequest> parts = StreamParts<v1::UploadCheckpointRequest>(data, size);
      std::string bytes;
      for (const auto& part : parts) {
        if (part.has_data()) bytes += part.data();
      }
      std::unique_ptr<WorkerHandler::UploadSession> upload = w.workers->StartUpload();
      std::string lease_id, announced;
      for (auto& part : parts) {
        if (part.has_header()) {
          part.mutable_header()->set_lease_id(w.Lease(part.header().lease_id()));
          FillStreamHeader(part.mutable_header(), bytes);
          lease_id = part.header().lease_id();
          announced = part.header().sha256();
        }
        if (!upload->OnMessage(part).ok()) break;
      }
      v1::UploadCheckpointResponse r;
      Status s = last = upload->Finish(&r);
      CheckLeaseUse(w, s, lease_id, "UploadCheckpoint");
      if (!s.ok()) break;
      // What was recorded is what was sent, and it is served back as such.
      v1::DownloadCheckpointRequest download;
      download.set_checkpoint_id(r.checkpoint().id());
      auto served = w.checkpoints->OpenDownload(download);
      if (!served.ok()) Bug(absl::StrCat("an uploaded checkpoint cannot be downloaded: ", served.status().ToString()));
      if (r.checkpoint().sha256() != announced) {
        Bug(absl::StrCat("UploadCheckpoint announced ", announced, " and recorded ", r.checkpoint().sha256()));
      }
      CheckServed(served->reader.get(), served->header.sha256(), served->header.size_bytes(), "UploadCheckpoint");
      break;
    }
    case kComplete: {
      v1::CompleteTrialRequest q;
      v1::CompleteTrialResponse r;
      if (!Parse(data, size, &q)) break;
      q.set_lease_id(w.Lease(q.lease_id()));
      Status s = last = w.workers->CompleteTrial(q, &r);
      CheckLeaseUse(w, s, q.lease_id(), "CompleteTrial");
      if (s.ok() && r.trial().state() == v1::TRIAL_RUNNING) Bug("CompleteTrial left the trial RUNNING");
      break;
    }
    case kRelease: {
      v1::ReleaseTrialRequest q;
      v1::ReleaseTrialResponse r;
      if (!Parse(data, size, &q)) break;
      q.set_lease_id(w.Lease(q.lease_id()));
      Status s = last = w.workers->ReleaseTrial(q, &r);
      CheckLeaseUse(w, s, q.lease_id(), "ReleaseTrial");
      if (s.ok() && r.trial().state() == v1::TRIAL_RUNNING) Bug("ReleaseTrial left the trial RUNNING");
      break;
    }
    case kFail: {
      v1::FailTrialRequest q;
      v1::FailTrialResponse r;
      if (!Parse(data, size, &q)) break;
      q.set_lease_id(w.Lease(q.lease_id()));
      Status s = last = w.workers->FailTrial(q, &r);
      CheckLeaseUse(w, s, q.lease_id(), "FailTrial");
      if (s.ok() && r.trial().state() == v1::TRIAL_RUNNING) Bug("FailTrial left the trial RUNNING");
      break;
    }
    case kListCheckpoints: {
      v1::ListCheckpointsRequest q;
      v1::ListCheckpointsResponse r;
      if (Parse(data, size, &q)) last = w.checkpoints->List(q, &r);
      break;
    }
    case kGetCheckpoint: {
      v1::GetCheckpointRequest q;
      v1::GetCheckpointResponse r;
      if (Parse(data, size, &q) && (last = w.checkpoints->Get(q, &r)).ok() && r.checkpoint().id() != q.checkpoint_id()) {
        Bug(absl::StrCat("GetCheckpoint ", q.checkpoint_id(), " answered checkpoint ", r.checkpoint().id()));
      }
      break;
    }
    case kDownloadCheckpoint: {
      v1::DownloadCheckpointRequest q;
      if (!Parse(data, size, &q)) break;
      auto served = w.checkpoints->OpenDownload(q);
      last = served.status();
      if (!served.ok()) break;
      if (served->header.id() != q.checkpoint_id()) Bug("DownloadCheckpoint served another checkpoint");
      CheckServed(served->reader.get(), served->header.sha256(), served->header.size_bytes(), "DownloadCheckpoint");
      break;
    }
    case kDeleteCheckpoint: {
      v1::DeleteCheckpointRequest q;
      v1::DeleteCheckpointResponse r;
      if (!Parse(data, size, &q)) break;
      if ((last = w.checkpoints->Delete(q, &r)).ok()) {
        v1::GetCheckpointRequest get;
        get.set_checkpoint_id(q.checkpoint_id());
        v1::GetCheckpointResponse got;
        if (w.checkpoints->Get(get, &got).ok()) Bug("a deleted checkpoint is still listed");
      }
      break;
    }
    case kBestCheckpoint: {
      v1::BestCheckpointRequest q;
      v1::BestCheckpointResponse r;
      if (Parse(data, size, &q)) last = w.checkpoints->Best(q, &r);
      break;
    }
    case kGenerate: {
      v1::GenerateRequest q;
      if (!Parse(data, size, &q)) break;
      int64_t bytes = 0;
      last = w.samples->Generate(q, [&bytes](const v1::GenerateResponse& r) {
        bytes += static_cast<int64_t>(r.data().size());
        return true;
      });
      if (bytes > SampleHandlerOptions().max_response_bytes) Bug("Generate sent more than max_response_bytes");
      break;
    }
    case kListGenres: {
      v1::ListGenresResponse r;
      last = w.samples->ListGenres({}, &r);
      break;
    }
    case kCreatePair: {
      v1::CreateListenPairRequest q;
      v1::CreateListenPairResponse r;
      if (Parse(data, size, &q)) last = w.listen->CreatePair(q, &r);
      break;
    }
    case kRate: {
      v1::RateListenPairRequest q;
      v1::RateListenPairResponse r;
      if (!Parse(data, size, &q)) break;
      if (q.pair_id() == "P") q.set_pair_id(w.pair_id);
      last = w.listen->Rate(q, &r);
      break;
    }
    case kListRatings: {
      v1::ListRatingsRequest q;
      v1::ListRatingsResponse r;
      if (Parse(data, size, &q)) last = w.listen->ListRatings(q, &r);
      break;
    }
    case kLeaderboard: {
      v1::LeaderboardRequest q;
      v1::LeaderboardResponse r;
      if (Parse(data, size, &q)) last = w.listen->Leaderboard(q, &r);
      break;
    }
    case kMissingBlobs: {
      v1::MissingBlobsRequest q;
      v1::MissingBlobsResponse r;
      if (!Parse(data, size, &q)) break;
      for (std::string& sha : *q.mutable_sha256()) sha = w.Blob(sha);
      last = w.packs->MissingBlobs(q, &r);
      break;
    }
    case kUploadBlob: {
      std::vector<v1::UploadBlobRequest> parts = StreamParts<v1::UploadBlobRequest>(data, size);
      std::string bytes;
      for (const auto& part : parts) {
        if (part.has_data()) bytes += part.data();
      }
      std::unique_ptr<PackHandler::UploadSession> upload = w.packs->StartUpload();
      for (auto& part : parts) {
        if (part.has_header()) FillStreamHeader(part.mutable_header(), bytes);
        if (!upload->OnMessage(part).ok()) break;
      }
      v1::UploadBlobResponse r;
      if (!(last = upload->Finish(&r)).ok()) break;
      // An upload accepted is stored under the sha256 of what was sent.
      const std::string sha = Sha256Hex(bytes);
      if (!w.blobs->Contains(sha)) Bug("UploadBlob answered OK but the blob is not stored");
      v1::MissingBlobsRequest missing;
      missing.add_sha256(sha);
      v1::MissingBlobsResponse still;
      if (!w.packs->MissingBlobs(missing, &still).ok() || still.sha256_size() != 0) {
        Bug("an uploaded blob is still listed as missing");
      }
      w.last_blob = sha;
      break;
    }
    case kRegisterPack: {
      v1::RegisterPackRequest q;
      v1::RegisterPackResponse r;
      if (!Parse(data, size, &q)) break;
      q.set_manifest_sha256(w.Blob(q.manifest_sha256()));
      last = w.packs->RegisterPack(q, &r);
      break;
    }
    case kListPacks: {
      v1::ListPacksRequest q;
      v1::ListPacksResponse r;
      if (Parse(data, size, &q)) last = w.packs->ListPacks(q, &r);
      break;
    }
    case kDownloadBlob: {
      v1::DownloadBlobRequest q;
      if (!Parse(data, size, &q)) break;
      q.set_sha256(w.Blob(q.sha256()));
      auto reader = w.packs->OpenDownload(q);
      last = reader.status();
      if (reader.ok()) CheckServed(reader->get(), q.sha256(), (*reader)->size(), "DownloadBlob");
      break;
    }
    case kTick: {
      uint32_t ms = 0;
      for (size_t i = 0; i < 4 && i < size; ++i) ms |= uint32_t{data[i]} << (8 * i);
      w.clock.Advance(ms);
      last = absl::OkStatus();
      (void)w.lifecycle->ExpireLeases();
      break;
    }
    case kRestart:
      w.Stop();
      w.Start();
      last = absl::OkStatus();
      break;
    case kMethodCount:
      break;
  }
  if (kVerbose) std::fprintf(stderr, "method %d: %s\n", method % kMethodCount, last.ToString().c_str());
  w.CheckTrials();
}

}  // namespace
}  // namespace tutti::coord

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Protobuf logs every string field that is not UTF-8 (ParseFromArray then fails, which is all we need).
  static const bool quiet = [] {
    google::protobuf::SetLogHandler([](google::protobuf::LogLevel, const char*, int, const std::string&) {});
    return true;
  }();
  (void)quiet;
  tutti::coord::World world;
  for (int n = 0; n < tutti::coord::kMaxRequests && size >= 3; ++n) {
    const uint8_t method = data[0];
    size_t length = data[1] | (size_t{data[2]} << 8);
    data += 3;
    size -= 3;
    if (length > size) length = size;
    tutti::coord::Run(world, method, data, length);
    data += length;
    size -= length;
  }
  return 0;
}
