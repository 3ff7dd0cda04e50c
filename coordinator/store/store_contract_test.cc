// The ExperimentStore contract (experiment_store.h), clause by clause, run against every implementation:
// SqliteStore on a fresh file in a fresh directory per test, and MemoryStore. A new implementation joins by
// adding a case to OpenStore and a value to INSTANTIATE_TEST_SUITE_P below.

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "coordinator/store/experiment_store.h"
#include "coordinator/store/memory_store.h"
#include "coordinator/store/sqlite_store.h"
#include "core/base/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tutti::coord {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kMin64 = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax64 = std::numeric_limits<int64_t>::max();

enum class Kind { kSqlite, kMemory };

std::string KindName(const ::testing::TestParamInfo<Kind>& info) {
  return info.param == Kind::kSqlite ? "Sqlite" : "Memory";
}
// For gtest's failure lines ("where GetParam() = Sqlite").
void PrintTo(Kind kind, std::ostream* os) { *os << (kind == Kind::kSqlite ? "Sqlite" : "Memory"); }

// --- rows and comparisons ----------------------------------------------------------------------------------

ExperimentRow MakeExperiment(const std::string& name) {
  ExperimentRow row;
  row.name = name;
  row.source_name = name + ".yaml";
  row.config_yaml = "name: " + name + "\ntrain:\n  steps: 100\n";
  row.submitted_yaml = "name: " + name + "\n";
  row.overrides_json = "[]";
  row.created_ms = 1000;
  row.updated_ms = 1000;
  return row;
}

TrialRow MakeTrial(int64_t experiment_id = 0) {
  TrialRow row;
  row.experiment_id = experiment_id;
  row.config_yaml = "train:\n  steps: 100\n";
  row.hparams_json = R"({"lr":0.001})";
  row.target_steps = 100;
  row.created_ms = 2000;
  row.updated_ms = 2000;
  return row;
}

MetricRow MakeMetric(int64_t trial_id, int64_t step, const std::string& kind, const std::string& values = "{}") {
  MetricRow row;
  row.trial_id = trial_id;
  row.step = step;
  row.kind = kind;
  row.values_json = values;
  // 3000 + kMax64 would overflow (UBSan stopped the extreme-values test there); those tests set time_ms.
  row.time_ms = step > kMax64 - 3000 ? step : 3000 + step;
  return row;
}

CheckpointRow MakeCheckpoint(int64_t trial_id, int64_t step, const std::string& sha256) {
  CheckpointRow row;
  row.trial_id = trial_id;
  row.step = step;
  row.sha256 = sha256;
  row.size_bytes = 12345;
  row.metrics_json = R"({"loss_g":1.5})";
  row.created_ms = step > kMax64 - 4000 ? step : 4000 + step;  // as MakeMetric: no overflow at kMax64
  return row;
}

// A valid-looking sha256 whose first hex digit is `c` (distinct, sortable values for the tests).
std::string Sha(char c) { return std::string(1, c) + std::string(63, '0'); }

// Field-by-field comparisons: a failure names the field.
void ExpectSame(const ExperimentRow& a, const ExperimentRow& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.source_name, b.source_name);
  EXPECT_EQ(a.config_yaml, b.config_yaml);
  EXPECT_EQ(a.submitted_yaml, b.submitted_yaml);
  EXPECT_EQ(a.overrides_json, b.overrides_json);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.message, b.message);
  EXPECT_EQ(a.searcher_state, b.searcher_state);
  EXPECT_EQ(a.created_ms, b.created_ms);
  EXPECT_EQ(a.updated_ms, b.updated_ms);
  EXPECT_EQ(a.ended_ms, b.ended_ms);
}

void ExpectSame(const TrialRow& a, const TrialRow& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.experiment_id, b.experiment_id);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.config_yaml, b.config_yaml);
  EXPECT_EQ(a.hparams_json, b.hparams_json);
  EXPECT_EQ(a.parent_trial_id, b.parent_trial_id);
  EXPECT_EQ(a.step, b.step);
  EXPECT_EQ(a.target_steps, b.target_steps);
  EXPECT_EQ(a.restarts, b.restarts);
  EXPECT_EQ(a.lease_id, b.lease_id);
  EXPECT_EQ(a.lease_worker, b.lease_worker);
  EXPECT_EQ(a.lease_expires_ms, b.lease_expires_ms);
  EXPECT_EQ(a.stop_request, b.stop_request);
  EXPECT_EQ(a.stop_detail, b.stop_detail);
  EXPECT_EQ(a.ranks, b.ranks);
  EXPECT_EQ(a.request_id, b.request_id);
  EXPECT_EQ(a.max_restarts, b.max_restarts);
  EXPECT_EQ(a.resume_checkpoint_id, b.resume_checkpoint_id);
  EXPECT_EQ(a.stop_reason, b.stop_reason);
  EXPECT_EQ(a.message, b.message);
  EXPECT_EQ(a.last_metrics_json, b.last_metrics_json);
  EXPECT_EQ(a.created_ms, b.created_ms);
  EXPECT_EQ(a.started_ms, b.started_ms);
  EXPECT_EQ(a.ended_ms, b.ended_ms);
  EXPECT_EQ(a.updated_ms, b.updated_ms);
}

void ExpectSame(const MetricRow& a, const MetricRow& b) {
  EXPECT_EQ(a.trial_id, b.trial_id);
  EXPECT_EQ(a.step, b.step);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.values_json, b.values_json);
  EXPECT_EQ(a.time_ms, b.time_ms);
}

void ExpectSame(const CheckpointRow& a, const CheckpointRow& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.trial_id, b.trial_id);
  EXPECT_EQ(a.step, b.step);
  EXPECT_EQ(a.sha256, b.sha256);
  EXPECT_EQ(a.size_bytes, b.size_bytes);
  EXPECT_EQ(a.metrics_json, b.metrics_json);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.created_ms, b.created_ms);
}

template <typename Row>
std::vector<int64_t> Ids(const std::vector<Row>& rows) {
  std::vector<int64_t> ids;
  for (const Row& row : rows) ids.push_back(row.id);
  return ids;
}

// (step, kind) of each point, for order checks.
std::vector<std::pair<int64_t, std::string>> Keys(const std::vector<MetricRow>& rows) {
  std::vector<std::pair<int64_t, std::string>> keys;
  for (const MetricRow& row : rows) keys.emplace_back(row.step, row.kind);
  return keys;
}

// --- the fixture -------------------------------------------------------------------------------------------

class StoreContractTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : test) {
      if (c == '/') c = '_';
    }
    dir_ = ::testing::TempDir() + "tutti_store_contract_" + std::to_string(::getpid()) + "_" + test;
    RemoveAllQuietly(dir_);
    ASSERT_TRUE(CreateDirectories(dir_).ok());
    if (GetParam() == Kind::kSqlite) {
      auto store = SqliteStore::Open(dir_ + "/tutti.db");
      ASSERT_TRUE(store.ok()) << store.status();
      store_ = std::move(*store);
    } else {
      store_ = std::make_unique<MemoryStore>();
    }
  }

  void TearDown() override {
    store_.reset();
    RemoveAllQuietly(dir_);
  }

  // An experiment with `trials` default trials; returns its id and the trials' ids.
  int64_t NewExperiment(int trials = 0, std::vector<int64_t>* trial_ids = nullptr) {
    std::vector<TrialRow> rows(static_cast<size_t>(trials), MakeTrial());
    auto id = store_->CreateExperiment(MakeExperiment("exp"), rows, trial_ids);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : 0;
  }

  // One experiment with one trial; returns the trial's id.
  int64_t NewTrial() {
    std::vector<int64_t> ids;
    NewExperiment(1, &ids);
    return ids.empty() ? 0 : ids[0];
  }

  std::string dir_;
  std::unique_ptr<ExperimentStore> store_;
};

// --- ids ---------------------------------------------------------------------------------------------------

TEST_P(StoreContractTest, IdsStartAtOneAndIncrease) {
  std::vector<int64_t> first_trials;
  auto first = store_->CreateExperiment(MakeExperiment("a"), {MakeTrial(), MakeTrial()}, &first_trials);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 1);
  EXPECT_THAT(first_trials, ElementsAre(1, 2));

  std::vector<int64_t> second_trials;
  auto second = store_->CreateExperiment(MakeExperiment("b"), {MakeTrial()}, &second_trials);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*second, 2);
  EXPECT_THAT(second_trials, ElementsAre(3));

  auto added = store_->AddTrial(MakeTrial(*first));
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(*added, 4);

  // The store sets experiment_id on the trials it creates, whatever the rows said.
  auto trial = store_->GetTrial(3);
  ASSERT_TRUE(trial.ok()) << trial.status();
  EXPECT_EQ(trial->experiment_id, 2);
  EXPECT_EQ(trial->id, 3);

  // trial_ids is optional.
  auto third = store_->CreateExperiment(MakeExperiment("c"), {MakeTrial()}, nullptr);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(*third, 3);
  auto all = store_->ListAllTrials();
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(Ids(*all), ElementsAre(1, 2, 3, 4, 5));

  auto checkpoint = store_->InsertCheckpoint(MakeCheckpoint(1, 10, Sha('a')));
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  EXPECT_EQ(*checkpoint, 1);
}

TEST_P(StoreContractTest, CheckpointIdsAreNeverReusedAfterDelete) {
  int64_t trial = NewTrial();
  auto a = store_->InsertCheckpoint(MakeCheckpoint(trial, 1, Sha('a')));
  auto b = store_->InsertCheckpoint(MakeCheckpoint(trial, 2, Sha('b')));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, 1);
  EXPECT_EQ(*b, 2);
  // Deleting the newest record must not hand its id out again (max(id) + 1 would).
  ASSERT_TRUE(store_->DeleteCheckpoint(*b).ok());
  auto c = store_->InsertCheckpoint(MakeCheckpoint(trial, 2, Sha('c')));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(*c, 3);
  ASSERT_TRUE(store_->DeleteCheckpoint(*a).ok());
  ASSERT_TRUE(store_->DeleteCheckpoint(*c).ok());
  auto d = store_->InsertCheckpoint(MakeCheckpoint(trial, 3, Sha('d')));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, 4);
}

// --- errors ------------------------------------------------------------------------------------------------

