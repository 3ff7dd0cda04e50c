// Data-parallel tutti-worker as real processes: `mpirun -np 2` against one process with the global batch,
// and a rank that dies or stalls mid-run. Every mpirun runs under `timeout` and a watchdog here, so a
// regression shows up as a failed assertion, never as a hung ctest.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/checkpoint/checkpoint.h"
#include "core/config/job_config_yaml.h"
#include "core/train/trainer_from_config.h"
#include "worker/comm/comm_factory.h"
#include "worker/run/distributed.h"
#include "tests/testing/run_command.h"
#include "worker/run/run_test_util.h"

extern char** environ;

namespace tutti {
namespace {

using ::testing::HasSubstr;
using ::tutti::testing::ReadAll;
using ::tutti::testing::SmallJobConfig;
using ::tutti::testing::TempDir;
using ::tutti::testing::WriteAll;

const std::string kWorker = std::string(TUTTI_BIN_DIR) + "/tutti-worker";

struct Result {
  int code = -1;  // exit code; -1 when our watchdog had to kill it
  std::string output;
  double seconds = 0;
};

// Runs argv (stdout and stderr into one log) and waits at most `timeout_s` (then SIGKILL, code -1).
Result RunCommand(const std::vector<std::string>& args, const std::string& log, double timeout_s) {
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = tutti::testing::SpawnWithLog(args, log);
  Result result;
  if (pid < 0) {
    result.output = "cannot start " + args[0];
    return result;
  }
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() - start > std::chrono::duration<double>(timeout_s)) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      result.output = ReadAll(log) + "\n[test watchdog killed the command]";
      return result;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.output = ReadAll(log);
  return result;
}

// `timeout <limit> mpirun -np <ranks> [-x VAR=value...] tutti-worker --config <yaml> <args>`.
Result RunRanks(const TempDir& tmp, int ranks, const std::string& yaml, const std::vector<std::string>& args,
                const std::map<std::string, std::string>& env = {}, int limit_s = 240) {
  std::vector<std::string> argv = {"timeout", "-k", "5", std::to_string(limit_s), TUTTI_MPIEXEC,
                                   "--allow-run-as-root", "--oversubscribe", "--bind-to", "none",
                                   "-np", std::to_string(ranks)};
  for (const auto& [name, value] : env) {
    argv.push_back("-x");
    argv.push_back(name + "=" + value);
  }
  argv.insert(argv.end(), {kWorker, "--config", yaml, "--quiet"});
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, tmp / "mpirun.log", limit_s + 30);
}

Result RunAlone(const TempDir& tmp, const std::string& yaml, const std::vector<std::string>& args,
                const std::map<std::string, std::string>& env = {}) {
  std::vector<std::string> argv = {"timeout", "-k", "5", "240", "env"};
  for (const auto& [name, value] : env) argv.push_back(name + "=" + value);
  argv.insert(argv.end(), {kWorker, "--config", yaml, "--quiet"});
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, tmp / "alone.log", 270);
}

// Five steps of the small job, a checkpoint at the end, no evaluation, one thread per rank.
std::string WriteJob(const TempDir& tmp) {
  JobConfig config = SmallJobConfig(tmp / "unused");
  config.train.steps = 5;
  config.train.log_every = 1;
  config.train.intra_op_threads = 1;
  config.checkpoint.every = 5;
  config.eval.every = 1000000;
  config.distributed.timeout_s = 120;
  config.distributed.stall_warning_s = 60;
  const std::string path = tmp / "job.yaml";
  WriteAll(path, JobConfigToYaml(config));
  return path;
}

