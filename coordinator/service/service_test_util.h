#pragma once
// Shared set-up for the service tests: a MemoryStore, a real BlobStore in a temp directory, a ManualClock
// and the lifecycle + registry over them.

#include <filesystem>
#include <memory>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>

#include "coordinator/blob/blob_store.h"
#include "coordinator/service/checkpoint_registry.h"
#include "coordinator/service/clock.h"
#include "coordinator/service/experiment_manager.h"
#include "coordinator/service/trial_lifecycle.h"
#include "coordinator/store/memory_store.h"
#include "core/base/sha256.h"

namespace tutti::coord::testing {

// A job config with every default except the given YAML lines (one line per string).
inline std::string JobYaml(const std::string& extra = "") {
  return "name: test-job\ntrain:\n  steps: 100\n" + extra;
}

struct Fixture {
  std::string dir;
  ManualClock clock;
  std::unique_ptr<MemoryStore> store = std::make_unique<MemoryStore>();
  std::unique_ptr<BlobStore> blobs;
  std::unique_ptr<TrialLifecycle> lifecycle;
  std::unique_ptr<CheckpointRegistry> registry;
  std::unique_ptr<ExperimentManager> manager;
  LifecycleOptions options;

  // `with_manager`: also an ExperimentManager (it then decides when experiments end: only for tests that
  // submit through it).
  explicit Fixture(const std::string& name, LifecycleOptions o = {}, bool with_manager = false)
      : options(o), with_manager_(with_manager) {
    dir = (std::filesystem::temp_directory_path() / ("tutti-service-" + name + "-" + std::to_string(::getpid())))
              .string();
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    Restart();
  }
  ~Fixture() { std::filesystem::remove_all(dir); }

  // New lifecycle, blob store and registry over the same store and directory (a coordinator restart).
  void Restart() {
    manager.reset();
    registry.reset();
    lifecycle.reset();
    blobs.reset();
    auto b = BlobStore::Open(dir + "/blobs");
    EXPECT_TRUE(b.ok()) << b.status();
    blobs = *std::move(b);
    auto l = TrialLifecycle::Create(store.get(), &clock, options);
    EXPECT_TRUE(l.ok()) << l.status();
    lifecycle = *std::move(l);
    auto r = CheckpointRegistry::Create(store.get(), blobs.get(), lifecycle.get(), &clock);
    EXPECT_TRUE(r.ok()) << r.status();
    registry = *std::move(r);
    if (with_manager_) {
      auto m = ExperimentManager::Create(store.get(), lifecycle.get(), &clock);
      EXPECT_TRUE(m.ok()) << m.status();
      manager = *std::move(m);
    }
  }
  bool with_manager_ = false;

  // Submits an experiment with `trials` trials of JobYaml(extra), trial i asking for ranks[i] ranks (0, the
  // worker's default, when `ranks` is shorter); returns their ids.
  std::vector<int64_t> Submit(int trials = 1, const std::string& extra = "", const std::vector<int>& ranks = {}) {
    ExperimentRow e;
    e.name = "test-job";
    e.config_yaml = JobYaml(extra);
    e.submitted_yaml = e.config_yaml;
    e.overrides_json = "[]";
    std::vector<TrialRow> rows(static_cast<size_t>(trials));
    for (size_t i = 0; i < rows.size(); ++i) {
      TrialRow& t = rows[i];
      t.ranks = i < ranks.size() ? ranks[i] : 0;
      t.config_yaml = JobYaml(extra);
      t.target_steps = 100;
      t.max_restarts = options.max_restarts;
    }
    std::vector<TrialRow> created;
    auto stored = lifecycle->Submit(e, rows, &created);
    EXPECT_TRUE(stored.ok()) << stored.status();
    std::vector<int64_t> ids;
    for (const TrialRow& t : created) ids.push_back(t.id);
    return ids;
  }

  LeaseGrant Lease(const std::string& worker = "w:1") {
    auto grant = lifecycle->LeaseNext(worker, 1);
    EXPECT_TRUE(grant.ok()) << grant.status();
    EXPECT_TRUE(grant->has_value());
    return **grant;
  }

  // Uploads `bytes` as the checkpoint of `grant`'s trial at `step`.
  StatusOr<CheckpointRow> Upload(const LeaseGrant& grant, int64_t step, const std::string& bytes,
                                 std::map<std::string, double> metrics = {}) {
    CheckpointAnnouncement a{grant.lease_id, grant.trial.id, step, Sha256Hex(bytes),
                             static_cast<int64_t>(bytes.size()), std::move(metrics)};
    TUTTI_ASSIGN_OR_RETURN(CheckpointRegistry::ReportResult report, registry->Report(a));
    if (!report.upload_required) return *report.checkpoint;
    TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointRegistry::Upload> upload, registry->BeginUpload(a));
    TUTTI_RETURN_IF_ERROR(upload->Append(bytes.data(), bytes.size()));
    return upload->Finish();
  }
};

}  // namespace tutti::coord::testing
