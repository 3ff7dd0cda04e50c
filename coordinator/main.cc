// tutti-coordinator: the service that owns a team's experiments, trials, metrics and checkpoints
// (DESIGN.md section 6; API in proto/tutti/v1/). A thin shell over CoordinatorServer.
//
// Exit status: 0 after a clean shutdown (SIGINT / SIGTERM: stop accepting, let calls in flight finish for
// --grace seconds, cancel the rest); 1 when it cannot start (the message names the home, the address or
// the file); 2 for usage errors and bad settings (flags or --config, each error names its key). A second
// Ctrl-C exits at once.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "coordinator/sample/torch_sample_backend.h"
#include "coordinator/server/coordinator_server.h"
#include "core/base/file_util.h"
#include "core/base/interrupt.h"
#include "core/config/coordinator_settings.h"
#include "proto/client/channel.h"

namespace {

bool IsLoopback(const std::string& listen) {
  const std::string host = listen.substr(0, listen.rfind(':'));
  return host == "127.0.0.1" || host == "localhost" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

std::string Timestamp() {
  std::time_t now = std::time(nullptr);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%H:%M:%S", std::localtime(&now));
  return buffer;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "tutti-coordinator: keeps a team's experiments, trials, metrics and checkpoints, and hands trials to\n"
      "workers (`tutti agent`, or `tutti-worker --coordinator` under Slurm / Kubernetes).\n"
      "\n"
      "State lives in --home: tutti.db (SQLite, WAL) and blobs/ (checkpoint bytes by sha256). Back up the\n"
      "whole directory while the coordinator is stopped, or use `sqlite3 tutti.db .backup` while it runs.\n"
      "Listens on loopback unless told otherwise; with --token-file every call (health checks excepted)\n"
      "must carry `authorization: Bearer <token>` (tutti and tutti-worker read TUTTI_TOKEN or --token-file).\n"
      "gRPC health checking (grpc.health.v1) and server reflection are on.",
      "tutti-coordinator"};
  // Flags bind to a scratch copy; only the flags actually given override the --config file, so a file's
  // values are never clobbered by a flag's default.
  tutti::CoordinatorSettings flags;
  std::string config_file, address_file;
  bool quiet = false;
  app.add_option("--config", config_file,
                 "Settings file (YAML; every key in configs/coordinator.yaml); flags given win over it")
      ->check(CLI::ExistingFile);
  app.add_option("--home", flags.home, "State directory (created when missing); required here or in --config");
  app.add_option("--listen", flags.listen, "host:port to serve on; port 0 picks a free one [127.0.0.1:7070]");
  app.add_option("--token-file", flags.token_file, "File whose first line is the token every call must carry");
  app.add_option("--tls-cert", flags.tls_cert, "PEM certificate chain: serve TLS (with --tls-key)");
  app.add_option("--tls-key", flags.tls_key, "PEM private key for --tls-cert");
  app.add_option("--lease-seconds", flags.lease_seconds,
                 "A trial's lease expires this long after its last heartbeat [30]");
  app.add_option("--heartbeat-seconds", flags.heartbeat_seconds, "How often workers are told to heartbeat [5]");
  app.add_option("--max-restarts", flags.max_restarts,
                 "Times a trial is queued again after a lost worker or a retryable failure before it fails, "
                 "for experiments that do not say [3]");
  app.add_option("--max-checkpoint-mb", flags.max_checkpoint_mb, "Largest checkpoint accepted, in MiB [2048]");
  app.add_option("--grace", flags.grace_seconds, "Seconds calls in flight may take to finish at shutdown [10]");
  app.add_option("--http", flags.http,
                 "host:port for the HTTP API and web page (docs/http_api.md); port 0 picks a free one [off]");
  std::string http_address_file;
  app.add_option("--http-address-file", http_address_file,
                 "Write the HTTP address actually served (host:port) to this file once serving");
  app.add_option("--sample-device", flags.samples.device, "Where generators run: cpu, cuda or auto [cpu]");
  app.add_option("--sample-max-batch", flags.samples.max_batch_size,
                 "Samples one forward pass of a generator serves at most (dynamic batching) [32]");
  app.add_option("--sample-queue-delay-ms", flags.samples.max_queue_delay_ms,
                 "How long the first request of a batch waits for others [2]");
  app.add_option("--sample-cache-mb", flags.samples.cache_mb, "Generator models kept loaded, in MiB [512]");
  app.add_option("--address-file", address_file,
                 "Write the address actually served (host:port) to this file once serving (for scripts)");
  app.add_flag("--quiet,-q", quiet, "Print only errors and the serving line");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  tutti::CoordinatorSettings settings;
  if (!config_file.empty()) {
    tutti::StatusOr<tutti::CoordinatorSettings> loaded = tutti::LoadCoordinatorSettings(config_file);
    if (!loaded.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(loaded.status().message()).c_str());
      return 2;
    }
    settings = *loaded;
  }
  auto given = [&app](const char* flag) { return app.count(flag) > 0; };
  if (given("--home")) settings.home = flags.home;
  if (given("--listen")) settings.listen = flags.listen;
  if (given("--token-file")) settings.token_file = flags.token_file;
  if (given("--tls-cert")) settings.tls_cert = flags.tls_cert;
  if (given("--tls-key")) settings.tls_key = flags.tls_key;
  if (given("--lease-seconds")) settings.lease_seconds = flags.lease_seconds;
  if (given("--heartbeat-seconds")) settings.heartbeat_seconds = flags.heartbeat_seconds;
  if (given("--max-restarts")) settings.max_restarts = flags.max_restarts;
  if (given("--max-checkpoint-mb")) settings.max_checkpoint_mb = flags.max_checkpoint_mb;
  if (given("--grace")) settings.grace_seconds = flags.grace_seconds;
  if (given("--http")) settings.http = flags.http;
  if (given("--sample-device")) settings.samples.device = flags.samples.device;
  if (given("--sample-max-batch")) settings.samples.max_batch_size = flags.samples.max_batch_size;
  if (given("--sample-queue-delay-ms")) settings.samples.max_queue_delay_ms = flags.samples.max_queue_delay_ms;
  if (given("--sample-cache-mb")) settings.samples.cache_mb = flags.samples.cache_mb;
  if (tutti::Status valid = tutti::ValidateCoordinatorSettings(settings); !valid.ok()) {
    // Cross-field rules see the merged settings: name the file so a bad pair in it is easy to find.
    const std::string origin = config_file.empty() ? "flags" : config_file + " and flags";
    std::fprintf(stderr, "error: settings (%s): %s\n", origin.c_str(), std::string(valid.message()).c_str());
    return 2;
  }

