#include "coordinator/http/http_server.h"

#include <httplib.h>

#include <atomic>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "coordinator/http/web_assets.h"
#include "nlohmann/json.hpp"
#include "proto/client/channel.h"

namespace tutti::coord {

int HttpStatusFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk: return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange: return 400;
    case absl::StatusCode::kUnauthenticated: return 401;
    case absl::StatusCode::kPermissionDenied: return 403;
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted: return 409;
    case absl::StatusCode::kResourceExhausted: return 429;
    case absl::StatusCode::kCancelled: return 499;
    case absl::StatusCode::kUnimplemented: return 501;
    case absl::StatusCode::kUnavailable: return 503;
    case absl::StatusCode::kDeadlineExceeded: return 504;
    default: return 500;
  }
}

std::string ErrorBody(const Status& status) {
  std::string code = absl::StatusCodeToString(status.code());
  for (char& ch : code) ch = ch == ' ' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return nlohmann::json{{"code", code}, {"message", std::string(status.message())}}.dump();
}

std::string ContentTypeFor(const std::string& name) {
  static const std::pair<const char*, const char*> kTypes[] = {
      {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},   {".json", "application/json"},
      {".png", "image/png"},                 {".svg", "image/svg+xml"},
      {".wav", "audio/wav"},                 {".mid", "audio/midi"},
      {".txt", "text/plain; charset=utf-8"}, {".ico", "image/x-icon"}};
  for (const auto& [extension, type] : kTypes) {
    const std::string ext(extension);
    if (name.size() >= ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0) return type;
  }
  return "application/octet-stream";
}

