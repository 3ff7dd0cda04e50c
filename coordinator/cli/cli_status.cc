#include "coordinator/cli/cli_status.h"

#include <cstdio>
#include <string>

namespace tutti::cli {

int ReportFailure(const Status& status) {
  std::fprintf(stderr, "error: %s\n", std::string(status.message()).c_str());
  return status.code() == absl::StatusCode::kCancelled ? 130 : 1;
}

}  // namespace tutti::cli