  tutti::coord::CoordinatorServerOptions options;
  options.home = settings.home;
  options.listen = settings.listen;
  options.tls_cert_file = settings.tls_cert;
  options.tls_key_file = settings.tls_key;
  options.lifecycle.max_restarts = settings.max_restarts;
  options.http_listen = settings.http;
  options.sample_limits.max_samples = settings.samples.max_per_request;
  options.sample_limits.default_deadline_s = settings.samples.deadline_seconds;
  const double grace_s = settings.grace_seconds;
  if (!settings.token_file.empty()) {
    tutti::StatusOr<std::string> token = tutti::rpc::ReadTokenFile(settings.token_file);
    if (!token.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(token.status().message()).c_str());
      return 1;
    }
    options.token = *token;
  }
  for (const std::string& listen : {options.listen, options.http_listen}) {
    if (options.token.empty() && !listen.empty() && !IsLoopback(listen)) {
      std::fprintf(stderr,
                   "warning: listening on %s without a token: anyone who can reach this address can submit, kill "
                   "and download. Use --token-file (and --tls-cert/--tls-key off trusted networks).\n",
                   listen.c_str());
    }
  }
  options.lifecycle.lease_ttl_ms = static_cast<int64_t>(settings.lease_seconds * 1000);
  options.lifecycle.heartbeat_interval_ms = static_cast<int64_t>(settings.heartbeat_seconds * 1000);
  options.registry.max_checkpoint_bytes = static_cast<int64_t>(settings.max_checkpoint_mb * (1 << 20));
  if (!quiet) {
    options.log = [](const std::string& line) {
      std::fprintf(stderr, "%s %s\n", Timestamp().c_str(), line.c_str());
    };
  }
  tutti::coord::SampleServingOptions serving;
  serving.max_batch_size = settings.samples.max_batch_size;
  serving.max_queue_delay_ms = settings.samples.max_queue_delay_ms;
  serving.default_deadline_s = settings.samples.deadline_seconds;
  serving.cache_bytes = static_cast<int64_t>(settings.samples.cache_mb * (1 << 20));
  serving.device = settings.samples.device;
  if (tutti::Status valid = tutti::coord::ValidateSampleServingOptions(serving); !valid.ok()) {
    std::fprintf(stderr, "error: samples: %s\n", std::string(valid.message()).c_str());
    return 2;
  }
  tutti::coord::TorchSampleBackend samples(serving);
  options.samples = &samples;

  tutti::InstallInterruptHandler("calls in flight finish, then stop");
  auto server = tutti::coord::CoordinatorServer::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  for (const auto& [file, address] : {std::pair<std::string, std::string>{address_file, (*server)->address()},
                                      {http_address_file, (*server)->http_address()}}) {
    if (file.empty()) continue;
    tutti::Status written = tutti::WriteFileAtomically(file, address + "\n");
    if (!written.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(written.message()).c_str());
      (*server)->Shutdown(std::chrono::milliseconds(0));
      return 1;
    }
  }
  std::fprintf(stderr, "tutti-coordinator: serving on %s (home %s, pid %d, token %s, TLS %s)\n",
               (*server)->address().c_str(), options.home.c_str(), static_cast<int>(::getpid()),
               options.token.empty() ? "off" : "on", options.tls_cert_file.empty() ? "off" : "on");
  if (!(*server)->http_address().empty()) {
    std::fprintf(stderr, "tutti-coordinator: web page and HTTP API on http://%s/\n", (*server)->http_address().c_str());
  }
  std::fflush(stderr);
  while (!tutti::InterruptRequested()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::fprintf(stderr, "tutti-coordinator: shutting down (calls in flight get %g s)\n", grace_s);
  (*server)->Shutdown(std::chrono::milliseconds(static_cast<int64_t>(grace_s * 1000)));
  std::fprintf(stderr, "tutti-coordinator: stopped\n");
  return 0;
}
