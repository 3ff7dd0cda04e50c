// Storage faults under SqliteStore, through an SQLite VFS shim (testing/fault_injecting_vfs.h) that fails
// the Nth xOpen / xWrite / xSync / xTruncate with an I/O error or SQLITE_FULL. Each store operation
// (insert an experiment with its trials, add a trial, append metrics, record a checkpoint) runs once to
// count its steps, then once per step with that step failing. The call must return an error naming the
// database file; after closing and reopening with the real VFS the earlier rows are intact, the failed
// change is absent or complete (never partial), and PRAGMA integrity_check is ok. The same for each step of
// the checkpoint SQLite runs when the store is closed, and of opening an existing store.

#include <unistd.h>

#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "coordinator/store/sqlite_store.h"
#include "coordinator/store/testing/fault_injecting_vfs.h"
#include "core/base/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tutti::coord {
namespace {

using ::testing::HasSubstr;
using testing::Describe;
using testing::FaultInjectingVfs;
using testing::VfsCall;
using testing::VfsOp;
using testing::VfsOpName;

ExperimentRow Experiment(const std::string& name) {
  ExperimentRow row;
  row.name = name;
  row.config_yaml = "name: " + name + "\n";
  row.overrides_json = "[]";
  return row;
}

TrialRow Trial(int64_t experiment_id = 0) {
  TrialRow row;
  row.experiment_id = experiment_id;
  row.config_yaml = "train:\n  steps: 100\n";
  return row;
}

// Rows big enough that one AppendMetrics spans many pages (so a torn write can hit its middle).
std::vector<MetricRow> Metrics(int64_t trial_id, int count) {
  std::vector<MetricRow> rows;
  for (int i = 0; i < count; ++i) {
    MetricRow row;
    row.trial_id = trial_id;
    row.step = i;
    row.kind = "train";
    row.values_json = absl::StrCat("{\"loss\": ", i, ", \"pad\": \"", std::string(200, 'p'), "\"}");
    row.time_ms = 1000 + i;
    rows.push_back(row);
  }
  return rows;
}

CheckpointRow Checkpoint(int64_t trial_id, int64_t step) {
  CheckpointRow row;
  row.trial_id = trial_id;
  row.step = step;
  row.sha256 = std::string(63, 'a') + static_cast<char>('0' + step % 10);
  row.size_bytes = 1234;
  return row;
}

// What the earlier rows are (ids assigned by a fresh database, so the same every time).
struct Baseline {
  int64_t experiment = 0;
  int64_t trial1 = 0;
  int64_t trial2 = 0;
};

enum class Outcome { kAbsent, kComplete, kPartial };
const char* OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kAbsent: return "absent";
    case Outcome::kComplete: return "complete";
    case Outcome::kPartial: return "PARTIAL";
  }
  return "?";
}

// One store operation under test: what it does, and how to tell from a reopened store whether its change
// is absent, complete or partial.
struct Operation {
  std::string name;
  std::function<Status(SqliteStore*, const Baseline&)> run;
  std::function<StatusOr<Outcome>(SqliteStore*, const Baseline&)> outcome;
};

