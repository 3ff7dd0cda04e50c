// The sample endpoint end to end: a real CoordinatorServer on 127.0.0.1 (gRPC and --http, both on port 0,
// with a token) serving real checkpoints through the real TorchSampleBackend. The checkpoints are made by a
// GanTrainer in this process and stored exactly as tutti-worker stores them (SubmitExperiment, LeaseTrial,
// ReportCheckpoint with its metrics, UploadCheckpoint), so the catalog ranks them like a sweep's.
//
// Shows: the same seed gives byte-identical MIDI over gRPC, twice, and over HTTP; and every bad input the
// issue names gets its own clear error with the right status on both fronts — an unknown genre (the known
// ones listed), a genre with no checkpoint yet, n over the limit, a malformed JSON body, a missing token, and
// a checkpoint whose stored bytes no longer match their sha256 (DATA_LOSS, logged, never served).
#include <httplib.h>

#include <ATen/CPUGeneratorImpl.h>
#include <grpcpp/grpcpp.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "coordinator/sample/torch_sample_backend.h"
#include "coordinator/server/coordinator_server.h"
#include "core/base/file_util.h"
#include "core/base/sha256.h"
#include "core/checkpoint/checkpoint.h"
#include "core/config/job_config_yaml.h"
#include "core/train/trainer_from_config.h"
#include "nlohmann/json.hpp"
#include "tutti/v1/experiment_service.grpc.pb.h"
#include "tutti/v1/sample_service.grpc.pb.h"
#include "tutti/v1/worker_service.grpc.pb.h"

namespace tutti {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr char kToken[] = "sample-endpoint-token";

// A default-architecture checkpoint of `genre` after two training steps on sparse random bars.
std::string MakeCheckpoint(const std::string& dir, const std::string& genre, uint64_t seed) {
  JobConfig config;
  config.name = "sample-endpoint";
  config.data.genres = {genre};
  config.train.batch_size = 4;
  config.train.seed = seed;
  auto trainer = CreateTrainerFromConfig(config);
  EXPECT_TRUE(trainer.ok()) << trainer.status();
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const ModelConfig& m = config.model;
  for (int step = 0; step < 2; ++step) {
    torch::Tensor real =
        (torch::rand({4, m.tracks, m.measures * m.steps_per_measure, m.pitches}, gen) < 0.05).to(torch::kFloat);
    EXPECT_TRUE((*trainer)->Step(real).ok());
  }
  CheckpointMeta meta;
  meta.step = (*trainer)->step();
  meta.config_yaml = JobConfigToYaml(config);
  fs::create_directories(dir);
  const std::string path = CheckpointPath(dir, meta.step);
  EXPECT_TRUE(SaveCheckpoint(path, **trainer, meta).ok());
  return path;
}

class SampleEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("tutti-sample-endpoint-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    coord::CoordinatorServerOptions options;
    options.home = (root_ / "home").string();
    options.listen = "127.0.0.1:0";
    options.http_listen = "127.0.0.1:0";
    options.token = kToken;
    options.samples = &backend_;
    options.sample_limits.max_samples = 8;
    options.log = [this](const std::string& line) {
      std::lock_guard<std::mutex> lock(log_mu_);
      log_.push_back(line);
    };
    auto server = coord::CoordinatorServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    http_ = std::make_unique<httplib::Client>("http://" + server_->http_address());
    http_->set_read_timeout(60, 0);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::milliseconds(0));
    server_.reset();
    backend_.Shutdown();
    fs::remove_all(root_);
  }

  void Authorize(grpc::ClientContext* context) const {
    context->AddMetadata("authorization", std::string("Bearer ") + kToken);
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  }

  // A trial of `genre` holding `checkpoint_path`, stored as a worker stores it; `metrics` ride the report
  // (none = the checkpoint does not compete for its genre). Returns the checkpoint id.
  int64_t Store(const std::string& genre, const std::string& checkpoint_path, const std::map<std::string, double>& metrics) {
    auto experiments = v1::ExperimentService::NewStub(channel_);
    auto worker = v1::WorkerService::NewStub(channel_);
    v1::SubmitExperimentRequest submit;
    submit.set_config_yaml("name: endpoint-" + genre + "\ndata:\n  genres: [" + genre + "]\ntrain:\n  steps: 100\n");
    submit.set_source_name("endpoint-" + genre + ".yaml");
    v1::SubmitExperimentResponse submitted;
    grpc::ClientContext c1;
    Authorize(&c1);
    grpc::Status s = experiments->SubmitExperiment(&c1, submit, &submitted);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (checkpoint_path.empty()) return 0;
    v1::LeaseTrialRequest lease;
    lease.set_worker("endpoint-test");
    v1::LeaseTrialResponse leased;
    grpc::ClientContext c2;
    Authorize(&c2);
    s = worker->LeaseTrial(&c2, lease, &leased);
    EXPECT_TRUE(s.ok() && leased.leased()) << s.error_message();
    auto bytes = ReadFileToString(checkpoint_path);
    EXPECT_TRUE(bytes.ok());
    v1::ReportCheckpointRequest header;
    header.set_lease_id(leased.lease_id());
    header.set_trial_id(leased.trial().id());
    header.set_step(2);
    header.set_sha256(Sha256Hex(*bytes));
    header.set_size_bytes(static_cast<int64_t>(bytes->size()));
    for (const auto& [name, value] : metrics) (*header.mutable_metrics())[name] = value;
    v1::ReportCheckpointResponse reported;
    grpc::ClientContext c3;
    Authorize(&c3);
    s = worker->ReportCheckpoint(&c3, header, &reported);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(reported.upload_required());
    v1::UploadCheckpointResponse uploaded;
    grpc::ClientContext c4;
    Authorize(&c4);
    auto writer = worker->UploadCheckpoint(&c4, &uploaded);
    v1::UploadCheckpointRequest message;
    *message.mutable_header() = header;
    EXPECT_TRUE(writer->Write(message));
    message.set_data(*bytes);
    EXPECT_TRUE(writer->Write(message));
    writer->WritesDone();
    s = writer->Finish();
    EXPECT_TRUE(s.ok()) << s.error_message();
    return uploaded.checkpoint().id();
  }

  struct Generated {
    grpc::Status status;
    std::map<std::string, std::string> files;  // name -> bytes, the chunks joined
  };
  Generated GenerateOverGrpc(const v1::GenerateRequest& request, bool with_token = true) {
    auto stub = v1::SampleService::NewStub(channel_);
    grpc::ClientContext context;
    if (with_token) Authorize(&context);
    auto reader = stub->Generate(&context, request);
    Generated out;
    v1::GenerateResponse message;
    while (reader->Read(&message)) out.files[message.name()] += message.data();
    out.status = reader->Finish();
    return out;
  }

  fs::path root_;
  coord::TorchSampleBackend backend_;
  std::unique_ptr<coord::CoordinatorServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<httplib::Client> http_;
  std::mutex log_mu_;
  std::vector<std::string> log_;
};

