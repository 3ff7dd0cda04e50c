#include "coordinator/service/trial_lifecycle.h"

#include <gtest/gtest.h>

#include "coordinator/service/service_test_util.h"

namespace tutti::coord {
namespace {

using testing::Fixture;

TEST(TrialLifecycle, LeasesTheOldestQueuedTrialOnce) {
  Fixture f("lease");
  std::vector<int64_t> ids = f.Submit(2);
  LeaseGrant a = f.Lease("host-a:1");
  EXPECT_EQ(a.trial.id, ids[0]);
  EXPECT_EQ(a.trial.state, TrialState::kRunning);
  EXPECT_EQ(a.lease_id.size(), 32u);
  LeaseGrant b = f.Lease("host-b:2");
  EXPECT_EQ(b.trial.id, ids[1]);
  EXPECT_NE(a.lease_id, b.lease_id);
  auto none = f.lifecycle->LeaseNext("host-c:3", 1);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

// Rank packing (what `tutti agent --ranks` and a launched `mpirun -np N tutti-worker` ask for): the oldest
// queued trial that fits the free ranks, never more ranks than a trial asked for, a too-big trial reported
// (not leased, not blocking the ones behind it), and a launched job's exact world size.
TEST(TrialLifecycle, LeasesTheOldestTrialThatFitsTheFreeRanks) {
  Fixture f("ranks");
  const std::vector<int64_t> ids = f.Submit(4, "", {8, 2, 3, 0});
  TrialLifecycle::LeaseAsk agent{"agent:1", /*free_ranks=*/4, /*default_ranks=*/1, /*exact=*/false, /*max_ranks=*/4};
  auto first = f.lifecycle->LeaseNext(agent);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first->grant.has_value());
  EXPECT_EQ(first->grant->trial.id, ids[1]);  // the 8-rank trial never fits this agent
  EXPECT_EQ(first->grant->trial.ranks, 2);
  EXPECT_EQ(first->unfit_trial_id, ids[0]);
  EXPECT_EQ(first->unfit_ranks, 8);

  agent.free_ranks = 2;  // 3 ranks do not fit in the 2 left: the default-ranks trial behind it does
  auto second = f.lifecycle->LeaseNext(agent);
  ASSERT_TRUE(second->grant.has_value());
  EXPECT_EQ(second->grant->trial.id, ids[3]);
  EXPECT_EQ(second->grant->trial.ranks, 1);

  agent.free_ranks = 1;
  auto none = f.lifecycle->LeaseNext(agent);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->grant.has_value());