std::vector<Operation> Operations() {
  std::vector<Operation> ops;
  ops.push_back({"CreateExperiment with 3 trials",
                 [](SqliteStore* store, const Baseline&) -> Status {
                   return store->CreateExperiment(Experiment("second"), {Trial(), Trial(), Trial()}, nullptr).status();
                 },
                 [](SqliteStore* store, const Baseline&) -> StatusOr<Outcome> {
                   TUTTI_ASSIGN_OR_RETURN(std::vector<ExperimentRow> experiments, store->ListExperiments());
                   TUTTI_ASSIGN_OR_RETURN(std::vector<TrialRow> trials, store->ListAllTrials());
                   if (experiments.size() == 1 && trials.size() == 2) return Outcome::kAbsent;
                   if (experiments.size() == 2 && trials.size() == 5 && experiments[1].name == "second") {
                     return Outcome::kComplete;
                   }
                   return Outcome::kPartial;
                 }});
  ops.push_back({"AddTrial",
                 [](SqliteStore* store, const Baseline& base) -> Status {
                   return store->AddTrial(Trial(base.experiment)).status();
                 },
                 [](SqliteStore* store, const Baseline& base) -> StatusOr<Outcome> {
                   TUTTI_ASSIGN_OR_RETURN(std::vector<TrialRow> trials, store->ListTrials(base.experiment));
                   if (trials.size() == 2) return Outcome::kAbsent;
                   if (trials.size() == 3) return Outcome::kComplete;
                   return Outcome::kPartial;
                 }});
  ops.push_back({"AppendMetrics of 150 points",
                 [](SqliteStore* store, const Baseline& base) -> Status {
                   return store->AppendMetrics(Metrics(base.trial2, 150));
                 },
                 [](SqliteStore* store, const Baseline& base) -> StatusOr<Outcome> {
                   TUTTI_ASSIGN_OR_RETURN(std::vector<MetricRow> rows, store->ReadMetrics(base.trial2, -1, 1000));
                   if (rows.empty()) return Outcome::kAbsent;
                   if (rows.size() == 150 && rows.back().step == 149 && rows.back().values_json.size() > 200) {
                     return Outcome::kComplete;
                   }
                   return Outcome::kPartial;
                 }});
  ops.push_back({"InsertCheckpoint",
                 [](SqliteStore* store, const Baseline& base) -> Status {
                   return store->InsertCheckpoint(Checkpoint(base.trial1, 20)).status();
                 },
                 [](SqliteStore* store, const Baseline& base) -> StatusOr<Outcome> {
                   TUTTI_ASSIGN_OR_RETURN(std::vector<CheckpointRow> rows, store->ListCheckpoints(base.trial1));
                   if (rows.size() == 1) return Outcome::kAbsent;
                   if (rows.size() == 2 && rows[1].step == 20 && rows[1].sha256 == Checkpoint(0, 20).sha256) {
                     return Outcome::kComplete;
                   }
                   return Outcome::kPartial;
                 }});
  return ops;
}

class SqliteFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vfs_ = FaultInjectingVfs::Register("tutti-fault-test");
    ASSERT_NE(vfs_, nullptr);
    dir_ = ::testing::TempDir() + "tutti_sqlite_fault_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    path_ = dir_ + "/tutti.db";
  }
  void TearDown() override { RemoveAllQuietly(dir_); }

  std::unique_ptr<SqliteStore> OpenOnShim() {
    auto store = SqliteStore::Open(path_, SqliteStoreOptions{vfs_->name()});
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  // A new database (on the shim, no faults armed) holding the earlier rows: an experiment with two trials,
  // 10 metric points and a checkpoint record for the first trial.
  std::unique_ptr<SqliteStore> FreshWithBaseline() {
    RemoveAllQuietly(dir_);
    EXPECT_TRUE(CreateDirectories(dir_).ok());
    auto store = OpenOnShim();
    if (store == nullptr) return nullptr;
    std::vector<int64_t> trial_ids;
    auto experiment = store->CreateExperiment(Experiment("first"), {Trial(), Trial()}, &trial_ids);
    EXPECT_TRUE(experiment.ok()) << experiment.status();
    if (!experiment.ok() || trial_ids.size() != 2) return nullptr;
    baseline_ = Baseline{*experiment, trial_ids[0], trial_ids[1]};
    EXPECT_TRUE(store->AppendMetrics(Metrics(baseline_.trial1, 10)).ok());
    EXPECT_TRUE(store->InsertCheckpoint(Checkpoint(baseline_.trial1, 10)).ok());
    return store;
  }

  // Reopens the file with SQLite's real VFS and checks the earlier rows and the file's integrity; returns
  // the store for further checks.
  std::unique_ptr<SqliteStore> ReopenAndCheckBaseline() {
    auto store = SqliteStore::Open(path_);
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return nullptr;
    Status integrity = (*store)->CheckIntegrity();
    EXPECT_TRUE(integrity.ok()) << integrity;
    auto experiment = (*store)->GetExperiment(baseline_.experiment);
    EXPECT_TRUE(experiment.ok() && experiment->name == "first") << experiment.status();
    auto trials = (*store)->ListTrials(baseline_.experiment);
    EXPECT_TRUE(trials.ok() && trials->size() >= 2) << trials.status();
    auto metrics = (*store)->ReadMetrics(baseline_.trial1, -1, 1000);
    EXPECT_TRUE(metrics.ok() && metrics->size() == 10) << metrics.status();
    auto checkpoints = (*store)->ListCheckpoints(baseline_.trial1);
    EXPECT_TRUE(checkpoints.ok() && !checkpoints->empty() && checkpoints->front().step == 10)
        << checkpoints.status();
    return std::move(*store);
  }

  std::unique_ptr<FaultInjectingVfs> vfs_;
  std::string dir_;
  std::string path_;
  Baseline baseline_;
};