TEST_P(StoreContractTest, NotFoundNamesKindAndId) {
  int64_t trial = NewTrial();  // experiment 1, trial 1: the misses below are not "empty store" accidents
  ASSERT_EQ(trial, 1);

  auto experiment = store_->GetExperiment(7);
  EXPECT_EQ(experiment.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(experiment.status().message(), "experiment 7 not found");
  auto got_trial = store_->GetTrial(12);
  EXPECT_EQ(got_trial.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(got_trial.status().message(), "trial 12 not found");
  auto checkpoint = store_->GetCheckpoint(3);
  EXPECT_EQ(checkpoint.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(checkpoint.status().message(), "checkpoint 3 not found");

  ExperimentRow missing_experiment = MakeExperiment("x");
  missing_experiment.id = 8;
  Status status = store_->UpdateExperiment(missing_experiment);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "experiment 8 not found");

  TrialRow missing_trial = MakeTrial(1);
  missing_trial.id = 13;
  status = store_->UpdateTrial(missing_trial);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "trial 13 not found");

  status = store_->SetCheckpointState(4, CheckpointState::kDeleting);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "checkpoint 4 not found");

  // Children of a missing parent.
  auto trials = store_->ListTrials(9);
  EXPECT_EQ(trials.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(trials.status().message(), "experiment 9 not found");
  auto metrics = store_->ReadMetrics(14, 0, 10);
  EXPECT_EQ(metrics.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(metrics.status().message(), "trial 14 not found");
  auto checkpoints = store_->ListCheckpoints(15);
  EXPECT_EQ(checkpoints.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(checkpoints.status().message(), "trial 15 not found");
}

TEST_P(StoreContractTest, MissingParentIsFailedPreconditionAndWritesNothing) {
  int64_t trial = NewTrial();

  auto added = store_->AddTrial(MakeTrial(99));
  EXPECT_EQ(added.status().code(), absl::StatusCode::kFailedPrecondition) << added.status();
  EXPECT_THAT(std::string(added.status().message()), HasSubstr("experiment 99"));

  // Moving a trial to a missing experiment fails and leaves the trial as it was.
  auto before = store_->GetTrial(trial);
  ASSERT_TRUE(before.ok()) << before.status();
  TrialRow moved = *before;
  moved.experiment_id = 98;
  moved.step = 50;
  Status status = store_->UpdateTrial(moved);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("experiment 98"));
  auto after = store_->GetTrial(trial);
  ASSERT_TRUE(after.ok()) << after.status();
  ExpectSame(*after, *before);

  auto checkpoint = store_->InsertCheckpoint(MakeCheckpoint(97, 10, Sha('a')));
  EXPECT_EQ(checkpoint.status().code(), absl::StatusCode::kFailedPrecondition) << checkpoint.status();
  EXPECT_THAT(std::string(checkpoint.status().message()), HasSubstr("trial 97"));

  auto trials = store_->ListAllTrials();
  ASSERT_TRUE(trials.ok());
  EXPECT_EQ(trials->size(), 1u);
  auto shas = store_->ListCheckpointShas();
  ASSERT_TRUE(shas.ok());
  EXPECT_TRUE(shas->empty());
}

TEST_P(StoreContractTest, InvalidStatesAreInvalidArgument) {
  int64_t trial = NewTrial();
  ExperimentRow experiment = MakeExperiment("bad");
  experiment.state = static_cast<ExperimentState>(0);
  auto created = store_->CreateExperiment(experiment, {}, nullptr);
  EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument) << created.status();

  auto row = store_->GetTrial(trial);
  ASSERT_TRUE(row.ok());
  TrialRow bad = *row;
  bad.state = static_cast<TrialState>(7);
  bad.step = 77;
  Status status = store_->UpdateTrial(bad);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  auto unchanged = store_->GetTrial(trial);
  ASSERT_TRUE(unchanged.ok());
  EXPECT_EQ(unchanged->step, 0);

  TrialRow bad_new = MakeTrial(1);
  bad_new.state = static_cast<TrialState>(-1);
  EXPECT_EQ(store_->AddTrial(bad_new).status().code(), absl::StatusCode::kInvalidArgument);

  CheckpointRow checkpoint = MakeCheckpoint(trial, 1, Sha('a'));
  checkpoint.state = static_cast<CheckpointState>(3);
  EXPECT_EQ(store_->InsertCheckpoint(checkpoint).status().code(), absl::StatusCode::kInvalidArgument);
  auto id = store_->InsertCheckpoint(MakeCheckpoint(trial, 1, Sha('a')));
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(store_->SetCheckpointState(*id, static_cast<CheckpointState>(0)).code(),
            absl::StatusCode::kInvalidArgument);
  auto stored = store_->GetCheckpoint(*id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->state, CheckpointState::kLive);

  auto experiments = store_->ListExperiments();
  ASSERT_TRUE(experiments.ok());
  EXPECT_EQ(experiments->size(), 1u);
}

// --- atomicity ---------------------------------------------------------------------------------------------

TEST_P(StoreContractTest, CreateExperimentIsAllOrNothing) {
  // The third trial is invalid: the experiment and the two valid trials before it must not be written.
  std::vector<TrialRow> trials = {MakeTrial(), MakeTrial(), MakeTrial()};
  trials[2].state = static_cast<TrialState>(42);
  std::vector<int64_t> ids;
  auto created = store_->CreateExperiment(MakeExperiment("half"), trials, &ids);
  EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument) << created.status();
  EXPECT_THAT(std::string(created.status().message()), HasSubstr("trial 3"));

  auto experiments = store_->ListExperiments();
  ASSERT_TRUE(experiments.ok()) << experiments.status();
  EXPECT_TRUE(experiments->empty());
  auto all = store_->ListAllTrials();
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_TRUE(all->empty());

  // The store is still usable, and what it writes next is complete.
  trials[2].state = TrialState::kQueued;
  auto retry = store_->CreateExperiment(MakeExperiment("whole"), trials, &ids);
  ASSERT_TRUE(retry.ok()) << retry.status();
  auto listed = store_->ListTrials(*retry);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->size(), 3u);
  EXPECT_EQ(Ids(*listed), ids);
}

TEST_P(StoreContractTest, AppendMetricsIsAllOrNothing) {
  int64_t trial = NewTrial();
  Status status = store_->AppendMetrics(
      {MakeMetric(trial, 1, "train"), MakeMetric(trial, 2, "train"), MakeMetric(trial + 100, 3, "train")});
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(absl::StrCat("trial ", trial + 100)));
  auto points = store_->ReadMetrics(trial, kMin64, 100);
  ASSERT_TRUE(points.ok()) << points.status();
  EXPECT_TRUE(points->empty());

  EXPECT_TRUE(store_->AppendMetrics({}).ok());  // nothing to do is not an error
}

// --- metrics -----------------------------------------------------------------------------------------------

TEST_P(StoreContractTest, MetricsUpsertOnTrialKindStep) {
  int64_t trial = NewTrial();
  int64_t other = NewTrial();
  ASSERT_TRUE(store_
                  ->AppendMetrics({MakeMetric(trial, 10, "train", R"({"loss":1})"),
                                   MakeMetric(trial, 10, "eval", R"({"score":5})"),
                                   MakeMetric(other, 10, "train", R"({"loss":7})")})
                  .ok());
  // A retried report of step 10 replaces the stored point; the other kind and the other trial keep theirs.
  MetricRow retried = MakeMetric(trial, 10, "train", R"({"loss":2})");
  retried.time_ms = 9999;
  ASSERT_TRUE(store_->AppendMetrics({retried}).ok());
  // Within one call, the later of two points with the same key wins.
  ASSERT_TRUE(store_
                  ->AppendMetrics({MakeMetric(trial, 11, "train", R"({"loss":3})"),
                                   MakeMetric(trial, 11, "train", R"({"loss":4})")})
                  .ok());

  auto points = store_->ReadMetrics(trial, kMin64, 100);
  ASSERT_TRUE(points.ok()) << points.status();
  ASSERT_EQ(points->size(), 3u);
  ExpectSame((*points)[0], MakeMetric(trial, 10, "eval", R"({"score":5})"));
  ExpectSame((*points)[1], retried);
  ExpectSame((*points)[2], MakeMetric(trial, 11, "train", R"({"loss":4})"));

  auto others = store_->ReadMetrics(other, kMin64, 100);
  ASSERT_TRUE(others.ok());
  ASSERT_EQ(others->size(), 1u);
  EXPECT_EQ((*others)[0].values_json, R"({"loss":7})");
}

