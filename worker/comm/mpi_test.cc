// Real-rank tests: tutti_comm_mpi_check runs as 1, 2 and 3 processes (mpirun, or none for the
// singleton), and these tests judge exit codes, wall time and what the ranks printed.

#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <regex>
#include <string>
#include <tuple>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

using ::testing::HasSubstr;

struct ProcessResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr, interleaved
  double seconds = 0;
};

// Runs `command` through /bin/sh under `timeout` (a hung job cannot hang the test).
ProcessResult RunShell(const std::string& command, int timeout_s) {
  const std::string full = "timeout -k 5 " + std::to_string(timeout_s) + " " + command + " 2>&1";
  ProcessResult run;
  const auto start = std::chrono::steady_clock::now();
  FILE* pipe = popen(full.c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) run.output.append(buffer, n);
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return run;
}

std::string Mpirun(int ranks, const std::string& args) {
  return std::string(TUTTI_MPIEXEC) + " --allow-run-as-root --oversubscribe --bind-to none -np " +
         std::to_string(ranks) + " " + TUTTI_COMM_MPI_CHECK + " " + args;
}

TEST(MpiCommunicator, SingletonRunsWithoutMpirun) {
  ProcessResult run = RunShell(std::string(TUTTI_COMM_MPI_CHECK) + " contract --backend=mpi", 120);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("[rank 0/1] backend=mpi local_rank=0/1 mode=contract OK"));
}

TEST(CommFactory, AutoWithoutMpirunIsLocal) {
  ProcessResult run = RunShell(std::string(TUTTI_COMM_MPI_CHECK) + " contract --backend=auto", 120);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("[rank 0/1] backend=local local_rank=0/1 mode=contract OK"));
}

TEST(CommFactory, LocalUnderMpirunIsRefused) {
  ProcessResult run = RunShell(Mpirun(2, "agree --backend=local"), 60);
  EXPECT_NE(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("backend \"local\" runs one rank, but the launcher started 2"));
}

TEST(MpiCommunicator, ReusesAnMpiInitialisedByTheProgram) {
  ProcessResult run = RunShell(Mpirun(2, "reuse --timeout_s=60"), 60);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("[rank 1] mode=reuse OK"));
}

// mode x ranks: every rank passes the contract part and reports its node-local rank.
class MpiContract : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

TEST_P(MpiContract, EveryRankPasses) {
  const auto& [mode, ranks] = GetParam();
  ProcessResult run = RunShell(Mpirun(ranks, mode + " --backend=auto --timeout_s=60"), 240);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  for (int r = 0; r < ranks; ++r) {
    // One node here, so the local rank is the world rank.
    EXPECT_THAT(run.output, HasSubstr("[rank " + std::to_string(r) + "/" + std::to_string(ranks) +
                                      "] backend=mpi local_rank=" + std::to_string(r) + "/" +
                                      std::to_string(ranks) + " mode=" + mode + " OK"))
        << run.output;
  }
}

INSTANTIATE_TEST_SUITE_P(Ranks, MpiContract,
                         ::testing::Combine(::testing::Values("allreduce", "broadcast", "agree",
                                                              "agreement", "contract"),
                                            ::testing::Values(2, 3)),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_np" +
                                  std::to_string(std::get<1>(info.param));
                         });

class MpiFailure : public ::testing::TestWithParam<int> {};

// Rank 1 exits with code 3 before collective #5 while the others wait in it: the job must end
// non-zero well within the 30 s collective timeout, and the output must name rank 1 (mpirun's
// "Process name: [[job,1],1] / Exit code: 3", or our "ranks not arrived: 1").
TEST_P(MpiFailure, DeadRankEndsTheJobAndIsNamed) {
  const int ranks = GetParam();
  ProcessResult run =
      RunShell(Mpirun(ranks, "kill --kill_at=5 --timeout_s=30 --stall_warning_s=10"), 60);
  EXPECT_NE(run.exit_code, 0) << run.output;
  EXPECT_LT(run.seconds, 30) << run.output;
  const bool mpirun_named = std::regex_search(
      run.output, std::regex(R"(Process name: \[\[\d+,\d+\],1\]\s+Exit code:\s+3)"));
  const bool we_named = run.output.find("ranks not arrived: 1") != std::string::npos;
  EXPECT_TRUE(mpirun_named || we_named) << run.output;
}

// Rank 1 sleeps 20 s before collective #3; timeout 3 s, warning after 1 s. The others must warn
// and then fail with DeadlineExceeded naming rank 1, and abort the job long before rank 1 wakes.
TEST_P(MpiFailure, StalledRankTimesOutAndIsNamed) {
  const int ranks = GetParam();
  ProcessResult run =
      RunShell(Mpirun(ranks, "stall --timeout_s=3 --stall_warning_s=1 --stall_s=20"), 60);
  EXPECT_NE(run.exit_code, 0) << run.output;
  EXPECT_LT(run.seconds, 15) << "ended by the sleeper, not by the timeout:\n" << run.output;
  EXPECT_TRUE(std::regex_search(
      run.output,
      std::regex(
          R"(\[rank 0\] allreduce #3 \(sum, 1 x float32\) waiting for [0-9.]+ s; ranks not arrived: 1\n)")))
      << run.output;
  EXPECT_TRUE(std::regex_search(
      run.output,
      std::regex(
          R"(DEADLINE_EXCEEDED: collective #3 \(allreduce sum, 1 x float32\) timed out after [0-9.]+ s on rank \d; ranks not arrived: 1)")))
      << run.output;
  // Our own line; Open MPI's "MPI_ABORT was invoked" banner is sometimes lost (show_help unpack
  // error in ORTE 4.1), so it is not asserted.
  EXPECT_THAT(run.output, HasSubstr("] aborting the job: DEADLINE_EXCEEDED: collective #3"));
}

// Rank 0 collects arrivals, so when rank 0 itself stalls nobody can know the list; the others
// must still time out and say that rank 0 is the likely culprit.
TEST(MpiRootFailure, StalledRankZeroIsSuspected) {
  ProcessResult run = RunShell(
      Mpirun(3, "stall --timeout_s=3 --stall_warning_s=1 --stall_s=20 --stall_rank=0"), 60);
  EXPECT_NE(run.exit_code, 0) << run.output;
  EXPECT_LT(run.seconds, 15) << run.output;
  EXPECT_TRUE(std::regex_search(
      run.output,
      std::regex(
          R"(DEADLINE_EXCEEDED: collective #3 .* on rank [12]; ranks not arrived: unknown: rank 0 collects arrivals and has not reported on #3 \(rank 0 may itself be the one missing\))")))
      << run.output;
}

INSTANTIATE_TEST_SUITE_P(Ranks, MpiFailure, ::testing::Values(2, 3),
                         [](const auto& info) { return "np" + std::to_string(info.param); });

}  // namespace
