#pragma once
// The client side of a connection to tutti-coordinator, shared by tutti-worker, `tutti agent` and the CLI:
// where the coordinator is, the bearer token, TLS, deadlines, retries, and gRPC status <-> absl::Status.
//
// Address: --coordinator, else $TUTTI_COORDINATOR, else 127.0.0.1:7070.
// Token:   --token-file FILE, else $TUTTI_TOKEN, else none. Sent as "authorization: Bearer <token>".
// TLS:     --tls-ca FILE (PEM roots) switches the channel to TLS; without it the channel is plaintext
//          (loopback and trusted networks).
//
// Thread-safety: the functions are reentrant; a Connection is immutable after Create and may be shared.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "core/base/status.h"

namespace tutti::rpc {

// The default coordinator address.
inline constexpr char kDefaultAddress[] = "127.0.0.1:7070";
// The largest message either side accepts (checkpoint and sample bytes travel in 1 MiB chunks).
inline constexpr int kMaxMessageBytes = 16 << 20;
// Chunk size of streamed file bytes.
inline constexpr int64_t kChunkBytes = 1 << 20;

struct ConnectionOptions {
  // host:port of the coordinator.
  std::string address = kDefaultAddress;
  // Bearer token; empty = none.
  std::string token;
  // PEM file with the root certificates that sign the coordinator's certificate; empty = plaintext.
  std::string tls_ca_file;
};

// Fills the options from flags (empty = not given) and the environment, as described above. Errors name
// the token file (unreadable, empty) or the variable.
StatusOr<ConnectionOptions> ResolveConnectionOptions(const std::string& address_flag,
                                                     const std::string& token_file_flag,
                                                     const std::string& tls_ca_flag = "");

// The token in `path`: its first line, surrounding whitespace removed. InvalidArgument when it is empty,
// the read error (naming the path) when it cannot be read.
StatusOr<std::string> ReadTokenFile(const std::string& path);

// A channel to the coordinator plus what every call needs.
class Connection {
 public:
  static StatusOr<std::shared_ptr<Connection>> Create(const ConnectionOptions& options);

  const std::string& address() const { return options_.address; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

  // A context for one call: the token and a deadline `timeout` from now (<= 0: no deadline, for streams
  // that follow a trial until it ends).
  std::unique_ptr<grpc::ClientContext> NewContext(std::chrono::milliseconds timeout) const;

  // `status` of a call as an absl::Status with the same code. UNAVAILABLE and DEADLINE_EXCEEDED name the
  // address ("cannot reach the coordinator at 127.0.0.1:7070: ..."); others keep the server's message.
  Status FromGrpc(const grpc::Status& status, const std::string& what) const;

 private:
  Connection(ConnectionOptions options, std::shared_ptr<grpc::Channel> channel)
      : options_(std::move(options)), channel_(std::move(channel)) {}

  const ConnectionOptions options_;
  const std::shared_ptr<grpc::Channel> channel_;
};

// absl::Status <-> grpc::Status, code for code (the canonical codes are the same set).
grpc::Status ToGrpcStatus(const Status& status);
Status FromGrpcStatus(const grpc::Status& status);

// True for the codes a retry may cure: UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED (server busy),
// ABORTED.
bool IsTransient(const Status& status);

// Retries `call` while it fails with a transient error, sleeping with exponential backoff (initial_delay,
// doubling, at most max_delay, with jitter) until `total` has passed; then returns the last error.
// `should_stop` (optional) ends the waiting early (Ctrl-C): the last error is returned.
struct RetryPolicy {
  std::chrono::milliseconds initial_delay{100};
  std::chrono::milliseconds max_delay{5000};
  std::chrono::milliseconds total{60000};
};
Status CallWithRetry(const RetryPolicy& policy, const std::function<Status()>& call,
                     const std::function<bool()>& should_stop = {});

}  // namespace tutti::rpc