TEST_P(StoreContractTest, ReadMetricsOrderAfterStepAndLimit) {
  int64_t trial = NewTrial();
  int64_t other = NewTrial();
  // Out of order on purpose; the other trial's points interleave in step.
  ASSERT_TRUE(store_
                  ->AppendMetrics({MakeMetric(trial, 5, "train"), MakeMetric(trial, 1, "train"),
                                   MakeMetric(other, 2, "train"), MakeMetric(trial, 3, "train"),
                                   MakeMetric(trial, 3, "eval"), MakeMetric(trial, 1, "eval"),
                                   MakeMetric(trial, 0, "train"), MakeMetric(trial, -4, "train")})
                  .ok());
  using Key = std::pair<int64_t, std::string>;

  auto all = store_->ReadMetrics(trial, kMin64, 100);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(Keys(*all), ElementsAre(Key(-4, "train"), Key(0, "train"), Key(1, "eval"), Key(1, "train"),
                                      Key(3, "eval"), Key(3, "train"), Key(5, "train")));

  // after_step is exclusive.
  auto after_one = store_->ReadMetrics(trial, 1, 100);
  ASSERT_TRUE(after_one.ok());
  EXPECT_THAT(Keys(*after_one), ElementsAre(Key(3, "eval"), Key(3, "train"), Key(5, "train")));
  auto after_zero = store_->ReadMetrics(trial, 0, 2);
  ASSERT_TRUE(after_zero.ok());
  EXPECT_THAT(Keys(*after_zero), ElementsAre(Key(1, "eval"), Key(1, "train")));

  // limit takes the first points in order.
  auto first_three = store_->ReadMetrics(trial, kMin64, 3);
  ASSERT_TRUE(first_three.ok());
  EXPECT_THAT(Keys(*first_three), ElementsAre(Key(-4, "train"), Key(0, "train"), Key(1, "eval")));
  auto one = store_->ReadMetrics(trial, 1, 1);
  ASSERT_TRUE(one.ok());
  EXPECT_THAT(Keys(*one), ElementsAre(Key(3, "eval")));

  auto none = store_->ReadMetrics(trial, 5, 100);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto none_at_max = store_->ReadMetrics(trial, kMax64, 100);
  ASSERT_TRUE(none_at_max.ok());
  EXPECT_TRUE(none_at_max->empty());

  EXPECT_EQ(store_->ReadMetrics(trial, 0, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->ReadMetrics(trial, 0, -1).status().code(), absl::StatusCode::kInvalidArgument);
}

// --- checkpoints -------------------------------------------------------------------------------------------

TEST_P(StoreContractTest, DuplicateCheckpointStepIsAlreadyExistsNamingTheRecord) {
  int64_t trial = NewTrial();
  int64_t other = NewTrial();
  auto first = store_->InsertCheckpoint(MakeCheckpoint(trial, 100, Sha('a')));
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = store_->InsertCheckpoint(MakeCheckpoint(trial, 200, Sha('b')));
  ASSERT_TRUE(second.ok()) << second.status();

  auto again = store_->InsertCheckpoint(MakeCheckpoint(trial, 200, Sha('c')));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists) << again.status();
  std::string message(again.status().message());
  EXPECT_THAT(message, HasSubstr(absl::StrCat("trial ", trial)));
  EXPECT_THAT(message, HasSubstr("step 200"));
  EXPECT_THAT(message, HasSubstr(absl::StrCat("checkpoint ", *second)));

  // The stored record is untouched; the same step of another trial is fine.
  auto stored = store_->GetCheckpoint(*second);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->sha256, Sha('b'));
  EXPECT_TRUE(store_->InsertCheckpoint(MakeCheckpoint(other, 200, Sha('c'))).ok());
  // A record in kDeleting still occupies its step.
  ASSERT_TRUE(store_->SetCheckpointState(*first, CheckpointState::kDeleting).ok());
  EXPECT_EQ(store_->InsertCheckpoint(MakeCheckpoint(trial, 100, Sha('d'))).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_P(StoreContractTest, CheckpointListsAndStates) {
  int64_t trial = NewTrial();
  int64_t other = NewTrial();
  CheckpointRow c300 = MakeCheckpoint(trial, 300, Sha('a'));
  CheckpointRow c100 = MakeCheckpoint(trial, 100, Sha('b'));
  CheckpointRow o50 = MakeCheckpoint(other, 50, Sha('c'));
  CheckpointRow c200 = MakeCheckpoint(trial, 200, Sha('d'));
  for (CheckpointRow* row : {&c300, &c100, &o50, &c200}) {
    auto id = store_->InsertCheckpoint(*row);
    ASSERT_TRUE(id.ok()) << id.status();
    row->id = *id;
  }
  auto got = store_->GetCheckpoint(c100.id);
  ASSERT_TRUE(got.ok());
  ExpectSame(*got, c100);

  // One trial's records by step, whatever the state.
  ASSERT_TRUE(store_->SetCheckpointState(c200.id, CheckpointState::kDeleting).ok());
  c200.state = CheckpointState::kDeleting;
  auto listed = store_->ListCheckpoints(trial);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 3u);
  ExpectSame((*listed)[0], c100);
  ExpectSame((*listed)[1], c200);
  ExpectSame((*listed)[2], c300);
  auto empty = store_->ListCheckpoints(NewTrial());
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());

  // Across trials, by id.
  ASSERT_TRUE(store_->SetCheckpointState(o50.id, CheckpointState::kDeleting).ok());
  auto deleting = store_->ListCheckpointsInState(CheckpointState::kDeleting);
  ASSERT_TRUE(deleting.ok()) << deleting.status();
  EXPECT_THAT(Ids(*deleting), ElementsAre(o50.id, c200.id));
  auto live = store_->ListCheckpointsInState(CheckpointState::kLive);
  ASSERT_TRUE(live.ok());
  EXPECT_THAT(Ids(*live), ElementsAre(c300.id, c100.id));

  // And back.
  ASSERT_TRUE(store_->SetCheckpointState(o50.id, CheckpointState::kLive).ok());
  deleting = store_->ListCheckpointsInState(CheckpointState::kDeleting);
  ASSERT_TRUE(deleting.ok());
  EXPECT_THAT(Ids(*deleting), ElementsAre(c200.id));
}

