// Writes the handlers fuzz target's seed corpus (fuzz/corpus/handlers): request sequences in the target's
// input format (handlers_fuzz.cc), shaped like the handler tests' calls, against the world the target
// seeds (experiments 1 and 2 of genre rock with trials 1 and 2 leased and checkpoints 1 and 2, experiment 3
// of genre pop with trial 3 queued, one listening pair). Method numbers must follow handlers_fuzz.cc's
// Method enum.
//
// Usage: tutti_fuzz_handlers_seeds DIR
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "core/base/sha256.h"
#include "tutti/v1/checkpoint_service.pb.h"
#include "tutti/v1/experiment_service.pb.h"
#include "tutti/v1/listen_service.pb.h"
#include "tutti/v1/pack_service.pb.h"
#include "tutti/v1/sample_service.pb.h"
#include "tutti/v1/worker_service.pb.h"

namespace v1 = tutti::v1;

namespace {

// handlers_fuzz.cc's Method enum.
enum Method : uint8_t {
  kSubmit, kListExperiments, kGetExperiment, kKillExperiment, kListTrials, kGetTrial, kKillTrial, kPause,
  kResume, kExtend, kFork, kStreamMetrics,
  kLease, kHeartbeat, kReportMetrics, kReportCheckpoint, kUploadCheckpoint, kComplete, kRelease, kFail,
  kListCheckpoints, kGetCheckpoint, kDownloadCheckpoint, kDeleteCheckpoint, kBestCheckpoint,
  kGenerate, kListGenres,
  kCreatePair, kRate, kListRatings, kLeaderboard,
  kMissingBlobs, kUploadBlob, kRegisterPack, kListPacks, kDownloadBlob,
  kTick, kRestart,
};

std::string Length(size_t n) { return std::string{static_cast<char>(n & 0xff), static_cast<char>(n >> 8)}; }

class Seed {
 public:
  Seed& Add(Method method, const google::protobuf::Message& request) {
    return AddRaw(method, request.SerializeAsString());
  }
  Seed& AddRaw(Method method, const std::string& bytes) {
    bytes_ += static_cast<char>(method);
    bytes_ += Length(bytes.size());
    bytes_ += bytes;
    return *this;
  }
  // A client stream: its parts, each [u16 length][message].
  Seed& Stream(Method method, const std::vector<std::string>& parts) {
    std::string body;
    for (const std::string& part : parts) body += Length(part.size()) + part;
    return AddRaw(method, body);
  }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

template <typename M>
std::string Bytes(const M& m) {
  return m.SerializeAsString();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  std::vector<std::pair<std::string, Seed>> seeds;

  {  // experiments: submit (with an override and a sweep), read back, pause, extend, resume, kill
    Seed s;
    v1::SubmitExperimentRequest submit;
    submit.set_config_yaml("name: demo\ndata:\n  genres: [jazz]\n  packs_dir: packs\ntrain:\n  steps: 40\n");
    submit.set_source_name("demo.yaml");
    submit.add_overrides("train.batch_size=8");
    submit.set_working_directory("/home/me/project");
    s.Add(kSubmit, submit);
    v1::SubmitExperimentRequest sweep;
    sweep.set_config_yaml(
        "name: sweep\ndata:\n  genres: [rock]\ntrain:\n  steps: 20\nhyperparameters:\n"
        "  train.g_lr: {type: log_uniform, min: 1.0e-4, max: 1.0e-3, count: 3}\n"
        "  train.critic_steps: {type: int, min: 1, max: 2}\nsearcher:\n  name: grid\n");
    sweep.set_source_name("sweep.yaml");
    s.Add(kSubmit, sweep);
    s.Add(kListExperiments, v1::ListExperimentsRequest());
    v1::GetExperimentRequest get;
    get.set_experiment_id(4);
    s.Add(kGetExperiment, get);
    v1::ListTrialsRequest trials;
    trials.set_experiment_id(5);
    s.Add(kListTrials, trials);
    v1::PauseExperimentRequest pause;
    pause.set_experiment_id(5);
    s.Add(kPause, pause);
    v1::ExtendExperimentRequest extend;
    extend.set_experiment_id(5);
    extend.set_max_trials(6);
    s.Add(kExtend, extend);
    v1::ResumeExperimentRequest resume;
    resume.set_experiment_id(5);
    s.Add(kResume, resume);
    v1::KillExperimentRequest kill;
    kill.set_experiment_id(4);
    s.Add(kKillExperiment, kill);
    seeds.emplace_back("experiments", s);
  }
  {  // a worker's whole trial: lease (trial 3), heartbeat, metrics, checkpoint upload, complete
    Seed s;
    v1::LeaseTrialRequest lease;
    lease.set_worker("host:9");
    s.Add(kLease, lease);
    v1::HeartbeatRequest heartbeat;
    heartbeat.set_lease_id("L");
    heartbeat.set_trial_id(3);
    heartbeat.set_step(5);
    s.Add(kHeartbeat, heartbeat);
    v1::ReportMetricsRequest metrics;
    metrics.set_lease_id("L");
    metrics.set_trial_id(3);
    v1::MetricPoint* point = metrics.add_points();
    point->set_step(5);
    point->set_kind("train");
    (*point->mutable_values())["d_loss"] = 0.5;
    s.Add(kReportMetrics, metrics);
    v1::UploadCheckpointRequest header;
    v1::ReportCheckpointRequest* h = header.mutable_header();
    h->set_lease_id("L");
    h->set_trial_id(3);
    h->set_step(5);
    h->set_sha256("S");
    h->set_size_bytes(-1);
    (*h->mutable_metrics())["eval.realism.score"] = 2.5;
    v1::UploadCheckpointRequest data1, data2;
    data1.set_data("first half of the bytes, ");
    data2.set_data("second half");
    s.Stream(kUploadCheckpoint, {Bytes(header), Bytes(data1), Bytes(data2)});
    v1::CompleteTrialRequest complete;
    complete.set_lease_id("L");
    complete.set_trial_id(3);
    complete.set_step(5);
    complete.set_stop_reason("completed");
    s.Add(kComplete, complete);
    v1::GetTrialRequest get;
    get.set_trial_id(3);
    s.Add(kGetTrial, get);
    seeds.emplace_back("worker_trial", s);
  }
  {  // the seeded leases: report a known checkpoint, release one, fail the other, expire and restart
    Seed s;
    v1::ReportCheckpointRequest report;
    report.set_lease_id("L0");
    report.set_trial_id(1);
    report.set_step(10);
    report.set_sha256(tutti::Sha256Hex("checkpoint of trial 1"));
    report.set_size_bytes(21);
    s.Add(kReportCheckpoint, report);
    v1::ReleaseTrialRequest release;
    release.set_lease_id("L1");
    release.set_trial_id(2);
    release.set_step(10);
    release.set_reason("preempted");
    s.Add(kRelease, release);
    v1::FailTrialRequest fail;
    fail.set_lease_id("L0");
    fail.set_trial_id(1);
    fail.set_step(10);
    fail.set_message("CUDA error");
    fail.set_retryable(true);
    s.Add(kFail, fail);
    v1::LeaseTrialRequest lease;
    lease.set_worker("host:10");
    lease.set_ranks(2);
    lease.set_max_ranks(4);
    s.Add(kLease, lease);
    s.AddRaw(kTick, std::string("\x40\x0d\x03\x00", 4));  // 200 s: every lease expires
    s.AddRaw(kRestart, "");
    v1::HeartbeatRequest heartbeat;
    heartbeat.set_lease_id("L");
    heartbeat.set_trial_id(1);
    s.Add(kHeartbeat, heartbeat);
    seeds.emplace_back("leases", s);
  }
  {  // trials: kill, fork from a checkpoint, stream metrics
    Seed s;
    v1::ForkTrialRequest fork;
    fork.set_trial_id(1);
    fork.set_checkpoint_id(1);
    fork.add_overrides("train.steps=200");
    s.Add(kFork, fork);
    v1::StreamTrialMetricsRequest stream;
    stream.set_trial_id(1);
    stream.set_follow(true);
    s.Add(kStreamMetrics, stream);
    v1::KillTrialRequest kill;
    kill.set_trial_id(2);
    s.Add(kKillTrial, kill);
    v1::HeartbeatRequest heartbeat;
    heartbeat.set_lease_id("L1");
    heartbeat.set_trial_id(2);
    s.Add(kHeartbeat, heartbeat);
    seeds.emplace_back("trials", s);
  }
  {  // checkpoints: list, get, download, best, delete
    Seed s;
    v1::ListCheckpointsRequest list;
    list.set_trial_id(1);
    s.Add(kListCheckpoints, list);
    v1::ListCheckpointsRequest by_experiment;
    by_experiment.set_experiment_id(2);
    s.Add(kListCheckpoints, by_experiment);
    v1::GetCheckpointRequest get;
    get.set_checkpoint_id(1);
    s.Add(kGetCheckpoint, get);
    v1::DownloadCheckpointRequest download;
    download.set_checkpoint_id(2);
    s.Add(kDownloadCheckpoint, download);
    v1::BestCheckpointRequest best;
    best.set_genre("rock");
    s.Add(kBestCheckpoint, best);
    v1::DeleteCheckpointRequest del;
    del.set_checkpoint_id(1);
    s.Add(kDeleteCheckpoint, del);
    seeds.emplace_back("checkpoints", s);
  }
  {  // samples and listening tests
    Seed s;
    v1::GenerateRequest by_id;
    by_id.set_checkpoint_id(1);
    by_id.set_n(2);
    by_id.set_seed(3);
    by_id.add_formats("midi");
    by_id.add_formats("npz");
    s.Add(kGenerate, by_id);
    v1::GenerateRequest by_genre;
    by_genre.set_genre("rock");
    by_genre.set_threshold(0.4);
    by_genre.set_n(1);
    s.Add(kGenerate, by_genre);
    s.Add(kListGenres, v1::ListGenresRequest());
    v1::CreateListenPairRequest pair;
    pair.set_trial_a(1);
    pair.set_trial_b(2);
    pair.set_genre("rock");
    s.Add(kCreatePair, pair);
    v1::RateListenPairRequest rate;
    rate.set_pair_id("P");
    rate.set_choice(v1::RATING_A);
    rate.set_listener("ears");
    s.Add(kRate, rate);
    v1::ListRatingsRequest ratings;
    ratings.set_genre("rock");
    s.Add(kListRatings, ratings);
    v1::LeaderboardRequest board;
    board.set_genre("rock");
    s.Add(kLeaderboard, board);
    seeds.emplace_back("samples_listen", s);
  }
  {  // a pack: its shard and manifest as blobs, register, list, download
    Seed s;
    const std::string shard(64 + 2880, '\0');  // one sample of shape [5, 64, 72], one bit per cell
    const std::string shard_sha = tutti::Sha256Hex(shard);
    const std::string manifest =
        "{\"format_version\":1,\"genre\":\"rock\",\"shape\":[5,64,72],\"train_shards\":[{\"file\":"
        "\"train-00000.shard\",\"samples\":1,\"bytes\":2944,\"sha256\":\"" + shard_sha +
        "\"}],\"heldout_shards\":[],\"songs\":[{\"md5\":\"a\",\"msd_ids\":[\"T\"],\"samples\":1,\"split\":"
        "\"train\"}],\"samples\":{\"train\":1,\"heldout\":0},\"packing\":{},\"summary\":{},\"created_by\":\"seed\"}";
    for (const std::string* blob : {&shard, &manifest}) {
      v1::UploadBlobRequest header;
      header.mutable_header()->set_sha256("S");
      header.mutable_header()->set_size_bytes(-1);
      v1::UploadBlobRequest data;
      data.set_data(*blob);
      s.Stream(kUploadBlob, {Bytes(header), Bytes(data)});
    }
    v1::MissingBlobsRequest missing;
    missing.add_sha256("M");
    missing.add_sha256(shard_sha);
    s.Add(kMissingBlobs, missing);
    v1::RegisterPackRequest reg;
    reg.set_manifest_sha256("M");
    s.Add(kRegisterPack, reg);
    v1::ListPacksRequest list;
    list.set_genre("rock");
    s.Add(kListPacks, list);
    v1::DownloadBlobRequest download;
    download.set_sha256("M");
    s.Add(kDownloadBlob, download);
    s.AddRaw(kRestart, "");
    download.set_sha256(shard_sha);
    s.Add(kDownloadBlob, download);
    seeds.emplace_back("pack", s);
  }

  for (const auto& [name, seed] : seeds) {
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out << seed.bytes();
    if (!out) {
      std::fprintf(stderr, "%s: cannot write\n", (dir / name).c_str());
      return 1;
    }
  }
  std::printf("wrote %zu seeds to %s\n", seeds.size(), dir.c_str());
  return 0;
}
