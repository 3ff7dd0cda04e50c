// tutti_comm_mpi_check: one rank of a real multi-process communicator test. mpi_test.cc runs it
// under `mpirun -np N` (and without mpirun, as a singleton) and judges the exit code and output.
//
//   tutti_comm_mpi_check <mode> [--backend=mpi] [--timeout_s=300] [--stall_warning_s=60]
//                               [--kill_at=5] [--stall_s=8] [--stall_rank=1]
// modes:
//   contract   the whole Communicator contract (comm_contract.h)
//   allreduce | broadcast | agree   one part of it
//   agreement  agreement.h on real ranks: BroadcastString from every root (empty, short, 3 MB), the
//              over-limit error on every rank, BroadcastInt64, AllreduceMax
//   kill       rank 1 exits with code 3 just before collective #kill_at; the others keep going
//   stall      rank stall_rank (1) sleeps stall_s just before collective #3; the others must
//              time out
//   nccl       allreduce/broadcast on device buffers (builds with NCCL only; needs a GPU)
//   reuse      the program initialises MPI itself; two MpiCommunicators in turn must reuse it and
//              leave it initialised
// Every rank prints "[rank r/n] ... OK" on success; a failed check aborts the job with the reason.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <mpi.h>

#include "worker/comm/agreement.h"
#include "worker/comm/comm_contract.h"
#include "worker/comm/comm_factory.h"
#include "worker/comm/communicator.h"
#include "worker/comm/mpi_communicator.h"

#ifdef TUTTI_HAVE_NCCL
#include <cuda_runtime.h>
#endif

namespace tutti::comm {
namespace {

struct Flags {
  std::string mode;
  std::string backend = "mpi";
  double timeout_s = 300;
  double stall_warning_s = 60;
  int kill_at = 5;
  double stall_s = 8;
  int stall_rank = 1;
};

bool ParseFlags(int argc, char** argv, Flags* flags) {
  if (argc < 2) return false;
  flags->mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t eq = arg.find('=');
    if (arg.rfind("--", 0) != 0 || eq == std::string::npos) return false;
    const std::string key = arg.substr(2, eq - 2), value = arg.substr(eq + 1);
    if (key == "backend")
      flags->backend = value;
    else if (key == "timeout_s")
      flags->timeout_s = std::atof(value.c_str());
    else if (key == "stall_warning_s")
      flags->stall_warning_s = std::atof(value.c_str());
    else if (key == "kill_at")
      flags->kill_at = std::atoi(value.c_str());
    else if (key == "stall_s")
      flags->stall_s = std::atof(value.c_str());
    else if (key == "stall_rank")
      flags->stall_rank = std::atoi(value.c_str());
    else
      return false;
  }
  return true;
}

// Collectives 1, 2, ... of one float each; `before(k)` runs just before collective #k.
template <typename Before>
Status RunNumberedCollectives(Communicator& comm, int collectives, Before before) {
  for (int k = 1; k <= collectives; ++k) {
    before(k);
    float x = 1;
    TUTTI_RETURN_IF_ERROR(comm.AllreduceSum(&x, 1, DataType::kFloat32));
    if (x != static_cast<float>(comm.size())) {
      return absl::InternalError(
          absl::StrCat("collective #", k, ": expected ", comm.size(), ", got ", x));
    }
  }
  return absl::OkStatus();
}

// agreement.h on every rank: values depend on the rank, so a rank that got its own value back fails.
Status CheckAgreements(Communicator& comm) {
  const int n = comm.size(), r = comm.rank();
  auto value_of = [](int rank, size_t length) {
    std::string s(length, '\0');
    for (size_t i = 0; i < length; ++i) s[i] = static_cast<char>((rank * 131 + i * 7) % 251);
    return s;
  };
  for (int root = 0; root < n; ++root) {
    for (size_t length : {size_t{0}, size_t{17}, size_t{3} << 20}) {
      StatusOr<std::string> got = BroadcastString(comm, value_of(r, length + r), root);
      if (!got.ok()) return got.status();
      if (*got != value_of(root, length + root)) {
        return absl::InternalError(absl::StrCat("rank ", r, " BroadcastString from ", root, ": expected ",
                                                length + root, " bytes of root's value, got ", got->size(),
                                                " bytes that differ"));
      }
    }
  }
  // Over the limit: every rank fails the same way, and the next collective still lines up.
  StatusOr<std::string> too_long = BroadcastString(comm, std::string(r == n - 1 ? 10 : 0, 'x'), n - 1, 4);
  if (too_long.status().code() != absl::StatusCode::kResourceExhausted ||
      std::string(too_long.status().message()).find("10 bytes, more than the limit of 4") == std::string::npos) {
    return absl::InternalError(absl::StrCat("rank ", r, " over-limit BroadcastString: expected ResourceExhausted "
                                            "naming 10 and 4 bytes, got ", too_long.status().ToString()));
  }
  StatusOr<int64_t> step = BroadcastInt64(comm, 1000 + r, 0);
  if (!step.ok()) return step.status();
  if (*step != 1000) return absl::InternalError(absl::StrCat("rank ", r, " BroadcastInt64: got ", *step));
  StatusOr<int64_t> max = AllreduceMax(comm, r == 0 ? 7 : -static_cast<int64_t>(r));
  if (!max.ok()) return max.status();
  if (*max != 7) return absl::InternalError(absl::StrCat("rank ", r, " AllreduceMax: expected 7, got ", *max));
  max = AllreduceMax(comm, int64_t{1} << 40 | r);
  if (!max.ok()) return max.status();
  if (*max != (int64_t{1} << 40 | (n - 1))) {
    return absl::InternalError(absl::StrCat("rank ", r, " AllreduceMax of large values: got ", *max));
  }
  return comm.Barrier();
}

#ifdef TUTTI_HAVE_NCCL
Status CudaCheck(cudaError_t err, const char* call) {
  if (err == cudaSuccess) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(call, ": ", std::string(cudaGetErrorString(err))));
}

