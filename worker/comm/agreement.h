#pragma once
// Agreements: small control values every rank must see the same way (which checkpoint to resume from,
// its bytes, the step, the per-step stop decision), as free functions over a Communicator's host channel
// (Communicator::host(), host memory on every backend). Torch-free, beside the other collectives.
//
// Each function is a collective: EVERY rank calls it, in the same order as the other collectives, with
// the same `root` (communicator.h's contract). Errors are the communicator's (a peer that never arrives is
// DeadlineExceeded naming it) or the InvalidArgument / ResourceExhausted described per function; every
// rank returns the same error for the same call, so no rank is left waiting in a later collective.
//
// Thread-safety: like the Communicator (one thread at a time).

#include <cstdint>
#include <string>

#include "core/base/status.h"
#include "worker/comm/communicator.h"

namespace tutti::comm {

// Largest value BroadcastString moves by default: just under 2 GiB, so one length fits every MPI
// implementation's int count even without chunking, and a runaway value fails clearly instead of
// exhausting every rank's memory at once.
inline constexpr int64_t kMaxBroadcastStringBytes = (int64_t{1} << 31) - 1;

// `value` as rank `root` has it, on every rank (the other ranks' `value` is ignored). Two collectives:
// root's length (int64), then that many bytes (none for ""). When root's value is longer than
// `max_bytes`, every rank returns ResourceExhausted naming both sizes after the first collective (the
// bytes are never sent). InvalidArgument (before any collective) for a root outside [0, size()) or a
// negative max_bytes.
StatusOr<std::string> BroadcastString(Communicator& comm, const std::string& value, int root,
                                      int64_t max_bytes = kMaxBroadcastStringBytes);

// `value` as rank `root` has it, on every rank (one collective).
StatusOr<int64_t> BroadcastInt64(Communicator& comm, int64_t value, int root);

// The largest of the ranks' values, on every rank (one collective).
StatusOr<int64_t> AllreduceMax(Communicator& comm, int64_t value);

}  // namespace tutti::comm