// Largest |a - b| over every parameter (and, with `buffers`, every buffer) of both networks of two
// checkpoints; b = "": a freshly created trainer (the initial weights from train.seed).
double MaxDifference(const std::string& yaml, const std::string& a, const std::string& b, bool buffers = true) {
  StatusOr<JobConfig> config = LoadJobConfig(yaml);
  EXPECT_TRUE(config.ok()) << config.status();
  if (!config.ok()) return 1e9;
  auto ta = CreateTrainerFromConfig(*config), tb = CreateTrainerFromConfig(*config);
  EXPECT_TRUE(ta.ok() && tb.ok());
  EXPECT_TRUE(LoadCheckpoint(a, ta->get()).ok()) << a;
  if (!b.empty()) {
    EXPECT_TRUE(LoadCheckpoint(b, tb->get()).ok()) << b;
  }
  double worst = 0;
  auto compare = [&](torch::nn::Module& ma, torch::nn::Module& mb) {
    auto pa = ma.named_parameters(), pb = mb.named_parameters();
    auto ba = ma.named_buffers(), bb = mb.named_buffers();
    EXPECT_GT(pa.size(), 0u);
    EXPECT_EQ(pa.size(), pb.size());
    EXPECT_EQ(ba.size(), bb.size());
    for (const auto& item : pa) {
      worst = std::max(worst, (item.value() - pb[item.key()]).abs().max().item<double>());
    }
    for (const auto& item : ba) {
      if (!buffers) break;
      if (!item.value().is_floating_point()) {
        EXPECT_TRUE(item.value().equal(bb[item.key()])) << item.key();
        continue;
      }
      worst = std::max(worst, (item.value() - bb[item.key()]).abs().max().item<double>());
    }
  };
  compare(*(*ta)->generator(), *(*tb)->generator());
  compare(*(*ta)->discriminator(), *(*tb)->discriminator());
  return worst;
}

TEST(DistributedWorker, CudaWithAutoBackendSelectsNccl) {
  JobConfig config = SmallJobConfig("/tmp/unused");
  config.train.device = "cuda";
  comm::CommOptions options = CommOptionsFromConfig(config);
  EXPECT_EQ(options.backend, "auto");
  EXPECT_EQ(options.device, comm::DeviceKind::kCuda);
  EXPECT_EQ(comm::ChooseBackend(options, /*launched_by_mpi=*/true, /*nccl_available=*/true), "nccl");
  config.train.device = "cpu";
  config.distributed.timeout_s = 7;
  config.distributed.stall_warning_s = 3;
  options = CommOptionsFromConfig(config);
  EXPECT_EQ(options.device, comm::DeviceKind::kCpu);
  EXPECT_EQ(options.mpi.timeout_s, 7);
  EXPECT_EQ(options.mpi.stall_warning_s, 3);
  EXPECT_EQ(comm::ChooseBackend(options, true, true), "mpi");
  EXPECT_EQ(comm::ChooseBackend(options, false, true), "local");
  EXPECT_EQ(std::string(AtRankStep(absl::InternalError("boom"), 1, 3).message()), "[rank 1] step 3: boom");
}

