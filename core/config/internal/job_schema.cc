#include "core/config/internal/field_registry.h"

namespace tutti::config_internal {

const Schema<JobConfig>& JobSchema() {
  static const Schema<JobConfig>* const schema = new Schema<JobConfig>(Fields());
  return *schema;
}

}  // namespace tutti::config_internal
