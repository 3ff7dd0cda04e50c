#include "coordinator/cli/remote.h"

#include <cmath>
#include <cstdio>
#include <ctime>

namespace tutti::cli {

void AddRemoteFlags(CLI::App* command, RemoteFlags* flags, bool with_json) {
  command->add_option("--coordinator", flags->coordinator,
                      "Coordinator address host:port (default: $TUTTI_COORDINATOR, else 127.0.0.1:7070)");
  command->add_option("--token-file", flags->token_file, "File holding the coordinator's token (default: $TUTTI_TOKEN)");
  command->add_option("--tls-ca", flags->tls_ca, "PEM roots to verify a TLS coordinator with");
  command->add_option("--timeout", flags->timeout_s, "Seconds to wait for the coordinator's answer")
      ->check(CLI::PositiveNumber)
      ->default_val(30);
  if (with_json) command->add_flag("--json", flags->json, "Machine-readable JSON on stdout instead of a table");
}

StatusOr<std::shared_ptr<rpc::Connection>> Connect(const RemoteFlags& flags) {
  TUTTI_ASSIGN_OR_RETURN(rpc::ConnectionOptions options,
                         rpc::ResolveConnectionOptions(flags.coordinator, flags.token_file, flags.tls_ca));
  return rpc::Connection::Create(options);
}

std::string FormatTime(int64_t unix_ms) {
  if (unix_ms <= 0) return "-";
  const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm local{};
  localtime_r(&t, &local);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S", &local);
  return buffer;
}

std::string FormatDuration(int64_t from_ms, int64_t to_ms) {
  if (from_ms <= 0 || to_ms <= 0 || to_ms < from_ms) return "-";
  const int64_t s = (to_ms - from_ms) / 1000;
  char buffer[32];
  if (s >= 3600) {
    std::snprintf(buffer, sizeof buffer, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  } else if (s >= 60) {
    std::snprintf(buffer, sizeof buffer, "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  } else {
    std::snprintf(buffer, sizeof buffer, "%llds", static_cast<long long>(s));
  }
  return buffer;
}

std::string FormatBytes(int64_t bytes) {
  char buffer[32];
  if (bytes >= (int64_t{1} << 20)) {
    std::snprintf(buffer, sizeof buffer, "%.1f MB", static_cast<double>(bytes) / (1 << 20));
  } else if (bytes >= 1024) {
    std::snprintf(buffer, sizeof buffer, "%.1f kB", static_cast<double>(bytes) / 1024);
  } else {
    std::snprintf(buffer, sizeof buffer, "%lld B", static_cast<long long>(bytes));
  }
  return buffer;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "nan";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4g", value);
  return buffer;
}

}  // namespace tutti::cli
