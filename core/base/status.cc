#include "core/base/status.h"

namespace tutti {

Status Annotate(const Status& status, std::string_view context) {
  if (status.ok()) return status;
  return Status(status.code(), absl::StrCat(std::string(context), ": ", std::string(status.message())));
}

}  // namespace tutti
