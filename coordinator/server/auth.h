#pragma once
// Bearer-token authentication for every Tutti call (the standard health service is registered by gRPC
// itself and stays open, so load balancers and Kubernetes probes need no token).
//
// gRPC C++ has no server interceptor that can refuse a call (grpc/grpc#24017), and AuthMetadataProcessor
// works only with TLS credentials (grpc/grpc#24278), so each service adapter calls Check() first: one line
// per method, in one file (grpc_services.cc).
//
// Thread-safety: immutable after construction.

#include <string>

#include <grpcpp/grpcpp.h>

namespace tutti::coord {

class TokenAuth {
 public:
  // An empty token disables authentication.
  explicit TokenAuth(std::string token) : token_(std::move(token)) {}

  bool enabled() const { return !token_.empty(); }
  // OK, or UNAUTHENTICATED saying whether the header was missing or wrong (never echoing a token).
  grpc::Status Check(const grpc::ServerContext& context) const;
  // The same check on an "authorization" value (`present` false when there was none): for the HTTP API,
  // which also accepts the bare token from a query string (`bearer` false).
  grpc::Status CheckValue(const std::string& value, bool present, bool bearer = true) const;

 private:
  const std::string token_;
};

// Compares in time independent of where the strings differ (tokens are secrets).
bool ConstantTimeEquals(const std::string& a, const std::string& b);

}  // namespace tutti::coord