std::string OpNames(const std::vector<VfsCall>& calls) {
  std::string names;
  for (const VfsCall& call : calls) absl::StrAppend(&names, names.empty() ? "" : " ", VfsOpName(call.op));
  return names;
}

TEST_F(SqliteFaultTest, EachStepOfEachOperationFailingLeavesTheChangeAbsentOrComplete) {
  for (const Operation& op : Operations()) {
    SCOPED_TRACE(op.name);
    // 1. Count.
    std::vector<VfsCall> steps;
    {
      auto store = FreshWithBaseline();
      ASSERT_NE(store, nullptr);
      vfs_->ResetCounts();
      Status status = op.run(store.get(), baseline_);
      ASSERT_TRUE(status.ok()) << status;
      steps = vfs_->trace();
    }
    ASSERT_FALSE(steps.empty()) << "the operation reached no VFS call: the shim is not in the path";
    std::cout << op.name << ": " << steps.size() << " steps (" << OpNames(steps) << ")\n";

    // 2. Each step failing, with an I/O error and with a full disk.
    for (int code : {FaultInjectingVfs::kIoError, int{SQLITE_FULL}}) {
      for (size_t k = 1; k <= steps.size(); ++k) {
        SCOPED_TRACE(absl::StrCat("step ", k, " (", Describe(steps[k - 1]), ") fails with ",
                                  code == SQLITE_FULL ? "SQLITE_FULL" : "an I/O error"));
        Status status;
        {
          auto store = FreshWithBaseline();
          ASSERT_NE(store, nullptr);
          vfs_->ResetCounts();
          vfs_->FailNthStep(static_cast<int64_t>(k), code);
          status = op.run(store.get(), baseline_);
          vfs_->ClearFaults();
        }  // closed (on the shim, no fault armed)
        ASSERT_EQ(vfs_->injected(), 1) << "the fault was not hit";
        EXPECT_FALSE(status.ok()) << "the operation reported success although its step failed";
        if (k == 1) std::cout << "  e.g. " << status << "\n";
        EXPECT_THAT(std::string(status.message()), HasSubstr(path_));
        if (code == SQLITE_FULL) {
          EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
        }
        auto reopened = ReopenAndCheckBaseline();
        ASSERT_NE(reopened, nullptr);
        auto outcome = op.outcome(reopened.get(), baseline_);
        ASSERT_TRUE(outcome.ok()) << outcome.status();
        EXPECT_NE(*outcome, Outcome::kPartial) << "the failed change is partly there";
        // An error means the change did not happen: a caller retrying must not find it done.
        EXPECT_EQ(*outcome, Outcome::kAbsent) << OutcomeName(*outcome) << " after " << status;
      }
    }
  }
}

