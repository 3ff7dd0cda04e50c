// Single, grid and random search: order, counts, draws, concurrency, SetMaxTrials, Progress.

#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/sweep/searcher.h"
#include "core/sweep/sweep_test_util.h"

namespace tutti::sweep {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Type = HyperparameterSpec::Type;
using Kind = SearcherConfig::Kind;
using namespace testing_util;  // NOLINT

SearcherConfig Config(Kind kind, int max_trials, int max_concurrent = 0) {
  SearcherConfig c;
  c.kind = kind;
  c.max_trials = max_trials;
  c.max_concurrent_trials = max_concurrent;
  c.max_length = 100;
  c.seed = 2024;
  return c;
}

TEST(SingleSearcherTest, CreatesOneTrialClosesItAndShutsDown) {
  auto s = MustCreate(Config(Kind::kSingle, 1), {Const("train.g_lr", "0.001"), Categorical("data.genre", {"rock"})});
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->Progress(), 0.0);
  EXPECT_EQ(s->Start(), Ops{Create(1, 100, {{"train.g_lr", "0.001"}, {"data.genre", "rock"}})});
  EXPECT_EQ(s->Start(), Ops{});  // a second Start changes nothing
  EXPECT_EQ(s->OnValidation(1, 50, 0.3), Ops{});
  EXPECT_EQ(s->OnLengthReached(1, 99), Ops{});  // short of its length: not reached
  EXPECT_FALSE(s->done());
  EXPECT_EQ(s->OnLengthReached(1, 100), (Ops{Close(1), Shutdown()}));
  EXPECT_TRUE(s->done());
  EXPECT_EQ(s->Progress(), 1.0);
  EXPECT_EQ(s->OnLengthReached(1, 100), Ops{});  // after kShutdown: nothing
}

TEST(SingleSearcherTest, EndedTrialShutsDown) {
  auto s = MustCreate(Config(Kind::kSingle, 1), {});
  EXPECT_EQ(s->Start(), Ops{Create(1, 100)});
  EXPECT_EQ(s->OnTrialEnded(2, true), Ops{});  // unknown request id
  EXPECT_EQ(s->OnTrialEnded(1, true), Ops{Shutdown()});
}

