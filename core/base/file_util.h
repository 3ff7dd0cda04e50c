#pragma once
// File helpers with durable, all-or-nothing writes.
//
// WriteFileAtomically and PublishDirectory follow the same rule: write beside the target, fsync the data,
// rename over the target, fsync the parent directory, and remove the temporary on any failure. A reader
// therefore sees either the old content or the complete new content, never a half-written file.
//
// Every system call that writes (create, write, fsync, rename, renameat2, mkdtemp, directory fsync) goes
// through CurrentFileSystem() (core/base/file_system.h), the seam the fault-injection tests use to fail
// each step in turn. When only the final directory fsync fails, the new content is already in place (a
// rename cannot be undone); the error then says "in place, but not yet durable".

#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/status.h"

namespace tutti {

// Whole file into memory. NotFound / PermissionDenied / Internal name the path.
StatusOr<std::string> ReadFileToString(const std::string& path);

// Writes `data` to `path` through "<path>.tmp-<pid>-<n>" + fsync + rename + directory fsync.
Status WriteFileAtomically(const std::string& path, std::string_view data);

// The file part of WriteFileAtomically with the temporary named by the caller (a staging directory on the
// same filesystem): writes `data` to `temp`, fsyncs it and renames it to `path`; `temp` is removed on any
// failure. The directory of `path` is NOT fsynced: callers that publish many files sync it once.
Status WriteAndRename(const std::string& temp, const std::string& path, std::string_view data);

// The status for a failed system call on `path`: "<path>: <what>: <strerror>". ENOENT is NotFound,
// EACCES/EPERM/EROFS PermissionDenied, EEXIST AlreadyExists, EISDIR InvalidArgument, ENOSPC and EDQUOT
// ResourceExhausted saying "disk full" and which one (so an operator knows what to free), anything else Internal.
Status ErrnoStatus(int err, std::string_view what, const std::string& path);

// fsync on a directory so that renames and creations inside it are durable.
Status SyncDirectory(const std::string& dir);

// mkdir -p.
Status CreateDirectories(const std::string& dir);

// A fresh, uniquely named directory inside `parent` ("<parent>/.<stem>.tmp-XXXXXX").
StatusOr<std::string> MakeTempDirectoryIn(const std::string& parent, const std::string& stem);

// Moves the finished directory `staged` to `target` in one step. When `target` exists it is swapped out
// atomically (renameat2 RENAME_EXCHANGE) and then removed, so readers never see a mix of old and new.
Status PublishDirectory(const std::string& staged, const std::string& target);

// rm -rf that never throws; errors are ignored on purpose (best-effort clean-up paths).
void RemoveAllQuietly(const std::string& path);

// Size of a regular file.
StatusOr<uint64_t> FileSize(const std::string& path);

}  // namespace tutti
