#pragma once
// CoordinatorServer: tutti-coordinator as a library — the home directory, the store, the blob store, the
// handlers and the gRPC server, started and stopped as one object (the binary and the tests use it alike).
//
// Home directory (--home DIR):
//   DIR/tutti.db          SQLite (WAL): experiments, trials, metrics, checkpoint records
//   DIR/blobs/            checkpoint bytes, content-addressed (coordinator/blob/blob_store.h)
//   DIR/coordinator.lock  held (flock) while a coordinator runs: a second one on the same home is refused
//
// Start(): lock the home -> open the store (refusing a newer schema) -> open the blob store (removing
// unfinished uploads) -> rebuild the lifecycle (expiring leases that ran out meanwhile) -> recover the
// checkpoint registry (finishing cut deletions, removing orphan blobs) -> listen. Only then is anything
// served. Shutdown(): health NOT_SERVING, stop accepting, give calls in flight `grace` to finish, cancel the
// rest, stop the lease reaper, close the store.
//
// Thread-safety: Start/Shutdown/Wait from one thread; the server itself serves from its own pool.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "coordinator/blob/blob_store.h"
#include "coordinator/http/http_server.h"
#include "coordinator/server/auth.h"
#include "coordinator/server/grpc_services.h"
#include "coordinator/server/reflection/reflection_service.h"
#include "coordinator/service/checkpoint_registry.h"
#include "coordinator/service/experiment_manager.h"
#include "coordinator/service/clock.h"
#include "coordinator/service/trial_lifecycle.h"
#include "coordinator/store/experiment_store.h"
#include "core/base/status.h"

namespace tutti::coord {

struct CoordinatorServerOptions {
  // State directory (created when missing).
  std::string home;
  // host:port to listen on; port 0 picks a free port (see address()).
  std::string listen = "127.0.0.1:7070";
  // Bearer token every call must carry ("" = no authentication).
  std::string token;
  // PEM certificate chain and private key: serve TLS instead of plaintext (both or neither).
  std::string tls_cert_file;
  std::string tls_key_file;
  LifecycleOptions lifecycle;
  RegistryOptions registry;
  // Largest message accepted or sent (uploads arrive in chunks well below it).
  int max_message_bytes = 16 << 20;
  // Server threads at most (each streaming call holds one while it runs).
  int max_threads = 256;
  // How often expired leases are looked for.
  int64_t reaper_interval_ms = 500;
  // Makes sample files (LibTorch); null = SampleService answers UNIMPLEMENTED. Not owned.
  SampleBackend* samples = nullptr;
  SampleHandlerOptions sample_limits;
  // host:port for the HTTP API and web page (docs/http_api.md); "" = no HTTP. Port 0 picks a free one.
  std::string http_listen;
  // One line per event (start-up recovery, trial transitions); empty = silent.
  std::function<void(const std::string&)> log;
};

class CoordinatorServer {
 public:
  static StatusOr<std::unique_ptr<CoordinatorServer>> Start(CoordinatorServerOptions options);
  ~CoordinatorServer();  // Shutdown with no grace if still running

  // "host:port" actually bound (the chosen port when the options asked for port 0).
  const std::string& address() const { return address_; }
  int port() const { return port_; }
  // "host:port" of the HTTP server; "" when there is none.
  std::string http_address() const { return http_ ? http_->address() : std::string(); }

  // See the file comment. Idempotent.
  void Shutdown(std::chrono::milliseconds grace);
  // Blocks until Shutdown has completed (from another thread or a signal handler's helper).
  void Wait();

  // For tests and tools in the same process.
  TrialLifecycle& lifecycle() { return *lifecycle_; }
  CheckpointRegistry& checkpoints() { return *registry_; }
  ExperimentStore& store() { return *store_; }

 private:
  CoordinatorServer() = default;
  Status LockHome();
  void ReaperLoop();

  CoordinatorServerOptions options_;
  std::string address_;
  int port_ = 0;
  int lock_fd_ = -1;

  SystemClock clock_;
  std::unique_ptr<TokenAuth> auth_;
  std::unique_ptr<ExperimentStore> store_;
  std::unique_ptr<BlobStore> blobs_;
  std::unique_ptr<TrialLifecycle> lifecycle_;
  std::unique_ptr<CheckpointRegistry> registry_;
  std::unique_ptr<ExperimentManager> manager_;
  std::unique_ptr<ExperimentHandler> experiment_handler_;
  std::unique_ptr<WorkerHandler> worker_handler_;
  std::unique_ptr<CheckpointHandler> checkpoint_handler_;
  std::unique_ptr<GenreCatalog> catalog_;
  std::unique_ptr<SampleHandler> sample_handler_;
  std::unique_ptr<ListenHandler> listen_handler_;
  std::unique_ptr<PackHandler> pack_handler_;
  std::unique_ptr<ExperimentServiceImpl> experiment_service_;
  std::unique_ptr<WorkerServiceImpl> worker_service_;
  std::unique_ptr<CheckpointServiceImpl> checkpoint_service_;
  std::unique_ptr<SampleServiceImpl> sample_service_;
  std::unique_ptr<ListenServiceImpl> listen_service_;
  std::unique_ptr<PackServiceImpl> pack_service_;
  std::unique_ptr<JsonApi> json_api_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<ReflectionService> reflection_service_;  // ours: checks the token (gRPC's plugin cannot)
  std::unique_ptr<grpc::Server> server_;

  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;  // guarded by mu_
  bool stopped_ = false;   // guarded by mu_
  std::thread reaper_;
};

}  // namespace tutti::coord
