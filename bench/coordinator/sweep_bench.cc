// A sweep at scale against one coordinator: an ASHA experiment of 1,000 trials served to 200 simulated
// workers (threads with their own gRPC channels) by a real CoordinatorServer with its SQLite store. Each
// worker leases a trial, reports its training metrics in a few batches and its evaluation at the trial's
// length, and completes it; the coordinator's searcher promotes, closes and creates trials as results
// arrive.
//
// Prints: wall time, searcher decisions per second (trials created + promotions + closes, as the
// coordinator carried them out), trials leased per second, report p50/p99 latency, and then VERIFIES that
// every acknowledged metric point is stored (no report dropped), that the searcher made exactly
// max_trials trials and that the experiment ended; exits 1 otherwise.
//
// Usage: tutti-bench-sweep [--trials 1000] [--workers 200] [--reports 3]

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "coordinator/server/coordinator_server.h"
#include "tutti/v1/experiment_service.grpc.pb.h"
#include "tutti/v1/worker_service.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;

std::shared_ptr<grpc::Channel> OwnChannel(const std::string& address, int id) {
  grpc::ChannelArguments args;
  args.SetInt("tutti.bench.worker", id);  // a distinct value: its own TCP connection
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  return c;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

}  // namespace

int main(int argc, char** argv) {
  int trials = 1000, workers = 200, reports = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--trials") trials = std::atoi(argv[i + 1]);
    else if (flag == "--workers") workers = std::atoi(argv[i + 1]);
    else if (flag == "--reports") reports = std::atoi(argv[i + 1]);
  }
  const std::string home =
      (std::filesystem::temp_directory_path() / ("tutti-bench-sweep-" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(home);
  tutti::coord::CoordinatorServerOptions options;
  options.home = home;
  options.listen = "127.0.0.1:0";
  options.lifecycle.lease_ttl_ms = 600'000;
  options.max_threads = workers + 32;
  auto server = tutti::coord::CoordinatorServer::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  const std::string address = (*server)->address();
  const std::string yaml = "name: bench-sweep\ntrain: {steps: 27}\n"
                           "hyperparameters:\n  train.g_lr: {type: log_uniform, min: 0.0001, max: 0.01}\n"
                           "searcher: {name: asha, max_trials: " + std::to_string(trials) +
                           ", max_concurrent_trials: " + std::to_string(workers) +
                           ", max_length: 27, divisor: 3, max_rungs: 3}\n"
                           "early_stopping: {enabled: false}\n";
  auto admin = tutti::v1::ExperimentService::NewStub(OwnChannel(address, -1));
  tutti::v1::SubmitExperimentRequest submit;
  submit.set_config_yaml(yaml);
  submit.set_source_name("bench-sweep.yaml");
  tutti::v1::SubmitExperimentResponse submitted;
  grpc::Status s = admin->SubmitExperiment(Context().get(), submit, &submitted);
  if (!s.ok()) {
    std::fprintf(stderr, "error: submit: %s\n", s.error_message().c_str());
    return 1;
  }
  const int64_t experiment = submitted.experiment().id();
  std::printf("coordinator on %s (SQLite in %s), %u cores: ASHA, %d trials (rungs 3, 9, 27 steps; the best 1/3 go "
              "on), %d simulated workers, %d metric reports per trial leg\n\n",
              address.c_str(), home.c_str(), std::thread::hardware_concurrency(), trials, workers, reports);

  std::mutex mu;
  std::vector<double> latencies;
  std::atomic<int64_t> leases{0}, points_ok{0}, errors{0};
  std::atomic<bool> finished{false};
  std::string first_error;  // guarded by mu
  auto note_error = [&](const grpc::Status& status, const char* what) {
    ++errors;
    std::lock_guard<std::mutex> lock(mu);
    if (first_error.empty()) first_error = std::string(what) + ": " + status.error_message();
  };
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      auto stub = tutti::v1::WorkerService::NewStub(OwnChannel(address, w));
      std::vector<double> mine;
      while (!finished.load()) {
        tutti::v1::LeaseTrialRequest ask;
        ask.set_worker("bench:" + std::to_string(w));
        tutti::v1::LeaseTrialResponse lease;
        grpc::Status leased = stub->LeaseTrial(Context().get(), ask, &lease);
        if (!leased.ok()) {
          note_error(leased, "LeaseTrial");
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          continue;
        }
        if (!lease.leased()) {
          // Idle workers ask again after a pause (agents poll every --poll seconds; 0.1 s here).
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          continue;
        }
        ++leases;
        const tutti::v1::Trial& t = lease.trial();
        const int64_t from = t.step(), to = t.target_steps();
        // A trial's value: a fixed function of its learning rate, so the sweep has a real ranking.
        const double lr = std::stod(t.hparams().at("train.g_lr"));
        for (int r = 1; r <= reports; ++r) {
          tutti::v1::ReportMetricsRequest report;
          report.set_lease_id(lease.lease_id());
          report.set_trial_id(t.id());
          tutti::v1::MetricPoint* p = report.add_points();
          p->set_step(from + (to - from) * r / reports);
          p->set_kind(r == reports ? "eval" : "train");
          (*p->mutable_values())[r == reports ? "realism.score" : "wasserstein"] = r == reports ? lr * 100 : 1.0;
          tutti::v1::ReportMetricsResponse reply;
          const auto t0 = Clock::now();
          grpc::Status reported = stub->ReportMetrics(Context().get(), report, &reply);
          if (reported.ok()) {
            ++points_ok;
            mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
          } else {
            note_error(reported, "ReportMetrics");
          }
        }
        tutti::v1::CompleteTrialRequest complete;
        complete.set_lease_id(lease.lease_id());
        complete.set_trial_id(t.id());
        complete.set_step(to);
        complete.set_stop_reason("completed");
        tutti::v1::CompleteTrialResponse done;
        grpc::Status completed = stub->CompleteTrial(Context().get(), complete, &done);
        if (!completed.ok()) note_error(completed, "CompleteTrial");
      }
      std::lock_guard<std::mutex> lock(mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  // The watcher: the sweep is over when the experiment has ended.
  while (true) {
    // ListExperiments is the cheap way to watch (GetExperiment describes every trial).
    tutti::v1::ListExperimentsResponse list;
    if (admin->ListExperiments(Context().get(), {}, &list).ok() && list.experiments_size() == 1 &&
        list.experiments(0).state() != tutti::v1::EXPERIMENT_ACTIVE) {
      break;
    }
    if (Clock::now() - start > std::chrono::minutes(20)) {
      std::fprintf(stderr, "error: the sweep did not end within 20 minutes\n");
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  finished = true;
  for (std::thread& t : threads) t.join();

  // Verification: trials made, promotions, closes, stored points.
  tutti::v1::GetExperimentRequest get;
  get.set_experiment_id(experiment);
  tutti::v1::GetExperimentResponse got;
  s = admin->GetExperiment(Context().get(), get, &got);
  int promoted = 0, closed = 0, completed = 0, stored_points = 0;
  for (const tutti::v1::Trial& t : got.trials()) {
    if (t.target_steps() > 3) ++promoted;
    if (t.target_steps() == 27) ++completed;
    if (t.stop_reason().rfind("stopped at rung", 0) == 0) ++closed;
    auto rows = (*server)->store().ReadMetrics(t.id(), -1, 1 << 30);
    if (rows.ok()) stored_points += static_cast<int>(rows->size());
  }
  // Every leg of a trial stores `reports` points at distinct steps, except that a promoted trial's new leg
  // starts at the step its previous one ended on, where the eval point of the old leg is replaced by... no:
  // kinds differ (train/eval), so each acknowledged point is one stored row unless two legs share a step
  // and kind. Legs end with an eval at the rung length and start after it: all distinct.
  const int decisions = got.trials_size() + promoted + closed;
  const bool ok = s.ok() && got.experiment().state() == tutti::v1::EXPERIMENT_COMPLETED &&
                  got.trials_size() == trials && errors.load() == 0 && stored_points == points_ok.load();
  std::printf("%-34s %10.1f s\n", "sweep wall time", elapsed);
  std::printf("%-34s %10d (%d trials, %d promotions, %d closes at a rung)\n", "searcher decisions carried out",
              decisions, got.trials_size(), promoted, closed);
  std::printf("%-34s %10.0f /s\n", "decisions", decisions / elapsed);
  std::printf("%-34s %10.0f /s (%lld legs)\n", "leases", leases.load() / elapsed, static_cast<long long>(leases.load()));
  std::printf("%-34s %10.0f /s\n", "metric reports", points_ok.load() / elapsed);
  std::printf("%-34s %10.2f ms\n", "report latency p50", Percentile(latencies, 0.50));
  std::printf("%-34s %10.2f ms\n", "report latency p99", Percentile(latencies, 0.99));
  std::printf("%-34s %10s (%d stored of %lld acknowledged, %lld errors; experiment %s, %d trials, %d to the top)\n",
              "verified", ok ? "yes" : "NO", stored_points, static_cast<long long>(points_ok.load()),
              static_cast<long long>(errors.load()),
              tutti::v1::ExperimentState_Name(got.experiment().state()).c_str(), got.trials_size(), completed);
  if (!first_error.empty()) std::printf("first error: %s\n", first_error.c_str());
  (*server)->Shutdown(std::chrono::milliseconds(1000));
  std::filesystem::remove_all(home);
  return ok ? 0 : 1;
}