TEST_P(StoreContractTest, ShaCountsAndDistinctShas) {
  int64_t trial = NewTrial();
  int64_t other = NewTrial();
  // Two records share content 'e' (a resumed trial re-uploading identical bytes, or a fork).
  auto e1 = store_->InsertCheckpoint(MakeCheckpoint(trial, 1, Sha('e')));
  auto b = store_->InsertCheckpoint(MakeCheckpoint(trial, 2, Sha('b')));
  auto e2 = store_->InsertCheckpoint(MakeCheckpoint(other, 1, Sha('e')));
  ASSERT_TRUE(e1.ok() && b.ok() && e2.ok());
  ASSERT_TRUE(store_->SetCheckpointState(*e2, CheckpointState::kDeleting).ok());  // still counts

  auto count_e = store_->CountCheckpointsWithSha(Sha('e'));
  ASSERT_TRUE(count_e.ok()) << count_e.status();
  EXPECT_EQ(*count_e, 2);
  auto count_b = store_->CountCheckpointsWithSha(Sha('b'));
  ASSERT_TRUE(count_b.ok());
  EXPECT_EQ(*count_b, 1);
  auto count_none = store_->CountCheckpointsWithSha(Sha('f'));
  ASSERT_TRUE(count_none.ok());
  EXPECT_EQ(*count_none, 0);

  auto shas = store_->ListCheckpointShas();
  ASSERT_TRUE(shas.ok()) << shas.status();
  EXPECT_THAT(*shas, ElementsAre(Sha('b'), Sha('e')));  // distinct, sorted

  ASSERT_TRUE(store_->DeleteCheckpoint(*e1).ok());
  count_e = store_->CountCheckpointsWithSha(Sha('e'));
  ASSERT_TRUE(count_e.ok());
  EXPECT_EQ(*count_e, 1);
  ASSERT_TRUE(store_->DeleteCheckpoint(*e2).ok());
  count_e = store_->CountCheckpointsWithSha(Sha('e'));
  ASSERT_TRUE(count_e.ok());
  EXPECT_EQ(*count_e, 0);
  shas = store_->ListCheckpointShas();
  ASSERT_TRUE(shas.ok());
  EXPECT_THAT(*shas, ElementsAre(Sha('b')));
}

TEST_P(StoreContractTest, DeleteCheckpointIsIdempotent) {
  int64_t trial = NewTrial();
  auto keep = store_->InsertCheckpoint(MakeCheckpoint(trial, 1, Sha('a')));
  auto drop = store_->InsertCheckpoint(MakeCheckpoint(trial, 2, Sha('b')));
  ASSERT_TRUE(keep.ok() && drop.ok());

  EXPECT_TRUE(store_->DeleteCheckpoint(*drop).ok());
  EXPECT_EQ(store_->GetCheckpoint(*drop).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->DeleteCheckpoint(*drop).ok());  // again
  EXPECT_TRUE(store_->DeleteCheckpoint(999).ok());    // never existed
  auto listed = store_->ListCheckpoints(trial);
  ASSERT_TRUE(listed.ok());
  EXPECT_THAT(Ids(*listed), ElementsAre(*keep));
  // The freed step can be recorded again.
  EXPECT_TRUE(store_->InsertCheckpoint(MakeCheckpoint(trial, 2, Sha('c'))).ok());
}

// --- round trips -------------------------------------------------------------------------------------------

TEST_P(StoreContractTest, UpdatesReplaceEveryField) {
  std::vector<int64_t> trial_ids;
  int64_t experiment_id = NewExperiment(1, &trial_ids);
  int64_t second_experiment = NewExperiment();

  ExperimentRow experiment;
  experiment.id = experiment_id;
  experiment.name = "renamed";
  experiment.source_name = "other.yaml";
  experiment.config_yaml = "a: 1\n";
  experiment.submitted_yaml = "a: 2\n";
  experiment.overrides_json = R"(["a=1"])";
  experiment.state = ExperimentState::kKilled;
  experiment.message = "killed by alice";
  experiment.searcher_state = R"({"rung":2})";
  experiment.created_ms = 11;
  experiment.updated_ms = 12;
  experiment.ended_ms = 13;
  ASSERT_TRUE(store_->UpdateExperiment(experiment).ok());
  auto got_experiment = store_->GetExperiment(experiment_id);
  ASSERT_TRUE(got_experiment.ok()) << got_experiment.status();
  ExpectSame(*got_experiment, experiment);

  TrialRow trial;
  trial.id = trial_ids[0];
  trial.experiment_id = second_experiment;  // moving is part of "every field"
  trial.state = TrialState::kRunning;
  trial.config_yaml = "b: 1\n";
  trial.hparams_json = R"({"lr":0.5})";
  trial.parent_trial_id = 77;
  trial.step = 1234;
  trial.target_steps = 5000;
  trial.restarts = 3;
  trial.lease_id = "lease-abc";
  trial.lease_worker = "node7:4242";
  trial.lease_expires_ms = 99999;
  trial.stop_request = "early";
  trial.stop_detail = "critic diverged: mean |wasserstein| 312 > 100";
  trial.ranks = 4;
  trial.request_id = 17;
  trial.max_restarts = 9;
  trial.resume_checkpoint_id = 31;
  trial.state = TrialState::kPaused;
  trial.stop_reason = "pruned";
  trial.message = "rung 2";
  trial.last_metrics_json = R"({"loss_d":-0.25})";
  trial.created_ms = 21;
  trial.started_ms = 22;
  trial.ended_ms = 23;
  trial.updated_ms = 24;
  ASSERT_TRUE(store_->UpdateTrial(trial).ok());
  auto got_trial = store_->GetTrial(trial.id);
  ASSERT_TRUE(got_trial.ok()) << got_trial.status();
  ExpectSame(*got_trial, trial);

  auto old_list = store_->ListTrials(experiment_id);
  auto new_list = store_->ListTrials(second_experiment);
  ASSERT_TRUE(old_list.ok() && new_list.ok());
  EXPECT_TRUE(old_list->empty());
  EXPECT_THAT(Ids(*new_list), ElementsAre(trial.id));

  // Back to no stop request round-trips too.
  trial.stop_request.clear();
  ASSERT_TRUE(store_->UpdateTrial(trial).ok());
  got_trial = store_->GetTrial(trial.id);
  ASSERT_TRUE(got_trial.ok());
  EXPECT_EQ(got_trial->stop_request, "");
}

TEST_P(StoreContractTest, SetSearcherStateChangesOnlyThatAndUpdatedMs) {
  const int64_t id = NewExperiment(1);
  auto before = store_->GetExperiment(id);
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(store_->SetSearcherState(id, R"({"rung":[1,2]})", 777).ok());
  auto after = store_->GetExperiment(id);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->searcher_state, R"({"rung":[1,2]})");
  EXPECT_EQ(after->updated_ms, 777);
  ExperimentRow expected = *before;
  expected.searcher_state = after->searcher_state;
  expected.updated_ms = 777;
  ExpectSame(*after, expected);
  Status missing = store_->SetSearcherState(id + 100, "{}", 1);
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.message().find(absl::StrCat("experiment ", id + 100)), std::string::npos) << missing;
}

