#pragma once
// HttpServer: the coordinator's HTTP front end (cpp-httplib) — the web page and its static files, the JSON
// mirror of the gRPC API (JsonApi), raw sample files and checkpoint downloads. docs/http_api.md is the
// contract. Same token as gRPC (Authorization: Bearer, or ?token= for links and <audio src>); the page,
// its files and /healthz are open.
//
// Thread-safety: Start/Stop from one thread; requests are served by a pool of `threads` threads.

#include <functional>
#include <memory>
#include <string>

#include "coordinator/http/json_api.h"
#include "coordinator/server/auth.h"
#include "coordinator/service/checkpoint_handler.h"
#include "coordinator/service/sample_handler.h"
#include "core/base/status.h"

namespace tutti::coord {

struct HttpServerOptions {
  // host:port; port 0 picks a free one (see address()).
  std::string listen = "127.0.0.1:8080";
  // Largest request body (413 above).
  size_t max_body_bytes = 1 << 20;
  // Requests served at once.
  int threads = 16;
};

// The HTTP status for a Status code (docs/http_api.md "Errors") and the JSON error body.
int HttpStatusFor(absl::StatusCode code);
std::string ErrorBody(const Status& status);
// Content type of a served file name by its extension ("application/octet-stream" when unknown).
std::string ContentTypeFor(const std::string& name);

class HttpServer {
 public:
  static StatusOr<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options, const JsonApi* api,
                                                     SampleHandler* samples, CheckpointHandler* checkpoints,
                                                     const TokenAuth* auth,
                                                     std::function<void(const std::string&)> log = nullptr);
  ~HttpServer();  // Stop()

  // "host:port" actually bound.
  const std::string& address() const { return address_; }
  // Stops accepting, lets requests in flight finish, joins the listener. Idempotent.
  void Stop();

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::string address_;
};

}  // namespace tutti::coord
