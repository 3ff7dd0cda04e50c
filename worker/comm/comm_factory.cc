#include "worker/comm/comm_factory.h"

#include <cstdlib>

#include "worker/comm/local_communicator.h"
#ifdef TUTTI_HAVE_NCCL
#include "worker/comm/nccl_communicator.h"
#endif

namespace tutti::comm {
namespace {

// Launcher-set rank counts, read only to reject "local" under a multi-rank launch.
int LauncherWorldSize() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"}) {
    if (const char* value = std::getenv(name)) return std::atoi(value);
  }
  return 1;
}

StatusOr<std::unique_ptr<Communicator>> CreateNccl(const CommOptions& options) {
#ifdef TUTTI_HAVE_NCCL
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<MpiCommunicator> mpi,
                         MpiCommunicator::Create(options.mpi));
  NcclOptions nccl;
  nccl.device = options.cuda_device;
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<NcclCommunicator> comm,
                         NcclCommunicator::Create(std::move(mpi), nccl));
  return std::unique_ptr<Communicator>(std::move(comm));
#else
  (void)options;
  return absl::UnimplementedError(
      "backend \"nccl\": this build has no NCCL (configure with TUTTI_WITH_NCCL=ON on a machine "
      "with the CUDA toolkit and NCCL)");
#endif
}

}  // namespace

bool LaunchedByMpi(const std::function<const char*(const char*)>& getenv) {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "SLURM_NTASKS"}) {
    if (getenv(name) != nullptr) return true;
  }
  return false;
}

bool LaunchedByMpi() {
  return LaunchedByMpi(
      [](const char* name) { return static_cast<const char*>(std::getenv(name)); });
}

bool NcclAvailable() {
#ifdef TUTTI_HAVE_NCCL
  return true;
#else
  return false;
#endif
}

std::string ChooseBackend(const CommOptions& options, bool launched_by_mpi, bool nccl_available) {
  if (options.backend != "auto") return options.backend;
  if (!launched_by_mpi) return "local";
  return options.device == DeviceKind::kCuda && nccl_available ? "nccl" : "mpi";
}

StatusOr<std::unique_ptr<Communicator>> CreateCommunicator(const CommOptions& options) {
  const std::string backend = ChooseBackend(options, LaunchedByMpi(), NcclAvailable());
  if (backend == "local") {
    if (LauncherWorldSize() > 1) {
      return absl::FailedPreconditionError(
          absl::StrCat("backend \"local\" runs one rank, but the launcher started ",
                       LauncherWorldSize(), "; use backend \"auto\", \"mpi\" or \"nccl\""));
    }
    return std::unique_ptr<Communicator>(new LocalCommunicator(options.device));
  }
  if (backend == "nccl") return CreateNccl(options);
  if (backend == "mpi") {
    if (options.device == DeviceKind::kCuda) {
      return absl::InvalidArgumentError(
          "backend \"mpi\" reduces host buffers, but the tensors are on CUDA; use \"nccl\"");
    }
    TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<MpiCommunicator> comm,
                           MpiCommunicator::Create(options.mpi));
    return std::unique_ptr<Communicator>(std::move(comm));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("comm backend must be one of auto, local, mpi, nccl; got \"", backend, "\""));
}

}  // namespace tutti::comm
