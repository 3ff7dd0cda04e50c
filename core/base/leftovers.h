#pragma once
// Finding and removing what a killed earlier run left behind (kill -9, the OOM killer, a node that lost
// power): the temporaries of our own all-or-nothing writes (file_util.h), matched by their exact naming
// patterns and removed only when no live process can still own them. Callers run these at the start of a
// run and print one line per removed path (LeftoverNotice), so a user sees what was cleaned and why.
//
// The two kinds, as file_util.h makes them:
//   "<target>.tmp-<pid>-<n>"   WriteFileAtomically's temporary beside <target>. The name says who wrote
//                              it: it is a leftover when no process with that pid is alive here.
//   ".<stem>.tmp-XXXXXX"       MakeTempDirectoryIn's staging directory (six letters or digits from
//                              mkdtemp). Its name carries no owner, so only a caller that knows no live
//                              run owns it may remove it: `tutti pack` holds the pack's lock while it
//                              looks (core/data/pack_output_lock.h).
//
// Why a pid is enough for the first kind: each of those directories is written by one process at a time
// on one machine (a run's output and checkpoint directory belong to its rank 0). A live process that
// reused a dead writer's pid only makes us keep a leftover until a later run (never remove a live one).
// A temporary written into a shared directory by a process on another machine, or in another pid
// namespace, would look dead here: do not point these functions at directories written that way.
//
// Thread-safety: plain functions without shared state.

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"

namespace tutti {

// The parts of a WriteFileAtomically temporary's name.
struct AtomicWriteTempName {
  std::string target;  // the file name it was going to become ("ckpt-00000010.tutti")
  pid_t pid = 0;       // the writer
};

// "<target>.tmp-<pid>-<n>" with a non-empty target, pid > 0 and n decimal; nullopt for anything else.
std::optional<AtomicWriteTempName> ParseAtomicWriteTempName(std::string_view name);

// True for ".<stem>.tmp-" followed by exactly six ASCII letters or digits (mkdtemp's XXXXXX).
bool IsStagingDirectoryName(std::string_view name, std::string_view stem);

// Whether a process with this pid exists here (kill(pid, 0) succeeds or fails with EPERM). This process
// counts as alive.
bool ProcessIsAlive(pid_t pid);

// Removes from `dir` (not its subdirectories) every regular file named "<target>.tmp-<pid>-<n>" for
// which `is_ours(target)` is true and whose pid is not alive. Returns the removed paths, sorted. A
// directory that does not exist holds none. Errors name the path: listing `dir`, or the first file that
// could not be removed (the others are still tried; what was removed before is not reported then).
StatusOr<std::vector<std::string>> RemoveDeadAtomicWriteTemps(const std::string& dir,
                                                              const std::function<bool(const std::string&)>& is_ours);

// Removes every directory in `parent` named ".<stem>.tmp-XXXXXX" (IsStagingDirectoryName), with all it
// holds; symbolic links and files with such names are left alone. Precondition: no live process owns
// one (see the file comment). Returns the removed paths, sorted; errors as above.
StatusOr<std::vector<std::string>> RemoveStagingDirectories(const std::string& parent, const std::string& stem);

// The line a run prints for each path it removed: "removed leftover <what> <path> from an interrupted run".
std::string LeftoverNotice(std::string_view what, const std::string& path);

}  // namespace tutti
