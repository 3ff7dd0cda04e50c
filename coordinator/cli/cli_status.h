#pragma once
// How every `tutti` command reports a failed Status: "error: <message>" on stderr, exit code 130 when the
// work was cancelled by Ctrl-C, 1 otherwise.

#include "core/base/status.h"

namespace tutti::cli {

int ReportFailure(const Status& status);

}  // namespace tutti::cli
