#include "coordinator/agent/agent.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>

#include "core/base/file_util.h"
#include "tutti/v1/worker_service.grpc.pb.h"

extern char** environ;

namespace tutti::coord {
namespace {

std::atomic<int> g_signals{0};

void OnSignal(int) { g_signals.fetch_add(1); }

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string Hostname() {
  char name[256] = {0};
  if (::gethostname(name, sizeof name - 1) != 0) return "localhost";
  return name;
}

std::string DescribeExit(int wait_status) {
  if (WIFEXITED(wait_status)) {
    const int code = WEXITSTATUS(wait_status);
    // mpirun passes on 128 + N when a rank died of signal N.
    if (code > 128 && code < 160) return absl::StrCat("exited with status ", code, " (a rank died of signal ", code - 128, ")");
    return absl::StrCat("exited with status ", code);
  }
  if (WIFSIGNALED(wait_status)) return absl::StrCat("was killed by signal ", WTERMSIG(wait_status));
  return "ended";
}

}  // namespace

struct Agent::Slot {
  int index = 0;
  int ranks = 0;   // ranks the running trial trains with
  pid_t pid = -1;  // mpirun; also its process group
  std::string lease_id;
  int64_t trial_id = 0;
  std::string dir;
  std::thread forwarder;
};

Agent::Agent(AgentOptions options, std::function<void(const std::string&)> log)
    : options_(std::move(options)), log_(std::move(log)) {}

Agent::~Agent() {
  for (auto& slot : slots_) {
    if (slot->pid > 0) ::kill(-slot->pid, SIGKILL);
    if (slot->forwarder.joinable()) slot->forwarder.join();
  }
}

StatusOr<std::unique_ptr<Agent>> Agent::Create(AgentOptions options, std::function<void(const std::string&)> log) {
  if (options.np < 1 || options.slots < 0 || options.ranks < 0) {
    return absl::InvalidArgumentError(absl::StrCat("--np must be >= 1 and --slots, --ranks >= 0, got ", options.np,
                                                   ", ", options.slots, " and ", options.ranks));
  }
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  if (options.ranks == 0) options.ranks = std::max(cores, options.np);
  if (options.np > options.ranks) {
    return absl::InvalidArgumentError(absl::StrCat("--np ", options.np, " is more than the agent's --ranks ", options.ranks));
  }
  if (options.slots == 0) options.slots = options.ranks;
  if (options.worker_binary.empty()) {
    std::error_code ec;
    std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
    options.worker_binary = (self.parent_path() / "tutti-worker").string();
  }
  if (::access(options.worker_binary.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(options.worker_binary, ": tutti-worker not found or not executable (--worker)"));
  }
  if (options.work_dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    options.work_dir = absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/tutti-agent-", ::getpid());
  }
  TUTTI_RETURN_IF_ERROR(CreateDirectories(options.work_dir));
  std::unique_ptr<Agent> agent(new Agent(std::move(options), std::move(log)));
  TUTTI_ASSIGN_OR_RETURN(agent->connection_, rpc::Connection::Create(agent->options_.connection));
  agent->threads_per_rank_ = agent->options_.threads_per_rank > 0 ? agent->options_.threads_per_rank
                                                                   : std::max(1, cores / agent->options_.ranks);
  for (int i = 0; i < agent->options_.slots; ++i) {
    auto slot = std::make_unique<Slot>();
    slot->index = i + 1;
    agent->slots_.push_back(std::move(slot));
  }
  return agent;
}

std::vector<std::string> Agent::WorkerCommand(const Slot& slot) const {
  std::vector<std::string> args = {options_.mpirun};
  if (::geteuid() == 0) args.push_back("--allow-run-as-root");
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  if (options_.ranks > cores) args.push_back("--oversubscribe");
  // Each rank sets its own thread count; binding ranks to single cores would squeeze those threads.
  args.insert(args.end(), {"--bind-to", "none", "-np", std::to_string(slot.ranks)});
  args.insert(args.end(), options_.mpirun_args.begin(), options_.mpirun_args.end());
  args.insert(args.end(), {options_.worker_binary, "--coordinator", options_.connection.address, "--lease",
                           slot.lease_id, "--work-dir", slot.dir, "--threads-per-rank",
                           std::to_string(threads_per_rank_)});
  if (!options_.token_file.empty()) args.insert(args.end(), {"--token-file", options_.token_file});
  if (!options_.connection.tls_ca_file.empty()) args.insert(args.end(), {"--tls-ca", options_.connection.tls_ca_file});
  return args;
}

int Agent::UsedRanks() const {
  int used = 0;
  for (const auto& slot : slots_) {
    if (slot->pid > 0) used += slot->ranks;
  }
  return used;
}

Status Agent::StartTrial(Slot& slot, int free_ranks) {
  auto stub = v1::WorkerService::NewStub(connection_->channel());
  v1::LeaseTrialRequest request;
  request.set_worker(absl::StrCat("agent ", Hostname(), ":", ::getpid(), " slot ", slot.index));
  request.set_ranks(free_ranks);
  request.set_default_ranks(options_.np);
  request.set_max_ranks(options_.ranks);
  v1::LeaseTrialResponse response;
  std::unique_ptr<grpc::ClientContext> context = connection_->NewContext(std::chrono::seconds(10));
  TUTTI_RETURN_IF_ERROR(connection_->FromGrpc(stub->LeaseTrial(context.get(), request, &response), "leasing a trial"));
  // Said once per trial, whether or not something else was leased: a too-big trial never blocks the
  // queue behind it, but people should know why it waits.
  if (response.unfit_trial_id() != 0 && response.unfit_trial_id() != unfit_reported_) {
    unfit_reported_ = response.unfit_trial_id();
    log_(absl::StrCat("agent: trial ", response.unfit_trial_id(), " needs ", response.unfit_ranks(),
                      " ranks, more than this agent gives (--ranks ", options_.ranks,
                      "); it is left queued for a bigger agent"));
  }
  if (!response.leased()) return absl::NotFoundError("no trial queued that fits");
  slot.lease_id = response.lease_id();
  slot.trial_id = response.trial().id();
  slot.ranks = response.trial().ranks() > 0 ? response.trial().ranks() : options_.np;
  slot.dir = absl::StrCat(options_.work_dir, "/slot-", slot.index);
  TUTTI_RETURN_IF_ERROR(CreateDirectories(slot.dir));

  const std::vector<std::string> args = WorkerCommand(slot);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, defaults;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(pipe_fds[1]);
  if (rc != 0) {
    ::close(pipe_fds[0]);
    // Give the trial back so another agent (or a later try) can run it.
    v1::FailTrialRequest fail;
    fail.set_lease_id(slot.lease_id);
    fail.set_trial_id(slot.trial_id);
    fail.set_message(absl::StrCat("the agent could not start ", args[0], ": ", std::strerror(rc)));
    fail.set_retryable(true);
    v1::FailTrialResponse ignored;
    std::unique_ptr<grpc::ClientContext> c = connection_->NewContext(std::chrono::seconds(10));
    (void)stub->FailTrial(c.get(), fail, &ignored);
    return absl::FailedPreconditionError(absl::StrCat("cannot start ", args[0], ": ", std::strerror(rc),
                                                      " (is Open MPI installed? --mpirun)"));
  }
  slot.pid = pid;
  const std::string prefix = absl::StrCat("[trial ", slot.trial_id, "] ");
  slot.forwarder = std::thread([fd = pipe_fds[0], prefix] {
    std::string pending;
    char buffer[4096];
    while (true) {
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      pending.append(buffer, static_cast<size_t>(n));
      size_t newline;
      while ((newline = pending.find_first_of("\n\r")) != std::string::npos) {
        const std::string line = pending.substr(0, newline);
        pending.erase(0, newline + 1);
        if (!line.empty()) std::fprintf(stderr, "%s%s\n", prefix.c_str(), line.c_str());
      }
    }
    if (!pending.empty()) std::fprintf(stderr, "%s%s\n", prefix.c_str(), pending.c_str());
    ::close(fd);
  });
  std::string command;
  for (const std::string& a : args) command += (command.empty() ? "" : " ") + a;
  log_(absl::StrCat("slot ", slot.index, ": trial ", slot.trial_id, " of experiment ", response.trial().experiment_id(),
                    ", step ", response.trial().step(), " of ", response.trial().target_steps(),
                    response.has_resume_from() ? absl::StrCat(", resuming from checkpoint ", response.resume_from().id())
                                               : std::string(),
                    ": ", command, " (pid ", pid, ")"));
  return absl::OkStatus();
}

void Agent::Reap(Slot& slot, int wait_status) {
  if (slot.forwarder.joinable()) slot.forwarder.join();
  const bool clean = WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
  if (clean) {
    log_(absl::StrCat("slot ", slot.index, ": trial ", slot.trial_id, " worker finished"));
  } else {
    // The worker may have reported its failure itself; then the lease is gone and this is refused quietly.
    auto stub = v1::WorkerService::NewStub(connection_->channel());
    v1::FailTrialRequest fail;
    fail.set_lease_id(slot.lease_id);
    fail.set_trial_id(slot.trial_id);
    fail.set_message(absl::StrCat("the worker (mpirun -np ", options_.np, ") ", DescribeExit(wait_status)));
    fail.set_retryable(true);
    v1::FailTrialResponse response;
    std::unique_ptr<grpc::ClientContext> context = connection_->NewContext(std::chrono::seconds(10));
    Status s = connection_->FromGrpc(stub->FailTrial(context.get(), fail, &response), "reporting the worker's exit");
    log_(absl::StrCat("slot ", slot.index, ": trial ", slot.trial_id, " worker ", DescribeExit(wait_status),
                      s.ok() ? absl::StrCat("; trial ", slot.trial_id, ": ", response.trial().message())
                             : std::string("; it had already reported")));
  }
  if (!options_.keep_work_dirs) RemoveAllQuietly(slot.dir);
  slot.pid = -1;
  slot.lease_id.clear();
  slot.trial_id = 0;
}

Status Agent::Run() {
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  log_(absl::StrCat("agent: ", options_.ranks, " rank(s) to give (", options_.np, " per trial unless it says), ",
                    threads_per_rank_, " thread(s) per rank, coordinator ", connection_->address(), ", work dir ",
                    options_.work_dir));
  bool stop_sent = false;
  int64_t next_lease_ms = 0;
  int64_t idle_since_ms = 0;
  bool warned_unreachable = false;
  while (true) {
    const int signals = g_signals.load();
    if (signals >= 2) {
      for (auto& slot : slots_) {
        if (slot->pid > 0) ::kill(-slot->pid, SIGTERM);
      }
      log_("agent: second interrupt: terminated the workers");
      for (auto& slot : slots_) {
        int status = 0;
        if (slot->pid > 0 && ::waitpid(slot->pid, &status, 0) == slot->pid) Reap(*slot, status);
      }
      return absl::CancelledError("interrupted twice");
    }
    if (signals >= 1 && !stop_sent) {
      stop_sent = true;
      int running = 0;
      for (auto& slot : slots_) {
        if (slot->pid > 0) {
          ::kill(slot->pid, kWorkerStopSignal);
          ++running;
        }
      }
      log_(absl::StrCat("agent: interrupted: asked ", running,
                        " worker(s) to checkpoint and hand their trials back (Ctrl-C again to terminate them)"));
    }
    int running = 0;
    for (auto& slot : slots_) {
      if (slot->pid <= 0) continue;
      int status = 0;
      const pid_t done = ::waitpid(slot->pid, &status, WNOHANG);
      if (done == slot->pid) {
        Reap(*slot, status);
      } else {
        ++running;
      }
    }
    if (stop_sent && running == 0) return absl::CancelledError("interrupted");

    bool queue_empty = false;
    if (!stop_sent && NowMs() >= next_lease_ms) {
      for (auto& slot : slots_) {
        if (slot->pid > 0) continue;
        const int free_ranks = options_.ranks - UsedRanks();
        if (free_ranks <= 0) break;
        Status s = StartTrial(*slot, free_ranks);
        if (s.ok()) {
          ++running;
          warned_unreachable = false;
          continue;
        }
        if (s.code() == absl::StatusCode::kNotFound) {
          queue_empty = true;
        } else if (rpc::IsTransient(s)) {
          if (!warned_unreachable) log_(absl::StrCat("agent: ", std::string(s.message()), "; retrying"));
          warned_unreachable = true;
        } else {
          return s;  // UNAUTHENTICATED, a missing mpirun, ...: nothing will get better by retrying
        }
        next_lease_ms = NowMs() + static_cast<int64_t>(options_.poll_seconds * 1000);
        break;
      }
    }
    if (options_.exit_when_idle) {
      if (running == 0 && queue_empty) {
        if (idle_since_ms == 0) idle_since_ms = NowMs();
        if (NowMs() - idle_since_ms >= static_cast<int64_t>(options_.idle_exit_seconds * 1000)) {
          log_("agent: no trial queued and none running: exiting");
          return absl::OkStatus();
        }
      } else if (running > 0) {
        idle_since_ms = 0;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace tutti::coord