// Sum, average and broadcast on device buffers; values as in comm_contract.cc.
Status CheckNccl(Communicator& comm) {
  const int n = comm.size(), r = comm.rank();
  for (int64_t count : {1, 1000, 313951, 7000000}) {
    std::vector<float> host(count);
    float* device = nullptr;
    TUTTI_RETURN_IF_ERROR(CudaCheck(cudaMalloc(&device, count * sizeof(float)), "cudaMalloc"));
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kAvg}) {
      for (int64_t i = 0; i < count; ++i) host[i] = static_cast<float>((r + 1) * (i % 13 + 1));
      TUTTI_RETURN_IF_ERROR(CudaCheck(
          cudaMemcpy(device, host.data(), count * sizeof(float), cudaMemcpyHostToDevice), "H2D"));
      TUTTI_RETURN_IF_ERROR(comm.Allreduce(device, count, DataType::kFloat32, op));
      TUTTI_RETURN_IF_ERROR(CudaCheck(
          cudaMemcpy(host.data(), device, count * sizeof(float), cudaMemcpyDeviceToHost), "D2H"));
      const double factor = op == ReduceOp::kSum ? n * (n + 1) / 2.0 : (n + 1) / 2.0;
      for (int64_t i = 0; i < count; ++i) {
        const double want = factor * (i % 13 + 1);
        if (std::abs(host[i] - want) > 1e-5 * want) {
          cudaFree(device);
          return absl::InternalError(absl::StrCat("rank ", r, " nccl op ", static_cast<int>(op),
                                                  " count ", count, ": element ", i, " expected ",
                                                  want, ", got ", host[i]));
        }
      }
    }
    // Broadcast from the last rank.
    for (int64_t i = 0; i < count; ++i) host[i] = static_cast<float>(r * 1000 + i % 997);
    TUTTI_RETURN_IF_ERROR(CudaCheck(
        cudaMemcpy(device, host.data(), count * sizeof(float), cudaMemcpyHostToDevice), "H2D"));
    TUTTI_RETURN_IF_ERROR(comm.Broadcast(device, count, DataType::kFloat32, n - 1));
    TUTTI_RETURN_IF_ERROR(CudaCheck(
        cudaMemcpy(host.data(), device, count * sizeof(float), cudaMemcpyDeviceToHost), "D2H"));
    cudaFree(device);
    for (int64_t i = 0; i < count; ++i) {
      if (host[i] != static_cast<float>((n - 1) * 1000 + i % 997)) {
        return absl::InternalError(absl::StrCat("rank ", r, " nccl broadcast count ", count,
                                                ": element ", i, " wrong: ", host[i]));
      }
    }
  }
  bool flag = r == n - 1;
  TUTTI_RETURN_IF_ERROR(comm.AgreeOnFlag(&flag));
  if (!flag) return absl::InternalError("nccl: AgreeOnFlag via host() returned false");
  return comm.Barrier();
}
#endif

