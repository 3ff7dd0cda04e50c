#pragma once
// CreateCommunicator: picks the backend for this process from CommOptions and the launch
// environment, so tutti-worker has one line for "give me my communicator".

#include <functional>
#include <memory>
#include <string>

#include "core/base/status.h"
#include "worker/comm/communicator.h"
#include "worker/comm/mpi_communicator.h"

namespace tutti::comm {

struct CommOptions {
  // "auto": no MPI launcher in the environment -> local; otherwise nccl when `device` is kCuda
  //         and this build has NCCL, else mpi.
  // "local": world size 1 without MPI (FailedPrecondition if a launcher started several ranks).
  // "mpi":   MPI for host buffers (works without a launcher too: Open MPI singleton, size 1).
  // "nccl":  NCCL for CUDA buffers (Unimplemented when built without TUTTI_WITH_NCCL).
  std::string backend = "auto";
  // Where the trainer keeps the tensors it will hand over (decides "auto" between mpi and nccl).
  DeviceKind device = DeviceKind::kCpu;
  // Timeouts for the MPI and NCCL backends (NCCL runs its collectives under the MPI protocol).
  MpiOptions mpi;
  // CUDA device for the NCCL backend; -1 = local_rank % visible devices.
  int cuda_device = -1;
};

// True when an MPI launcher started this process: any of OMPI_COMM_WORLD_SIZE (mpirun from Open
// MPI), PMI_SIZE (MPICH/Hydra, Slurm PMI2), PMIX_RANK (PMIx: Open MPI 5, `srun --mpi=pmix`) or
// SLURM_NTASKS (any srun step, and sbatch scripts) is set. `getenv` is a seam for tests.
bool LaunchedByMpi(const std::function<const char*(const char*)>& getenv);
bool LaunchedByMpi();  // reads the real environment

// True when this build includes the NCCL backend.
bool NcclAvailable();

// The backend CreateCommunicator builds for `options` ("local", "mpi" or "nccl"), as a pure
// function of the options, whether a launcher started this process and whether this build has
// NCCL; `options.backend` unchanged when it is not a known name (CreateCommunicator rejects it).
// "auto" + kCuda + NCCL built -> "nccl"; "auto" + kCuda without NCCL -> "mpi" (which then fails
// with a message saying the tensors are on CUDA).
std::string ChooseBackend(const CommOptions& options, bool launched_by_mpi, bool nccl_available);

// InvalidArgument for an unknown backend name; otherwise the backend's own Create errors.
StatusOr<std::unique_ptr<Communicator>> CreateCommunicator(const CommOptions& options);

}  // namespace tutti::comm
