// NCCL backend on a real GPU. Every test is named *_CUDA and skips with the reason printed when no
// device is visible (cudaGetDeviceCount fails or returns 0), so CPU-only CI reports them as
// skipped, never as passed. The work runs in tutti_comm_mpi_check's "nccl" mode: without mpirun
// (one rank, Open MPI singleton) and under mpirun -np 2 when two GPUs are visible.

#include <cuda_runtime.h>
#include <sys/wait.h>

#include <cstdio>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

using ::testing::HasSubstr;

int VisibleGpus(std::string* reason) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    *reason =
        std::string("no usable CUDA device: cudaGetDeviceCount failed: ") + cudaGetErrorString(err);
    return 0;
  }
  if (count == 0) *reason = "no CUDA device visible (cudaGetDeviceCount == 0)";
  return count;
}

std::pair<int, std::string> RunShell(const std::string& command) {
  FILE* pipe = popen(("timeout -k 5 180 " + command + " 2>&1").c_str(), "r");
  std::string output;
  char buffer[4096];
  size_t n;
  while (pipe != nullptr && (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0)
    output.append(buffer, n);
  const int status = pipe != nullptr ? pclose(pipe) : -1;
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), output};
}

TEST(NcclCommunicator, AllreduceOneRank_CUDA) {
  std::string reason;
  if (VisibleGpus(&reason) < 1) GTEST_SKIP() << reason;
  auto [code, output] =
      RunShell(std::string(TUTTI_COMM_MPI_CHECK) + " nccl --backend=nccl --timeout_s=120");
  EXPECT_EQ(code, 0) << output;
  EXPECT_THAT(output, HasSubstr("[rank 0/1] backend=nccl local_rank=0/1 mode=nccl OK"));
}

TEST(NcclCommunicator, AllreduceTwoRanks_CUDA) {
  std::string reason;
  const int gpus = VisibleGpus(&reason);
  if (gpus < 1) GTEST_SKIP() << reason;
  if (gpus < 2) GTEST_SKIP() << "needs 2 GPUs, " << gpus << " visible";
  auto [code, output] = RunShell(std::string(TUTTI_MPIEXEC) +
                                 " --allow-run-as-root --oversubscribe --bind-to none -np 2 " +
                                 TUTTI_COMM_MPI_CHECK + " nccl --backend=nccl --timeout_s=120");
  EXPECT_EQ(code, 0) << output;
  EXPECT_THAT(output, HasSubstr("[rank 1/2] backend=nccl local_rank=1/2 mode=nccl OK"));
}

}  // namespace
