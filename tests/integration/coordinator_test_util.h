#pragma once
// Shared by the coordinator integration tests: a synthetic pack made with the real `tutti` binary, a small
// job file, `tutti` runs pointed at a coordinator, and direct gRPC calls for what the CLI does not expose.

#include <dirent.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base/sha256.h"
#include "tests/testing/coordinator_process.h"
#include "tests/testing/run_command.h"
#include "tutti/v1/checkpoint_service.grpc.pb.h"
#include "tutti/v1/experiment_service.grpc.pb.h"
#include "tutti/v1/worker_service.grpc.pb.h"

namespace tutti::testing {

inline std::string Bin(const std::string& name) { return std::string(TUTTI_BIN_DIR) + "/" + name; }

// "<dir>/packs" with packs/rock from a 60-song synthetic corpus, made once per test process by the
// real CLI (as a user would).
inline const std::string& PacksDir() {
  static const std::string packs = [] {
    const std::string root = FreshTempDir("coord_packs");
    CommandResult synth = RunCommand(Bin("tutti") + " synth-lpd --out " + root + "/lpd --songs 60 --seed 1");
    EXPECT_EQ(synth.exit_code, 0) << synth.err;
    CommandResult pack = RunCommand(Bin("tutti") + " pack --lpd " + root + "/lpd --genres rock --out " + root + "/packs");
    EXPECT_EQ(pack.exit_code, 0) << pack.err;
    return root + "/packs";
  }();
  return packs;
}

// A small CPU job on PacksDir()/rock: batch 4 per rank, one thread per rank.
inline std::string SmallJobYaml(int steps, int checkpoint_every, int keep = 1000) {
  return "name: coord-test\n"
         "data:\n  packs_dir: " + PacksDir() + "\n  genres: [rock]\n  prefetch_batches: 2\n"
         "train:\n  steps: " + std::to_string(steps) + "\n  batch_size: 4\n  seed: 11\n  intra_op_threads: 1\n"
         "  log_every: 5\n"
         "checkpoint:\n  every: " + std::to_string(checkpoint_every) + "\n  keep: " + std::to_string(keep) + "\n"
         "eval:\n  every: 20\n  samples: 8\n"
         "distributed:\n  timeout_s: 30\n  stall_warning_s: 10\n";
}

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// `tutti <args>` against the coordinator at `address` (extra environment first, e.g. "TUTTI_TOKEN=x").
inline CommandResult Tutti(const std::string& address, const std::string& args, const std::string& env = "") {
  return RunCommand(env + " TUTTI_COORDINATOR=" + address + " " + Bin("tutti") + " " + args);
}

inline nlohmann::json Json(const CommandResult& r) {
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.out << r.err;
  return j;
}

// int64 fields come as strings in the proto3 JSON mapping.
inline int64_t Int(const nlohmann::json& j) { return j.is_string() ? std::stoll(j.get<std::string>()) : j.get<int64_t>(); }

// Direct gRPC access for checks and for driving the worker protocol by hand.
struct Client {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::ExperimentService::Stub> experiments;
  std::unique_ptr<v1::WorkerService::Stub> workers;
  std::unique_ptr<v1::CheckpointService::Stub> checkpoints;
  std::string token;

  explicit Client(const std::string& address, std::string bearer = "") : token(std::move(bearer)) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    args.SetMaxSendMessageSize(64 << 20);
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
    channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
    experiments = v1::ExperimentService::NewStub(channel);
    workers = v1::WorkerService::NewStub(channel);
    checkpoints = v1::CheckpointService::NewStub(channel);
  }
  std::unique_ptr<grpc::ClientContext> Context(int seconds = 30) const {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
    if (!token.empty()) c->AddMetadata("authorization", "Bearer " + token);
    return c;
  }
  // Submits SmallJobYaml-like text; returns the trial id.
  int64_t Submit(const std::string& yaml) {
    v1::SubmitExperimentRequest request;
    request.set_config_yaml(yaml);
    request.set_source_name("job.yaml");
    v1::SubmitExperimentResponse response;
    grpc::Status s = experiments->SubmitExperiment(Context().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.trials_size() > 0 ? response.trials(0).id() : 0;
  }
  v1::LeaseTrialResponse Lease() {
    v1::LeaseTrialRequest request;
    request.set_worker("test:" + std::to_string(::getpid()));
    v1::LeaseTrialResponse response;
    grpc::Status s = workers->LeaseTrial(Context().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }
  // Announce + upload `bytes` as the checkpoint at `step`; `send` bytes are actually sent (default all).
  grpc::Status Upload(const std::string& lease, int64_t trial, int64_t step, const std::string& bytes,
                      std::string sha = "", int64_t send = -1, v1::UploadCheckpointResponse* out = nullptr) {
    v1::UploadCheckpointResponse response;
    auto context = Context(120);
    auto writer = workers->UploadCheckpoint(context.get(), &response);
    v1::UploadCheckpointRequest message;
    v1::ReportCheckpointRequest* h = message.mutable_header();
    h->set_lease_id(lease);
    h->set_trial_id(trial);
    h->set_step(step);
    h->set_sha256(sha.empty() ? Sha256Hex(bytes) : sha);
    h->set_size_bytes(static_cast<int64_t>(bytes.size()));
    bool ok = writer->Write(message);
    const size_t limit = send < 0 ? bytes.size() : static_cast<size_t>(send);
    for (size_t offset = 0; ok && offset < limit; offset += 1 << 20) {
      message.set_data(bytes.substr(offset, std::min<size_t>(1 << 20, limit - offset)));
      ok = writer->Write(message);
    }
    if (ok) writer->WritesDone();
    grpc::Status s = writer->Finish();
    if (out != nullptr) *out = response;
    return s;
  }
  std::vector<v1::Checkpoint> List(int64_t trial) {
    v1::ListCheckpointsRequest request;
    request.set_trial_id(trial);
    v1::ListCheckpointsResponse response;
    grpc::Status s = checkpoints->ListCheckpoints(Context().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {response.checkpoints().begin(), response.checkpoints().end()};
  }
  // The checkpoint's bytes ("" and a failed status on error).
  grpc::Status Download(int64_t id, std::string* bytes) {
    v1::DownloadCheckpointRequest request;
    request.set_checkpoint_id(id);
    auto context = Context(120);
    auto reader = checkpoints->DownloadCheckpoint(context.get(), request);
    v1::DownloadCheckpointResponse message;
    bytes->clear();
    while (reader->Read(&message)) {
      if (!message.has_header()) *bytes += message.data();
    }
    return reader->Finish();
  }
  v1::Trial Trial(int64_t id) {
    v1::GetTrialRequest request;
    request.set_trial_id(id);
    v1::GetTrialResponse response;
    grpc::Status s = experiments->GetTrial(Context().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.trial();
  }
};

inline std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

// Pids of processes whose environment holds `tag` and `OMPI_COMM_WORLD_RANK=<rank>`.
inline std::vector<pid_t> PidsWithEnv(const std::string& tag, int rank) {
  std::vector<pid_t> pids;
  const std::string want_rank = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "environ", std::ios::binary);
    std::string env((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    bool has_tag = false, has_rank = false;
    size_t start = 0;
    while (start < env.size()) {
      size_t end = env.find('\0', start);
      if (end == std::string::npos) end = env.size();
      const std::string var = env.substr(start, end - start);
      if (var == tag) has_tag = true;
      if (var == want_rank) has_rank = true;
      start = end + 1;
    }
    if (has_tag && has_rank) pids.push_back(static_cast<pid_t>(std::stoi(name)));
  }
  return pids;
}

}  // namespace tutti::testing
