// A real coordinator, a real agent and real ranks (`mpirun -np 2 tutti-worker --coordinator`) on
// 127.0.0.1: a trial runs to completion and its checkpoint resumes locally; a rank killed with SIGKILL
// mid-trial costs a restart, not the trial.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>

#include <gmock/gmock.h>

#include "tests/integration/coordinator_test_util.h"

namespace tutti::testing {
namespace {

using ::testing::HasSubstr;

struct E2E : ::testing::Test {
  std::string dir;
  std::unique_ptr<CoordinatorProcess> coordinator;
  void SetUp() override {
    PacksDir();
    dir = FreshTempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    coordinator = std::make_unique<CoordinatorProcess>(dir + "/home", std::vector<std::string>{"--lease-seconds", "20",
                                                                                                "--heartbeat-seconds", "1"});
    ASSERT_TRUE(coordinator->Start()) << coordinator->error();
  }
  void TearDown() override {
    if (coordinator->running()) {
      EXPECT_EQ(coordinator->Stop(), 0) << coordinator->log();
    }
  }
  std::string Agent(int timeout_s = 300) {
    return "timeout -k 5 " + std::to_string(timeout_s) + " " + Bin("tutti") + " agent --np 2 --exit-when-idle --poll 0.5 --work-dir " +
           dir + "/agent";
  }
};

TEST_F(E2E, AgentRunsATwoRankTrialToCompletionAndItsCheckpointResumesLocally) {
  const std::string& address = coordinator->address();
  WriteText(dir + "/job.yaml", SmallJobYaml(/*steps=*/30, /*checkpoint_every=*/10));
  CommandResult submitted = Tutti(address, "submit " + dir + "/job.yaml --json");
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  const int64_t trial = Int(Json(submitted)["trials"][0]["id"]);

  CommandResult agent = RunCommand("TUTTI_COORDINATOR=" + address + " " + Agent());
  ASSERT_EQ(agent.exit_code, 0) << agent.err;
  EXPECT_THAT(agent.err, HasSubstr("mpirun"));
  EXPECT_THAT(agent.err, HasSubstr("completed at step 30"));

  CommandResult trials = Tutti(address, "trials 1 --json");
  ASSERT_EQ(trials.exit_code, 0) << trials.err;
  const nlohmann::json t = Json(trials)["trials"][0];
  EXPECT_EQ(t["state"], "TRIAL_COMPLETED");
  EXPECT_EQ(Int(t["step"]), 30);
  EXPECT_EQ(t["stop_reason"], "completed");

  CommandResult listed = Tutti(address, "checkpoints " + std::to_string(trial) + " --json");
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  std::vector<int64_t> steps;
  int64_t last_id = 0;
  std::string last_sha;
  const nlohmann::json listed_json = Json(listed);  // the loop must not iterate a temporary's member
  for (const auto& c : listed_json["checkpoints"]) {
    steps.push_back(Int(c["step"]));
    last_id = Int(c["id"]);
    last_sha = c["sha256"];
  }
  EXPECT_EQ(steps, (std::vector<int64_t>{10, 20, 30})) << listed.out;

  const std::string file = dir + "/downloaded.tutti";
  CommandResult download = Tutti(address, "checkpoints download " + std::to_string(last_id) + " --out " + file);
  ASSERT_EQ(download.exit_code, 0) << download.err;
  EXPECT_THAT(download.out, HasSubstr("verified"));
  std::ifstream in(file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(Sha256Hex(bytes), last_sha);

  // The downloaded checkpoint continues locally, with no coordinator: 30 -> 35.
  CommandResult local = RunCommand(Bin("tutti-worker") + " --config " + dir + "/job.yaml --set output_dir=" + dir +
                                   "/local --set train.steps=35 --resume " + file);
  ASSERT_EQ(local.exit_code, 0) << local.err;
  EXPECT_THAT(local.err, HasSubstr("at step 30"));
  EXPECT_THAT(local.err, HasSubstr("done at step 35"));

  // Samples from the stored checkpoint, made by the coordinator; same seed, same bytes.
  CommandResult a = Tutti(address, "generate --checkpoint-id " + std::to_string(last_id) + " -n 2 --seed 4 --out " + dir + "/s1");
  CommandResult b = Tutti(address, "generate --trial " + std::to_string(trial) + " -n 2 --seed 4 --out " + dir + "/s2");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  for (const char* name : {"sample-0.mid", "sample-1.npz", "overview.png"}) {
    std::ifstream f1(dir + "/s1/" + name, std::ios::binary), f2(dir + "/s2/" + name, std::ios::binary);
    const std::string x((std::istreambuf_iterator<char>(f1)), std::istreambuf_iterator<char>());
    const std::string y((std::istreambuf_iterator<char>(f2)), std::istreambuf_iterator<char>());
    EXPECT_FALSE(x.empty()) << name;
    EXPECT_EQ(x, y) << name;
  }
}

TEST_F(E2E, ARankKilledMidTrialCostsARestartNotTheTrial) {
  const std::string& address = coordinator->address();
  Client client(address);
  const int64_t trial = client.Submit(SmallJobYaml(/*steps=*/90, /*checkpoint_every=*/10));
  // A tag in the agent's environment (mpirun passes it to the ranks) finds rank 1 among all processes.
  const std::string tag = "TUTTI_TEST_TAG=e2e-kill-" + std::to_string(::getpid());
  const pid_t agent = SpawnWithLog({"env", tag, "TUTTI_COORDINATOR=" + address, Bin("tutti"), "agent", "--np", "2",
                                    "--exit-when-idle", "--poll", "0.5", "--work-dir", dir + "/agent"},
                                   dir + "/agent.log");
  ASSERT_GT(agent, 0);
  // Wait until the trial is past its third checkpoint, then kill rank 1 where it stands.
  std::vector<v1::Checkpoint> before;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
  while (std::chrono::steady_clock::now() < deadline) {
    before = client.List(trial);
    if (before.size() >= 3 && client.Trial(trial).step() >= 35) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GE(before.size(), 3u) << "the trial did not get going:\n" << ReadAll(dir + "/agent.log");
  std::vector<pid_t> rank1 = PidsWithEnv(tag, 1);
  ASSERT_EQ(rank1.size(), 1u) << "rank 1 not found";
  ASSERT_EQ(::kill(rank1[0], SIGKILL), 0);

  const int code = WaitForExit(agent, std::chrono::seconds(300));
  const std::string log = ReadAll(dir + "/agent.log");
  ASSERT_EQ(code, 0) << log;
  EXPECT_THAT(log, HasSubstr("signal 9"));  // the agent saw the dead worker and reported it
  EXPECT_THAT(log, HasSubstr("queued again"));             // as a retryable failure
  EXPECT_THAT(log, HasSubstr("resuming from checkpoint"));

  const v1::Trial done = client.Trial(trial);
  EXPECT_EQ(done.state(), v1::TRIAL_COMPLETED) << done.message();
  EXPECT_EQ(done.step(), 90);
  EXPECT_EQ(done.restarts(), 1);
  // No checkpoint was lost: everything stored before the kill is still there, bytes intact.
  const std::vector<v1::Checkpoint> after = client.List(trial);
  std::set<std::pair<int64_t, std::string>> kept;
  for (const v1::Checkpoint& c : after) kept.insert({c.id(), c.sha256()});
  for (const v1::Checkpoint& c : before) {
    EXPECT_EQ(kept.count({c.id(), c.sha256()}), 1u) << "checkpoint " << c.id() << " (step " << c.step() << ") lost";
    std::string bytes;
    ASSERT_TRUE(client.Download(c.id(), &bytes).ok());
    EXPECT_EQ(Sha256Hex(bytes), c.sha256());
  }
  ASSERT_FALSE(after.empty());
  EXPECT_EQ(after.back().step(), 90);
  // The training lines cover every logged step exactly once: the resumed run continued where the newest
  // stored checkpoint left off (steps logged after it by the killed run were logged again, and replaced).
  CommandResult logs = Tutti(address, "logs " + std::to_string(trial) + " --json");
  ASSERT_EQ(logs.exit_code, 0) << logs.err;
  std::vector<int64_t> train_steps;
  std::istringstream lines(logs.out);
  for (std::string line; std::getline(lines, line);) {
    nlohmann::json p = nlohmann::json::parse(line, nullptr, false);
    if (!p.is_discarded() && p["kind"] == "train") train_steps.push_back(Int(p["step"]));
  }
  std::vector<int64_t> expected;
  for (int64_t s = 5; s <= 90; s += 5) expected.push_back(s);
  EXPECT_EQ(train_steps, expected);
}

TEST_F(E2E, ACoordinatorThatCrashesAndComesBackCostsNoTraining) {
  const std::string& address = coordinator->address();
  Client client(address);
  const int64_t trial = client.Submit(SmallJobYaml(/*steps=*/80, /*checkpoint_every=*/10));
  const pid_t agent = SpawnWithLog({Bin("tutti"), "agent", "--np", "2", "--exit-when-idle", "--poll", "0.5",
                                    "--coordinator", address, "--work-dir", dir + "/agent"},
                                   dir + "/agent.log");
  ASSERT_GT(agent, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
  while (std::chrono::steady_clock::now() < deadline && client.List(trial).size() < 2) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GE(client.List(trial).size(), 2u) << ReadAll(dir + "/agent.log");
  // The coordinator dies mid-trial and is back 3 s later on the same address (its lease TTL is 20 s):
  // the worker keeps training, queues its reports meanwhile and sends them when it can.
  coordinator->Kill();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  ASSERT_TRUE(coordinator->Start(std::chrono::seconds(60), /*same_address=*/true)) << coordinator->error();
  ASSERT_EQ(coordinator->address(), address);
  const int code = WaitForExit(agent, std::chrono::seconds(300));
  const std::string log = ReadAll(dir + "/agent.log");
  ASSERT_EQ(code, 0) << log;
  Client again(address);
  const v1::Trial done = again.Trial(trial);
  EXPECT_EQ(done.state(), v1::TRIAL_COMPLETED) << done.message();
  EXPECT_EQ(done.step(), 80);
  EXPECT_EQ(done.restarts(), 0) << "the outage cost a restart:\n" << log;
  std::vector<int64_t> steps;
  for (const v1::Checkpoint& c : again.List(trial)) steps.push_back(c.step());
  EXPECT_EQ(steps, (std::vector<int64_t>{10, 20, 30, 40, 50, 60, 70, 80})) << log;
}

TEST_F(E2E, CtrlCOnTheAgentHandsTheTrialBackAfterACheckpoint) {
  const std::string& address = coordinator->address();
  Client client(address);
  const int64_t trial = client.Submit(SmallJobYaml(/*steps=*/2000, /*checkpoint_every=*/1000));
  const pid_t agent = SpawnWithLog({Bin("tutti"), "agent", "--np", "2", "--poll", "0.5", "--coordinator", address,
                                    "--work-dir", dir + "/agent"},
                                   dir + "/agent.log");
  ASSERT_GT(agent, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline && client.Trial(trial).step() < 15) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GE(client.Trial(trial).step(), 15) << ReadAll(dir + "/agent.log");
  ASSERT_EQ(::kill(agent, SIGINT), 0);
  EXPECT_EQ(WaitForExit(agent, std::chrono::seconds(120)), 130) << ReadAll(dir + "/agent.log");
  const v1::Trial t = client.Trial(trial);
  EXPECT_EQ(t.state(), v1::TRIAL_QUEUED) << t.message();
  EXPECT_EQ(t.restarts(), 0);
  EXPECT_THAT(t.message(), HasSubstr("interrupted"));
  // Its final checkpoint is stored: the next lease resumes where it stopped.
  const std::vector<v1::Checkpoint> stored = client.List(trial);
  ASSERT_FALSE(stored.empty());
  EXPECT_EQ(stored.back().step(), t.step());
  EXPECT_GE(t.step(), 15);
}

// resources.ranks and rank packing: an agent with 2 ranks runs two 1-rank trials side by side (each with
// cores / ranks threads) and leaves a 4-rank trial queued, saying why, without letting it block the others.
TEST_F(E2E, TheAgentPacksTrialsOntoItsRanksAndLeavesATrialThatDoesNotFit) {
  const std::string& address = coordinator->address();
  Client client(address);
  const int64_t too_big = client.Submit(SmallJobYaml(/*steps=*/20, /*checkpoint_every=*/10) + "resources: {ranks: 4}\n");
  WriteText(dir + "/pair.yaml", SmallJobYaml(/*steps=*/30, /*checkpoint_every=*/10) +
                                    "resources: {ranks: 1}\n"
                                    "hyperparameters:\n  train.g_lr: {type: categorical, values: [0.001, 0.002]}\n"
                                    "searcher: {name: grid, max_concurrent_trials: 2}\n");
  CommandResult submitted = Tutti(address, "submit " + dir + "/pair.yaml --json");
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  const nlohmann::json pair = Json(submitted)["trials"];
  ASSERT_EQ(pair.size(), 2u) << submitted.out;
  const int64_t first = Int(pair[0]["id"]), second = Int(pair[1]["id"]);

  const pid_t agent = SpawnWithLog({Bin("tutti"), "agent", "--ranks", "2", "--np", "2", "--poll", "0.3",
                                    "--coordinator", address, "--work-dir", dir + "/agent"},
                                   dir + "/agent.log");
  ASSERT_GT(agent, 0);
  bool side_by_side = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
  while (std::chrono::steady_clock::now() < deadline) {
    const v1::Trial a = client.Trial(first), b = client.Trial(second);
    side_by_side = side_by_side || (a.state() == v1::TRIAL_RUNNING && b.state() == v1::TRIAL_RUNNING);
    if (a.state() == v1::TRIAL_COMPLETED && b.state() == v1::TRIAL_COMPLETED) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(::kill(agent, SIGINT), 0);
  const int code = WaitForExit(agent, std::chrono::seconds(60));
  const std::string log = ReadAll(dir + "/agent.log");
  EXPECT_EQ(code, 130) << log;
  EXPECT_TRUE(side_by_side) << log;
  for (int64_t id : {first, second}) {
    const v1::Trial t = client.Trial(id);
    EXPECT_EQ(t.state(), v1::TRIAL_COMPLETED) << id << ": " << t.message() << "\n" << log;
    EXPECT_EQ(t.ranks(), 1) << id;  // never more ranks than it asked for
  }
  EXPECT_THAT(log, HasSubstr("-np 1 "));
  EXPECT_THAT(log, HasSubstr("--threads-per-rank 1"));
  EXPECT_THAT(log, HasSubstr("trial " + std::to_string(too_big) +
                             " needs 4 ranks, more than this agent gives (--ranks 2); it is left queued"));
  const v1::Trial big = client.Trial(too_big);
  EXPECT_EQ(big.state(), v1::TRIAL_QUEUED);
  EXPECT_EQ(big.step(), 0);
}

TEST_F(E2E, AWorkerWithNothingToDoSaysSoAndExitsFour) {
  CommandResult r = RunCommand(Bin("tutti-worker") + " --coordinator " + coordinator->address() + " --work-dir " + dir + "/w");
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_THAT(r.err, HasSubstr("no trial is queued"));
}

}  // namespace
}  // namespace tutti::testing
