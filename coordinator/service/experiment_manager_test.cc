// Sweeps in-process: the ExperimentManager driving real searchers over the lifecycle and a MemoryStore,
// with simulated workers that lease, report and complete. No gRPC, no training.

#include "coordinator/service/experiment_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "coordinator/service/service_test_util.h"
#include "core/config/experiment_config_yaml.h"

namespace tutti::coord {
namespace {

using ::testing::HasSubstr;
using testing::Fixture;

ExperimentConfig Parse(const std::string& yaml) {
  StatusOr<ExperimentConfig> c = ParseExperimentConfig(yaml, "test.yaml");
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : ExperimentConfig();
}

const char kAsha[] =
    "name: asha\n"
    "train: {steps: 20}\n"
    "hyperparameters:\n  train.g_lr: {type: log_uniform, min: 0.0001, max: 0.01}\n"
    "searcher: {name: asha, max_trials: 6, max_concurrent_trials: 2, max_length: 20, divisor: 2, max_rungs: 2, seed: 3}\n";

struct Sim {
  Fixture f;
  explicit Sim(const std::string& name) : f(name, {}, /*with_manager=*/true) {}

  int64_t Submit(const std::string& yaml) {
    std::vector<TrialRow> created;
    auto e = f.manager->Submit(Parse(yaml), "test.yaml", yaml, {}, &created);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? e->id : 0;
  }
  // Value a trial reports for the searcher's metric: a fixed function of its learning rate, so runs are
  // reproducible and the best trial is the one with the lowest g_lr.
  static double Value(const TrialRow& t) {
    nlohmann::json h = nlohmann::json::parse(t.hparams_json);
    return h.contains("train.g_lr") ? std::stod(h["train.g_lr"].get<std::string>()) * 100 : 1.0;
  }
  // One worker turn: lease a trial, report the metric at its target, complete it. False when nothing was
  // queued.
  bool Step() {
    auto grant = f.lifecycle->LeaseNext("sim:1", 1);
    EXPECT_TRUE(grant.ok()) << grant.status();
    if (!grant.ok() || !grant->has_value()) return false;
    const TrialRow& t = (*grant)->trial;
    MetricRow m{t.id, t.target_steps, "eval", nlohmann::json{{"realism.score", Value(t)}}.dump(), 0};
    EXPECT_TRUE(f.store->AppendMetrics({m}).ok());
    auto done = f.lifecycle->Complete((*grant)->lease_id, t.id, t.target_steps, kReasonCompleted, "");
    EXPECT_TRUE(done.ok()) << done.status();
    EXPECT_TRUE(f.manager->Reconcile(t.experiment_id).ok());
    return true;
  }
  std::vector<TrialRow> Trials(int64_t experiment) { return *f.lifecycle->TrialsOf(experiment); }
};

TEST(ExperimentManager, APlainJobRunsOneTrialAndEnds) {
  Sim s("plain");
  const int64_t e = s.Submit("name: plain\ntrain: {steps: 50}\n");
  ASSERT_EQ(s.Trials(e).size(), 1u);
  EXPECT_EQ(s.Trials(e)[0].target_steps, 50);
  EXPECT_TRUE(s.Step());
  EXPECT_FALSE(s.Step());
  EXPECT_EQ(s.Trials(e)[0].state, TrialState::kCompleted);
  EXPECT_EQ(s.f.store->GetExperiment(e)->state, ExperimentState::kCompleted);
}

// ASHA over 6 trials, rungs of 10 and 20 steps, promoting the best half: every trial trains its first rung,
// exactly the promoted ones reach 20, the others are closed with their rung and value, and the experiment
// ends when the searcher is done.
TEST(ExperimentManager, AshaPromotesClosesAndFinishes) {
  Sim s("asha");
  const int64_t e = s.Submit(kAsha);
  EXPECT_EQ(s.Trials(e).size(), 2u);  // max_concurrent_trials
  int turns = 0;
  while (s.Step()) ASSERT_LT(++turns, 50) << "no end";
  const std::vector<TrialRow> trials = s.Trials(e);
  ASSERT_EQ(trials.size(), 6u);
  int promoted = 0;
  for (const TrialRow& t : trials) {
    EXPECT_EQ(t.state, TrialState::kCompleted) << t.id << " " << t.message;
    if (t.target_steps == 20) {
      ++promoted;
      EXPECT_EQ(t.stop_reason, "completed");
    } else {
      EXPECT_EQ(t.target_steps, 10);
      EXPECT_THAT(t.stop_reason, HasSubstr("stopped at rung 1")) << t.message;
    }
  }
  EXPECT_GE(promoted, 1);
  EXPECT_LE(promoted, 3);
  EXPECT_EQ(s.f.store->GetExperiment(e)->state, ExperimentState::kCompleted);
  EXPECT_DOUBLE_EQ(s.f.manager->Progress(e), 1.0);
}

// The same sweep with the coordinator restarted (new lifecycle and manager from the same store) after every
// worker turn ends exactly as the uninterrupted one: no trial and no decision is lost or made twice.
TEST(ExperimentManager, RestartsLoseNoTrialAndNoDecision) {
  Sim straight("straight");
  const int64_t a = straight.Submit(kAsha);
  while (straight.Step()) {
  }
  Sim restarted("restarted");
  const int64_t b = restarted.Submit(kAsha);
  int turns = 0;
  while (true) {
    restarted.f.Restart();
    if (!restarted.Step()) break;
    ASSERT_LT(++turns, 50);
  }
  const std::vector<TrialRow> x = straight.Trials(a), y = restarted.Trials(b);
  ASSERT_EQ(x.size(), y.size());
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(x[i].hparams_json, y[i].hparams_json) << i;
    EXPECT_EQ(x[i].target_steps, y[i].target_steps) << i;
    EXPECT_EQ(x[i].state, y[i].state) << i;
    EXPECT_EQ(x[i].stop_reason, y[i].stop_reason) << i;
  }
  EXPECT_EQ(restarted.f.store->GetExperiment(b)->state, ExperimentState::kCompleted);
}

TEST(ExperimentManager, ASweepWhoseTrialsAllFailEndsFailedWithTheReasons) {
  Sim s("all-fail");
  const int64_t e = s.Submit(
      "name: doomed\ntrain: {steps: 20}\nhyperparameters:\n  train.g_lr: {type: double, min: 0.001, max: 0.01}\n"
      "searcher: {name: random, max_trials: 3}\n");
  int turns = 0;
  while (true) {
    auto grant = s.f.lifecycle->LeaseNext("sim:1", 1);
    ASSERT_TRUE(grant.ok());
    if (!grant->has_value()) break;
    ASSERT_TRUE(s.f.lifecycle->Fail((*grant)->lease_id, (*grant)->trial.id, 7, "non-finite d_loss (nan) at step 7",
                                    false, "non-finite loss")
                    .ok());
    ASSERT_TRUE(s.f.manager->Reconcile(e).ok());
    ASSERT_LT(++turns, 10);
  }
  EXPECT_EQ(turns, 3);
  ExperimentRow row = *s.f.store->GetExperiment(e);
  EXPECT_EQ(row.state, ExperimentState::kFailed);
  EXPECT_THAT(row.message, HasSubstr("non-finite d_loss"));
  for (const TrialRow& t : s.Trials(e)) EXPECT_EQ(t.stop_reason, "non-finite loss");
}

TEST(ExperimentManager, EarlyStoppingStopsADivergingCriticWithItsReason) {
  Sim s("early");
  const int64_t e = s.Submit(
      "name: early\ntrain: {steps: 1000}\nearly_stopping: {divergence_threshold: 50, divergence_window: 3}\n");
  auto grant = s.f.lifecycle->LeaseNext("sim:1", 1);
  const TrialRow t = (*grant)->trial;
  for (int step = 10; step <= 30; step += 10) {
    s.f.manager->OnMetrics(t.id, step, "train", {{"wasserstein", 80.0 + step}, {"d_loss", -80.0}, {"g_loss", 1.0}});
  }
  auto beat = s.f.lifecycle->Heartbeat((*grant)->lease_id, t.id, 30);
  ASSERT_TRUE(beat.ok());
  EXPECT_EQ(beat->control, HeartbeatReply::Control::kStop);
  EXPECT_THAT(beat->reason, HasSubstr("critic diverged"));
  ASSERT_TRUE(s.f.lifecycle->Complete((*grant)->lease_id, t.id, 31, kReasonByCoordinator, "").ok());
  ASSERT_TRUE(s.f.manager->Reconcile(e).ok());
  TrialRow stopped = *s.f.lifecycle->GetTrial(t.id);
  EXPECT_EQ(stopped.state, TrialState::kCompleted);
  EXPECT_EQ(stopped.stop_reason, "critic diverged");
  EXPECT_THAT(stopped.message, HasSubstr("100"));
  EXPECT_EQ(s.f.store->GetExperiment(e)->state, ExperimentState::kCompleted);
}

TEST(ExperimentManager, PauseStopsRunningTrialsAndHoldsTheQueueUntilResumed) {
  Sim s("pause");
  const int64_t e = s.Submit(
      "name: p\ntrain: {steps: 20}\nhyperparameters:\n  train.g_lr: {type: double, min: 0.001, max: 0.01}\n"
      "searcher: {name: random, max_trials: 3, max_concurrent_trials: 2}\n");
  auto grant = s.f.lifecycle->LeaseNext("sim:1", 1);
  ASSERT_TRUE(grant.ok() && grant->has_value());
  ASSERT_TRUE(s.f.lifecycle->PauseExperiment(e).ok());
  EXPECT_EQ(s.f.store->GetExperiment(e)->state, ExperimentState::kPaused);
  EXPECT_FALSE(s.f.lifecycle->LeaseNext("sim:2", 1)->has_value());  // queued, but paused
  auto beat = s.f.lifecycle->Heartbeat((*grant)->lease_id, (*grant)->trial.id, 5);
  EXPECT_EQ(beat->control, HeartbeatReply::Control::kStop);
  EXPECT_THAT(beat->reason, HasSubstr("paused"));
  ASSERT_TRUE(s.f.lifecycle->Complete((*grant)->lease_id, (*grant)->trial.id, 5, kReasonByCoordinator, "").ok());
  ASSERT_TRUE(s.f.manager->Reconcile(e).ok());
  TrialRow back = *s.f.lifecycle->GetTrial((*grant)->trial.id);
  EXPECT_EQ(back.state, TrialState::kQueued);
  EXPECT_EQ(back.restarts, 0);
  EXPECT_THAT(back.message, HasSubstr("paused at step 5"));
  ASSERT_TRUE(s.f.lifecycle->ResumeExperiment(e).ok());
  EXPECT_TRUE(s.f.lifecycle->LeaseNext("sim:2", 1)->has_value());
  EXPECT_EQ(s.f.lifecycle->PauseExperiment(999).code(), absl::StatusCode::kNotFound);
}

TEST(ExperimentManager, RaisingMaxTrialsCreatesMore) {
  Sim s("extend");
  const int64_t e = s.Submit(
      "name: x\ntrain: {steps: 20}\nhyperparameters:\n  train.g_lr: {type: double, min: 0.001, max: 0.01}\n"
      "searcher: {name: random, max_trials: 2}\n");
  EXPECT_EQ(s.Trials(e).size(), 2u);
  ASSERT_TRUE(s.f.manager->SetMaxTrials(e, 4).ok());
  EXPECT_EQ(s.Trials(e).size(), 4u);
  EXPECT_EQ(s.f.manager->Config(e)->searcher.max_trials, 4);
  EXPECT_EQ(s.f.manager->SetMaxTrials(e, 1).code(), absl::StatusCode::kInvalidArgument);
  while (s.Step()) {
  }
  EXPECT_EQ(s.f.store->GetExperiment(e)->state, ExperimentState::kCompleted);
  EXPECT_EQ(s.f.manager->SetMaxTrials(e, 9).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ExperimentManager, AForkRecordsItsParentAndStartsFromItsCheckpoint) {
  Sim s("fork");
  const int64_t e = s.Submit("name: f\ntrain: {steps: 20, g_lr: 0.001}\n");
  ASSERT_TRUE(s.Step());
  ASSERT_EQ(s.f.store->GetExperiment(e)->state, ExperimentState::kCompleted);
  const TrialRow parent = s.Trials(e)[0];
  auto child = s.f.manager->Fork(parent.id, 0, 42, {"train.g_lr=0.0001", "train.steps=40"});
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_EQ(child->parent_trial_id, parent.id);
  EXPECT_EQ(child->resume_checkpoint_id, 42);
  EXPECT_EQ(child->target_steps, 40);
  EXPECT_THAT(child->config_yaml, HasSubstr("g_lr: 1e-04"));
  EXPECT_THAT(child->hparams_json, HasSubstr("train.g_lr"));
  EXPECT_EQ(s.f.store->GetExperiment(e)->state, ExperimentState::kActive);  // running again
  EXPECT_TRUE(s.Step());
  EXPECT_EQ(s.f.store->GetExperiment(e)->state, ExperimentState::kCompleted);
  EXPECT_FALSE(s.f.manager->Fork(parent.id, 0, 0, {"train.g_lr=-1"}).ok());
}

}  // namespace
}  // namespace tutti::coord