TEST_P(StoreContractTest, ListsAreOrderedById) {
  int64_t a = NewExperiment(1);
  int64_t b = NewExperiment(1);
  // Trials of a and b interleave in id order.
  auto a2 = store_->AddTrial(MakeTrial(a));
  auto b2 = store_->AddTrial(MakeTrial(b));
  auto a3 = store_->AddTrial(MakeTrial(a));
  ASSERT_TRUE(a2.ok() && b2.ok() && a3.ok());

  auto experiments = store_->ListExperiments();
  ASSERT_TRUE(experiments.ok());
  EXPECT_THAT(Ids(*experiments), ElementsAre(a, b));
  auto trials_a = store_->ListTrials(a);
  ASSERT_TRUE(trials_a.ok());
  EXPECT_THAT(Ids(*trials_a), ElementsAre(1, *a2, *a3));
  auto trials_b = store_->ListTrials(b);
  ASSERT_TRUE(trials_b.ok());
  EXPECT_THAT(Ids(*trials_b), ElementsAre(2, *b2));
  auto all = store_->ListAllTrials();
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(Ids(*all), ElementsAre(1, 2, 3, 4, 5));
}

// Text that breaks naive storage: multi-byte UTF-8, quotes of every kind, backslashes, CR LF, tabs, leading
// and trailing whitespace, a YAML document marker, and a string of every byte 1..255 (invalid UTF-8
// included, no NUL) and one with embedded NULs.
std::vector<std::string> AwkwardStrings() {
  std::string every_byte;
  for (int c = 1; c < 256; ++c) every_byte.push_back(static_cast<char>(c));
  return {
      "name: \"ロック 🎸\"\nnote: 'it''s \"quoted\"'\npath: C:\\tmp\\x\r\n\ttabbed: [a, b]\n---\n  \n",
      R"({"loss_g":null,"loss_d":-0.0,"big":1e308,"s":"a\"b\\c\u00e9"})",  // NaN written as null
      every_byte,
      std::string("\xff\xfe\x80\xc0\xaf", 5) + "lone bytes",
      std::string("a\0b\0\0c", 6),
      "",
      " ",
  };
}

TEST_P(StoreContractTest, StringsRoundTripByteForByte) {
  for (const std::string& text : AwkwardStrings()) {
    SCOPED_TRACE(::testing::PrintToString(text));
    ExperimentRow experiment = MakeExperiment("x");
    experiment.name = text;
    experiment.source_name = text;
    experiment.config_yaml = text;
    experiment.submitted_yaml = text;
    experiment.overrides_json = text;
    experiment.message = text;
    experiment.searcher_state = text;
    TrialRow trial = MakeTrial();
    trial.config_yaml = text;
    trial.hparams_json = text;
    trial.lease_id = text;
    trial.lease_worker = text;
    trial.stop_reason = text;
    trial.message = text;
    trial.last_metrics_json = text;
    std::vector<int64_t> trial_ids;
    auto id = store_->CreateExperiment(experiment, {trial}, &trial_ids);
    ASSERT_TRUE(id.ok()) << id.status();
    experiment.id = *id;
    trial.id = trial_ids[0];
    trial.experiment_id = *id;

    auto got_experiment = store_->GetExperiment(*id);
    ASSERT_TRUE(got_experiment.ok());
    ExpectSame(*got_experiment, experiment);
    auto got_trial = store_->GetTrial(trial.id);
    ASSERT_TRUE(got_trial.ok());
    ExpectSame(*got_trial, trial);

    // Through the update paths too.
    experiment.message = text + "!";
    ASSERT_TRUE(store_->UpdateExperiment(experiment).ok());
    got_experiment = store_->GetExperiment(*id);
    ASSERT_TRUE(got_experiment.ok());
    ExpectSame(*got_experiment, experiment);
    trial.message = text + "?";
    ASSERT_TRUE(store_->UpdateTrial(trial).ok());
    auto listed = store_->ListTrials(*id);
    ASSERT_TRUE(listed.ok());
    ASSERT_EQ(listed->size(), 1u);
    ExpectSame((*listed)[0], trial);

    MetricRow metric = MakeMetric(trial.id, 1, text.empty() ? "train" : text, text);
    ASSERT_TRUE(store_->AppendMetrics({metric}).ok());
    auto points = store_->ReadMetrics(trial.id, 0, 10);
    ASSERT_TRUE(points.ok());
    ASSERT_EQ(points->size(), 1u);
    ExpectSame((*points)[0], metric);

    CheckpointRow checkpoint = MakeCheckpoint(trial.id, 1, text);
    checkpoint.metrics_json = text;
    auto checkpoint_id = store_->InsertCheckpoint(checkpoint);
    ASSERT_TRUE(checkpoint_id.ok()) << checkpoint_id.status();
    checkpoint.id = *checkpoint_id;
    auto got_checkpoint = store_->GetCheckpoint(checkpoint.id);
    ASSERT_TRUE(got_checkpoint.ok());
    ExpectSame(*got_checkpoint, checkpoint);
    auto count = store_->CountCheckpointsWithSha(text);
    ASSERT_TRUE(count.ok());
    EXPECT_EQ(*count, 1);
  }
}

