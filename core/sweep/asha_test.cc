// ASHA: a scenario worked out by hand, then the rules one at a time, then simulated sweeps.

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/sweep/searcher.h"
#include "core/sweep/sweep_test_util.h"

namespace tutti::sweep {
namespace {

using ::testing::HasSubstr;
using Type = HyperparameterSpec::Type;
using namespace testing_util;  // NOLINT

SearcherConfig Asha(int max_trials, int max_concurrent, int64_t max_length = 16, int divisor = 2, int rungs = 3) {
  SearcherConfig c;
  c.kind = SearcherConfig::Kind::kAsha;
  c.max_trials = max_trials;
  c.max_concurrent_trials = max_concurrent;
  c.max_length = max_length;
  c.divisor = divisor;
  c.max_rungs = rungs;
  c.smaller_is_better = true;
  c.seed = 7;
  return c;
}

const Assignment kLr = {{"train.g_lr", "0.001"}};  // one const hyperparameter: every kCreate carries it
Operation New(int64_t id) { return Create(id, 4, kLr); }
std::string Stopped(int rung, const std::string& why) {
  return "stopped at rung " + std::to_string(rung) + " of 3: not in the top 1/2 of its rung (" + why + ")";
}

// The scenario, worked out by hand. divisor 2, 3 rungs, max_length 16 -> rungs of 4, 8, 16 steps;
// max_trials 6, max_concurrent 2; smaller values are better. "rung0 = {1:.5, 2:.3}" lists the trials that
// reached rung 0 with their values there; the top floor(n / 2) of a rung of n trials may go on.
//
//  #  call                      state after it                                     operations
//  1  Start                     nothing ran yet: fill both slots                   Create 1, Create 2 (to 4)
//  2  OnValidation(1, 2, 0.2)
//  3  OnValidation(1, 4, 0.5)   1's value is 0.5: the LAST one counts, not the best
//  4  OnLengthReached(1, 4)     rung0 = {1:.5}; top floor(1/2) = 0: no promotion   Create 3
//  5  OnValidation(2, 4, 0.3)
//  6  OnLengthReached(2, 4)     rung0 = {1:.5, 2:.3}; top 1 = {2}                  TrainTo 2 -> 8
//  7  OnValidation(3, 4, 0.4)
//  8  OnLengthReached(3, 4)     rung0 = {1:.5, 2:.3, 3:.4}; top 1 = {2}, already   Create 4
//                               promoted; rung1 is empty: a new trial
//  9  OnLengthReached(4, 4)     no validation: 4 ranks last. rung0 = {1:.5, 2:.3,  TrainTo 3 -> 8
//                               3:.4, 4:-}; top 2 = {2, 3}: 3, waiting since call
//                               8, goes on now that a worse trial arrived
//                               (the asynchrony)
// 10  OnValidation(2, 8, 0.2)
// 11  OnLengthReached(2, 8)     rung1 = {2:.2}: top 0; rung0's top 2 = {2, 3}      Create 5
//                               were promoted: a new trial
// 12  OnValidation(5, 4, 0.1)
// 13  OnLengthReached(5, 4)     rung0 (5 trials): top 2 = {5:.1, 2:.3}             TrainTo 5 -> 8
// 14  OnValidation(3, 8, 0.35)
// 15  OnLengthReached(3, 8)     rung1 = {2:.2, 3:.35}: top 1 = {2} (the higher     TrainTo 2 -> 16
//                               rung is looked at first); 3 waits at rung1
// 16  OnTrialEnded(5, failed)   5 leaves contention, its slot frees: rung1's top   Create 6
//                               {2} and rung0's top {5, 2} were promoted
// 17  OnValidation(6, 4, 0.42)
// 18  OnLengthReached(6, 4)     rung0 (6): top 3 = {5:.1, 2:.3, 3:.4}, all         -
//                               promoted; 6 trials created. 2 still trains,
//                               so the waiting 1, 3, 4, 6 are NOT closed yet
// 19  OnValidation(2, 16, 0.15)
// 20  OnLengthReached(2, 16)    top rung: 2 completed. Nothing trains, all 6       Close 2 "completed",
//                               created, nothing promotable: the waiting trials    Close 1, 3, 4, 6 (by
//                               are stopped, rung and value in the reason          request id), Shutdown
// (OnValidation(r, step, value); OnLengthReached(r, length).)
TEST(AshaTest, HandWorkedExample) {
  auto s = MustCreate(Asha(6, 2), {Const("train.g_lr", "0.001")});
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(AshaRungLengths(Asha(6, 2)), (std::vector<int64_t>{4, 8, 16}));
  EXPECT_EQ(s->Start(), (Ops{New(1), New(2)}));                          // 1
  EXPECT_EQ(s->OnValidation(1, 2, 0.2), Ops{});                          // 2
  EXPECT_EQ(s->OnValidation(1, 4, 0.5), Ops{});                          // 3
  EXPECT_EQ(s->OnLengthReached(1, 4), Ops{New(3)});                      // 4
  EXPECT_EQ(s->OnValidation(2, 4, 0.3), Ops{});                          // 5
  EXPECT_EQ(s->OnLengthReached(2, 4), Ops{TrainTo(2, 8)});               // 6
  EXPECT_EQ(s->OnValidation(3, 4, 0.4), Ops{});                          // 7
  EXPECT_EQ(s->OnLengthReached(3, 4), Ops{New(4)});                      // 8
  EXPECT_EQ(s->OnLengthReached(4, 4), Ops{TrainTo(3, 8)});               // 9
  EXPECT_EQ(s->OnValidation(2, 8, 0.2), Ops{});                          // 10
  EXPECT_EQ(s->OnLengthReached(2, 8), Ops{New(5)});                      // 11
  EXPECT_EQ(s->OnValidation(5, 4, 0.1), Ops{});                          // 12
  EXPECT_EQ(s->OnLengthReached(5, 4), Ops{TrainTo(5, 8)});               // 13
  EXPECT_EQ(s->OnValidation(3, 8, 0.35), Ops{});                         // 14
  EXPECT_EQ(s->OnLengthReached(3, 8), Ops{TrainTo(2, 16)});              // 15
  EXPECT_EQ(s->OnTrialEnded(5, /*failed=*/true), Ops{New(6)});           // 16
  EXPECT_EQ(s->OnValidation(6, 4, 0.42), Ops{});                         // 17
  EXPECT_EQ(s->OnLengthReached(6, 4), Ops{});                            // 18
  EXPECT_FALSE(s->done());
  EXPECT_EQ(s->OnValidation(2, 16, 0.15), Ops{});                        // 19
  EXPECT_EQ(s->OnLengthReached(2, 16),                                   // 20
            (Ops{Close(2, "completed"), Close(1, Stopped(1, "value 0.5")), Close(3, Stopped(2, "value 0.35")),
                 Close(4, Stopped(1, "no value reported by step 4")), Close(6, Stopped(1, "value 0.42")),
                 Shutdown()}));
  EXPECT_TRUE(s->done());
  EXPECT_EQ(s->Progress(), 1.0);
  EXPECT_EQ(s->OnLengthReached(6, 8), Ops{});
  EXPECT_EQ(s->SetMaxTrials(10).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(AshaTest, LargerIsBetterRanksTheOtherWay) {
  SearcherConfig c = Asha(4, 1);
  c.smaller_is_better = false;
  auto s = MustCreate(c, {Const("train.g_lr", "0.001")});
  EXPECT_EQ(s->Start(), Ops{New(1)});
  (void)s->OnValidation(1, 4, 0.9);
  EXPECT_EQ(s->OnLengthReached(1, 4), Ops{New(2)});
  (void)s->OnValidation(2, 4, 0.1);
  EXPECT_EQ(s->OnLengthReached(2, 4), Ops{TrainTo(1, 8)});  // 0.9 beats 0.1
}

TEST(AshaTest, TiesGoToTheSmallerRequestId) {
  auto s = MustCreate(Asha(2, 0), {Const("train.g_lr", "0.001")});
  EXPECT_EQ(s->Start(), (Ops{New(1), New(2)}));
  (void)s->OnValidation(2, 4, 0.5);
  EXPECT_EQ(s->OnLengthReached(2, 4), Ops{});  // rung0 = {2}: top 0
  (void)s->OnValidation(1, 4, 0.5);
  EXPECT_EQ(s->OnLengthReached(1, 4), Ops{TrainTo(1, 8)});
}

TEST(AshaTest, ValidationsPastTheGivenLengthAreIgnoredAndNonFiniteRanksLast) {
  // divisor 3, 2 rungs of 4 and 12 steps: the third trial at rung 0 lets the best one go on.
  auto s = MustCreate(Asha(3, 0, 12, 3, 2), {Const("train.g_lr", "0.001")});
  EXPECT_EQ(s->Start(), (Ops{New(1), New(2), New(3)}));
  (void)s->OnValidation(1, 4, 0.6);
  (void)s->OnValidation(1, 6, 0.01);  // past rung 0's 4 steps: ignored (else 1 would be promoted)
  (void)s->OnValidation(2, 3, 0.0);
  (void)s->OnValidation(2, 4, std::nan(""));  // the LAST value is NaN: 2 has no value (else 0.0 would win)
  (void)s->OnValidation(3, 4, 0.5);
  EXPECT_EQ(s->OnLengthReached(1, 4), Ops{});
  EXPECT_EQ(s->OnLengthReached(2, 4), Ops{});
  EXPECT_EQ(s->OnLengthReached(3, 4), Ops{TrainTo(3, 12)});  // {3: .5, 1: .6, 2: none}: top 1 = {3}
  EXPECT_EQ(s->OnLengthReached(3, 12),
            (Ops{Close(3), Close(1, "stopped at rung 1 of 2: not in the top 1/3 of its rung (value 0.6)"),
                 Close(2, "stopped at rung 1 of 2: not in the top 1/3 of its rung (no value reported by step 4)"),
                 Shutdown()}));
}

TEST(AshaTest, StartRespectsConcurrencyAndMaxTrials) {
  EXPECT_EQ(MustCreate(Asha(6, 2), {})->Start().size(), 2u);
  EXPECT_EQ(MustCreate(Asha(6, 0), {})->Start().size(), 6u);
  EXPECT_EQ(MustCreate(Asha(3, 5), {})->Start().size(), 3u);
}

TEST(AshaTest, OneRungIsRandomSearchToMaxLength) {
  auto s = MustCreate(Asha(2, 1, 16, 2, 1), {Const("train.g_lr", "0.001")});
  EXPECT_EQ(s->Start(), Ops{Create(1, 16, kLr)});
  EXPECT_EQ(s->OnLengthReached(1, 16), (Ops{Close(1), Create(2, 16, kLr)}));
  EXPECT_EQ(s->OnLengthReached(2, 16), (Ops{Close(2), Shutdown()}));
}

TEST(AshaTest, WaitingTrialThatEndsIsNeverPromoted) {
  auto s = MustCreate(Asha(2, 1), {Const("train.g_lr", "0.001")});
  EXPECT_EQ(s->Start(), Ops{New(1)});
  (void)s->OnValidation(1, 4, 0.1);
  EXPECT_EQ(s->OnLengthReached(1, 4), Ops{New(2)});  // 1 waits (top 0 of 1)
  EXPECT_EQ(s->OnTrialEnded(1, /*failed=*/false), Ops{});  // killed while waiting: 2 still trains
  (void)s->OnValidation(2, 4, 0.5);
  // rung0 = {1:.1 (ended), 2:.5}: the top 1 is 1, which cannot go on; 2 is not in the top: stopped.
  EXPECT_EQ(s->OnLengthReached(2, 4), (Ops{Close(2, Stopped(1, "value 0.5")), Shutdown()}));
}

TEST(AshaTest, EveryTrialFailingEndsTheSearch) {
  auto s = MustCreate(Asha(3, 2), {});
  EXPECT_EQ(s->Start().size(), 2u);
  EXPECT_EQ(s->OnTrialEnded(1, true).size(), 1u);  // Create 3
  EXPECT_EQ(s->OnTrialEnded(2, true), Ops{});
  EXPECT_EQ(s->OnTrialEnded(3, true), Ops{Shutdown()});
}

TEST(AshaTest, SetMaxTrialsRaisesAndRejectsLoweringBelowCreated) {
  auto s = MustCreate(Asha(2, 0), {Const("train.g_lr", "0.001")});
  EXPECT_EQ(s->Start(), (Ops{New(1), New(2)}));
  StatusOr<Ops> low = s->SetMaxTrials(1);
  EXPECT_EQ(low.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(low.status().message()), HasSubstr("2 trials were already created"));
  StatusOr<Ops> raised = s->SetMaxTrials(4);  // no concurrency limit: two more at once
  ASSERT_TRUE(raised.ok());
  EXPECT_EQ(*raised, (Ops{New(3), New(4)}));
}

TEST(AshaTest, LoweringMaxTrialsToCreatedCanEndTheSearch) {
  auto s = MustCreate(Asha(5, 1), {Const("train.g_lr", "0.001")});
  EXPECT_EQ(s->Start(), Ops{New(1)});
  (void)s->OnValidation(1, 4, 0.3);
  EXPECT_EQ(s->OnLengthReached(1, 4), Ops{New(2)});
  (void)s->OnValidation(2, 4, 0.6);
  EXPECT_EQ(s->OnLengthReached(2, 4), Ops{TrainTo(1, 8)});
  EXPECT_EQ(s->OnLengthReached(1, 8), Ops{New(3)});  // rung1 = {1: .3}: top 0
  StatusOr<Ops> lowered = s->SetMaxTrials(3);
  ASSERT_TRUE(lowered.ok());
  EXPECT_EQ(*lowered, Ops{});  // 3 still trains
  EXPECT_EQ(s->OnTrialEnded(3, true),
            (Ops{Close(1, Stopped(2, "value 0.3")), Close(2, Stopped(1, "value 0.6")), Shutdown()}));
}

TEST(AshaTest, ProgressEstimate) {
  // max_trials 4, divisor 2, rungs 4, 8, 16: expected work 4*4 + 2*4 + 1*8 = 32 steps.
  auto s = MustCreate(Asha(4, 0), {});
  (void)s->Start();
  EXPECT_EQ(s->Progress(), 0.0);
  (void)s->OnLengthReached(1, 4);
  EXPECT_DOUBLE_EQ(s->Progress(), 4.0 / 32);
  (void)s->OnLengthReached(2, 4);  // promotes 1 (no values: ties by id)
  (void)s->OnLengthReached(1, 8);
  EXPECT_DOUBLE_EQ(s->Progress(), 12.0 / 32);
}

TEST(AshaTest, SimulatedSweepsKeepTheProtocol) {
  // Random event orders, failures and concurrency limits; the simulation checks the invariants (limit,
  // operations only on waiting trials, everything closed or ended by kShutdown). Promotions are checked
  // here: each kTrainTo goes to a trial in the top floor(n / divisor) of its rung at that moment.
  for (int limit : {0, 1, 3}) {
    for (uint64_t seed : {1u, 2u, 3u}) {
      SearcherConfig c = Asha(20, limit, 81, 3, 3);  // rungs 9, 27, 81
      c.seed = seed;
      auto s = MustCreate(c, {Range("train.g_lr", Type::kLogUniform, 1e-5, 1e-2),
                              Range("model.width", Type::kInt, 1, 4)});
      Simulation::Options o;
      o.seed = seed;
      o.max_concurrent = limit;
      o.fail_percent = 3;
      o.eval_every = 5;
      Simulation sim(o);
      sim.Run(*s);
      EXPECT_EQ(sim.created.size(), 20u) << "limit " << limit << " seed " << seed;
      if (limit > 0) {
        EXPECT_EQ(sim.max_training_seen, limit);
      }
      // Replay to check each promotion against the rung as the searcher saw it.
      std::map<int64_t, double> value;                // last validation per trial at <= its target
      std::map<int64_t, int> rung_of;                 // rung index being trained toward / waited at
      std::vector<std::vector<std::pair<int64_t, double>>> rungs(3);
      const std::vector<int64_t> lengths = {9, 27, 81};
      int promotions = 0;
      for (size_t i = 0; i < sim.calls.size(); ++i) {
        const Call& call = sim.calls[i];
        if (call.kind == Call::kValidation) value[call.id] = call.value;
        if (call.kind == Call::kLength) {
          rungs[static_cast<size_t>(rung_of[call.id])].push_back(
              {call.id, value.count(call.id) ? value[call.id] : 1e300});
        }
        for (const Operation& op : sim.ops[i]) {
          if (op.kind == Operation::Kind::kCreate) rung_of[op.request_id] = 0;
          if (op.kind != Operation::Kind::kTrainTo) continue;
          ++promotions;
          const int k = rung_of[op.request_id];
          EXPECT_EQ(op.length, lengths[static_cast<size_t>(k) + 1]);
          std::vector<std::pair<int64_t, double>> r = rungs[static_cast<size_t>(k)];
          std::sort(r.begin(), r.end(),
                    [](auto a, auto b) { return a.second != b.second ? a.second < b.second : a.first < b.first; });
          const size_t quota = r.size() / 3;
          bool in_top = false;
          for (size_t j = 0; j < quota; ++j) in_top = in_top || r[j].first == op.request_id;
          EXPECT_TRUE(in_top) << "trial " << op.request_id << " promoted from rung " << k << " outside the top";
          rung_of[op.request_id] = k + 1;
        }
      }
      EXPECT_GT(promotions, 3);
    }
  }
}

}  // namespace
}  // namespace tutti::sweep