  // A launched 3-rank job takes exactly the 3-rank trial; an exact 2-rank job finds nothing.
  TrialLifecycle::LeaseAsk launched{"srun:7", /*free_ranks=*/2, /*default_ranks=*/2, /*exact=*/true, 0};
  EXPECT_FALSE(f.lifecycle->LeaseNext(launched)->grant.has_value());
  launched.free_ranks = 3;
  auto exact = f.lifecycle->LeaseNext(launched);
  ASSERT_TRUE(exact->grant.has_value());
  EXPECT_EQ(exact->grant->trial.id, ids[2]);
  EXPECT_EQ(exact->grant->trial.ranks, 3);
  EXPECT_EQ(f.lifecycle->GetTrial(ids[0])->state, TrialState::kQueued);
}

TEST(TrialLifecycle, HeartbeatsKeepTheLeaseAndExpiryRequeuesNamingTheWorker) {
  Fixture f("expiry");
  f.Submit();
  LeaseGrant g = f.Lease("node7:42");
  // Heartbeats every 20 s keep a 30 s lease alive for 2 minutes.
  for (int i = 0; i < 6; ++i) {
    f.clock.Advance(20'000);
    ASSERT_TRUE(f.lifecycle->Heartbeat(g.lease_id, g.trial.id, 10 * i).ok()) << i;
  }
  EXPECT_EQ(f.lifecycle->ExpireLeases(), 0);
  f.clock.Advance(30'001);
  EXPECT_EQ(f.lifecycle->ExpireLeases(), 1);
  TrialRow row = *f.lifecycle->GetTrial(g.trial.id);
  EXPECT_EQ(row.state, TrialState::kQueued);
  EXPECT_EQ(row.restarts, 1);
  EXPECT_EQ(row.step, 50);
  EXPECT_NE(row.message.find("node7:42"), std::string::npos) << row.message;
  // The old lease is refused, naming itself and the trial.
  auto stale = f.lifecycle->Heartbeat(g.lease_id, g.trial.id, 60);
  ASSERT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(stale.status().message().find(g.lease_id), std::string::npos);
  EXPECT_NE(stale.status().message().find("no longer held"), std::string::npos);
  // The next lease resumes it; the stale worker still cannot complete it.
  LeaseGrant next = f.Lease("node8:1");
  EXPECT_EQ(next.trial.id, g.trial.id);
  EXPECT_EQ(f.lifecycle->Complete(g.lease_id, g.trial.id, 100, kReasonCompleted, "").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(f.lifecycle->GetTrial(g.trial.id)->state, TrialState::kRunning);
}

TEST(TrialLifecycle, TooManyRestartsFailsTheTrialAndTheExperiment) {
  LifecycleOptions o;
  o.max_restarts = 1;
  Fixture f("restarts", o);
  std::vector<int64_t> ids = f.Submit();
  LeaseGrant g = f.Lease();
  ASSERT_TRUE(f.lifecycle->Fail(g.lease_id, g.trial.id, 3, "rank 1 died", /*retryable=*/true).ok());
  EXPECT_EQ(f.lifecycle->GetTrial(ids[0])->state, TrialState::kQueued);
  g = f.Lease();
  f.clock.Advance(o.lease_ttl_ms + 1);
  f.lifecycle->ExpireLeases();
  TrialRow row = *f.lifecycle->GetTrial(ids[0]);
  EXPECT_EQ(row.state, TrialState::kFailed);
  EXPECT_EQ(row.stop_reason, kReasonTooManyRestarts);
  ExperimentRow e = *f.store->GetExperiment(row.experiment_id);
  EXPECT_EQ(e.state, ExperimentState::kFailed);
  EXPECT_NE(e.message.find("gave up after 1 restart"), std::string::npos) << e.message;
  EXPECT_NE(e.ended_ms, 0);
}

TEST(TrialLifecycle, NonRetryableFailureEndsTheTrial) {
  Fixture f("fail");
  std::vector<int64_t> ids = f.Submit();
  LeaseGrant g = f.Lease();
  auto row = f.lifecycle->Fail(g.lease_id, g.trial.id, 7, "d_loss is NaN", false);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->state, TrialState::kFailed);
  EXPECT_EQ(row->message, "failed at step 7: d_loss is NaN");
  EXPECT_EQ(f.store->GetExperiment(row->experiment_id)->state, ExperimentState::kFailed);
}

TEST(TrialLifecycle, ReleaseRequeuesWithoutCountingARestart) {
  Fixture f("release");
  std::vector<int64_t> ids = f.Submit();
  LeaseGrant g = f.Lease("a:1");
  auto row = f.lifecycle->Release(g.lease_id, g.trial.id, 40, "interrupted");
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->state, TrialState::kQueued);
  EXPECT_EQ(row->restarts, 0);
  EXPECT_EQ(row->step, 40);
  EXPECT_NE(row->message.find("interrupted"), std::string::npos);
}

TEST(TrialLifecycle, KillQueuedAtOnceAndRunningThroughTheHeartbeat) {
  Fixture f("kill");
  std::vector<int64_t> ids = f.Submit(2);
  LeaseGrant g = f.Lease();
  const int64_t experiment = g.trial.experiment_id;
  ASSERT_TRUE(f.lifecycle->KillExperiment(experiment).ok());
  EXPECT_EQ(f.lifecycle->GetTrial(ids[1])->state, TrialState::kKilled);
  EXPECT_EQ(f.lifecycle->GetTrial(ids[0])->state, TrialState::kRunning);
  EXPECT_EQ(f.store->GetExperiment(experiment)->ended_ms, 0);  // a trial is still stopping
  auto beat = f.lifecycle->Heartbeat(g.lease_id, g.trial.id, 12);
  ASSERT_TRUE(beat.ok());
  EXPECT_EQ(beat->control, HeartbeatReply::Control::kStop);
  EXPECT_EQ(beat->reason, "killed by a user");
  auto done = f.lifecycle->Complete(g.lease_id, g.trial.id, 13, kReasonByCoordinator, "killed by a user");
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state, TrialState::kKilled);
  ExperimentRow e = *f.store->GetExperiment(experiment);
  EXPECT_EQ(e.state, ExperimentState::kKilled);
  EXPECT_NE(e.ended_ms, 0);
  EXPECT_TRUE(f.lifecycle->KillExperiment(experiment).ok());  // idempotent
  EXPECT_EQ(f.lifecycle->KillTrial(999).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(f.lifecycle->KillExperiment(999).code(), absl::StatusCode::kNotFound);
}

TEST(TrialLifecycle, CompletionNeedsAKnownReasonAndFinishesTheExperiment) {
  Fixture f("complete");
  std::vector<int64_t> ids = f.Submit();
  LeaseGrant g = f.Lease();
  EXPECT_EQ(f.lifecycle->Complete(g.lease_id, g.trial.id, 100, "bored", "").status().code(),
            absl::StatusCode::kInvalidArgument);
  auto row = f.lifecycle->Complete(g.lease_id, g.trial.id, 100, kReasonCompleted, "done");
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->state, TrialState::kCompleted);
  EXPECT_EQ(row->step, 100);
  EXPECT_EQ(f.store->GetExperiment(row->experiment_id)->state, ExperimentState::kCompleted);
}

TEST(TrialLifecycle, CheckpointRequestIsDeliveredOnce) {
  Fixture f("ckpt-now");
  f.Submit();
  LeaseGrant g = f.Lease();
  ASSERT_TRUE(f.lifecycle->RequestCheckpoint(g.trial.id).ok());
  EXPECT_EQ(f.lifecycle->Heartbeat(g.lease_id, g.trial.id, 1)->control, HeartbeatReply::Control::kCheckpointNow);
  EXPECT_EQ(f.lifecycle->Heartbeat(g.lease_id, g.trial.id, 2)->control, HeartbeatReply::Control::kContinue);
}

TEST(TrialLifecycle, AnAgentsLeaseIsAdoptedByItsWorker) {
  Fixture f("adopt");
  f.Submit();
  LeaseGrant g = f.Lease("agent:1");
  auto adopted = f.lifecycle->Adopt(g.lease_id, "worker:2");
  ASSERT_TRUE(adopted.ok());
  EXPECT_EQ(adopted->trial.lease_worker, "worker:2");
  EXPECT_EQ(f.lifecycle->Adopt("0000", "worker:3").status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(TrialLifecycle, RestartExpiresLeasesThatRanOutMeanwhileAndKeepsLiveOnes) {
  Fixture f("restart");
  std::vector<int64_t> ids = f.Submit(2);
  LeaseGrant old_lease = f.Lease("a:1");
  f.clock.Advance(20'000);
  LeaseGrant live = f.Lease("b:2");
  ASSERT_TRUE(f.lifecycle->RecordProgress(live.lease_id, live.trial.id, 77, {{"d_loss", 0.5}}).ok());
  ASSERT_TRUE(f.lifecycle->Heartbeat(live.lease_id, live.trial.id, 77).ok());
  f.clock.Advance(15'000);  // the first lease (granted 35 s ago) ran out; the second (15 s) did not
  f.Restart();
  EXPECT_EQ(f.lifecycle->GetTrial(ids[0])->state, TrialState::kQueued);
  EXPECT_EQ(f.lifecycle->GetTrial(ids[0])->restarts, 1);
  TrialRow kept = *f.lifecycle->GetTrial(ids[1]);
  EXPECT_EQ(kept.state, TrialState::kRunning);
  EXPECT_EQ(kept.step, 77);
  EXPECT_NE(kept.last_metrics_json.find("d_loss"), std::string::npos);
  EXPECT_TRUE(f.lifecycle->Heartbeat(live.lease_id, live.trial.id, 78).ok());
  EXPECT_FALSE(f.lifecycle->Heartbeat(old_lease.lease_id, old_lease.trial.id, 5).ok());
}

// A store that fails every trial update while `broken` is set (a full disk under SQLite).
class BreakableStore : public MemoryStore {
 public:
  bool broken = false;
  Status UpdateTrial(const TrialRow& row) override {
    if (broken) return absl::ResourceExhaustedError("disk full");
    return MemoryStore::UpdateTrial(row);
  }
};

TEST(TrialLifecycle, AFailingStoreChangesNothing) {
  Fixture f("broken");
  auto store = std::make_unique<BreakableStore>();
  BreakableStore* breakable = store.get();
  f.store = std::move(store);
  f.Restart();
  std::vector<int64_t> ids = f.Submit();
  breakable->broken = true;
  auto grant = f.lifecycle->LeaseNext("w:1", 1);
  EXPECT_EQ(grant.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(f.lifecycle->GetTrial(ids[0])->state, TrialState::kQueued);
  breakable->broken = false;
  LeaseGrant g = f.Lease();
  EXPECT_EQ(g.trial.id, ids[0]);
}

}  // namespace
}  // namespace tutti::coord