TEST_P(StoreContractTest, Int64ExtremesRoundTrip) {
  ExperimentRow experiment = MakeExperiment("extremes");
  experiment.created_ms = kMin64;
  experiment.updated_ms = kMax64;
  experiment.ended_ms = -1;
  TrialRow trial = MakeTrial();
  trial.parent_trial_id = kMax64;
  trial.step = kMin64;
  trial.target_steps = kMax64;
  trial.restarts = std::numeric_limits<int32_t>::min();
  trial.lease_expires_ms = kMax64;
  trial.created_ms = kMin64;
  trial.started_ms = kMax64;
  trial.ended_ms = kMin64 + 1;
  trial.updated_ms = kMax64 - 1;
  std::vector<int64_t> ids;
  auto id = store_->CreateExperiment(experiment, {trial}, &ids);
  ASSERT_TRUE(id.ok()) << id.status();
  experiment.id = *id;
  trial.id = ids[0];
  trial.experiment_id = *id;
  auto got_experiment = store_->GetExperiment(*id);
  ASSERT_TRUE(got_experiment.ok());
  ExpectSame(*got_experiment, experiment);
  auto got_trial = store_->GetTrial(trial.id);
  ASSERT_TRUE(got_trial.ok());
  ExpectSame(*got_trial, trial);
  trial.restarts = std::numeric_limits<int32_t>::max();
  ASSERT_TRUE(store_->UpdateTrial(trial).ok());
  got_trial = store_->GetTrial(trial.id);
  ASSERT_TRUE(got_trial.ok());
  EXPECT_EQ(got_trial->restarts, std::numeric_limits<int32_t>::max());

  MetricRow low = MakeMetric(trial.id, kMin64, "train");
  low.time_ms = kMax64;
  MetricRow high = MakeMetric(trial.id, kMax64, "train");
  high.time_ms = kMin64;
  ASSERT_TRUE(store_->AppendMetrics({high, low}).ok());
  auto points = store_->ReadMetrics(trial.id, kMin64, 10);
  ASSERT_TRUE(points.ok());
  // step > kMin64 excludes the point at kMin64 itself.
  ASSERT_EQ(points->size(), 1u);
  ExpectSame((*points)[0], high);
  points = store_->ReadMetrics(trial.id, kMax64 - 1, 10);
  ASSERT_TRUE(points.ok());
  ASSERT_EQ(points->size(), 1u);
  ExpectSame((*points)[0], high);

  CheckpointRow checkpoint = MakeCheckpoint(trial.id, kMax64, Sha('a'));
  checkpoint.size_bytes = kMax64;
  checkpoint.created_ms = kMin64;
  auto checkpoint_id = store_->InsertCheckpoint(checkpoint);
  ASSERT_TRUE(checkpoint_id.ok());
  checkpoint.id = *checkpoint_id;
  CheckpointRow first = MakeCheckpoint(trial.id, kMin64, Sha('b'));
  auto first_id = store_->InsertCheckpoint(first);
  ASSERT_TRUE(first_id.ok());
  first.id = *first_id;
  auto listed = store_->ListCheckpoints(trial.id);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  ExpectSame((*listed)[0], first);
  ExpectSame((*listed)[1], checkpoint);
}

// --- threads -----------------------------------------------------------------------------------------------

