#pragma once
// Errors are values: every function that touches files, YAML, MPI or the network returns
// absl::Status / absl::StatusOr<T> (must-use). These macros propagate them without noise.

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace tutti {

// Note: Debian's absl (20220623) has its own absl::string_view, distinct from std::string_view;
// pass std::string (or .data()/.size()) across that boundary.
using absl::Status;
using absl::StatusOr;

// Returns `status` with `context` prepended ("context: original message"), same code.
// Used at boundaries to add the file name, key or rank to an error that came from deeper down.
Status Annotate(const Status& status, std::string_view context);

}  // namespace tutti

#define TUTTI_CONCAT_INNER_(a, b) a##b
#define TUTTI_CONCAT_(a, b) TUTTI_CONCAT_INNER_(a, b)

// Returns from the current function when `expr` (a Status) is not OK.
#define TUTTI_RETURN_IF_ERROR(expr)                  \
  do {                                               \
    ::absl::Status tutti_status_ = (expr);           \
    if (!tutti_status_.ok()) return tutti_status_;   \
  } while (0)

// `lhs = value of expr` when `expr` (a StatusOr<T>) is OK; otherwise returns its status.
#define TUTTI_ASSIGN_OR_RETURN(lhs, expr) \
  TUTTI_ASSIGN_OR_RETURN_IMPL_(TUTTI_CONCAT_(tutti_statusor_, __LINE__), lhs, expr)
#define TUTTI_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
