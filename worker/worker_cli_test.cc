// tutti-worker as a process: outputs, exit codes, error messages, Ctrl-C.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/testing/run_command.h"
#include "core/checkpoint/checkpoint.h"
#include "core/config/job_config_yaml.h"
#include "worker/run/run_test_util.h"

extern char** environ;

namespace tutti {
namespace {

using ::tutti::testing::ReadAll;
using ::tutti::testing::SmallJobConfig;
using ::tutti::testing::TempDir;
using ::tutti::testing::WriteAll;

const std::string kWorker = std::string(TUTTI_BIN_DIR) + "/tutti-worker";

// Starts tutti-worker with `args` (through `env NAME=value...` when `env` is not empty), stdout and stderr
// both going to `log`.
pid_t Start(const std::vector<std::string>& args, const std::string& log,
            const std::vector<std::string>& env = {}) {
  std::vector<std::string> all;
  if (!env.empty()) {
    all.push_back("env");
    all.insert(all.end(), env.begin(), env.end());
  }
  all.push_back(kWorker);
  all.insert(all.end(), args.begin(), args.end());
  const pid_t pid = tutti::testing::SpawnWithLog(all, log);
  EXPECT_GE(pid, 0) << "cannot start " << kWorker;
  return pid;
}

// Exit code of `pid`, or -1 (after killing it) when it has not exited within `timeout_s`.
int Wait(pid_t pid, double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct Result {
  int code;
  std::string output;
};

Result RunWorker(const TempDir& tmp, const std::vector<std::string>& args, double timeout_s = 300,
                 const std::vector<std::string>& env = {}) {
  const std::string log = tmp / "worker.log";
  pid_t pid = Start(args, log, env);
  if (pid < 0) return {-1, ""};
  const int code = Wait(pid, timeout_s);
  return {code, ReadAll(log)};
}

// The small test job as a YAML file (via the same serialiser tutti-worker's config.yaml uses).
std::string WriteConfig(const TempDir& tmp, const JobConfig& config) {
  const std::string path = tmp / "job.yaml";
  WriteAll(path, JobConfigToYaml(config));
  return path;
}

std::vector<nlohmann::json> MetricsLines(const std::string& path) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(ReadAll(path));
  std::string line;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

TEST(WorkerCliTest, TrainsAndWritesMetricsCheckpointsAndConfig) {
  TempDir tmp;
  JobConfig config = SmallJobConfig(tmp / "out");
  config.train.steps = 6;
  config.train.log_every = 2;
  config.checkpoint.every = 3;
  config.eval.every = 3;
  const std::string yaml = WriteConfig(tmp, config);

  Result r = RunWorker(tmp, {"--config", yaml, "--quiet"});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("done at step 6; checkpoint: "), std::string::npos) << r.output;

  std::vector<int64_t> loss_steps, eval_steps;
  for (const nlohmann::json& j : MetricsLines(tmp / "out/metrics.jsonl")) {
    (j.contains("eval") ? eval_steps : loss_steps).push_back(j["step"].get<int64_t>());
    if (!j.contains("eval")) {
      EXPECT_TRUE(j["g_loss"].is_number()) << j.dump();
    }
  }
  EXPECT_EQ(loss_steps, (std::vector<int64_t>{2, 4, 6}));
  EXPECT_EQ(eval_steps, (std::vector<int64_t>{3, 6}));
  std::vector<std::string> checkpoints = ListCheckpoints(tmp / "out/checkpoints").value();
  ASSERT_EQ(checkpoints.size(), 2u);
  EXPECT_TRUE(ReadCheckpointMeta(checkpoints.back()).ok());
  StatusOr<JobConfig> written = LoadJobConfig(tmp / "out/config.yaml");
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_TRUE(*written == config);

  // Continue: --resume latest with more steps set on the command line.
  r = RunWorker(tmp, {"--config", yaml, "--quiet", "--resume", "latest", "--set", "train.steps=8"});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("resuming from "), std::string::npos) << r.output;
  StatusOr<CheckpointMeta> last = ReadCheckpointMeta(ListCheckpoints(tmp / "out/checkpoints").value().back());
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->step, 8);
}

TEST(WorkerCliTest, ConfigErrorsNameTheKeyOrThePosition) {
  TempDir tmp;
  const std::string yaml = WriteConfig(tmp, SmallJobConfig(tmp / "out"));

  Result r = RunWorker(tmp, {"--config", yaml, "--set", "train.batch_size=abc"});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("error: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("train.batch_size"), std::string::npos) << r.output;

  const std::string bad = tmp / "bad.yaml";
  WriteAll(bad, "name: x\ntrain:\n  stepz: 3\n");
  r = RunWorker(tmp, {"--config", bad});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex(bad + ":3:3: "))) << r.output;

  r = RunWorker(tmp, {"--config", yaml, "--set", "data.packs_dir=" + (tmp / "nowhere")});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find(tmp / "nowhere/rock"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("tutti pack"), std::string::npos) << r.output;

  r = RunWorker(tmp, {"--config", tmp / "missing.yaml"});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("missing.yaml"), std::string::npos) << r.output;
}

