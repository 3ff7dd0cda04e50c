// Coordinator soak: W simulated workers (200 by default) hold one leased trial each and behave as the real
// worker does (worker/coord: a metric batch every --report-ms, a heartbeat every --heartbeat-ms, each on its
// own gRPC channel, i.e. its own TCP connection) against a real `tutti-coordinator` PROCESS for --minutes.
// The coordinator runs as its own process so that its memory can be read from /proc without the simulated
// workers' memory mixed in.
//
// Prints one row per window (--window-s): reports and heartbeats acknowledged in it, errors, p50 / p99 / max
// latency of a report, the coordinator's resident memory (VmRSS), threads and open files, and the size of its
// database (+ WAL). At the end, after a clean SIGTERM, it opens the coordinator's SQLite file and checks that
// every acknowledged point is stored exactly once (no report dropped, none duplicated), then prints the
// verdicts: memory growth between the first window after warm-up and the last, and p99 stability (the worst
// window's p99 against the median window's).
// Exits 1 when a point is missing, a report failed, or the coordinator died.
//
// Usage: tutti-bench-soak [--workers 200] [--minutes 10] [--window-s 60] [--report-ms 1000] [--points 10]
//                         [--heartbeat-ms 5000] [--coordinator PATH]   (default: tutti-coordinator beside this)

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "coordinator/store/sqlite_store.h"
#include "tutti/v1/experiment_service.grpc.pb.h"
#include "tutti/v1/worker_service.grpc.pb.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Flags {
  int workers = 200;
  double minutes = 10;
  double window_s = 60;
  int report_ms = 1000;
  int points = 10;
  int heartbeat_ms = 5000;
  std::string coordinator;
};

std::shared_ptr<grpc::Channel> OwnChannel(const std::string& address, int id) {
  grpc::ChannelArguments args;
  // A distinct argument value keeps gRPC from sharing one TCP connection between channels.
  args.SetInt("tutti.bench.worker", id);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  const size_t k = std::min(values.size() - 1, static_cast<size_t>(p * static_cast<double>(values.size())));
  std::nth_element(values.begin(), values.begin() + static_cast<long>(k), values.end());
  return values[k];
}

// "VmRSS:   12345 kB" -> MiB; "Threads:  17" -> 17. 0 when the process is gone.
double ProcStatusField(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::atof(line.c_str() + key.size() + 1);
  }
  return 0;
}