// MPI initialised by someone else: Create reuses it, and the destructor must not finalise it.
int RunReuse(const Flags& flags) {
  int provided = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  for (int round = 1; round <= 2; ++round) {
    MpiOptions options;
    options.timeout_s = flags.timeout_s;
    auto comm = MpiCommunicator::Create(options);
    Status status = comm.ok() ? contract::CheckAgreeOnFlag(**comm) : comm.status();
    if (!status.ok()) {
      std::fprintf(stderr, "[rank %d] reuse round %d: %s\n", rank, round,
                   status.ToString().c_str());
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
  }
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) {
    std::fprintf(stderr, "[rank %d] reuse: MpiCommunicator finalised MPI it did not own\n", rank);
    return 1;
  }
  MPI_Finalize();
  std::printf("[rank %d] mode=reuse OK\n", rank);
  return 0;
}

int Main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) {
    std::fprintf(stderr,
                 "usage: tutti_comm_mpi_check contract|allreduce|broadcast|agree|agreement|kill|stall|nccl|reuse "
                 "[--backend=mpi] [--timeout_s=S] [--stall_warning_s=S] [--kill_at=K] "
                 "[--stall_s=S] [--stall_rank=R]\n");
    return 2;
  }
  if (flags.mode == "reuse") return RunReuse(flags);
  CommOptions options;
  options.backend = flags.backend;
  options.mpi.timeout_s = flags.timeout_s;
  options.mpi.stall_warning_s = flags.stall_warning_s;
  if (flags.mode == "nccl") options.device = DeviceKind::kCuda;
  StatusOr<std::unique_ptr<Communicator>> created = CreateCommunicator(options);
  if (!created.ok()) {
    std::fprintf(stderr, "tutti_comm_mpi_check: %s\n", created.status().ToString().c_str());
    return 1;
  }
  Communicator& comm = **created;
  const int r = comm.rank();

  Status status;
  if (flags.mode == "contract") {
    status = contract::CheckAll(comm);
  } else if (flags.mode == "allreduce") {
    status = contract::CheckAllreduce(comm);
  } else if (flags.mode == "broadcast") {
    status = contract::CheckBroadcast(comm);
  } else if (flags.mode == "agree") {
    status = contract::CheckAgreeOnFlag(comm);
  } else if (flags.mode == "agreement") {
    status = CheckAgreements(comm);
  } else if (flags.mode == "kill") {
    status = RunNumberedCollectives(comm, flags.kill_at + 5, [&](int k) {
      if (r == 1 && k == flags.kill_at) std::exit(3);
    });
  } else if (flags.mode == "stall") {
    status = RunNumberedCollectives(comm, 5, [&](int k) {
      if (r == flags.stall_rank && k == 3) {
        std::this_thread::sleep_for(std::chrono::duration<double>(flags.stall_s));
      }
    });
  } else if (flags.mode == "nccl") {
#ifdef TUTTI_HAVE_NCCL
    status = CheckNccl(comm);
#else
    status = absl::UnimplementedError("built without NCCL");
#endif
  } else {
    std::fprintf(stderr, "tutti_comm_mpi_check: unknown mode \"%s\"\n", flags.mode.c_str());
    return 2;
  }
  if (!status.ok()) comm.Abort(status);
  std::printf("[rank %d/%d] backend=%s local_rank=%d/%d mode=%s OK\n", r, comm.size(),
              comm.backend().c_str(), comm.local_rank(), comm.local_size(), flags.mode.c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace tutti::comm

int main(int argc, char** argv) { return tutti::comm::Main(argc, argv); }
