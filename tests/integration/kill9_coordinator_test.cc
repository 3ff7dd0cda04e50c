// kill -9 at any moment, tutti-coordinator (issue 20, item 4): a real coordinator busy with real gRPC
// work — a client submitting experiments, a worker holding a lease that heartbeats, reports metrics and
// uploads checkpoints (1 MiB chunks), another worker leasing queued trials and completing them — is
// SIGKILLed at random instants (half drawn over the first second of work, half while an upload is in
// progress), and restarted on the same home each time. After every restart:
//   - the database passes SQLite's integrity and foreign-key checks (read by the test with its own
//     read-only connection while the coordinator serves);
//   - every checkpoint row's blob exists and re-hashes to its sha256 and size, and downloads over gRPC;
//   - everything a client was told succeeded is there: acknowledged experiments, metric points,
//     checkpoints and completions (acknowledged => durable);
//   - what the killed one left (unfinished uploads in blobs/incoming, blobs renamed into place whose row
//     never committed) is gone, and the coordinator's one start-up line gives exactly those counts.
//
// SQLite's WAL needs nothing from us: the first connection after a crash replays tutti.db-wal up to its
// last committed transaction (frames carry checksums; an uncommitted tail is ignored) and rebuilds the
// -shm index. This test is what checks that claim.

#include <sqlite3.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>

#include <gtest/gtest.h>

#include "tests/integration/coordinator_test_util.h"
#include "tests/integration/kill9_util.h"

namespace tutti::testing {
namespace {

namespace fs = std::filesystem;

constexpr int kRounds = 16;

std::string JobText(const std::string& name) {
  return "name: " + name + "\ntrain:\n  steps: 1000000\ncheckpoint:\n  keep: 100000\n";
}

// Everything the coordinator answered OK to. Guarded by mu.
struct Acknowledged {
  std::mutex mu;
  std::map<int64_t, std::string> experiments;  // id -> name
  std::set<int64_t> metric_steps;              // train points of the main trial
  std::map<int64_t, std::string> checkpoints;  // step -> sha256 of the main trial's uploads
  std::set<int64_t> completed;                 // trials completed by the finisher
};

// A read-only connection to the coordinator's database, beside the coordinator that serves it.
class Database {
 public:
  explicit Database(const std::string& path) {
    ok_ = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK;
    if (ok_) sqlite3_busy_timeout(db_, 10000);
  }
  ~Database() { sqlite3_close(db_); }
  bool ok() const { return ok_; }
  std::string error() const { return db_ != nullptr ? sqlite3_errmsg(db_) : "no connection"; }

  // Every row of `sql` as text columns; a failed query adds a row {"error: ..."}.
  std::vector<std::vector<std::string>> Rows(const std::string& sql) {
    std::vector<std::vector<std::string>> rows;
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
      return {{"error: " + error()}};
    }
    int rc = 0;
    while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(statement); ++i) {
        const unsigned char* text = sqlite3_column_text(statement, i);
        row.push_back(text != nullptr ? reinterpret_cast<const char*>(text) : "");
      }
      rows.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) rows.push_back({"error: " + error()});
    sqlite3_finalize(statement);
    return rows;
  }

 private:
  sqlite3* db_ = nullptr;
  bool ok_ = false;
};

size_t CountFiles(const std::string& dir) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it); it.increment(ec)) {
    if (it->is_regular_file()) ++n;
  }
  return n;
}

std::string BlobPath(const std::string& home, const std::string& sha) {
  return home + "/blobs/sha256/" + sha.substr(0, 2) + "/" + sha;
}

// The three kinds of work, each on its own thread and channel, until `stop`; failures (the coordinator
// died under them) end nothing but the call, and only successes are recorded.
struct Workload {
  std::atomic<bool> stop{false};
  std::atomic<int> failed_calls{0};
  std::vector<std::thread> threads;

