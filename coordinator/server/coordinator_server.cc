#include "coordinator/server/coordinator_server.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <grpcpp/health_check_service_interface.h>

#include "coordinator/store/sqlite_store.h"
#include "core/base/file_util.h"

namespace tutti::coord {

CoordinatorServer::~CoordinatorServer() {
  Shutdown(std::chrono::milliseconds(0));
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Status CoordinatorServer::LockHome() {
  const std::string path = options_.home + "/coordinator.lock";
  lock_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) return absl::InternalError(absl::StrCat(path, ": ", std::strerror(errno)));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {0};
    (void)::pread(lock_fd_, pid, sizeof pid - 1, 0);
    return absl::FailedPreconditionError(absl::StrCat(
        options_.home, " is in use by another tutti-coordinator", pid[0] != 0 ? absl::StrCat(" (pid ", pid, ")") : "",
        "; stop it first or choose another --home"));
  }
  const std::string mine = std::to_string(::getpid());
  if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, mine.data(), mine.size(), 0) < 0) {
    return absl::InternalError(absl::StrCat(path, ": writing the pid: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

StatusOr<std::unique_ptr<CoordinatorServer>> CoordinatorServer::Start(CoordinatorServerOptions options) {
  if (options.home.empty()) return absl::InvalidArgumentError("--home: a state directory is required");
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("TLS needs both --tls-cert and --tls-key");
  }
  std::unique_ptr<CoordinatorServer> s(new CoordinatorServer());
  s->options_ = std::move(options);
  const CoordinatorServerOptions& o = s->options_;
  auto log = [&o](const std::string& line) {
    if (o.log) o.log(line);
  };
  TUTTI_RETURN_IF_ERROR(CreateDirectories(o.home));
  TUTTI_RETURN_IF_ERROR(s->LockHome());
  s->auth_ = std::make_unique<TokenAuth>(o.token);

  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> store, SqliteStore::Open(o.home + "/tutti.db"));
  s->store_ = std::move(store);
  TUTTI_ASSIGN_OR_RETURN(s->blobs_, BlobStore::Open(o.home + "/blobs"));
  TUTTI_ASSIGN_OR_RETURN(s->lifecycle_, TrialLifecycle::Create(s->store_.get(), &s->clock_, o.lifecycle));
  s->lifecycle_->set_event_log(o.log);
  TUTTI_ASSIGN_OR_RETURN(s->registry_, CheckpointRegistry::Create(s->store_.get(), s->blobs_.get(),
                                                                  s->lifecycle_.get(), &s->clock_, o.registry));
  const RegistryRecovery& r = s->registry_->recovered();
  if (r.finished_deletions + r.orphan_blobs_removed + r.incoming_removed > 0) {
    log(absl::StrCat("recovered at start: ", r.incoming_removed, " unfinished upload(s) removed, ",
                     r.finished_deletions, " interrupted deletion(s) finished, ", r.orphan_blobs_removed,
                     " unrecorded blob(s) removed"));
  }

  // Searchers after the registry: a recovered sweep may look at checkpoints; before serving.
  TUTTI_ASSIGN_OR_RETURN(s->manager_, ExperimentManager::Create(s->store_.get(), s->lifecycle_.get(), &s->clock_));
  s->experiment_handler_ = std::make_unique<ExperimentHandler>(s->store_.get(), s->lifecycle_.get(),
                                                               s->registry_.get(), s->manager_.get());
  s->worker_handler_ = std::make_unique<WorkerHandler>(s->store_.get(), s->lifecycle_.get(), s->registry_.get(),
                                                       s->manager_.get(), &s->clock_);
  s->checkpoint_handler_ =
      std::make_unique<CheckpointHandler>(s->store_.get(), s->lifecycle_.get(), s->registry_.get());
  s->catalog_ = std::make_unique<GenreCatalog>(s->store_.get(), s->lifecycle_.get(), s->registry_.get());
  SampleHandlerOptions sample_limits = o.sample_limits;
  if (!sample_limits.log) sample_limits.log = o.log;
  s->sample_handler_ = std::make_unique<SampleHandler>(s->lifecycle_.get(), s->registry_.get(), s->catalog_.get(),
                                                       o.samples, sample_limits);
  // A better checkpoint for a genre is loaded as soon as it lands (the handler outlives the registry's use
  // of it: both are torn down after the servers stop).
  s->registry_->SetRecordListener(
      [handler = s->sample_handler_.get()](const CheckpointRow& row) { handler->OnCheckpointRecorded(row); });
  s->listen_handler_ = std::make_unique<ListenHandler>(s->store_.get(), s->lifecycle_.get(), s->registry_.get(),
                                                       s->catalog_.get(), s->sample_handler_.get(), &s->clock_);
  TUTTI_ASSIGN_OR_RETURN(s->pack_handler_, PackHandler::Create(s->store_.get(), s->blobs_.get(), &s->clock_));
  s->experiment_service_ = std::make_unique<ExperimentServiceImpl>(s->experiment_handler_.get(), s->auth_.get());
  s->worker_service_ = std::make_unique<WorkerServiceImpl>(s->worker_handler_.get(), s->auth_.get());
  s->checkpoint_service_ = std::make_unique<CheckpointServiceImpl>(s->checkpoint_handler_.get(), s->auth_.get());
  s->sample_service_ = std::make_unique<SampleServiceImpl>(s->sample_handler_.get(), s->auth_.get());
  s->listen_service_ = std::make_unique<ListenServiceImpl>(s->listen_handler_.get(), s->auth_.get());
  s->pack_service_ = std::make_unique<PackServiceImpl>(s->pack_handler_.get(), s->auth_.get());
  // Reflection behind the token too (gRPC's reflection plugin would answer anyone); it lists every service
  // registered below, the health service included.
  s->reflection_service_ = std::make_unique<ReflectionService>(
      s->auth_.get(), std::vector<std::string>{v1::ExperimentService::service_full_name(),
                                               v1::WorkerService::service_full_name(),
                                               v1::CheckpointService::service_full_name(),
                                               v1::SampleService::service_full_name(),
                                               v1::ListenService::service_full_name(),
                                               v1::PackService::service_full_name(), "grpc.health.v1.Health"});

  std::shared_ptr<grpc::ServerCredentials> credentials;
  if (o.tls_cert_file.empty()) {
    credentials = grpc::InsecureServerCredentials();
  } else {
    grpc::SslServerCredentialsOptions ssl;
    TUTTI_ASSIGN_OR_RETURN(std::string cert, ReadFileToString(o.tls_cert_file));
    TUTTI_ASSIGN_OR_RETURN(std::string key, ReadFileToString(o.tls_key_file));
    ssl.pem_key_cert_pairs.push_back({key, cert});
    credentials = grpc::SslServerCredentials(ssl);
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(o.listen, credentials, &s->port_);
  builder.SetMaxReceiveMessageSize(o.max_message_bytes);
  builder.SetMaxSendMessageSize(o.max_message_bytes);
  grpc::ResourceQuota quota("tutti-coordinator");
  quota.SetMaxThreads(o.max_threads);
  builder.SetResourceQuota(quota);
  builder.RegisterService(s->experiment_service_.get());
  builder.RegisterService(s->worker_service_.get());
  builder.RegisterService(s->checkpoint_service_.get());
  builder.RegisterService(s->sample_service_.get());
  builder.RegisterService(s->listen_service_.get());
  builder.RegisterService(s->pack_service_.get());
  builder.RegisterService(s->reflection_service_->v1alpha());
  builder.RegisterService(s->reflection_service_->v1());
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || s->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", o.listen,
                                               " (address in use, or not an address of this machine?)"));
  }
  const size_t colon = o.listen.rfind(':');
  s->address_ = absl::StrCat(o.listen.substr(0, colon), ":", s->port_);
  s->server_->GetHealthCheckService()->SetServingStatus(true);
  if (!o.http_listen.empty()) {
    s->json_api_ = std::make_unique<JsonApi>(JsonApiHandlers{s->experiment_handler_.get(), s->checkpoint_handler_.get(),
                                                             s->sample_handler_.get(), s->listen_handler_.get()});
    HttpServerOptions http;
    http.listen = o.http_listen;
    StatusOr<std::unique_ptr<HttpServer>> started = HttpServer::Start(
        http, s->json_api_.get(), s->sample_handler_.get(), s->checkpoint_handler_.get(), s->auth_.get(), o.log);
    if (!started.ok()) return started.status();  // the destructor stops the gRPC server
    s->http_ = *std::move(started);
  }
  s->reaper_ = std::thread([raw = s.get()] { raw->ReaperLoop(); });
  return s;
}

