// SaveState/LoadState: after every call of a simulated sweep, a fresh searcher loaded from the saved state
// must continue with exactly the operations the uninterrupted one returned.

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
using Kind = SearcherConfig::Kind;
using namespace testing_util;  // NOLINT

struct Case {
  const char* name;
  SearcherConfig config;
  std::vector<HyperparameterSpec> space;
  std::map<size_t, int> set_max_trials_at;
};

std::vector<Case> Cases() {
  const std::vector<HyperparameterSpec> space = {Range("train.g_lr", Type::kLogUniform, 1e-5, 1e-2, 2),
                                                 Range("model.width", Type::kInt, 1, 3),
                                                 Categorical("data.genre", {"rock", "jazz"})};
  SearcherConfig single;
  single.kind = Kind::kSingle;
  single.max_length = 20;
  SearcherConfig grid;
  grid.kind = Kind::kGrid;
  grid.max_trials = 0;
  grid.max_concurrent_trials = 3;
  grid.max_length = 20;
  SearcherConfig random;
  random.kind = Kind::kRandom;
  random.max_trials = 6;
  random.max_concurrent_trials = 2;
  random.max_length = 20;
  random.seed = 5;
  SearcherConfig asha;
  asha.kind = Kind::kAsha;
  asha.max_trials = 10;
  asha.max_concurrent_trials = 3;
  asha.max_length = 27;
  asha.divisor = 3;
  asha.max_rungs = 3;
  asha.seed = 9;
  return {{"single", single, {Const("train.g_lr", "0.001")}, {}},
          {"grid", grid, space, {}},
          {"random", random, space, {{10, 9}}},
          {"asha", asha, space, {{20, 14}}}};
}

TEST(SaveLoadTest, LoadingAfterEveryCallContinuesExactly) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    // The reference run.
    auto reference = MustCreate(c.config, c.space);
    ASSERT_NE(reference, nullptr);
    Simulation::Options o;
    o.seed = 3;
    o.fail_percent = 4;
    o.max_concurrent = c.config.max_concurrent_trials;
    o.set_max_trials_at = c.set_max_trials_at;
    Simulation sim(o);
    sim.Run(*reference);
    ASSERT_GT(sim.calls.size(), 3u);

    // The same calls on a searcher saved after every call, each state loaded into a fresh searcher that
    // then plays every remaining call.
    auto live = MustCreate(c.config, c.space);
    for (size_t i = 0; i < sim.calls.size(); ++i) {
      ASSERT_EQ(Apply(*live, sim.calls[i]), sim.ops[i]) << "call " << i;
      const std::string state = live->SaveState();
      auto resumed = MustCreate(c.config, c.space);
      ASSERT_TRUE(resumed->LoadState(state).ok()) << state;
      ASSERT_EQ(resumed->SaveState(), state) << "call " << i;
      EXPECT_EQ(resumed->done(), live->done());
      EXPECT_EQ(resumed->Progress(), live->Progress());
      for (size_t j = i + 1; j < sim.calls.size(); ++j) {
        ASSERT_EQ(Apply(*resumed, sim.calls[j]), sim.ops[j]) << "saved after call " << i << ", call " << j;
      }
    }
    EXPECT_TRUE(live->done());
  }
}

TEST(SaveLoadTest, RandomDrawsContinueAfterLoad) {
  // The generator is part of the state: trials created after a load draw what they would have drawn.
  const Case c = Cases()[2];
  auto a = MustCreate(c.config, c.space);
  Ops first = a->Start();
  auto b = MustCreate(c.config, c.space);
  ASSERT_TRUE(b->LoadState(a->SaveState()).ok());
  const Ops next_a = a->OnLengthReached(1, 20), next_b = b->OnLengthReached(1, 20);
  ASSERT_EQ(next_a.size(), 2u);
  EXPECT_EQ(next_a, next_b);
  EXPECT_NE(next_a[1].hparams, first[0].hparams);
}

TEST(SaveLoadTest, BadStatesAreRefusedAndChangeNothing) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    auto s = MustCreate(c.config, c.space);
    (void)s->Start();
    const std::string before = s->SaveState();
    for (const std::string& bad : {std::string("not json"), std::string("[1, 2]"), std::string("{}"),
                                  std::string(R"({"searcher": "other", "version": 1})"),
                                  std::string(R"({"searcher": ")") + c.name + R"(", "version": 99})",
                                  std::string(R"({"searcher": ")") + c.name + R"(", "version": 1})"}) {
      const Status status = s->LoadState(bad);
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
      EXPECT_THAT(std::string(status.message()), HasSubstr("searcher state")) << bad;
      EXPECT_EQ(s->SaveState(), before);
    }
  }
}

TEST(SaveLoadTest, StateOfAnotherKindOrShapeIsRefused) {
  const std::vector<Case> cases = Cases();
  auto grid = MustCreate(cases[1].config, cases[1].space);
  auto random = MustCreate(cases[2].config, cases[2].space);
  const Status wrong_kind = random->LoadState(grid->SaveState());
  EXPECT_EQ(wrong_kind.message(), "searcher state: saved by a grid searcher; this one is random");

  SearcherConfig other = cases[3].config;
  other.max_length = 54;  // rungs 6, 18, 54
  auto asha = MustCreate(cases[3].config, cases[3].space);
  auto longer = MustCreate(other, cases[3].space);
  EXPECT_THAT(std::string(longer->LoadState(asha->SaveState()).message()),
              HasSubstr("saved with rung lengths [3,9,27], this searcher has [6,18,54]"));

  auto small_grid = MustCreate(cases[1].config, {Range("model.width", Type::kInt, 1, 2)});
  EXPECT_THAT(std::string(small_grid->LoadState(grid->SaveState()).message()),
              HasSubstr("saved by a grid of 12 points; this one has 2"));
}

}  // namespace
}  // namespace tutti::sweep