int OpenFiles(pid_t pid) {
  std::error_code ec;
  int n = 0;
  for (auto it = fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

double FileMiB(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return ec ? 0 : static_cast<double>(size) / (1 << 20);
}

// What the workers share with the main thread: the current window's latencies and counters.
struct Window {
  std::mutex mu;
  std::vector<double> latencies_ms;
  int64_t reports = 0;
  int64_t heartbeats = 0;
  int64_t errors = 0;
  std::string first_error;
};

struct Lease {
  std::string lease_id;
  int64_t trial_id = 0;
  int64_t acknowledged_points = 0;  // written by its worker thread only, read after join
};

void RunWorker(const std::string& address, int w, const Flags& flags, Lease* lease, Window* window,
               const std::atomic<bool>* stop) {
  auto stub = tutti::v1::WorkerService::NewStub(OwnChannel(address, w));
  // Spread the workers over the first period, as real ones that started at different times are.
  std::mt19937 rng(static_cast<uint32_t>(w) + 1);
  auto next_report = Clock::now() + std::chrono::milliseconds(rng() % static_cast<uint32_t>(flags.report_ms));
  auto next_beat = Clock::now() + std::chrono::milliseconds(rng() % static_cast<uint32_t>(flags.heartbeat_ms));
  int64_t step = 0;
  while (!stop->load()) {
    const auto wake = std::min(next_report, next_beat);
    std::this_thread::sleep_until(wake);
    if (stop->load()) break;
    if (Clock::now() >= next_report) {
      next_report += std::chrono::milliseconds(flags.report_ms);
      tutti::v1::ReportMetricsRequest report;
      report.set_lease_id(lease->lease_id);
      report.set_trial_id(lease->trial_id);
      for (int p = 0; p < flags.points; ++p) {
        tutti::v1::MetricPoint* point = report.add_points();
        point->set_step(step + p + 1);
        point->set_kind("train");
        (*point->mutable_values())["d_loss"] = -1.5;
        (*point->mutable_values())["g_loss"] = 0.75;
        (*point->mutable_values())["wasserstein"] = 2.0;
        (*point->mutable_values())["steps_per_s"] = 10.0;
      }
      tutti::v1::ReportMetricsResponse reply;
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      const auto t0 = Clock::now();
      const grpc::Status status = stub->ReportMetrics(&context, report, &reply);
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      std::lock_guard<std::mutex> lock(window->mu);
      if (status.ok()) {
        step += flags.points;
        lease->acknowledged_points += flags.points;
        ++window->reports;
        window->latencies_ms.push_back(ms);
      } else {
        ++window->errors;
        if (window->first_error.empty()) window->first_error = "ReportMetrics: " + status.error_message();
      }
    }
    if (Clock::now() >= next_beat) {
      next_beat += std::chrono::milliseconds(flags.heartbeat_ms);
      tutti::v1::HeartbeatRequest beat;
      beat.set_lease_id(lease->lease_id);
      beat.set_trial_id(lease->trial_id);
      beat.set_step(step);
      tutti::v1::HeartbeatResponse reply;
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      const grpc::Status status = stub->Heartbeat(&context, beat, &reply);
      std::lock_guard<std::mutex> lock(window->mu);
      if (status.ok()) {
        ++window->heartbeats;
      } else {
        ++window->errors;
        if (window->first_error.empty()) window->first_error = "Heartbeat: " + status.error_message();
      }
    }
  }
}

bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") return false;
    if (i + 1 >= argc) {
      std::fprintf(stderr, "error: %s needs a value\n", flag.c_str());
      return false;
    }
    const char* value = argv[++i];
    if (flag == "--workers") flags->workers = std::atoi(value);
    else if (flag == "--minutes") flags->minutes = std::atof(value);
    else if (flag == "--window-s") flags->window_s = std::atof(value);
    else if (flag == "--report-ms") flags->report_ms = std::atoi(value);
    else if (flag == "--points") flags->points = std::atoi(value);
    else if (flag == "--heartbeat-ms") flags->heartbeat_ms = std::atoi(value);
    else if (flag == "--coordinator") flags->coordinator = value;
    else {
      std::fprintf(stderr, "error: unknown flag %s\n", flag.c_str());
      return false;
    }
  }
  if (flags->workers < 1 || flags->minutes <= 0 || flags->window_s <= 0 || flags->report_ms < 1 ||
      flags->points < 1 || flags->heartbeat_ms < 1) {
    std::fprintf(stderr, "error: every value must be positive\n");
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) {
    std::fprintf(stderr,
                 "usage: tutti-bench-soak [--workers 200] [--minutes 10] [--window-s 60] [--report-ms 1000]\n"
                 "                        [--points 10] [--heartbeat-ms 5000] [--coordinator PATH]\n");
    return 2;
  }
  if (flags.coordinator.empty()) {
    flags.coordinator = (fs::canonical("/proc/self/exe").parent_path() / "tutti-coordinator").string();
  }
  const std::string home = (fs::temp_directory_path() / ("tutti-bench-soak-" + std::to_string(::getpid()))).string();
  fs::remove_all(home);
  fs::create_directories(home);
  const std::string address_file = home + "/address";

  // The coordinator as the team runs it, with its defaults (lease TTL 30 s: the heartbeats keep leases alive).
  std::vector<std::string> args = {flags.coordinator, "--home",         home + "/state", "--listen",
                                   "127.0.0.1:0",     "--address-file", address_file,    "-q"};
  std::vector<char*> argv_c;
  for (std::string& a : args) argv_c.push_back(a.data());
  argv_c.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, argv_c[0], nullptr, nullptr, argv_c.data(), environ) != 0) {
    std::fprintf(stderr, "error: cannot start %s\n", flags.coordinator.c_str());
    return 1;
  }
  std::string address;
  for (int i = 0; i < 300 && address.empty(); ++i) {
    std::ifstream in(address_file);
    std::getline(in, address);
    if (address.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto stop_coordinator = [&] {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      int status = 0;
      ::waitpid(pid, &status, 0);
      pid = 0;
      return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    return false;
  };
  if (address.empty()) {
    std::fprintf(stderr, "error: the coordinator wrote no address to %s in 30 s\n", address_file.c_str());
    stop_coordinator();
    return 1;
  }

  // One experiment per worker, its trial leased up front.
  std::vector<Lease> leases(static_cast<size_t>(flags.workers));
  {
    auto admin = tutti::v1::ExperimentService::NewStub(OwnChannel(address, -1));
    auto worker = tutti::v1::WorkerService::NewStub(OwnChannel(address, -2));
    for (int w = 0; w < flags.workers; ++w) {
      tutti::v1::SubmitExperimentRequest submit;
      submit.set_config_yaml("name: soak\ntrain:\n  steps: 100000000\n");
      submit.set_source_name("soak.yaml");
      tutti::v1::SubmitExperimentResponse submitted;
      grpc::ClientContext c1;
      grpc::Status s1 = admin->SubmitExperiment(&c1, submit, &submitted);
      tutti::v1::LeaseTrialRequest lease;
      lease.set_worker("soak:" + std::to_string(w));
      tutti::v1::LeaseTrialResponse leased;
      grpc::ClientContext c2;
      grpc::Status s2 = s1.ok() ? worker->LeaseTrial(&c2, lease, &leased) : s1;
      if (!s2.ok() || !leased.leased()) {
        std::fprintf(stderr, "error: setting up worker %d: %s\n", w, s2.error_message().c_str());
        stop_coordinator();
        return 1;
      }
      leases[static_cast<size_t>(w)].lease_id = leased.lease_id();
      leases[static_cast<size_t>(w)].trial_id = leased.trial().id();
    }
  }

  std::printf("coordinator pid %d on %s (home %s), %u cores\n", static_cast<int>(pid), address.c_str(),
              home.c_str(), std::thread::hardware_concurrency());
  std::printf("%d workers, each: %d metric points every %d ms, a heartbeat every %d ms; %.1f min in %.0f s windows\n\n",
              flags.workers, flags.points, flags.report_ms, flags.heartbeat_ms, flags.minutes, flags.window_s);
  std::printf("%6s %9s %9s %7s %8s %8s %8s %9s %8s %6s %9s\n", "min", "reports", "beats", "errors", "p50 ms",
              "p99 ms", "max ms", "RSS MiB", "threads", "fds", "db MiB");

  Window window;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(flags.workers));
  for (int w = 0; w < flags.workers; ++w) {
    threads.emplace_back(RunWorker, address, w, std::cref(flags), &leases[static_cast<size_t>(w)], &window, &stop);
  }

  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(flags.minutes * 60));
  std::vector<double> window_p99, window_rss;
  int64_t total_reports = 0, total_errors = 0;
  std::string first_error;
  bool coordinator_alive = true;
  for (auto next = start; next < end;) {
    next = std::min(end, next + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(flags.window_s)));
    std::this_thread::sleep_until(next);
    std::vector<double> latencies;
    int64_t reports, beats, errors;
    {
      std::lock_guard<std::mutex> lock(window.mu);
      latencies.swap(window.latencies_ms);
      reports = window.reports;
      beats = window.heartbeats;
      errors = window.errors;
      window.reports = window.heartbeats = window.errors = 0;
      if (first_error.empty()) first_error = window.first_error;
    }
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      coordinator_alive = false;
      pid = 0;
    }
    const double rss = coordinator_alive ? ProcStatusField(pid, "VmRSS") / 1024.0 : 0;
    const double p99 = Percentile(latencies, 0.99);
    window_p99.push_back(p99);
    window_rss.push_back(rss);
    total_reports += reports;
    total_errors += errors;
    const double minute = std::chrono::duration<double>(Clock::now() - start).count() / 60;
    std::printf("%6.1f %9lld %9lld %7lld %8.2f %8.2f %8.2f %9.1f %8.0f %6d %9.1f\n", minute,
                static_cast<long long>(reports), static_cast<long long>(beats), static_cast<long long>(errors),
                Percentile(latencies, 0.50), p99,
                latencies.empty() ? 0 : *std::max_element(latencies.begin(), latencies.end()), rss,
                coordinator_alive ? ProcStatusField(pid, "Threads") : 0, coordinator_alive ? OpenFiles(pid) : 0,
                FileMiB(home + "/state/tutti.db") + FileMiB(home + "/state/tutti.db-wal"));
    std::fflush(stdout);
    if (!coordinator_alive) break;
  }
  stop = true;
  for (std::thread& t : threads) t.join();
  const bool clean_exit = coordinator_alive && stop_coordinator();

  // Every acknowledged point is in the database exactly once (read after the coordinator has gone).
  int64_t missing_trials = 0, acknowledged = 0, stored_total = 0;
  auto store = tutti::coord::SqliteStore::Open(home + "/state/tutti.db");
  if (!store.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(store.status().message()).c_str());
    return 1;
  }
  for (const Lease& lease : leases) {
    auto stored = (*store)->ReadMetrics(lease.trial_id, 0, 1 << 30);
    const int64_t n = stored.ok() ? static_cast<int64_t>(stored->size()) : -1;
    acknowledged += lease.acknowledged_points;
    stored_total += std::max<int64_t>(n, 0);
    if (n != lease.acknowledged_points) ++missing_trials;
  }
  store->reset();

  // Verdicts. Warm-up: the first window (connections, SQLite cache filling) is left out of both.
  const size_t first = window_rss.size() > 2 ? 1 : 0;
  const double rss_growth = window_rss.empty() || window_rss[first] <= 0
                                ? 0
                                : (window_rss.back() - window_rss[first]) / window_rss[first] * 100;
  std::vector<double> steady_p99(window_p99.begin() + static_cast<long>(first), window_p99.end());
  const double median_p99 = Percentile(steady_p99, 0.5);
  const double worst_p99 = steady_p99.empty() ? 0 : *std::max_element(steady_p99.begin(), steady_p99.end());
  std::printf("\nreports acknowledged: %lld (%lld metric points); failed calls: %lld%s%s\n",
              static_cast<long long>(total_reports), static_cast<long long>(acknowledged),
              static_cast<long long>(total_errors), first_error.empty() ? "" : "; first: ", first_error.c_str());
  std::printf("stored after shutdown: %lld points; trials whose stored points differ from the acknowledged: %lld\n",
              static_cast<long long>(stored_total), static_cast<long long>(missing_trials));
  std::printf("coordinator: %s; RSS %.1f MiB after warm-up -> %.1f MiB at the end (%+.1f %%)\n",
              clean_exit ? "stopped cleanly on SIGTERM" : "DIED or did not stop cleanly",
              window_rss.empty() ? 0 : window_rss[first], window_rss.empty() ? 0 : window_rss.back(), rss_growth);
  std::printf("report p99 per window after warm-up: median %.2f ms, worst %.2f ms (%.2fx the median)\n", median_p99,
              worst_p99, median_p99 > 0 ? worst_p99 / median_p99 : 0);
  fs::remove_all(home);
  return (missing_trials == 0 && total_errors == 0 && clean_exit) ? 0 : 1;
}
