// Coordinator report throughput: W simulated workers (W = 1, 16, 64 by default), each holding the lease of
// its own trial and reporting metrics as fast as the coordinator answers, against one real
// CoordinatorServer (SQLite store, WAL) on 127.0.0.1 in this process. Each worker has its own gRPC channel
// (its own TCP connection, as separate machines would) and also heartbeats once a second.
//
// Prints per W: reports/s (one report = one ReportMetrics call carrying --points metric points), p50 / p99
// latency of a report, heartbeats, and then VERIFIES that the store holds exactly the points every
// worker got an OK for (no report dropped, none duplicated); exits 1 when it does not.
//
// Usage: tutti-bench-coordinator [--workers 1,16,64] [--seconds 5] [--points 1]

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "coordinator/server/coordinator_server.h"
#include "tutti/v1/experiment_service.grpc.pb.h"
#include "tutti/v1/worker_service.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;

std::vector<int> ParseList(const std::string& text) {
  std::vector<int> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    out.push_back(std::atoi(text.substr(start, comma - start).c_str()));
    start = comma + 1;
  }
  return out;
}

std::shared_ptr<grpc::Channel> OwnChannel(const std::string& address, int id) {
  grpc::ChannelArguments args;
  // A distinct argument value keeps gRPC from sharing one TCP connection between channels.
  args.SetInt("tutti.bench.worker", id);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

struct WorkerResult {
  int64_t reports_ok = 0;
  int64_t heartbeats = 0;
  int64_t errors = 0;
  std::vector<double> latencies_ms;
};

double Percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  const size_t k = std::min(values.size() - 1, static_cast<size_t>(p * static_cast<double>(values.size())));
  std::nth_element(values.begin(), values.begin() + static_cast<long>(k), values.end());
  return values[k];
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> worker_counts = {1, 16, 64};
  double seconds = 5;
  int points = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--workers") worker_counts = ParseList(argv[i + 1]);
    else if (flag == "--seconds") seconds = std::atof(argv[i + 1]);
    else if (flag == "--points") points = std::atoi(argv[i + 1]);
  }
  const std::string home =
      (std::filesystem::temp_directory_path() / ("tutti-bench-coordinator-" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(home);
  tutti::coord::CoordinatorServerOptions options;
  options.home = home;
  options.listen = "127.0.0.1:0";
  options.lifecycle.lease_ttl_ms = 600'000;
  auto server = tutti::coord::CoordinatorServer::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  const std::string address = (*server)->address();
  std::printf("coordinator on %s (SQLite store in %s), %u cores, %d point(s) per report, %.0f s per row\n\n",
              address.c_str(), home.c_str(), std::thread::hardware_concurrency(), points, seconds);
  std::printf("%8s %12s %10s %10s %10s %12s %s\n", "workers", "reports/s", "p50 ms", "p99 ms", "max ms",
              "heartbeats", "verified");
  bool all_verified = true;
  for (int workers : worker_counts) {
    // One experiment per worker, leased up front.
    auto admin = tutti::v1::ExperimentService::NewStub(OwnChannel(address, -1));
    auto admin_worker = tutti::v1::WorkerService::NewStub(OwnChannel(address, -2));
    std::vector<std::pair<std::string, int64_t>> leases;
    for (int w = 0; w < workers; ++w) {
      tutti::v1::SubmitExperimentRequest submit;
      submit.set_config_yaml("name: bench\ntrain:\n  steps: 100000000\n");
      submit.set_source_name("bench.yaml");
      tutti::v1::SubmitExperimentResponse submitted;
      grpc::ClientContext c1;
      if (!admin->SubmitExperiment(&c1, submit, &submitted).ok()) return 1;
      tutti::v1::LeaseTrialRequest lease;
      lease.set_worker("bench:" + std::to_string(w));
      tutti::v1::LeaseTrialResponse leased;
      grpc::ClientContext c2;
      if (!admin_worker->LeaseTrial(&c2, lease, &leased).ok() || !leased.leased()) return 1;
      leases.emplace_back(leased.lease_id(), leased.trial().id());
    }
    std::vector<WorkerResult> results(static_cast<size_t>(workers));
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    const auto start = Clock::now();
    for (int w = 0; w < workers; ++w) {
      threads.emplace_back([&, w] {
        auto stub = tutti::v1::WorkerService::NewStub(OwnChannel(address, w));
        WorkerResult& r = results[static_cast<size_t>(w)];
        r.latencies_ms.reserve(100'000);
        int64_t step = 0;
        auto next_beat = Clock::now() + std::chrono::seconds(1);
        while (!stop.load()) {
          tutti::v1::ReportMetricsRequest report;
          report.set_lease_id(leases[static_cast<size_t>(w)].first);
          report.set_trial_id(leases[static_cast<size_t>(w)].second);
          for (int p = 0; p < points; ++p) {
            tutti::v1::MetricPoint* point = report.add_points();
            point->set_step(++step);
            point->set_kind("train");
            (*point->mutable_values())["d_loss"] = -1.5;
            (*point->mutable_values())["g_loss"] = 0.75;
            (*point->mutable_values())["wasserstein"] = 2.0;
            (*point->mutable_values())["steps_per_s"] = 10.0;
          }
          tutti::v1::ReportMetricsResponse reply;
          grpc::ClientContext context;
          context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
          const auto t0 = Clock::now();
          grpc::Status status = stub->ReportMetrics(&context, report, &reply);
          const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
          if (status.ok()) {
            ++r.reports_ok;
            r.latencies_ms.push_back(ms);
          } else {
            ++r.errors;
            step -= points;  // not stored: the verification expects only acknowledged points
          }
          if (Clock::now() >= next_beat) {
            tutti::v1::HeartbeatRequest beat;
            beat.set_lease_id(report.lease_id());
            beat.set_trial_id(report.trial_id());
            beat.set_step(step);
            tutti::v1::HeartbeatResponse beat_reply;
            grpc::ClientContext bc;
            if (stub->Heartbeat(&bc, beat, &beat_reply).ok()) ++r.heartbeats;
            next_beat += std::chrono::seconds(1);
          }
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (std::thread& t : threads) t.join();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    std::vector<double> all;
    int64_t reports = 0, beats = 0, errors = 0;
    bool verified = true;
    for (int w = 0; w < workers; ++w) {
      const WorkerResult& r = results[static_cast<size_t>(w)];
      reports += r.reports_ok;
      beats += r.heartbeats;
      errors += r.errors;
      all.insert(all.end(), r.latencies_ms.begin(), r.latencies_ms.end());
      // Every acknowledged point is in the store, exactly once.
      auto stored = (*server)->store().ReadMetrics(leases[static_cast<size_t>(w)].second, 0, 1 << 30);
      if (!stored.ok() || static_cast<int64_t>(stored->size()) != r.reports_ok * points) verified = false;
    }
    all_verified = all_verified && verified && errors == 0;
    std::vector<double> copy = all;
    std::printf("%8d %12.0f %10.2f %10.2f %10.2f %12lld %s%s\n", workers, static_cast<double>(reports) / elapsed,
                Percentile(copy, 0.50), Percentile(copy, 0.99), all.empty() ? 0 : *std::max_element(all.begin(), all.end()),
                static_cast<long long>(beats), verified ? "yes" : "NO",
                errors > 0 ? (" (" + std::to_string(errors) + " errors)").c_str() : "");
    std::fflush(stdout);
  }
  (*server)->Shutdown(std::chrono::milliseconds(1000));
  std::filesystem::remove_all(home);
  std::printf("\ngoal: >= 5000 reports/s and p99 < 20 ms at 64 workers\n");
  return all_verified ? 0 : 1;
}