TEST_F(SqliteFaultTest, EachStepOfTheCheckpointAtCloseFailingLosesNothingCommitted) {
  const Operation op = Operations()[2];  // AppendMetrics: many pages to copy back into the database file
  // 1. Count the steps of closing the store (SQLite checkpoints the WAL into the database file).
  std::vector<VfsCall> steps;
  {
    auto store = FreshWithBaseline();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(op.run(store.get(), baseline_).ok());
    vfs_->ResetCounts();
    store.reset();
    steps = vfs_->trace();
  }
  std::cout << "close: " << steps.size() << " steps (" << OpNames(steps) << ")\n";
  // The checkpoint syncs and truncates: the shim sees every kind of step here.
  EXPECT_GT(vfs_->calls(VfsOp::kSync), 0);
  EXPECT_GT(vfs_->calls(VfsOp::kWrite), 0);
  EXPECT_GT(vfs_->calls(VfsOp::kTruncate), 0);

  for (int code : {FaultInjectingVfs::kIoError, int{SQLITE_FULL}}) {
    for (size_t k = 1; k <= steps.size(); ++k) {
      SCOPED_TRACE(absl::StrCat("step ", k, " (", Describe(steps[k - 1]), ")"));
      {
        auto store = FreshWithBaseline();
        ASSERT_NE(store, nullptr);
        ASSERT_TRUE(op.run(store.get(), baseline_).ok());
        vfs_->ResetCounts();
        vfs_->FailNthStep(static_cast<int64_t>(k), code);
        store.reset();  // the destructor cannot report it; what matters is what the next open finds
        vfs_->ClearFaults();
      }
      ASSERT_EQ(vfs_->injected(), 1) << "the fault was not hit";
      auto reopened = ReopenAndCheckBaseline();
      ASSERT_NE(reopened, nullptr);
      auto outcome = op.outcome(reopened.get(), baseline_);
      ASSERT_TRUE(outcome.ok()) << outcome.status();
      EXPECT_EQ(*outcome, Outcome::kComplete) << "a committed change was lost: " << OutcomeName(*outcome);
    }
  }
}

TEST_F(SqliteFaultTest, EachStepOfOpeningAnExistingStoreFailingIsAnErrorNamingTheFile) {
  {
    auto store = FreshWithBaseline();
    ASSERT_NE(store, nullptr);
  }
  std::vector<VfsCall> steps;
  {
    vfs_->ResetCounts();
    auto store = OpenOnShim();
    ASSERT_NE(store, nullptr);
    steps = vfs_->trace();
  }
  std::cout << "open: " << steps.size() << " steps (" << OpNames(steps) << ")\n";
  ASSERT_GT(vfs_->calls(VfsOp::kOpen), 0);

  for (size_t k = 1; k <= steps.size(); ++k) {
    SCOPED_TRACE(absl::StrCat("step ", k, " (", Describe(steps[k - 1]), ")"));
    vfs_->ResetCounts();
    vfs_->FailNthStep(static_cast<int64_t>(k), FaultInjectingVfs::kIoError);
    auto store = SqliteStore::Open(path_, SqliteStoreOptions{vfs_->name()});
    vfs_->ClearFaults();
    ASSERT_EQ(vfs_->injected(), 1) << "the fault was not hit";
    if (store.ok()) {
      // SQLite recovered from this one by itself (it retries or does without); the store must then work.
      auto experiments = (*store)->ListExperiments();
      EXPECT_TRUE(experiments.ok() && experiments->size() == 1) << experiments.status();
      ADD_FAILURE() << "opening succeeded although " << Describe(vfs_->injected_calls()[0]) << " failed";
    } else {
      EXPECT_THAT(std::string(store.status().message()), HasSubstr(path_));
      std::cout << "  " << Describe(vfs_->injected_calls()[0]) << ": " << store.status() << "\n";
    }
    store = absl::UnknownError("closed");
    ASSERT_NE(ReopenAndCheckBaseline(), nullptr);
  }
}

}  // namespace
}  // namespace tutti::coord
