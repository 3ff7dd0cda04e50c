#include "proto/client/channel.h"

#include <cstdlib>
#include <random>
#include <thread>

#include "core/base/file_util.h"

namespace tutti::rpc {

StatusOr<std::string> ReadTokenFile(const std::string& path) {
  StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return Annotate(text.status(), "reading the token file");
  std::string token = *text;
  const size_t newline = token.find('\n');
  if (newline != std::string::npos) token.resize(newline);
  const size_t begin = token.find_first_not_of(" \t\r");
  const size_t end = token.find_last_not_of(" \t\r");
  token = begin == std::string::npos ? std::string() : token.substr(begin, end - begin + 1);
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": the token file is empty (expected the token on its first line)"));
  }
  return token;
}

StatusOr<ConnectionOptions> ResolveConnectionOptions(const std::string& address_flag,
                                                     const std::string& token_file_flag,
                                                     const std::string& tls_ca_flag) {
  ConnectionOptions options;
  if (!address_flag.empty()) {
    options.address = address_flag;
  } else if (const char* env = std::getenv("TUTTI_COORDINATOR"); env != nullptr && *env != '\0') {
    options.address = env;
  }
  if (!token_file_flag.empty()) {
    TUTTI_ASSIGN_OR_RETURN(options.token, ReadTokenFile(token_file_flag));
  } else if (const char* env = std::getenv("TUTTI_TOKEN"); env != nullptr && *env != '\0') {
    options.token = env;
  }
  options.tls_ca_file = tls_ca_flag;
  return options;
}

StatusOr<std::shared_ptr<Connection>> Connection::Create(const ConnectionOptions& options) {
  if (options.address.empty()) return absl::InvalidArgumentError("no coordinator address given");
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls_ca_file.empty()) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    StatusOr<std::string> roots = ReadFileToString(options.tls_ca_file);
    if (!roots.ok()) return Annotate(roots.status(), "reading the TLS root certificates (--tls-ca)");
    ssl.pem_root_certs = *roots;
    credentials = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  // Reconnect quickly after a coordinator restart instead of gRPC's default backoff of up to 120 s.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  return std::shared_ptr<Connection>(
      new Connection(options, grpc::CreateCustomChannel(options.address, credentials, args)));
}

std::unique_ptr<grpc::ClientContext> Connection::NewContext(std::chrono::milliseconds timeout) const {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!options_.token.empty()) context->AddMetadata("authorization", "Bearer " + options_.token);
  if (timeout.count() > 0) context->set_deadline(std::chrono::system_clock::now() + timeout);
  return context;
}

Status Connection::FromGrpc(const grpc::Status& status, const std::string& what) const {
  if (status.ok()) return absl::OkStatus();
  Status converted = FromGrpcStatus(status);
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
      (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && status.error_message() == "Deadline Exceeded")) {
    return Status(converted.code(), absl::StrCat(what, ": cannot reach the coordinator at ", options_.address, " (",
                                                 status.error_message(), ")"));
  }
  return Annotate(converted, what);
}

grpc::Status ToGrpcStatus(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(static_cast<int>(status.code())), std::string(status.message()));
}

Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return Status(static_cast<absl::StatusCode>(static_cast<int>(status.error_code())), status.error_message());
}

bool IsTransient(const Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kAborted:
      return true;
    default:
      return false;
  }
}

Status CallWithRetry(const RetryPolicy& policy, const std::function<Status()>& call,
                     const std::function<bool()>& should_stop) {
  const auto give_up_at = std::chrono::steady_clock::now() + policy.total;
  std::chrono::milliseconds delay = policy.initial_delay;
  thread_local std::mt19937 jitter(std::random_device{}());
  while (true) {
    Status status = call();
    if (status.ok() || !IsTransient(status)) return status;
    if (should_stop && should_stop()) return status;
    // Full jitter in [delay/2, delay]: workers that lost the coordinator together do not return together.
    std::uniform_int_distribution<int64_t> pick(delay.count() / 2, delay.count());
    const auto sleep = std::chrono::milliseconds(pick(jitter));
    if (std::chrono::steady_clock::now() + sleep >= give_up_at) return status;
    // Sleep in short slices so should_stop is noticed quickly.
    const auto wake = std::chrono::steady_clock::now() + sleep;
    while (std::chrono::steady_clock::now() < wake) {
      if (should_stop && should_stop()) return status;
      std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(std::chrono::milliseconds(50), sleep));
    }
    delay = std::min(policy.max_delay, delay * 2);
  }
}

}  // namespace tutti::rpc