void CoordinatorServer::ReaperLoop() {
  int64_t ticks = 0;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    stop_cv_.wait_for(lock, std::chrono::milliseconds(options_.reaper_interval_ms), [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    // Expired leases may end trials (too many restarts): the searchers hear of it. A full pass every few
    // seconds catches anything else (it is cheap: only unfinished experiments are looked at).
    const bool expired = lifecycle_->ExpireLeases() > 0;
    if (expired || ++ticks % 20 == 0) {
      Status s = manager_->ReconcileAll();
      if (!s.ok() && options_.log) options_.log(absl::StrCat("reconciling the searchers: ", std::string(s.message())));
    }
    lock.lock();
  }
}

void CoordinatorServer::Shutdown(std::chrono::milliseconds grace) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  stop_cv_.notify_all();
  // HTTP first: its requests use the same handlers; Stop lets those in flight finish.
  if (http_ != nullptr) http_->Stop();
  if (server_ != nullptr) {
    server_->GetHealthCheckService()->SetServingStatus(false);
    // Calls still running at the deadline (followers of a trial's metrics, slow uploads) are cancelled.
    server_->Shutdown(std::chrono::system_clock::now() + grace);
  }
  if (reaper_.joinable()) reaper_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
  }
  stop_cv_.notify_all();
}

void CoordinatorServer::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  stop_cv_.wait(lock, [&] { return stopped_; });
}

}  // namespace tutti::coord