  void Start(const std::string& address, int round, int64_t trial, const std::string& lease, Acknowledged* ack,
             std::atomic<int64_t>* next_step, uint64_t seed) {
    threads.emplace_back([=] {  // a user submitting experiments
      Client client(address);
      for (int j = 0; !stop; ++j) {
        const std::string name = "k9-r" + std::to_string(round) + "-" + std::to_string(j);
        v1::SubmitExperimentRequest request;
        request.set_config_yaml(JobText(name));
        request.set_source_name(name + ".yaml");
        v1::SubmitExperimentResponse response;
        if (client.experiments->SubmitExperiment(client.Context(10).get(), request, &response).ok()) {
          std::lock_guard<std::mutex> lock(ack->mu);
          ack->experiments[response.experiment().id()] = name;
        } else {
          ++failed_calls;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
      }
    });
    threads.emplace_back([=] {  // the worker of the main trial: metrics, heartbeats, checkpoints
      Client client(address);
      std::mt19937 rng(static_cast<uint32_t>(seed));
      for (int j = 0; !stop; ++j) {
        v1::ReportMetricsRequest metrics;
        metrics.set_lease_id(lease);
        metrics.set_trial_id(trial);
        std::vector<int64_t> steps;
        for (int k = 0; k < 5; ++k) {
          v1::MetricPoint* p = metrics.add_points();
          p->set_step(next_step->fetch_add(1));
          p->set_kind("train");
          (*p->mutable_values())["d_loss"] = -1.0 + 0.001 * k;
          (*p->mutable_values())["g_loss"] = 0.5;
          steps.push_back(p->step());
        }
        v1::ReportMetricsResponse stored;
        if (client.workers->ReportMetrics(client.Context(10).get(), metrics, &stored).ok()) {
          std::lock_guard<std::mutex> lock(ack->mu);
          ack->metric_steps.insert(steps.begin(), steps.end());
        } else {
          ++failed_calls;
        }
        v1::HeartbeatRequest beat;
        beat.set_lease_id(lease);
        beat.set_trial_id(trial);
        beat.set_step(steps.back());
        v1::HeartbeatResponse beat_reply;
        if (!client.workers->Heartbeat(client.Context(10).get(), beat, &beat_reply).ok()) ++failed_calls;
        if (j % 2 == 0) {
          const int64_t step = steps.back();
          const std::string bytes = RandomBytes((256 << 10) + rng() % (3 << 20), rng());
          if (client.Upload(lease, trial, step, bytes).ok()) {
            std::lock_guard<std::mutex> lock(ack->mu);
            ack->checkpoints[step] = Sha256Hex(bytes);
          } else {
            ++failed_calls;
          }
        }
      }
    });
    threads.emplace_back([=] {  // another worker: lease a queued trial, complete it
      Client client(address);
      while (!stop) {
        v1::LeaseTrialRequest request;
        request.set_worker("kill9-finisher");
        v1::LeaseTrialResponse leased;
        if (!client.workers->LeaseTrial(client.Context(10).get(), request, &leased).ok()) {
          ++failed_calls;
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
          continue;
        }
        if (!leased.leased()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
          continue;
        }
        v1::CompleteTrialRequest complete;
        complete.set_lease_id(leased.lease_id());
        complete.set_trial_id(leased.trial().id());
        complete.set_step(1);
        complete.set_stop_reason("completed");
        v1::CompleteTrialResponse done;
        if (client.workers->CompleteTrial(client.Context(10).get(), complete, &done).ok()) {
          std::lock_guard<std::mutex> lock(ack->mu);
          ack->completed.insert(leased.trial().id());
        } else {
          ++failed_calls;
        }
      }
    });
  }
  void Join() {
    stop = true;
    for (std::thread& t : threads) t.join();
    threads.clear();
  }
};

TEST(Kill9Test, CoordinatorKeepsWhatItAcknowledgedAndCleansUpAfterEveryKill) {
  const uint64_t seed = Kill9Seed();
  std::mt19937_64 rng(seed);
  const std::string dir = FreshTempDir("kill9_coordinator");
  const std::string home = dir + "/home";
  CoordinatorProcess coordinator(home, {"--lease-seconds", "600"});
  ASSERT_TRUE(coordinator.Start()) << coordinator.error();

  Acknowledged ack;
  int64_t trial = 0;
  std::string lease;
  {
    Client client(coordinator.address());
    v1::SubmitExperimentRequest request;
    request.set_config_yaml(JobText("k9-main"));
    request.set_source_name("k9-main.yaml");
    v1::SubmitExperimentResponse response;
    ASSERT_TRUE(client.experiments->SubmitExperiment(client.Context().get(), request, &response).ok());
    ack.experiments[response.experiment().id()] = "k9-main";
    trial = response.trials(0).id();
    v1::LeaseTrialResponse leased = client.Lease();
    ASSERT_TRUE(leased.leased());
    ASSERT_EQ(leased.trial().id(), trial);
    lease = leased.lease_id();
  }

  std::atomic<int64_t> next_step{1};
  std::set<std::string> verified;  // blobs already re-hashed (blobs are immutable: once is enough per sha)
  int rounds_with_uploads_cut = 0, uploads_removed = 0, orphans_removed = 0, failed_calls = 0;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round) + ", seed " + std::to_string(seed));
    Workload work;
    work.Start(coordinator.address(), round, trial, lease, &ack, &next_step, rng());
    if (round % 2 == 0) {
      std::this_thread::sleep_for(std::chrono::duration<double>(std::uniform_real_distribution<double>(0.1, 1.2)(rng)));
    } else {
      // Aim at an upload: wait for its file in blobs/incoming, then kill within the time it takes.
      const auto start = std::chrono::steady_clock::now();
      while (CountFiles(home + "/blobs/incoming") == 0 && SecondsSince(start) < 5) {
        std::this_thread::sleep_for(std::chrono::microseconds(500));
      }
      std::this_thread::sleep_for(std::chrono::duration<double>(std::uniform_real_distribution<double>(0, 0.03)(rng)));
    }
    coordinator.Kill();
    work.Join();
    failed_calls += work.failed_calls;

    // What the killed coordinator left, then the restart on the same home.
    const size_t incoming = CountFiles(home + "/blobs/incoming");
    const size_t blobs = CountFiles(home + "/blobs/sha256");
    ASSERT_TRUE(coordinator.Start()) << coordinator.error();
    Database db(home + "/tutti.db");
    ASSERT_TRUE(db.ok()) << db.error();
    ASSERT_EQ(db.Rows("PRAGMA integrity_check"), (std::vector<std::vector<std::string>>{{"ok"}}));
    ASSERT_EQ(db.Rows("PRAGMA foreign_key_check"), (std::vector<std::vector<std::string>>{}));

    // Every row's blob is there and is what the row says.
    std::set<std::string> named;
    std::map<int64_t, std::string> stored_checkpoints;
    for (const auto& row : db.Rows("SELECT trial_id, step, sha256, size_bytes FROM checkpoints")) {
      ASSERT_EQ(row.size(), 4u) << row[0];
      named.insert(row[2]);
      if (std::stoll(row[0]) == trial) stored_checkpoints[std::stoll(row[1])] = row[2];
      if (verified.count(row[2]) != 0) continue;
      const std::string bytes = Slurp(BlobPath(home, row[2]));
      ASSERT_EQ(Sha256Hex(bytes), row[2]) << "blob of checkpoint step " << row[1];
      ASSERT_EQ(std::to_string(bytes.size()), row[3]);
      verified.insert(row[2]);
    }
    for (const auto& row : db.Rows("SELECT DISTINCT sha256 FROM pack_blobs")) named.insert(row[0]);

    // The start-up line counts exactly what was left: unfinished uploads, and blobs no row names.
    const size_t orphans = blobs - std::min(blobs, named.size());
    const std::vector<std::string> recovered = LinesWith(coordinator.log(), "recovered at start: ");
    if (incoming + orphans > 0) {
      ASSERT_EQ(recovered.size(), 1u) << coordinator.log();
      EXPECT_NE(recovered[0].find("recovered at start: " + std::to_string(incoming) + " unfinished upload(s) removed, 0 "
                                  "interrupted deletion(s) finished, " + std::to_string(orphans) +
                                  " unrecorded blob(s) removed"),
                std::string::npos)
          << recovered[0];
    } else {
      EXPECT_EQ(recovered.size(), 0u) << coordinator.log();
    }
    rounds_with_uploads_cut += incoming > 0;
    uploads_removed += static_cast<int>(incoming);
    orphans_removed += static_cast<int>(orphans);
    EXPECT_EQ(CountFiles(home + "/blobs/incoming"), 0u);
    EXPECT_EQ(CountFiles(home + "/blobs/sha256"), named.size()) << "a blob no row names survived the start";

    // Acknowledged => durable.
    std::lock_guard<std::mutex> lock(ack.mu);
    std::map<int64_t, std::string> experiments;
    for (const auto& row : db.Rows("SELECT id, name FROM experiments")) experiments[std::stoll(row[0])] = row[1];
    for (const auto& [id, name] : ack.experiments) {
      ASSERT_EQ(experiments.count(id), 1u) << "acknowledged experiment " << id << " (" << name << ") is gone";
      EXPECT_EQ(experiments[id], name);
    }
    std::set<int64_t> metric_steps;
    for (const auto& row : db.Rows("SELECT step FROM metrics WHERE kind = 'train' AND trial_id = " + std::to_string(trial))) {
      metric_steps.insert(std::stoll(row[0]));
    }
    for (int64_t step : ack.metric_steps) ASSERT_EQ(metric_steps.count(step), 1u) << "metric at step " << step;
    for (const auto& [step, sha] : ack.checkpoints) {
      ASSERT_EQ(stored_checkpoints.count(step), 1u) << "acknowledged checkpoint at step " << step << " is gone";
      EXPECT_EQ(stored_checkpoints[step], sha);
    }
    Client client(coordinator.address());
    for (int64_t id : ack.completed) EXPECT_EQ(client.Trial(id).state(), v1::TRIAL_COMPLETED) << "trial " << id;
    EXPECT_EQ(client.Trial(trial).state(), v1::TRIAL_RUNNING) << "the held lease survives restarts";
    // The newest stored checkpoint downloads whole over gRPC from the restarted coordinator.
    const std::vector<v1::Checkpoint> listed = client.List(trial);
    EXPECT_EQ(listed.size(), stored_checkpoints.size());
    if (!listed.empty()) {
      std::string bytes;
      ASSERT_TRUE(client.Download(listed.back().id(), &bytes).ok());
      EXPECT_EQ(Sha256Hex(bytes), listed.back().sha256());
    }
  }
  EXPECT_EQ(coordinator.Stop(), 0);

  std::printf("[kill9] %d kills of tutti-coordinator (seed %llu): acknowledged %zu experiments, %zu metric points, "
              "%zu checkpoints, %zu completions; %d calls cut by a kill; %d rounds left unfinished uploads (%d "
              "removed at start), %d unrecorded blobs removed\n",
              kRounds, static_cast<unsigned long long>(seed), ack.experiments.size(), ack.metric_steps.size(),
              ack.checkpoints.size(), ack.completed.size(), failed_calls, rounds_with_uploads_cut, uploads_removed,
              orphans_removed);
  // Work went on after every restart, and kills landed in the middle of uploads.
  EXPECT_GE(rounds_with_uploads_cut, 1) << "no kill landed in the middle of an upload";
  EXPECT_GE(ack.checkpoints.size(), static_cast<size_t>(kRounds));
  EXPECT_GE(ack.completed.size(), static_cast<size_t>(kRounds));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tutti::testing
