#pragma once
// The contract every Communicator backend must meet, as checks that return the first violation
// (expected vs got, with rank, type, count and element). One contract, several backends: the
// gtest runs it on LocalCommunicator in-process, tutti_comm_mpi_check runs it on MpiCommunicator
// under mpirun with 1, 2 and 3 ranks. Host-memory backends only (device() == kCpu).
//
// Each check is a sequence of collectives that every rank runs in the same order.

#include <cstdint>

#include "core/base/status.h"
#include "worker/comm/communicator.h"

namespace tutti::comm::contract {

// Sum/avg/max/min over rank-dependent buffers: float32 and float64 (sizes 0 .. 7M elements, more
// than one 25 MiB bucket), int64 and uint8; plus BucketedAllreducer with small and default buckets.
Status CheckAllreduce(Communicator& comm);
// Broadcast from every root, all four types, sizes 0 .. 100k.
Status CheckBroadcast(Communicator& comm);
// AgreeOnFlag: nobody, only the last rank, only rank 0, everybody.
Status CheckAgreeOnFlag(Communicator& comm);
// Bad arguments are InvalidArgument on every backend and start no collective.
Status CheckArgumentErrors(Communicator& comm);
// Barrier returns OK.
Status CheckBarrier(Communicator& comm);
// All of the above, in this order.
Status CheckAll(Communicator& comm);

}  // namespace tutti::comm::contract