TEST(SingleSearcherTest, MaxTrialsStaysOne) {
  auto s = MustCreate(Config(Kind::kSingle, 1), {});
  (void)s->Start();
  EXPECT_EQ(s->SetMaxTrials(2).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(s->SetMaxTrials(1).ok());
}

std::vector<HyperparameterSpec> ThreeAxes() {
  return {Categorical("data.genre", {"rock", "jazz"}), Range("model.width", Type::kInt, 1, 3),
          Range("train.g_lr", Type::kLogUniform, 1e-4, 1e-2, 3)};
}

TEST(GridPointsTest, ProductInSpecOrderLastFastest) {
  StatusOr<std::vector<Assignment>> points = GridPoints(ThreeAxes());
  ASSERT_TRUE(points.ok()) << points.status();
  ASSERT_EQ(points->size(), 18u);  // 2 x 3 x 3
  std::vector<Assignment> expected;
  for (const char* genre : {"rock", "jazz"}) {
    for (const char* width : {"1", "2", "3"}) {
      for (const char* lr : {"1e-04", "0.001", "0.01"}) {  // FormatValue: "1e-04" is shorter than "0.0001"
        expected.push_back({{"data.genre", genre}, {"model.width", width}, {"train.g_lr", lr}});
      }
    }
  }
  EXPECT_EQ(*points, expected);
}

TEST(GridPointsTest, AxisValues) {
  auto axis = [](const HyperparameterSpec& spec) {
    std::vector<std::string> out;
    StatusOr<std::vector<Assignment>> points = GridPoints({spec});
    EXPECT_TRUE(points.ok()) << points.status();
    if (points.ok()) {
      for (const Assignment& a : *points) out.push_back(a.at(spec.path));
    }
    return out;
  };
  EXPECT_THAT(axis(Range("x", Type::kDouble, 0.1, 0.3, 3)), ElementsAre("0.1", "0.2", "0.3"));
  EXPECT_THAT(axis(Range("x", Type::kDouble, 0, 1, 5)), ElementsAre("0", "0.25", "0.5", "0.75", "1"));
  EXPECT_THAT(axis(Range("x", Type::kDouble, 0, 1, 1)), ElementsAre("0.5"));
  EXPECT_THAT(axis(Range("x", Type::kLogUniform, 1e-5, 1e-1, 5)),
              ElementsAre("1e-05", "1e-04", "0.001", "0.01", "0.1"));
  EXPECT_THAT(axis(Range("x", Type::kLogUniform, 1e-4, 1e-2, 1)), ElementsAre("0.001"));  // geometric midpoint
  EXPECT_THAT(axis(Range("x", Type::kInt, 1, 10, 4)), ElementsAre("1", "4", "7", "10"));
  EXPECT_THAT(axis(Range("x", Type::kInt, 1, 3, 10)), ElementsAre("1", "2", "3"));  // more points than integers
  EXPECT_THAT(axis(Range("x", Type::kInt, 0, 1, 3)), ElementsAre("0", "1"));        // 0, 0.5 -> 1, 1: deduplicated
  EXPECT_THAT(axis(Range("x", Type::kDouble, 2, 2, 3)), ElementsAre("2"));
  EXPECT_THAT(axis(Categorical("x", {"a", "b", "a"})), ElementsAre("a", "b"));
  EXPECT_THAT(axis(Const("x", "[rock, jazz]")), ElementsAre("[rock, jazz]"));
}

TEST(GridSearcherTest, CreatesEveryPointInOrderWithinTheConcurrencyLimit) {
  auto s = MustCreate(Config(Kind::kGrid, 0, 4), ThreeAxes());
  ASSERT_NE(s, nullptr);
  Simulation::Options o;
  o.max_concurrent = 4;
  o.fail_percent = 5;
  Simulation sim(o);
  sim.Run(*s);
  EXPECT_EQ(sim.max_training_seen, 4);
  const std::vector<Assignment> points = *GridPoints(ThreeAxes());
  ASSERT_EQ(sim.created.size(), points.size());
  for (size_t i = 0; i < points.size(); ++i) EXPECT_EQ(sim.created.at(static_cast<int64_t>(i) + 1), points[i]);
  EXPECT_EQ(sim.all_ops.back(), Shutdown());
}

TEST(GridSearcherTest, ExactOperationsWithTwoSlots) {
  auto s = MustCreate(Config(Kind::kGrid, 0, 2), {Range("model.width", Type::kInt, 1, 3)});
  EXPECT_EQ(s->Start(), (Ops{Create(1, 100, {{"model.width", "1"}}), Create(2, 100, {{"model.width", "2"}})}));
  EXPECT_EQ(s->OnLengthReached(2, 100), (Ops{Close(2), Create(3, 100, {{"model.width", "3"}})}));
  EXPECT_NEAR(s->Progress(), 1.0 / 3, 1e-12);
  EXPECT_EQ(s->OnTrialEnded(1, /*failed=*/true), Ops{});  // nothing left to create; 3 still trains
  EXPECT_EQ(s->OnLengthReached(3, 100), (Ops{Close(3), Shutdown()}));
  EXPECT_EQ(s->SetMaxTrials(5).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(GridSearcherTest, MaxTrialsCannotChange) {
  auto s = MustCreate(Config(Kind::kGrid, 0, 1), {Range("model.width", Type::kInt, 1, 3)});
  (void)s->Start();
  StatusOr<Ops> r = s->SetMaxTrials(3);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("searcher.max_trials: a grid runs each of its 3 points"));
}

std::vector<HyperparameterSpec> RandomSpace() {
  return {Range("model.width", Type::kInt, 1, 3), Range("train.beta", Type::kDouble, 0.5, 0.9),
          Range("train.g_lr", Type::kLogUniform, 1e-5, 1e-1), Categorical("data.genre", {"rock", "jazz", "pop"}),
          Const("train.batch", "16")};
}

// The hyperparameters of every trial of a random search run to the end with no concurrency limit.
std::vector<Assignment> Draws(uint64_t seed, int n, const std::vector<HyperparameterSpec>& space = RandomSpace()) {
  SearcherConfig c = Config(Kind::kRandom, n);
  c.seed = seed;
  auto s = MustCreate(c, space);
  std::vector<Assignment> out;
  for (const Operation& op : s->Start()) out.push_back(op.hparams);
  return out;
}

TEST(RandomSearcherTest, SameSeedSameDrawsOtherSeedOtherDraws) {
  EXPECT_EQ(Draws(1, 20), Draws(1, 20));
  EXPECT_NE(Draws(1, 20), Draws(2, 20));
  // Draws do not depend on how many trials are created at once.
  const std::vector<Assignment> twenty = Draws(1, 20);
  EXPECT_EQ(std::vector<Assignment>(twenty.begin(), twenty.begin() + 5), Draws(1, 5));
}

TEST(RandomSearcherTest, KnownDrawsForAFixedSeed) {
  // Pins the draw code (std::mt19937_64, our uniform int/real, hyperparameters drawn in spec order): a
  // change here changes the future trials of every saved sweep. Integer, real and categorical draws use
  // no library function beyond the engine, so these are the values under every standard library.
  const std::vector<Assignment> d = Draws(2024, 3,
                                          {Range("w", Type::kInt, 1, 1000), Range("d", Type::kDouble, 0.5, 0.9),
                                           Categorical("g", {"a", "b", "c"})});
  EXPECT_EQ(d, (std::vector<Assignment>{{{"w", "975"}, {"d", "0.8178864265307864"}, {"g", "c"}},
                                        {{"w", "715"}, {"d", "0.5024777202326728"}, {"g", "a"}},
                                        {{"w", "417"}, {"d", "0.7267279399616503"}, {"g", "c"}}}));
}

TEST(RandomSearcherTest, ValuesStayInBoundsAndCoverThem) {
  std::set<std::string> widths, genres;
  double beta_min = 1, beta_max = 0;
  for (const Assignment& a : Draws(3, 400)) {
    widths.insert(a.at("model.width"));
    genres.insert(a.at("data.genre"));
    const double beta = std::strtod(a.at("train.beta").c_str(), nullptr);
    const double lr = std::strtod(a.at("train.g_lr").c_str(), nullptr);
    EXPECT_GE(beta, 0.5);
    EXPECT_LE(beta, 0.9);
    EXPECT_GE(lr, 1e-5);
    EXPECT_LE(lr, 1e-1);
    beta_min = std::min(beta_min, beta);
    beta_max = std::max(beta_max, beta);
    EXPECT_EQ(a.at("train.batch"), "16");
  }
  EXPECT_EQ(widths, (std::set<std::string>{"1", "2", "3"}));
  EXPECT_EQ(genres, (std::set<std::string>{"rock", "jazz", "pop"}));
  EXPECT_LT(beta_min, 0.52);
  EXPECT_GT(beta_max, 0.88);
}

TEST(RandomSearcherTest, LogUniformIsUniformInLogSpace) {
  // 4000 draws over four decades: about 1000 per decade (a uniform draw would put 90% in the top one).
  int per_decade[4] = {0, 0, 0, 0};
  for (const Assignment& a : Draws(11, 4000, {Range("train.g_lr", Type::kLogUniform, 1e-5, 1e-1)})) {
    const double decade = std::log10(std::strtod(a.at("train.g_lr").c_str(), nullptr)) + 5;
    ++per_decade[std::min(3, static_cast<int>(decade))];
  }
  for (int count : per_decade) EXPECT_NEAR(count, 1000, 120);
}

TEST(RandomSearcherTest, ConcurrencyLimit) {
  for (int limit : {1, 3}) {
    auto s = MustCreate(Config(Kind::kRandom, 12, limit), RandomSpace());
    Simulation::Options o;
    o.max_concurrent = limit;
    o.fail_percent = 10;
    Simulation sim(o);
    sim.Run(*s);
    EXPECT_EQ(sim.max_training_seen, limit);
    EXPECT_EQ(sim.created.size(), 12u);
  }
  auto s = MustCreate(Config(Kind::kRandom, 5, 2), RandomSpace());
  EXPECT_EQ(s->Start().size(), 2u);
}

TEST(RandomSearcherTest, SetMaxTrialsRaisesAndRejectsLoweringBelowCreated) {
  auto s = MustCreate(Config(Kind::kRandom, 3, 2), RandomSpace());
  EXPECT_EQ(s->Start().size(), 2u);
  StatusOr<Ops> lower = s->SetMaxTrials(1);
  EXPECT_EQ(lower.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(lower.status().message(), "searcher.max_trials: 2 trials were already created; expected at least 2, got 1");
  EXPECT_EQ(s->SetMaxTrials(0).status().code(), absl::StatusCode::kInvalidArgument);
  // Raising while every slot is busy creates nothing yet; the new trials come as slots free up.
  StatusOr<Ops> raise = s->SetMaxTrials(5);
  ASSERT_TRUE(raise.ok());
  EXPECT_EQ(*raise, Ops{});
  Ops ops = s->OnLengthReached(1, 100);
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_EQ(ops[0], Close(1));
  EXPECT_EQ(ops[1].kind, Operation::Kind::kCreate);
  EXPECT_EQ(ops[1].request_id, 3);
  // Lowering to what was created ends the search once the running trials finish.
  ASSERT_TRUE(s->SetMaxTrials(3).ok());
  EXPECT_EQ(s->OnLengthReached(2, 100), Ops{Close(2)});
  EXPECT_EQ(s->OnTrialEnded(3, false), Ops{Shutdown()});
  EXPECT_EQ(s->SetMaxTrials(10).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(RandomSearcherTest, RaisingWithFreeSlotsCreatesAtOnce) {
  auto s = MustCreate(Config(Kind::kRandom, 1, 0), RandomSpace());
  EXPECT_EQ(s->Start().size(), 1u);
  StatusOr<Ops> raise = s->SetMaxTrials(3);
  ASSERT_TRUE(raise.ok());
  ASSERT_EQ(raise->size(), 2u);
  EXPECT_EQ((*raise)[0].request_id, 2);
  EXPECT_EQ((*raise)[1].request_id, 3);
  EXPECT_EQ((*raise)[1].length, 100);
}

TEST(RandomSearcherTest, ProgressCountsFinishedTrials) {
  auto s = MustCreate(Config(Kind::kRandom, 4, 0), RandomSpace());
  (void)s->Start();
  EXPECT_EQ(s->Progress(), 0.0);
  (void)s->OnLengthReached(1, 100);
  (void)s->OnTrialEnded(2, true);
  EXPECT_EQ(s->Progress(), 0.5);
  (void)s->OnLengthReached(3, 100);
  (void)s->OnLengthReached(4, 100);
  EXPECT_TRUE(s->done());
  EXPECT_EQ(s->Progress(), 1.0);
}

}  // namespace
}  // namespace tutti::sweep