// Several threads at once: each appends metrics to its own trial and to one shared trial, updates its own
// trial after every append, reads it back, and creates experiments. Every call must succeed, nothing may be
// lost or duplicated, and every id handed out must be distinct.
TEST_P(StoreContractTest, ConcurrentCallsLeaveConsistentState) {
  constexpr int kThreads = 4;
  constexpr int kSteps = 60;
  std::vector<int64_t> trial_ids;
  NewExperiment(kThreads + 1, &trial_ids);
  ASSERT_EQ(trial_ids.size(), static_cast<size_t>(kThreads + 1));
  const int64_t shared = trial_ids[kThreads];

  std::vector<std::vector<std::string>> errors(kThreads);
  std::vector<std::vector<int64_t>> created(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const int64_t own = trial_ids[static_cast<size_t>(t)];
      auto fail = [&](const Status& status) {
        if (!status.ok()) errors[static_cast<size_t>(t)].push_back(status.ToString());
      };
      for (int step = 1; step <= kSteps; ++step) {
        fail(store_->AppendMetrics({MakeMetric(own, step, "train"), MakeMetric(own, step, "eval"),
                                    MakeMetric(shared, int64_t{t} * kSteps + step, "train")}));
        auto row = store_->GetTrial(own);
        fail(row.status());
        if (!row.ok()) continue;
        if (row->step != step - 1) {
          errors[static_cast<size_t>(t)].push_back(absl::StrCat("trial ", own, " at step ", row->step,
                                                                 ", expected ", step - 1));
        }
        row->step = step;
        row->last_metrics_json = absl::StrCat(R"({"step":)", step, "}");
        fail(store_->UpdateTrial(*row));
        if (step % 10 == 0) {
          auto id = store_->CreateExperiment(MakeExperiment("t"), {MakeTrial()}, nullptr);
          fail(id.status());
          if (id.ok()) created[static_cast<size_t>(t)].push_back(*id);
          fail(store_->ListAllTrials().status());
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  for (int t = 0; t < kThreads; ++t) {
    EXPECT_THAT(errors[static_cast<size_t>(t)], ::testing::IsEmpty()) << "thread " << t;
    auto row = store_->GetTrial(trial_ids[static_cast<size_t>(t)]);
    ASSERT_TRUE(row.ok());
    EXPECT_EQ(row->step, kSteps);
    EXPECT_EQ(row->last_metrics_json, absl::StrCat(R"({"step":)", kSteps, "}"));
    auto points = store_->ReadMetrics(row->id, kMin64, 10 * kSteps);
    ASSERT_TRUE(points.ok());
    EXPECT_EQ(points->size(), static_cast<size_t>(2 * kSteps));
  }
  auto shared_points = store_->ReadMetrics(shared, kMin64, 10 * kThreads * kSteps);
  ASSERT_TRUE(shared_points.ok());
  ASSERT_EQ(shared_points->size(), static_cast<size_t>(kThreads * kSteps));
  for (int i = 0; i < kThreads * kSteps; ++i) EXPECT_EQ((*shared_points)[static_cast<size_t>(i)].step, i + 1);

  std::vector<int64_t> all_created;
  for (const auto& ids : created) all_created.insert(all_created.end(), ids.begin(), ids.end());
  std::sort(all_created.begin(), all_created.end());
  EXPECT_EQ(std::adjacent_find(all_created.begin(), all_created.end()), all_created.end()) << "duplicate id";
  auto experiments = store_->ListExperiments();
  ASSERT_TRUE(experiments.ok());
  EXPECT_EQ(experiments->size(), 1 + all_created.size());
  auto all_trials = store_->ListAllTrials();
  ASSERT_TRUE(all_trials.ok());
  EXPECT_EQ(all_trials->size(), static_cast<size_t>(kThreads + 1) + all_created.size());
}

// --- listening tests -------------------------------------------------------------------------------------

ListenPairRow MakePair(const std::string& pair_id, const std::string& genre, int64_t trial_a, int64_t trial_b) {
  ListenPairRow row;
  row.pair_id = pair_id;
  row.genre = genre;
  row.trial_a = trial_a;
  row.checkpoint_a = 11;
  row.step_a = 100;
  row.trial_b = trial_b;
  row.checkpoint_b = 12;
  row.step_b = 200;
  row.seed = static_cast<int64_t>(0xFEDCBA9876543210ull);  // a uint64 above INT64_MAX, bit for bit
  row.created_ms = 5;
  return row;
}

TEST_P(StoreContractTest, ListenPairsAreRatedOnceAndListedByFilter) {
  std::vector<int64_t> trials;
  NewExperiment(3, &trials);
  auto first = store_->InsertListenPair(MakePair("p1", "rock", trials[0], trials[1]));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 1);
  ASSERT_TRUE(store_->InsertListenPair(MakePair("p2", "rock", trials[1], trials[2])).ok());
  ASSERT_TRUE(store_->InsertListenPair(MakePair("p3", "pop", trials[0], trials[2])).ok());

  auto got = store_->GetListenPair("p1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->seed, static_cast<int64_t>(0xFEDCBA9876543210ull));
  EXPECT_EQ(got->choice, ListenChoice::kUnrated);
  EXPECT_EQ(got->checkpoint_b, 12);
  EXPECT_EQ(got->step_b, 200);

  // Unrated pairs are not ratings.
  EXPECT_TRUE(store_->ListRatedPairs("", 0)->empty());
  auto rated = store_->RateListenPair("p2", ListenChoice::kB, "ana", 9);
  ASSERT_TRUE(rated.ok()) << rated.status();
  EXPECT_EQ(rated->choice, ListenChoice::kB);
  EXPECT_EQ(rated->listener, "ana");
  EXPECT_EQ(rated->rated_ms, 9);
  ASSERT_TRUE(store_->RateListenPair("p3", ListenChoice::kSame, "", 10).ok());
  ASSERT_TRUE(store_->RateListenPair("p1", ListenChoice::kA, "", 11).ok());

  auto again = store_->RateListenPair("p2", ListenChoice::kA, "bob", 12);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(again.status().message()), HasSubstr("listen pair p2 was already rated"));
  EXPECT_EQ(store_->GetListenPair("p2")->choice, ListenChoice::kB);  // unchanged

  EXPECT_EQ(Ids(*store_->ListRatedPairs("", 0)), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(Ids(*store_->ListRatedPairs("rock", 0)), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(Ids(*store_->ListRatedPairs("", trials[2])), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(Ids(*store_->ListRatedPairs("pop", trials[1])), (std::vector<int64_t>{}));
}

TEST_P(StoreContractTest, BadListenPairsAreRefusedNamingWhy) {
  const int64_t trial = NewTrial();
  ASSERT_TRUE(store_->InsertListenPair(MakePair("p", "rock", trial, trial)).ok());
  auto duplicate = store_->InsertListenPair(MakePair("p", "rock", trial, trial));
  EXPECT_EQ(duplicate.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(duplicate.status().message()), HasSubstr("listen pair p already exists"));

  auto missing = store_->InsertListenPair(MakePair("q", "rock", trial, 999));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("999"));
  EXPECT_EQ(store_->GetListenPair("q").status().code(), absl::StatusCode::kNotFound);

  ListenPairRow prerated = MakePair("r", "rock", trial, trial);
  prerated.choice = ListenChoice::kA;
  EXPECT_EQ(store_->InsertListenPair(prerated).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->InsertListenPair(MakePair("", "rock", trial, trial)).status().code(),
            absl::StatusCode::kInvalidArgument);

  EXPECT_EQ(store_->RateListenPair("p", ListenChoice::kUnrated, "", 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->RateListenPair("p", static_cast<ListenChoice>(7), "", 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto unknown = store_->RateListenPair("nope", ListenChoice::kA, "", 1);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("listen pair nope not found"));
  EXPECT_EQ(store_->GetListenPair("p")->choice, ListenChoice::kUnrated);
}

PackRow MakePack(char manifest, const std::string& genre, std::vector<std::string> shards, int64_t registered_ms) {
  PackRow row;
  row.manifest_sha256 = Sha(manifest);
  row.genre = genre;
  row.blob_shas = std::move(shards);
  row.blob_shas.push_back(row.manifest_sha256);
  row.shards = static_cast<int32_t>(row.blob_shas.size() - 1);
  row.size_bytes = 1000;
  row.train_samples = 90;
  row.heldout_samples = 10;
  row.registered_ms = registered_ms;
  return row;
}

TEST_P(StoreContractTest, PacksAreRegisteredOnceListedNewestFirstAndKeepTheirBlobs) {
  auto first = store_->InsertPack(MakePack('a', "rock", {Sha('1'), Sha('2')}, 100));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(*first);
  auto again = store_->InsertPack(MakePack('a', "jazz", {Sha('9')}, 999));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(*again) << "a second registration must change nothing";
  ASSERT_TRUE(store_->InsertPack(MakePack('b', "pop", {Sha('2'), Sha('3'), Sha('3')}, 200)).ok());

  auto got = store_->GetPack(Sha('a'));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->genre, "rock");
  EXPECT_EQ(got->registered_ms, 100);
  EXPECT_EQ(got->shards, 2);
  EXPECT_EQ(got->train_samples, 90);
  EXPECT_EQ(got->blob_shas, (std::vector<std::string>{Sha('1'), Sha('2'), Sha('a')}));

  auto all = store_->ListPacks("");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].manifest_sha256, Sha('b'));  // newest first
  EXPECT_EQ((*all)[0].blob_shas, (std::vector<std::string>{Sha('2'), Sha('3'), Sha('b')}));
  auto rock = store_->ListPacks("rock");
  ASSERT_TRUE(rock.ok());
  ASSERT_EQ(rock->size(), 1u);
  EXPECT_EQ((*rock)[0].manifest_sha256, Sha('a'));
  EXPECT_TRUE(store_->ListPacks("jazz")->empty());

  auto blobs = store_->ListPackBlobShas();
  ASSERT_TRUE(blobs.ok());
  EXPECT_EQ(*blobs, (std::vector<std::string>{Sha('1'), Sha('2'), Sha('3'), Sha('a'), Sha('b')}));
}

TEST_P(StoreContractTest, BadPacksAreRefusedNamingWhy) {
  auto unknown = store_->GetPack(Sha('c'));
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("pack " + Sha('c') + " not found"));
  PackRow bad_sha = MakePack('a', "rock", {}, 1);
  bad_sha.manifest_sha256 = "ABC";
  EXPECT_EQ(store_->InsertPack(bad_sha).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->InsertPack(MakePack('a', "", {}, 1)).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->InsertPack(MakePack('a', "rock", {"x"}, 1)).status().code(), absl::StatusCode::kInvalidArgument);
  PackRow no_manifest = MakePack('a', "rock", {Sha('1')}, 1);
  no_manifest.blob_shas = {Sha('1')};
  auto refused = store_->InsertPack(no_manifest);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("must include the manifest"));
  EXPECT_TRUE(store_->ListPacks("")->empty());
  EXPECT_TRUE(store_->ListPackBlobShas()->empty());
}

INSTANTIATE_TEST_SUITE_P(Stores, StoreContractTest, ::testing::Values(Kind::kSqlite, Kind::kMemory), KindName);

}  // namespace
}  // namespace tutti::coord
