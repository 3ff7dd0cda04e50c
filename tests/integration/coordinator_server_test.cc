// A real tutti-coordinator process on 127.0.0.1 port 0, driven through gRPC and the `tutti` CLI: crashes
// (SIGKILL during uploads, ten times), restarts, tokens, bad input over the wire and a disk that fills up.
// No training here (coordinator_e2e_test.cc has the real ranks).

#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>

#include "tests/integration/coordinator_test_util.h"

namespace tutti::testing {
namespace {

using ::testing::HasSubstr;

std::string TestDir() { return FreshTempDir(::testing::UnitTest::GetInstance()->current_test_info()->name()); }

std::string JobText() { return "name: crash-test\ntrain:\n  steps: 1000\ncheckpoint:\n  keep: 1000\n"; }

// Files in <home>/blobs/incoming (unfinished uploads) and published blobs.
size_t CountFiles(const std::string& dir) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec); !ec && it != std::filesystem::end(it);
       it.increment(ec)) {
    if (it->is_regular_file()) ++n;
  }
  return n;
}

TEST(CoordinatorProcessTest, SigkillDuringUploadsTenTimesLosesAndCorruptsNothing) {
  const std::string dir = TestDir();
  CoordinatorProcess coordinator(dir + "/home", {"--lease-seconds", "600", "-q"});
  ASSERT_TRUE(coordinator.Start()) << coordinator.error();
  std::string lease;
  int64_t trial = 0;
  {
    Client client(coordinator.address());
    trial = client.Submit(JobText());
    v1::LeaseTrialResponse leased = client.Lease();
    ASSERT_TRUE(leased.leased());
    lease = leased.lease_id();
  }
  std::map<int64_t, std::string> acknowledged;  // step -> sha256 of uploads the coordinator said OK to
  std::mt19937 rng(1234);
  int64_t step = 0;
  int interrupted_uploads = 0;
  for (int round = 0; round < 10; ++round) {
    if (!coordinator.running()) {
      ASSERT_TRUE(coordinator.Start()) << coordinator.error();
    }
    Client client(coordinator.address());
    // Every record the coordinator lists downloads with the bytes its sha256 names; every acknowledged
    // upload is listed; nothing unfinished is left in the blob store; the experiment is intact.
    std::map<int64_t, std::string> listed;
    for (const v1::Checkpoint& c : client.List(trial)) {
      listed[c.step()] = c.sha256();
      std::string bytes;
      ASSERT_TRUE(client.Download(c.id(), &bytes).ok()) << "round " << round;
      EXPECT_EQ(Sha256Hex(bytes), c.sha256()) << "round " << round << " step " << c.step();
      EXPECT_EQ(static_cast<int64_t>(bytes.size()), c.size_bytes());
    }
    for (const auto& [s, sha] : acknowledged) {
      auto it = listed.find(s);
      ASSERT_NE(it, listed.end()) << "round " << round << ": acknowledged checkpoint at step " << s << " is gone";
      EXPECT_EQ(it->second, sha);
    }
    EXPECT_EQ(CountFiles(dir + "/home/blobs/incoming"), 0u) << "round " << round;
    std::set<std::string> shas;
    for (const auto& [s, sha] : listed) shas.insert(sha);
    EXPECT_EQ(CountFiles(dir + "/home/blobs/sha256"), shas.size()) << "round " << round << ": orphan blob";
    v1::ListExperimentsResponse experiments;
    ASSERT_TRUE(client.experiments->ListExperiments(client.Context().get(), {}, &experiments).ok());
    ASSERT_EQ(experiments.experiments_size(), 1);
    EXPECT_EQ(experiments.experiments(0).name(), "crash-test");
    EXPECT_EQ(client.Trial(trial).state(), v1::TRIAL_RUNNING);

    // Upload 2-6 MB checkpoints back to back and SIGKILL the coordinator at a random instant.
    std::atomic<bool> stop{false};
    std::thread uploader([&] {
      Client c(coordinator.address());
      while (!stop) {
        const int64_t s = ++step;
        const std::string bytes = RandomBytes((2 + rng() % 5) << 20, static_cast<uint32_t>(s));
        grpc::Status status = c.Upload(lease, trial, s, bytes);
        if (status.ok()) {
          acknowledged[s] = Sha256Hex(bytes);
        } else {
          ++interrupted_uploads;
          return;
        }
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 600));
    coordinator.Kill();
    stop = true;
    uploader.join();
  }
  ASSERT_TRUE(coordinator.Start()) << coordinator.error();
  Client client(coordinator.address());
  // Every acknowledged upload is listed (checked per round above). The only other records allowed are uploads
  // the coordinator committed just before its SIGKILL whose reply never reached the client: at most one per
  // interrupted upload (the uploader stops at its first failure), and each verified above like the rest.
  const size_t listed = client.List(trial).size();
  EXPECT_GE(listed, acknowledged.size());
  EXPECT_LE(listed, acknowledged.size() + static_cast<size_t>(interrupted_uploads));
  EXPECT_GE(interrupted_uploads, 5) << "the kills should mostly land inside an upload";
  EXPECT_GE(acknowledged.size(), 5u);
  EXPECT_EQ(coordinator.Stop(), 0);
}

// An ASHA sweep driven by simulated workers (no training) while the coordinator is killed with SIGKILL
// and restarted on the same address, again and again: the sweep ends with exactly max_trials trials, each
// decided once — promoted, closed at a rung or completed — and no decision is lost or made twice.
TEST(CoordinatorProcessTest, RestartsInTheMiddleOfASweepLoseNoTrialAndNoDecision) {
  const std::string dir = TestDir();
  CoordinatorProcess coordinator(dir + "/home", {"--lease-seconds", "600", "-q"});
  ASSERT_TRUE(coordinator.Start()) << coordinator.error();
  const std::string address = coordinator.address();
  {
    Client client(address);
    client.Submit("name: restarts\ntrain: {steps: 27}\n"
                  "hyperparameters:\n  train.g_lr: {type: log_uniform, min: 0.0001, max: 0.01}\n"
                  "searcher: {name: asha, max_trials: 9, max_concurrent_trials: 3, max_length: 27, divisor: 3, "
                  "max_rungs: 3, seed: 5}\n");
  }
  std::atomic<bool> stop{false};
  std::atomic<int> legs{0};
  // A worker that survives outages: every call is retried until it is answered; a lease the coordinator
  // no longer knows (it ended) is dropped.
  auto worker = [&](int id) {
    Client c(address);
    auto retry = [&](auto&& call) {
      while (!stop) {
        grpc::Status s = call();
        if (s.error_code() != grpc::StatusCode::UNAVAILABLE && s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
          return s;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      return grpc::Status(grpc::StatusCode::CANCELLED, "stopped");
    };
    while (!stop) {
      v1::LeaseTrialRequest ask;
      ask.set_worker("sim:" + std::to_string(id));
      v1::LeaseTrialResponse lease;
      if (!retry([&] { return c.workers->LeaseTrial(c.Context(5).get(), ask, &lease); }).ok() || !lease.leased()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      const v1::Trial& t = lease.trial();
      v1::ReportMetricsRequest report;
      report.set_lease_id(lease.lease_id());
      report.set_trial_id(t.id());
      v1::MetricPoint* p = report.add_points();
      p->set_step(t.target_steps());
      p->set_kind("eval");
      (*p->mutable_values())["realism.score"] = std::stod(t.hparams().at("train.g_lr")) * 100;
      v1::ReportMetricsResponse reported;
      if (!retry([&] { return c.workers->ReportMetrics(c.Context(5).get(), report, &reported); }).ok()) continue;
      v1::CompleteTrialRequest complete;
      complete.set_lease_id(lease.lease_id());
      complete.set_trial_id(t.id());
      complete.set_step(t.target_steps());
      complete.set_stop_reason("completed");
      v1::CompleteTrialResponse done;
      if (retry([&] { return c.workers->CompleteTrial(c.Context(5).get(), complete, &done); }).ok()) ++legs;
    }
  };
  std::vector<std::thread> workers;
  for (int i = 0; i < 3; ++i) workers.emplace_back(worker, i);
  std::mt19937 rng(99);
  for (int kill = 0; kill < 6; ++kill) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 300));
    coordinator.Kill();
    ASSERT_TRUE(coordinator.Start(std::chrono::seconds(60), /*same_address=*/true)) << coordinator.error();
  }
  // Let the sweep finish.
  Client client(address);
  v1::GetExperimentResponse got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    v1::GetExperimentRequest get;
    get.set_experiment_id(1);
    got.Clear();
    if (client.experiments->GetExperiment(client.Context().get(), get, &got).ok() &&
        got.experiment().state() != v1::EXPERIMENT_ACTIVE) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stop = true;
  for (std::thread& t : workers) t.join();
  EXPECT_EQ(got.experiment().state(), v1::EXPERIMENT_COMPLETED) << got.experiment().message();
  ASSERT_EQ(got.trials_size(), 9);
  std::set<std::string> learning_rates;
  int top = 0;
  for (const v1::Trial& t : got.trials()) {
    EXPECT_EQ(t.state(), v1::TRIAL_COMPLETED) << t.id() << ": " << t.message();
    learning_rates.insert(t.hparams().at("train.g_lr"));
    if (t.target_steps() == 27) {
      ++top;
      EXPECT_EQ(t.stop_reason(), "completed");
    } else {
      EXPECT_EQ(t.stop_reason().rfind("stopped at rung", 0), 0u) << t.stop_reason();
    }
  }
  EXPECT_EQ(learning_rates.size(), 9u) << "a trial was created twice";
  EXPECT_GE(top, 1);
  EXPECT_DOUBLE_EQ(got.experiment().progress(), 1.0);
  EXPECT_GE(legs.load(), 9);
  EXPECT_EQ(coordinator.Stop(), 0);
}

TEST(CoordinatorProcessTest, LeasesThatExpireWhileItIsDownAreExpiredAtStart) {
  const std::string dir = TestDir();
  CoordinatorProcess coordinator(dir + "/home", {"--lease-seconds", "1", "--heartbeat-seconds", "0.2", "-q"});
  ASSERT_TRUE(coordinator.Start()) << coordinator.error();
  int64_t trial = 0;
  {
    Client client(coordinator.address());
    trial = client.Submit(JobText());
    ASSERT_TRUE(client.Lease().leased());
  }
  coordinator.Kill();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_TRUE(coordinator.Start()) << coordinator.error();
  Client client(coordinator.address());
  const v1::Trial t = client.Trial(trial);
  EXPECT_EQ(t.state(), v1::TRIAL_QUEUED);
  EXPECT_EQ(t.restarts(), 1);
  EXPECT_THAT(t.message(), HasSubstr("expired"));
  EXPECT_EQ(coordinator.Stop(), 0);
}

TEST(CoordinatorProcessTest, SettingsComeFromAConfigFileAndFlagsWin) {
  const std::string dir = TestDir();
  const std::string config = dir + "/coordinator.yaml";
  // home and listen in the file are overridden by the flags CoordinatorProcess always passes.
  WriteText(config,
            "home: " + dir + "/not-this-home\nlisten: 127.0.0.1:1\nlease_seconds: 7\nheartbeat_seconds: 3\n");
  CoordinatorProcess coordinator(dir + "/home", {"--config", config, "--heartbeat-seconds", "2", "-q"});
  ASSERT_TRUE(coordinator.Start()) << coordinator.error();
  {
    Client client(coordinator.address());
    client.Submit(JobText());
    const v1::LeaseTrialResponse lease = client.Lease();
    ASSERT_TRUE(lease.leased());
    EXPECT_EQ(lease.lease_ttl_ms(), 7000);           // from the file
    EXPECT_EQ(lease.heartbeat_interval_ms(), 2000);  // the flag wins
  }
  EXPECT_EQ(coordinator.Stop(), 0);
  EXPECT_FALSE(std::filesystem::exists(dir + "/not-this-home"));

  // A bad file: exit 2 before serving, every error with file:line:col and key, nothing created.
  WriteText(config, "home: " + dir + "/bad-home\nlease_second: 10\nmax_restarts: -1\n");
  const CommandResult bad = RunCommand(Bin("tutti-coordinator") + " --config " + config);
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_THAT(bad.err, HasSubstr(config + ":2:1: lease_second: unknown key; did you mean lease_seconds?"));
  EXPECT_THAT(bad.err, HasSubstr(config + ":3:"));
  EXPECT_THAT(bad.err, HasSubstr("max_restarts"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/bad-home"));

  // A pair that is only wrong together names the file too.
  WriteText(config, "home: " + dir + "/bad-home\nlease_seconds: 2\n");
  const CommandResult pair =
      RunCommand(Bin("tutti-coordinator") + " --config " + config + " --heartbeat-seconds 5");
  EXPECT_EQ(pair.exit_code, 2) << pair.err;
  EXPECT_THAT(pair.err, HasSubstr(config + " and flags"));
  EXPECT_THAT(pair.err, HasSubstr("heartbeat_seconds: expected less than lease_seconds (2), got 5"));
}

TEST(CoordinatorProcessTest, WithATokenEveryCallNeedsItButHealthChecks) {
  const std::string dir = TestDir();
  WriteText(dir + "/token", "s3cret-token\n");
  CoordinatorProcess coordinator(dir + "/home", {"--token-file", dir + "/token", "-q"});
  ASSERT_TRUE(coordinator.Start()) << coordinator.error();
  const std::string& address = coordinator.address();
  CommandResult none = Tutti(address, "experiments");
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_THAT(none.err, HasSubstr("requires a token"));
  CommandResult wrong = Tutti(address, "experiments", "TUTTI_TOKEN=guess");
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_THAT(wrong.err, HasSubstr("wrong token"));
  EXPECT_THAT(wrong.err, ::testing::Not(HasSubstr("s3cret")));
  CommandResult right = Tutti(address, "experiments --token-file " + dir + "/token");
  EXPECT_EQ(right.exit_code, 0) << right.err;
  // Worker-protocol calls too.
  Client anonymous(address);
  v1::LeaseTrialResponse response;
  grpc::Status refused = anonymous.workers->LeaseTrial(anonymous.Context().get(), {}, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  Client authorised(address, "s3cret-token");
  EXPECT_TRUE(authorised.workers->LeaseTrial(authorised.Context().get(), {}, &response).ok());
  // The standard health service answers without a token (an empty HealthCheckRequest; SERVING = 1).
  grpc::GenericStub generic(anonymous.channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::ByteBuffer request, reply;
  grpc::Slice empty("");
  request = grpc::ByteBuffer(&empty, 1);
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status health;
  generic.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &reply,
                    [&](grpc::Status s) {
                      std::lock_guard<std::mutex> lock(mu);
                      health = s;
                      done = true;
                      cv.notify_all();
                    });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  ASSERT_TRUE(health.ok()) << health.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(reply.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));  // status: SERVING
  lock.unlock();
  EXPECT_EQ(coordinator.Stop(), 0);
}

TEST(CoordinatorProcessTest, ServesTlsWithAGivenCertificate) {
  const std::string dir = TestDir();
  CommandResult made = RunCommand("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -addext "
                                  "subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " + dir + "/key.pem -out " + dir +
                                  "/cert.pem");
  if (made.exit_code != 0) GTEST_SKIP() << "no openssl command to make a test certificate: " << made.err;
  CoordinatorProcess coordinator(dir + "/home", {"--tls-cert", dir + "/cert.pem", "--tls-key", dir + "/key.pem", "-q"});
  ASSERT_TRUE(coordinator.Start()) << coordinator.error();
  CommandResult ok = Tutti(coordinator.address(), "experiments --tls-ca " + dir + "/cert.pem");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  // A plaintext client cannot talk to it.
  CommandResult plain = Tutti(coordinator.address(), "experiments --timeout 3");
  EXPECT_EQ(plain.exit_code, 1);
  EXPECT_EQ(coordinator.Stop(), 0);
}

TEST(CoordinatorProcessTest, BadInputGetsOneClearErrorAndChangesNothing) {
  const std::string dir = TestDir();
  CoordinatorProcess coordinator(dir + "/home", {"-q"});
  ASSERT_TRUE(coordinator.Start()) << coordinator.error();
  const std::string& address = coordinator.address();
  // A job file with a typo: the client gets the worker's file:line:col message.
  WriteText(dir + "/bad.yaml", "name: x\ntrain:\n  batch_sise: 4\n");
  CommandResult bad = Tutti(address, "submit " + dir + "/bad.yaml");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("bad.yaml:3:3"));
  EXPECT_THAT(bad.err, HasSubstr("did you mean"));
  // Unknown ids.
  CommandResult trials = Tutti(address, "trials 99");
  EXPECT_EQ(trials.exit_code, 1);
  EXPECT_THAT(trials.err, HasSubstr("experiment 99 not found"));
  CommandResult download = Tutti(address, "checkpoints download 77 --out " + dir + "/x.tutti");
  EXPECT_EQ(download.exit_code, 1);
  EXPECT_THAT(download.err, HasSubstr("checkpoint 77 not found"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/x.tutti"));
  CommandResult describe = Tutti(address, "describe 5");
  EXPECT_THAT(describe.err, HasSubstr("trial 5 not found"));
  // An unreachable coordinator is named.
  CommandResult away = RunCommand(Bin("tutti") + " experiments --coordinator 127.0.0.1:1 --timeout 3");
  EXPECT_EQ(away.exit_code, 1);
  EXPECT_THAT(away.err, HasSubstr("cannot reach the coordinator at 127.0.0.1:1"));

  Client client(address);
  const int64_t trial = client.Submit(JobText());
  const v1::LeaseTrialResponse lease = client.Lease();
  const std::string bytes = RandomBytes(3 << 20, 7);
  // Bytes that do not match their sha256.
  grpc::Status s = client.Upload(lease.lease_id(), trial, 10, bytes, Sha256Hex("other"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS) << s.error_message();
  // A truncated upload (the stream ends early).
  s = client.Upload(lease.lease_id(), trial, 10, bytes, "", /*send=*/1 << 20);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("truncated"));
  // A message over the size limit.
  v1::ReportMetricsRequest huge;
  huge.set_lease_id(lease.lease_id());
  huge.set_trial_id(trial);
  v1::MetricPoint* p = huge.add_points();
  p->set_kind("train");
  (*p->mutable_values())[std::string(20 << 20, 'k')] = 1;
  v1::ReportMetricsResponse ignored;
  s = client.workers->ReportMetrics(client.Context().get(), huge, &ignored);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  // A worker reporting for a lease it no longer holds.
  v1::ReleaseTrialRequest release;
  release.set_lease_id(lease.lease_id());
  release.set_trial_id(trial);
  v1::ReleaseTrialResponse released;
  ASSERT_TRUE(client.workers->ReleaseTrial(client.Context().get(), release, &released).ok());
  s = client.Upload(lease.lease_id(), trial, 20, bytes);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("no longer held"));
  // Nothing of it is listed or left behind; the coordinator still serves.
  EXPECT_TRUE(client.List(trial).empty());
  EXPECT_EQ(CountFiles(dir + "/home/blobs"), 0u);
  EXPECT_EQ(Tutti(address, "experiments").exit_code, 0);
  EXPECT_EQ(coordinator.Stop(), 0);
}

// Mounts a small tmpfs for the coordinator's home: a real disk that fills up.
class SmallDisk {
 public:
  explicit SmallDisk(const std::string& dir, const char* size) : dir_(dir) {
    std::filesystem::create_directories(dir);
    const std::string options = std::string("size=") + size;
    if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) == 0) {
      mounted_ = true;
    } else {
      why_ = std::string("cannot mount a tmpfs here (") + std::strerror(errno) + "); needs root";
    }
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& why() const { return why_; }

 private:
  std::string dir_, why_;
  bool mounted_ = false;
};

TEST(CoordinatorProcessTest, AFullDiskFailsTheUploadAndTheCoordinatorKeepsServing) {
  const std::string dir = TestDir();
  SmallDisk disk(dir + "/home", "4m");
  if (!disk.mounted()) GTEST_SKIP() << disk.why();
  CoordinatorProcess coordinator(dir + "/home", {"-q"});
  ASSERT_TRUE(coordinator.Start()) << coordinator.error();
  Client client(coordinator.address());
  const int64_t trial = client.Submit(JobText());
  const v1::LeaseTrialResponse lease = client.Lease();
  grpc::Status s = client.Upload(lease.lease_id(), trial, 10, RandomBytes(8 << 20, 3));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("disk full"));
  EXPECT_TRUE(client.List(trial).empty());
  EXPECT_EQ(CountFiles(dir + "/home/blobs"), 0u);
  // Still serving, and a checkpoint that fits goes through.
  const std::string small = RandomBytes(256 << 10, 4);
  s = client.Upload(lease.lease_id(), trial, 10, small);
  EXPECT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(client.List(trial).size(), 1u);
  std::string back;
  ASSERT_TRUE(client.Download(client.List(trial)[0].id(), &back).ok());
  EXPECT_EQ(back, small);
  EXPECT_EQ(coordinator.Stop(), 0);
}

}  // namespace
}  // namespace tutti::testing