namespace {

void SendError(httplib::Response& response, const Status& status) {
  response.status = HttpStatusFor(status.code());
  response.set_content(ErrorBody(status), "application/json");
}

// The API's token check: the Authorization header, else ?token=.
Status Authorize(const TokenAuth* auth, const httplib::Request& request) {
  grpc::Status checked;
  if (request.has_header("Authorization")) {
    checked = auth->CheckValue(request.get_header_value("Authorization"), true);
  } else if (request.has_param("token")) {
    checked = auth->CheckValue(request.get_param_value("token"), true, /*bearer=*/false);
  } else {
    checked = auth->CheckValue("", false);
  }
  return rpc::FromGrpcStatus(checked);
}

// A query parameter as an int64 / double / uint64, or InvalidArgument naming it.
template <typename T>
Status ParseParam(const httplib::Request& request, const char* name, T* out) {
  const std::string text = request.get_param_value(name);
  bool ok = false;
  if constexpr (std::is_same_v<T, double>) {
    ok = absl::SimpleAtod(text, out);
  } else {
    ok = absl::SimpleAtoi(text, out);
  }
  if (!ok) return absl::InvalidArgumentError(absl::StrCat(name, ": expected a number, got \"", text, "\""));
  return absl::OkStatus();
}

// GET /api/sample?genre=&seed=&format=&index=&trial_id=&checkpoint_id=&experiment_id=&threshold=
Status ServeSampleFile(SampleHandler* samples, const httplib::Request& request, httplib::Response& response) {
  static const std::map<std::string, std::string> kExtension = {
      {"midi", ".mid"}, {"npz", ".npz"}, {"png", ".png"}, {"wav", ".wav"}};
  v1::GenerateRequest generate;
  generate.set_genre(request.get_param_value("genre"));
  const std::string format = request.has_param("format") ? request.get_param_value("format") : "midi";
  auto ext = kExtension.find(format);
  if (ext == kExtension.end()) {
    return absl::InvalidArgumentError(absl::StrCat("format: expected midi, npz, png or wav, got \"", format, "\""));
  }
  generate.add_formats(format);
  int64_t index = 0, id = 0;
  uint64_t seed = 0;
  double threshold = 0;
  if (request.has_param("index")) TUTTI_RETURN_IF_ERROR(ParseParam(request, "index", &index));
  if (index < 0 || index >= 64) return absl::InvalidArgumentError(absl::StrCat("index: expected 0..63, got ", index));
  generate.set_n(static_cast<int32_t>(index + 1));
  if (request.has_param("seed")) TUTTI_RETURN_IF_ERROR(ParseParam(request, "seed", &seed));
  generate.set_seed(seed);
  if (request.has_param("threshold")) {
    TUTTI_RETURN_IF_ERROR(ParseParam(request, "threshold", &threshold));
    generate.set_threshold(threshold);
  }
  if (request.has_param("checkpoint_id")) {
    TUTTI_RETURN_IF_ERROR(ParseParam(request, "checkpoint_id", &id));
    generate.set_checkpoint_id(id);
  } else if (request.has_param("trial_id")) {
    TUTTI_RETURN_IF_ERROR(ParseParam(request, "trial_id", &id));
    generate.set_trial_id(id);
  } else if (request.has_param("experiment_id")) {
    TUTTI_RETURN_IF_ERROR(ParseParam(request, "experiment_id", &id));
    generate.set_experiment_id(id);
  }
  SampleSource source;
  TUTTI_ASSIGN_OR_RETURN(std::vector<SampleFile> files, samples->GenerateFiles(generate, &source));
  const std::string wanted = absl::StrCat("sample-", index, ext->second);
  for (SampleFile& file : files) {
    if (file.name != wanted) continue;
    const std::string stem = source.genre.empty() ? std::string("sample") : source.genre;
    response.set_header("Content-Disposition", absl::StrCat("attachment; filename=\"", stem, "-seed", seed, "-ckpt",
                                                            source.checkpoint.id, "-", index, ext->second, "\""));
    response.set_header("X-Tutti-Checkpoint", std::to_string(source.checkpoint.id));
    response.set_content(std::move(file.bytes), ContentTypeFor(wanted).c_str());
    return absl::OkStatus();
  }
  return absl::InternalError(absl::StrCat("the sample service made no ", wanted));
}

// GET /api/checkpoints/<id>/download, streamed in chunks.
Status ServeCheckpoint(CheckpointHandler* checkpoints, int64_t id, httplib::Response& response) {
  v1::DownloadCheckpointRequest request;
  request.set_checkpoint_id(id);
  TUTTI_ASSIGN_OR_RETURN(CheckpointHandler::Download download, checkpoints->OpenDownload(request));
  auto reader = std::shared_ptr<BlobStore::Reader>(std::move(download.reader));
  response.set_header("Content-Disposition", absl::StrCat("attachment; filename=\"ckpt-", download.header.step(),
                                                          "-id", id, ".tutti\""));
  response.set_header("X-Tutti-Sha256", download.header.sha256());
  response.set_content_provider(
      static_cast<size_t>(download.header.size_bytes()), "application/octet-stream",
      [reader](size_t /*offset*/, size_t length, httplib::DataSink& sink) {
        std::string chunk;
        if (!reader->Read(std::min<size_t>(length, 1 << 20), &chunk).ok() || chunk.empty()) return false;
        return sink.write(chunk.data(), chunk.size());
      });
  return absl::OkStatus();
}

}  // namespace