TEST(WorkerCliTest, UsageErrorsExitTwoAndHelpExitsZero) {
  TempDir tmp;
  EXPECT_EQ(RunWorker(tmp, {}).code, 2);
  EXPECT_EQ(RunWorker(tmp, {"--config", "x.yaml", "--bogus"}).code, 2);
  EXPECT_EQ(RunWorker(tmp, {"--config", "x.yaml", "--max-seconds", "-1"}).code, 2);
  Result help = RunWorker(tmp, {"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.output.find("--resume"), std::string::npos) << help.output;
  EXPECT_NE(help.output.find("ckpt-<step>.tutti"), std::string::npos) << help.output;
}

TEST(WorkerCliTest, CorruptedCheckpointFailsNamingTheFile) {
  TempDir tmp;
  JobConfig config = SmallJobConfig(tmp / "out");
  config.train.steps = 2;
  const std::string yaml = WriteConfig(tmp, config);
  ASSERT_EQ(RunWorker(tmp, {"--config", yaml, "--quiet"}).code, 0);
  const std::string checkpoint = ListCheckpoints(tmp / "out/checkpoints").value().back();
  std::string bytes = ReadAll(checkpoint);
  bytes[bytes.size() - 10] ^= 0x40;
  const std::string damaged = tmp / "damaged.tutti";
  WriteAll(damaged, bytes);
  Result r = RunWorker(tmp, {"--config", yaml, "--set", "output_dir=" + (tmp / "out2"), "--resume", damaged});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("error: " + damaged + ": corrupted checkpoint"), std::string::npos) << r.output;
}

// The re-queued trial's worst case: --resume latest with a checkpoint directory that cannot be read must
// fail naming it, not start again from step 0. (As root, chmod 000 does not stop reading: the directory is
// a regular file here.)
TEST(WorkerCliTest, ResumeLatestFailsNamingAnUnreadableCheckpointDirectory) {
  TempDir tmp;
  JobConfig config = SmallJobConfig(tmp / "out");
  config.train.steps = 2;
  const std::string yaml = WriteConfig(tmp, config);
  ASSERT_TRUE(std::filesystem::create_directories(tmp / "out"));
  WriteAll(tmp / "out/checkpoints", "a file where the checkpoint directory should be");
  Result r = RunWorker(tmp, {"--config", yaml, "--quiet", "--resume", "latest"});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("error: --resume latest: " + (tmp / "out/checkpoints") + ": cannot list the checkpoint "
                          "directory"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(tmp / "out/metrics.jsonl")) << "the run must not have started";
}

// A control's stop (here the TUTTI_TEST_CONTROL_* hook) ends the run at its step with a final checkpoint,
// exit 0, and the outcome line says why; a checkpoint it asked for on the way is there too.
TEST(WorkerCliTest, ControlStopEndsTheRunAtItsStep) {
  TempDir tmp;
  JobConfig config = SmallJobConfig(tmp / "out");
  config.train.steps = 100;
  config.checkpoint.every = 1000;
  config.eval.every = 1000;
  const std::string yaml = WriteConfig(tmp, config);
  Result r = RunWorker(tmp, {"--config", yaml}, 300,
                       {"TUTTI_TEST_CONTROL_STOP_STEP=4", "TUTTI_TEST_CONTROL_REASON=pruned",
                        "TUTTI_TEST_CONTROL_CHECKPOINT_STEP=1"});
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string last = CheckpointPath(tmp / "out/checkpoints", 4);
  EXPECT_NE(r.output.find("pruned at step 4 (test control); checkpoint: " + last), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("checkpoint " + CheckpointPath(tmp / "out/checkpoints", 2) + "\n"), std::string::npos)
      << r.output;
  EXPECT_EQ(ListCheckpoints(tmp / "out/checkpoints").value(),
            (std::vector<std::string>{CheckpointPath(tmp / "out/checkpoints", 2), last}));
}

// Ctrl-C: the worker stops after the current step, writes a final checkpoint, says where, and exits 0.
TEST(WorkerCliTest, InterruptWritesAFinalCheckpointAndExitsZero) {
  TempDir tmp;
  JobConfig config = SmallJobConfig(tmp / "out");
  config.train.steps = 1000000;
  config.train.log_every = 1;
  config.checkpoint.every = 1000000;
  config.eval.every = 1000000;
  const std::string yaml = WriteConfig(tmp, config);
  const std::string log = tmp / "worker.log";
  pid_t pid = Start({"--config", yaml}, log);
  ASSERT_GT(pid, 0);
  const std::string metrics = tmp / "out/metrics.jsonl";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (ReadAll(metrics).find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_NE(ReadAll(metrics).find('\n'), std::string::npos) << ReadAll(log);
  ASSERT_EQ(kill(pid, SIGINT), 0);
  const int code = Wait(pid, 60);
  const std::string output = ReadAll(log);
  ASSERT_EQ(code, 0) << output;
  std::smatch match;
  ASSERT_TRUE(std::regex_search(output, match, std::regex("interrupted at step (\\d+); checkpoint: (\\S+)")))
      << output;
  StatusOr<CheckpointMeta> meta = ReadCheckpointMeta(match[2]);
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_EQ(meta->step, std::stoll(match[1]));
  EXPECT_GE(meta->step, 1);
}

}  // namespace
}  // namespace tutti