v1::GenerateRequest ByGenre(const std::string& genre, uint64_t seed, int n = 1) {
  v1::GenerateRequest request;
  request.set_genre(genre);
  request.set_n(n);
  request.set_seed(seed);
  request.set_threshold(0.05);
  request.add_formats("midi");
  return request;
}

TEST_F(SampleEndpointTest, TheSameSeedGivesTheSameMidiOverGrpcAndHttpAndBadInputGetsClearErrors) {
  const int64_t rock = Store("rock", MakeCheckpoint((root_ / "rock").string(), "rock", 1), {{"eval.realism.score", 4}});
  ASSERT_GT(rock, 0);
  Store("jazz", "", {});  // a jazz trial without any checkpoint yet

  // Same seed, same bytes: gRPC twice, then HTTP (the raw file and the JSON mirror).
  const Generated first = GenerateOverGrpc(ByGenre("rock", 7));
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  ASSERT_EQ(first.files.count("sample-0.mid"), 1u);
  const std::string midi = first.files.at("sample-0.mid");
  EXPECT_EQ(midi.substr(0, 4), "MThd");
  const Generated second = GenerateOverGrpc(ByGenre("rock", 7));
  ASSERT_TRUE(second.status.ok()) << second.status.error_message();
  EXPECT_EQ(second.files.at("sample-0.mid"), midi) << "same seed over gRPC, different MIDI";
  const Generated other = GenerateOverGrpc(ByGenre("rock", 8));
  ASSERT_TRUE(other.status.ok()) << other.status.error_message();
  EXPECT_NE(other.files.at("sample-0.mid"), midi) << "seeds 7 and 8 gave the same MIDI: the seed is not used";

  httplib::Headers bearer = {{"Authorization", std::string("Bearer ") + kToken}};
  auto raw = http_->Get("/api/sample?genre=rock&seed=7&threshold=0.05&format=midi", bearer);
  ASSERT_TRUE(raw) << "GET /api/sample failed: httplib error " << static_cast<int>(raw.error());
  ASSERT_EQ(raw->status, 200) << raw->body;
  EXPECT_EQ(raw->body, midi) << "GET /api/sample gave other bytes than gRPC for the same seed";
  auto json = http_->Post("/api/tutti.v1.SampleService/Generate", bearer,
                          R"({"genre": "rock", "n": 1, "seed": "7", "threshold": 0.05, "formats": ["midi"]})",
                          "application/json");
  ASSERT_TRUE(json);
  ASSERT_EQ(json->status, 200) << json->body;
  const nlohmann::json body = nlohmann::json::parse(json->body);
  EXPECT_EQ(body["checkpoint_id"], std::to_string(rock));
  ASSERT_EQ(body["files"].size(), 1u);
  EXPECT_EQ(body["files"][0]["name"], "sample-0.mid");
  std::string decoded;
  ASSERT_TRUE(absl::Base64Unescape(body["files"][0]["data"].get<std::string>(), &decoded));
  EXPECT_EQ(decoded, midi) << "the JSON mirror gave other bytes than gRPC for the same seed";

  // An unknown genre: NOT_FOUND / 404, naming the known genres.
  Generated unknown = GenerateOverGrpc(ByGenre("polka", 1));
  EXPECT_EQ(unknown.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(unknown.status.error_message(), HasSubstr("known genres: jazz, rock"));
  auto unknown_http = http_->Get("/api/sample?genre=polka&format=midi", bearer);
  ASSERT_TRUE(unknown_http);
  EXPECT_EQ(unknown_http->status, 404);
  EXPECT_THAT(unknown_http->body, HasSubstr("known genres: jazz, rock"));

  // A genre whose trials have no checkpoint yet: FAILED_PRECONDITION / 400, saying so.
  Generated not_yet = GenerateOverGrpc(ByGenre("jazz", 1));
  EXPECT_EQ(not_yet.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(not_yet.status.error_message(), HasSubstr("no checkpoint of genre 'jazz'"));
  auto not_yet_http = http_->Get("/api/sample?genre=jazz&format=midi", bearer);
  ASSERT_TRUE(not_yet_http);
  EXPECT_EQ(not_yet_http->status, 400) << not_yet_http->body;

  // n over the limit (8 here): INVALID_ARGUMENT / 400 naming the limit.
  Generated too_many = GenerateOverGrpc(ByGenre("rock", 1, 9));
  EXPECT_EQ(too_many.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(too_many.status.error_message(), HasSubstr("8"));
  auto too_many_http = http_->Post("/api/tutti.v1.SampleService/Generate", bearer,
                                   R"({"genre": "rock", "n": 9})", "application/json");
  ASSERT_TRUE(too_many_http);
  EXPECT_EQ(too_many_http->status, 400) << too_many_http->body;

  // A malformed JSON body: 400 with a JSON error naming the method and where the body breaks.
  auto malformed = http_->Post("/api/tutti.v1.SampleService/Generate", bearer, R"({"genre": "rock",)",
                               "application/json");
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 400) << malformed->body;
  const nlohmann::json malformed_body = nlohmann::json::parse(malformed->body);  // the error is JSON too
  EXPECT_THAT(malformed_body.dump(), HasSubstr("SampleService/Generate"));

  // A missing token: UNAUTHENTICATED / 401, and nothing generated.
  Generated anonymous = GenerateOverGrpc(ByGenre("rock", 7), /*with_token=*/false);
  EXPECT_EQ(anonymous.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(anonymous.files.empty());
  auto anonymous_http = http_->Get("/api/sample?genre=rock&seed=7&format=midi");
  ASSERT_TRUE(anonymous_http);
  EXPECT_EQ(anonymous_http->status, 401);
  EXPECT_NE(anonymous_http->body, midi);
}

TEST_F(SampleEndpointTest, ACheckpointThatFailsItsSha256IsRefusedReportedAndNeverServed) {
  // No metrics: it does not compete for its genre, so nothing preloads it before the damage.
  const int64_t id = Store("pop", MakeCheckpoint((root_ / "pop").string(), "pop", 2), {});
  ASSERT_GT(id, 0);
  // Damage the stored blob in place (same size), as a failing disk would.
  int damaged = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root_ / "home" / "blobs")) {
    if (!entry.is_regular_file() || entry.file_size() < 4096) continue;
    fs::permissions(entry.path(), fs::perms::owner_write, fs::perm_options::add);
    std::fstream file(entry.path(), std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(entry.file_size() / 2));
    file.put('\x5a').put('\xa5').put('\x5a');
    ++damaged;
  }
  ASSERT_EQ(damaged, 1);

  v1::GenerateRequest request = ByGenre("", 1);
  request.set_checkpoint_id(id);
  for (int attempt = 0; attempt < 2; ++attempt) {  // refused every time: nothing was cached
    Generated refused = GenerateOverGrpc(request);
    EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::DATA_LOSS) << refused.status.error_message();
    EXPECT_THAT(refused.status.error_message(), HasSubstr("sha256"));
    EXPECT_TRUE(refused.files.empty()) << "a damaged checkpoint was served";
  }
  httplib::Headers bearer = {{"Authorization", std::string("Bearer ") + kToken}};
  auto refused_http = http_->Get("/api/sample?checkpoint_id=" + std::to_string(id) + "&format=midi", bearer);
  ASSERT_TRUE(refused_http);
  EXPECT_EQ(refused_http->status, 500) << refused_http->body;
  EXPECT_THAT(refused_http->body, HasSubstr("sha256"));

  std::lock_guard<std::mutex> lock(log_mu_);
  bool reported = false;
  for (const std::string& line : log_) {
    reported |= line.find("refused checkpoint " + std::to_string(id)) != std::string::npos;
  }
  EXPECT_TRUE(reported) << "the coordinator's log does not report the refused checkpoint";
}

}  // namespace
}  // namespace tutti