struct HttpServer::Impl {
  httplib::Server server;
  std::thread listener;
  std::atomic<bool> stopped{false};
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (!impl_ || impl_->stopped.exchange(true)) return;
  impl_->server.stop();
  if (impl_->listener.joinable()) impl_->listener.join();
}

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options, const JsonApi* api,
                                                        SampleHandler* samples, CheckpointHandler* checkpoints,
                                                        const TokenAuth* auth,
                                                        std::function<void(const std::string&)> log) {
  const size_t colon = options.listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(options.listen.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("--http: expected host:port, got \"", options.listen, "\""));
  }
  std::string host = options.listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);

  auto impl = std::make_unique<Impl>();
  httplib::Server& server = impl->server;
  const int threads = std::max(1, options.threads);
  server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  server.set_payload_max_length(options.max_body_bytes);
  // cpp-httplib's default also sets SO_REUSEPORT, which lets a second coordinator bind the same port and
  // silently take half the requests; SO_REUSEADDR alone still allows a quick restart on the same port.
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const void*>(&yes), sizeof(yes));
  });

  server.Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("ok\n", "text/plain");
  });
  server.Post(R"(/api/(tutti\.v1\.[A-Za-z]+/[A-Za-z]+))",
              [api, auth](const httplib::Request& request, httplib::Response& response) {
                Status allowed = Authorize(auth, request);
                if (!allowed.ok()) return SendError(response, allowed);
                StatusOr<std::string> answer = api->Call(request.matches[1], request.body);
                if (!answer.ok()) return SendError(response, answer.status());
                response.set_content(*std::move(answer), "application/json");
              });
  server.Get("/api/sample", [samples, auth](const httplib::Request& request, httplib::Response& response) {
    Status status = Authorize(auth, request);
    if (status.ok()) status = ServeSampleFile(samples, request, response);
    if (!status.ok()) SendError(response, status);
  });
  server.Get(R"(/api/checkpoints/(\d+)/download)",
             [checkpoints, auth](const httplib::Request& request, httplib::Response& response) {
               Status status = Authorize(auth, request);
               int64_t id = 0;
               if (status.ok() && !absl::SimpleAtoi(std::string(request.matches[1]), &id)) {
                 status = absl::InvalidArgumentError("checkpoint id: expected a number");
               }
               if (status.ok()) status = ServeCheckpoint(checkpoints, id, response);
               if (!status.ok()) SendError(response, status);
             });
  server.Get(R"(/api/.*)", [](const httplib::Request& request, httplib::Response& response) {
    SendError(response, absl::NotFoundError(absl::StrCat("no API path GET ", request.path,
                                                         "; API methods are POST /api/tutti.v1.<Service>/<Method>")));
  });
  // The page and its files, embedded at build time.
  server.Get(R"(/(.*))", [](const httplib::Request& request, httplib::Response& response) {
    std::string path = request.matches[1];
    if (path.empty()) path = "index.html";
    for (const WebAsset& asset : WebAssets()) {
      if (asset.path != path) continue;
      response.set_content(std::string(asset.bytes), ContentTypeFor(path).c_str());
      response.set_header("Cache-Control", "no-cache");
      return;
    }
    SendError(response, absl::NotFoundError(absl::StrCat("no page file /", path)));
  });
  server.set_exception_handler([](const httplib::Request&, httplib::Response& response, std::exception_ptr e) {
    std::string what = "unknown exception";
    try {
      if (e) std::rethrow_exception(e);
    } catch (const std::exception& x) {
      what = x.what();
    } catch (...) {
    }
    SendError(response, absl::InternalError(absl::StrCat("the HTTP handler failed: ", what)));
  });
  if (log) {
    server.set_logger([log](const httplib::Request& request, const httplib::Response& response) {
      if (response.status >= 500) log(absl::StrCat("http: ", request.method, " ", request.path, " -> ", response.status));
    });
  }

  int bound = port;
  if (port == 0) {
    bound = server.bind_to_any_port(host);
  } else if (!server.bind_to_port(host, port)) {
    bound = -1;
  }
  if (bound <= 0) {
    return absl::UnavailableError(absl::StrCat("--http: cannot listen on ", options.listen,
                                               " (address in use, or not an address of this machine?)"));
  }
  Impl* raw = impl.get();
  impl->listener = std::thread([raw] { raw->server.listen_after_bind(); });
  // stop() only reaches a server that is already running: wait for the listener to get there, or a Stop
  // right after Start would leave it blocked in accept() for good.
  for (int i = 0; i < 5000 && !raw->server.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::unique_ptr<HttpServer> http(new HttpServer(std::move(impl)));
  http->address_ = absl::StrCat(options.listen.substr(0, colon), ":", bound);
  return http;
}

}  // namespace tutti::coord