// Two ranks with batch B each end where one process with batch 2B ends (same seed, same data rows): the
// loader gives rank r rows [rB, (r+1)B) of each global batch, the trainer draws latents for the global
// batch, gradients are averaged and BatchNorm statistics are summed across ranks.
//
// Compared with Adam in its eps-dominated regime (train.adam_eps=100, lr 0.1: for gradients far below eps
// the update is lr / eps * momentum, i.e. SGD with momentum at lr 1e-3). With the default regime Adam's first updates are sign-like, so
// gradient entries that are exactly zero in exact arithmetic (conv biases before BatchNorm) move by +-lr
// in a direction set by float summation order, in ANY two runs that sum differently; there the runs agree
// only to ~lr per step, which is checked too.
TEST(DistributedWorker, TwoRanksEqualOneProcessWithTheGlobalBatch) {
  TempDir tmp;
  const std::string yaml = WriteJob(tmp);
  const std::vector<std::string> lr = {"--set", "train.g_lr=0.1", "--set", "train.d_lr=0.1", "--set",
                                       "train.adam_eps=100"};
  auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  auto checkpoint = [&](const std::string& run) { return CheckpointPath(tmp / (run + "/checkpoints"), 5); };

  Result alone = RunAlone(tmp, yaml, with(lr, {"--set", "train.batch_size=8", "--set", "output_dir=" + (tmp / "one")}));
  ASSERT_EQ(alone.code, 0) << alone.output;
  Result two = RunRanks(tmp, 2, yaml, with(lr, {"--set", "train.batch_size=4", "--set", "output_dir=" + (tmp / "two")}));
  ASSERT_EQ(two.code, 0) << two.output;
  const double diff = MaxDifference(yaml, checkpoint("one"), checkpoint("two"));
  std::printf("max |1 rank x batch 8 - 2 ranks x batch 4| over parameters and buffers after 5 steps: %.3g\n", diff);
  EXPECT_LE(diff, 1e-5);
  // The runs did train: the parameters moved well beyond the tolerance from where they started.
  const double moved = MaxDifference(yaml, checkpoint("one"), "", /*buffers=*/false);
  std::printf("largest move from the initial weights: %.3g\n", moved);
  EXPECT_GT(moved, 1e-3);

  // Rank 0 alone wrote the metrics, with the communication time.
  const std::string metrics = ReadAll(tmp / "two/metrics.jsonl");
  EXPECT_THAT(metrics, HasSubstr("\"comm_s\""));
  EXPECT_THAT(metrics, HasSubstr("\"comm_share\""));

  // The test can fail: per-rank BatchNorm statistics change the result beyond the tolerance.
  Result unsynced = RunRanks(tmp, 2, yaml,
                             with(lr, {"--set", "train.batch_size=4", "--set", "output_dir=" + (tmp / "unsynced"),
                                       "--set", "distributed.sync_batchnorm=false"}));
  ASSERT_EQ(unsynced.code, 0) << unsynced.output;
  const double unsynced_diff = MaxDifference(yaml, checkpoint("one"), checkpoint("unsynced"));
  std::printf("same without synchronised BatchNorm: %.3g\n", unsynced_diff);
  EXPECT_GT(unsynced_diff, 1e-5);

  // Default Adam (lr 1e-3, no scaling): within the sign-like bound of 2 * lr per step.
  ASSERT_EQ(RunAlone(tmp, yaml, {"--set", "train.batch_size=8", "--set", "output_dir=" + (tmp / "one-adam")}).code, 0);
  Result adam = RunRanks(tmp, 2, yaml, {"--set", "train.batch_size=4", "--set", "output_dir=" + (tmp / "two-adam")});
  ASSERT_EQ(adam.code, 0) << adam.output;
  const double adam_diff = MaxDifference(yaml, checkpoint("one-adam"), checkpoint("two-adam"));
  std::printf("default Adam regime: %.3g (bound 2 * lr * steps = 1e-2)\n", adam_diff);
  EXPECT_LE(adam_diff, 2 * 1e-3 * 5);
}

// Resume under mpirun: rank 0 chooses the checkpoint ("latest"), reads it and broadcasts its bytes; every
// rank restores from those bytes, so 3 steps + resume to 5 end exactly where 5 uninterrupted steps end.
TEST(DistributedWorker, ResumedTwoRankRunContinuesExactly) {
  TempDir tmp;
  const std::string yaml = WriteJob(tmp);
  Result through = RunRanks(tmp, 2, yaml, {"--set", "output_dir=" + (tmp / "through")});
  ASSERT_EQ(through.code, 0) << through.output;
  Result first = RunRanks(tmp, 2, yaml, {"--set", "output_dir=" + (tmp / "split"), "--set", "train.steps=3"});
  ASSERT_EQ(first.code, 0) << first.output;
  Result second = RunRanks(tmp, 2, yaml, {"--set", "output_dir=" + (tmp / "split"), "--resume", "latest"});
  ASSERT_EQ(second.code, 0) << second.output;
  const double diff = MaxDifference(yaml, CheckpointPath(tmp / "through/checkpoints", 5),
                                    CheckpointPath(tmp / "split/checkpoints", 5));
  std::printf("2 ranks, 5 steps vs 3 steps + resume: %.3g\n", diff);
  EXPECT_EQ(diff, 0);
}

