#pragma once
// What every `tutti` command that talks to a coordinator shares: the connection flags (--coordinator,
// --token-file, --tls-ca, --timeout, --json), the channel, and small formatting helpers for tables.
//
// Address and token resolve as proto/client/channel.h says (flag, then TUTTI_COORDINATOR / TUTTI_TOKEN,
// then 127.0.0.1:7070). An unreachable coordinator is one error naming the address.

#include <chrono>
#include <memory>
#include <string>

#include <google/protobuf/message.h>

#include "CLI/CLI.hpp"
#include "core/base/status.h"
#include "proto/client/channel.h"

namespace tutti::cli {

struct RemoteFlags {
  std::string coordinator;
  std::string token_file;
  std::string tls_ca;
  double timeout_s = 30;
  bool json = false;
};

// Adds the flags to `command` (with --json when `with_json`).
void AddRemoteFlags(CLI::App* command, RemoteFlags* flags, bool with_json = true);

StatusOr<std::shared_ptr<rpc::Connection>> Connect(const RemoteFlags& flags);

// Deadline of one call.
inline std::chrono::milliseconds CallTimeout(const RemoteFlags& flags) {
  return std::chrono::milliseconds(static_cast<int64_t>(flags.timeout_s * 1000));
}

// Runs one unary call with the flags' deadline; the error names the call (`what`) and, when the
// coordinator is unreachable, its address. `call` gets a fresh context and returns the grpc::Status.
template <typename Call>
Status Unary(const rpc::Connection& connection, const RemoteFlags& flags, const std::string& what, Call&& call) {
  std::unique_ptr<grpc::ClientContext> context = connection.NewContext(CallTimeout(flags));
  return connection.FromGrpc(call(context.get()), what);
}

// "2026-12-06 14:03:07" in local time; "-" for 0.
std::string FormatTime(int64_t unix_ms);
// "1h02m", "3m05s", "12s"; "-" when either end is 0.
std::string FormatDuration(int64_t from_ms, int64_t to_ms);
// "12.3 MB".
std::string FormatBytes(int64_t bytes);
// A metric value for tables: 4 significant digits, "nan" for NaN.
std::string FormatValue(double value);

// `message` in the proto3 JSON mapping, indented, proto field names, defaults printed (what --json prints).
std::string ToJson(const google::protobuf::Message& message);

}  // namespace tutti::cli