// Rank 0's control decides for the job: asked to stop once 3 steps are done, every rank stops at step 3 (a
// rank that went on would wait in step 4's collectives until distributed.timeout_s and fail the job), the
// final checkpoint is of step 3, and a checkpoint asked for at Poll(1) is of step 2.
TEST(DistributedWorker, RankZerosControlStopsEveryRankAtTheSameStep) {
  TempDir tmp;
  const std::string yaml = WriteJob(tmp);
  Result r = RunRanks(tmp, 2, yaml,
                      {"--set", "train.steps=1000", "--set", "output_dir=" + (tmp / "out"), "--set",
                       "distributed.timeout_s=20", "--set", "distributed.stall_warning_s=10"},
                      {{"TUTTI_TEST_CONTROL_STOP_STEP", "3"}, {"TUTTI_TEST_CONTROL_CHECKPOINT_STEP", "1"}},
                      /*limit_s=*/120);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_LT(r.seconds, 60) << r.output;
  const std::string last = CheckpointPath(tmp / "out/checkpoints", 3);
  EXPECT_THAT(r.output, HasSubstr("stopped by the coordinator at step 3 (test control); checkpoint: " + last));
  EXPECT_EQ(ListCheckpoints(tmp / "out/checkpoints").value(),
            (std::vector<std::string>{CheckpointPath(tmp / "out/checkpoints", 2), last}));
  // Rank 0 logged every step (log_every 1) and nothing after step 3.
  const std::string metrics = ReadAll(tmp / "out/metrics.jsonl");
  EXPECT_THAT(metrics, HasSubstr("\"step\":3"));
  EXPECT_THAT(metrics, ::testing::Not(HasSubstr("\"step\":4")));
}

// A rank that dies mid-run (like a crash: _exit, no message) brings the whole job down, non-zero, quickly,
// and the output names it. (mpirun itself notices the exit and kills the rest; rank 0, stuck in the step's
// first allreduce, may get to print its stall warning first.)
TEST(DistributedWorker, ADeadRankBringsTheJobDownNamingIt) {
  TempDir tmp;
  const std::string yaml = WriteJob(tmp);
  Result r = RunRanks(tmp, 2, yaml,
                      {"--set", "train.steps=1000", "--set", "output_dir=" + (tmp / "out"), "--set",
                       "distributed.timeout_s=20", "--set", "distributed.stall_warning_s=2"},
                      {{"TUTTI_TEST_EXIT_RANK", "1"}, {"TUTTI_TEST_EXIT_STEP", "3"}}, /*limit_s=*/60);
  EXPECT_NE(r.code, 0) << r.output;
  EXPECT_NE(r.code, 124) << "mpirun had to be stopped by timeout:\n" << r.output;
  EXPECT_LT(r.seconds, 60) << r.output;
  // Whoever notices first: rank 0's stall warning / timeout ("ranks not arrived: 1") or mpirun's report
  // of the process that exited ("Process name: [[job,1],1]", Open MPI's name for rank 1).
  EXPECT_THAT(r.output, ::testing::ContainsRegex("rank 1|not arrived: 1|\\[\\[[0-9]+,[0-9]+\\],1\\]")) << r.output;
}

// A rank that hangs: the others wait distributed.timeout_s, then report the missing rank and the step, and
// the job exits non-zero.
TEST(DistributedWorker, AStalledRankIsReportedWithTheStep) {
  TempDir tmp;
  const std::string yaml = WriteJob(tmp);
  Result r = RunRanks(tmp, 2, yaml,
                      {"--set", "train.steps=1000", "--set", "output_dir=" + (tmp / "out"), "--set",
                       "distributed.timeout_s=5", "--set", "distributed.stall_warning_s=2"},
                      {{"TUTTI_TEST_STALL_RANK", "1"}, {"TUTTI_TEST_STALL_STEP", "3"}}, /*limit_s=*/60);
  EXPECT_NE(r.code, 0) << r.output;
  EXPECT_NE(r.code, 124) << "mpirun had to be stopped by timeout:\n" << r.output;
  EXPECT_LT(r.seconds, 60) << r.output;
  EXPECT_THAT(r.output, HasSubstr("[rank 0] step 3: ")) << r.output;
  EXPECT_THAT(r.output, ::testing::ContainsRegex("not arrived: (rank )?1")) << r.output;
}

}  // namespace
}  // namespace tutti
