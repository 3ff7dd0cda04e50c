// Every error CreateSearcher / GridPoints reports: its code and the key its message starts with.

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/sweep/searcher.h"
#include "core/sweep/sweep_test_util.h"

namespace tutti::sweep {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Type = HyperparameterSpec::Type;
using Kind = SearcherConfig::Kind;
using namespace testing_util;  // NOLINT

SearcherConfig Config(Kind kind) {
  SearcherConfig c;
  c.kind = kind;
  c.max_length = 1000;
  c.max_trials = kind == Kind::kSingle ? 1 : (kind == Kind::kGrid ? 0 : 8);
  c.divisor = 4;
  c.max_rungs = 3;
  return c;
}

std::vector<HyperparameterSpec> Lr() { return {Range("train.g_lr", Type::kLogUniform, 1e-5, 1e-2)}; }

// The error's message, after checking it is InvalidArgument (empty when it is not an error).
std::string Error(const SearcherConfig& config, const std::vector<HyperparameterSpec>& space) {
  StatusOr<std::unique_ptr<Searcher>> s = CreateSearcher(config, space);
  if (s.ok()) return "";
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << s.status();
  return std::string(s.status().message());
}

TEST(ValidationTest, ValidConfigsOfEveryKindAreAccepted) {
  EXPECT_EQ(Error(Config(Kind::kSingle), {Const("train.g_lr", "0.001")}), "");
  EXPECT_EQ(Error(Config(Kind::kSingle), {}), "");
  EXPECT_EQ(Error(Config(Kind::kGrid), {Range("model.width", Type::kInt, 1, 4)}), "");
  EXPECT_EQ(Error(Config(Kind::kRandom), Lr()), "");
  EXPECT_EQ(Error(Config(Kind::kAsha), Lr()), "");
}

TEST(ValidationTest, MinAboveMax) {
  EXPECT_EQ(Error(Config(Kind::kRandom), {Range("train.g_lr", Type::kDouble, 0.1, 0.01)}),
            "hyperparameters.train.g_lr: expected min <= max, got min 0.1 > max 0.01");
  EXPECT_THAT(Error(Config(Kind::kRandom), {Range("model.width", Type::kInt, 5, 3)}),
              StartsWith("hyperparameters.model.width: expected min <= max"));
}

TEST(ValidationTest, LogUniformNeedsPositiveMin) {
  EXPECT_EQ(Error(Config(Kind::kRandom), {Range("train.g_lr", Type::kLogUniform, 0, 1)}),
            "hyperparameters.train.g_lr: a log_uniform needs min > 0, got 0");
  EXPECT_THAT(Error(Config(Kind::kRandom), {Range("train.g_lr", Type::kLogUniform, -1, 1)}),
              StartsWith("hyperparameters.train.g_lr: a log_uniform needs min > 0, got -1"));
}

TEST(ValidationTest, CategoricalNeedsValues) {
  EXPECT_EQ(Error(Config(Kind::kRandom), {Categorical("data.genres", {})}),
            "hyperparameters.data.genres: a categorical needs at least one value, got none");
}

TEST(ValidationTest, ConstNeedsExactlyOneValue) {
  HyperparameterSpec two = Const("train.batch", "16");
  two.values.push_back("32");
  EXPECT_EQ(Error(Config(Kind::kRandom), {two}), "hyperparameters.train.batch: a const needs exactly one value, got 2");
  HyperparameterSpec none = Const("train.batch", "16");
  none.values.clear();
  EXPECT_EQ(Error(Config(Kind::kSingle), {none}),
            "hyperparameters.train.batch: a const needs exactly one value, got 0");
}

TEST(ValidationTest, BoundsMustBeFiniteAndIntBoundsWhole) {
  EXPECT_EQ(Error(Config(Kind::kRandom), {Range("train.g_lr", Type::kDouble, std::nan(""), 1)}),
            "hyperparameters.train.g_lr: expected a finite min, got nan");
  EXPECT_EQ(Error(Config(Kind::kRandom), {Range("model.width", Type::kInt, 1.5, 4)}),
            "hyperparameters.model.width: an int needs whole-number bounds, got min 1.5");
  EXPECT_THAT(Error(Config(Kind::kRandom), {Range("model.width", Type::kInt, 0, 1e20)}),
              StartsWith("hyperparameters.model.width: an int needs bounds within +-2^53, got max 1e+20"));
}

TEST(ValidationTest, PathsMustBeNamedOnce) {
  EXPECT_EQ(Error(Config(Kind::kRandom), {Range("train.g_lr", Type::kDouble, 0, 1), Const("", "1")}),
            "hyperparameters: entry 2 of 2 has an empty path");
  EXPECT_THAT(Error(Config(Kind::kRandom), {Range("train.g_lr", Type::kDouble, 0, 1), Const("train.g_lr", "1")}),
              StartsWith("hyperparameters.train.g_lr: listed twice"));
}

TEST(ValidationTest, NegativeGridCount) {
  EXPECT_EQ(Error(Config(Kind::kRandom), {Range("model.width", Type::kInt, 1, 4, -1)}),
            "hyperparameters.model.width: expected grid_count >= 0 (0 = default), got -1");
}

TEST(ValidationTest, GridNeedsGridCountForRealRanges) {
  EXPECT_EQ(Error(Config(Kind::kGrid), Lr()),
            "hyperparameters.train.g_lr: a grid needs count >= 1 (grid points) for a log_uniform, got 0");
  EXPECT_EQ(Error(Config(Kind::kGrid), {Range("train.beta", Type::kDouble, 0, 1)}),
            "hyperparameters.train.beta: a grid needs count >= 1 (grid points) for a double, got 0");
  // Random search does not need it.
  EXPECT_EQ(Error(Config(Kind::kRandom), {Range("train.beta", Type::kDouble, 0, 1)}), "");
}

TEST(ValidationTest, EmptyGrid) {
  EXPECT_EQ(Error(Config(Kind::kGrid), {}), "hyperparameters: a grid needs at least one hyperparameter, got none");
  EXPECT_EQ(GridPoints({}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ValidationTest, GridTooLarge) {
  EXPECT_EQ(Error(Config(Kind::kGrid), {Range("model.width", Type::kInt, 0, 1000000)}),
            "hyperparameters.model.width: a grid over every integer in [0, 1000000] has 1000001 points, more than "
            "100000; set grid_count");
  EXPECT_EQ(Error(Config(Kind::kGrid), {Range("a", Type::kInt, 1, 1000), Range("b", Type::kInt, 1, 1000)}),
            "hyperparameters: the grid has more than 100000 points (a 1000 x b 1000)");
}

TEST(ValidationTest, GridMaxTrialsMustBeZeroOrTheGridSize) {
  SearcherConfig c = Config(Kind::kGrid);
  c.max_trials = 5;
  EXPECT_EQ(Error(c, {Range("model.width", Type::kInt, 1, 4)}),
            "searcher.max_trials: a grid runs each of its 4 points once; expected 0 or 4, got 5");
  c.max_trials = 4;
  EXPECT_EQ(Error(c, {Range("model.width", Type::kInt, 1, 4)}), "");
}

TEST(ValidationTest, MaxTrialsBelowOneForRandomAndAsha) {
  for (Kind kind : {Kind::kRandom, Kind::kAsha}) {
    SearcherConfig c = Config(kind);
    c.max_trials = 0;
    EXPECT_EQ(Error(c, Lr()), "searcher.max_trials: expected an integer >= 1, got 0");
  }
}

TEST(ValidationTest, SingleRunsOneTrial) {
  EXPECT_EQ(Error(Config(Kind::kSingle), Lr()),
            "searcher: single runs one trial; hyperparameter train.g_lr varies (log_uniform)");
  EXPECT_EQ(Error(Config(Kind::kSingle), {Categorical("data.genre", {"rock", "jazz"})}),
            "searcher: single runs one trial; hyperparameter data.genre varies (categorical)");
  EXPECT_EQ(Error(Config(Kind::kSingle), {Categorical("data.genre", {"rock"})}), "");  // one value: no choice
  SearcherConfig c = Config(Kind::kSingle);
  c.max_trials = 3;
  EXPECT_EQ(Error(c, {}), "searcher.max_trials: single runs one trial; expected 1 (or 0), got 3");
}

TEST(ValidationTest, Divisor) {
  SearcherConfig c = Config(Kind::kAsha);
  c.divisor = 1;
  EXPECT_EQ(Error(c, Lr()), "searcher.divisor: expected an integer >= 2, got 1");
  // A field the kind does not use is not checked.
  SearcherConfig grid = Config(Kind::kGrid);
  grid.divisor = 0;
  EXPECT_EQ(Error(grid, {Range("model.width", Type::kInt, 1, 4)}), "");
}

TEST(ValidationTest, MaxRungs) {
  SearcherConfig c = Config(Kind::kAsha);
  c.max_rungs = 0;
  EXPECT_EQ(Error(c, Lr()), "searcher.max_rungs: expected an integer >= 1, got 0");
}

TEST(ValidationTest, MaxLength) {
  for (Kind kind : {Kind::kSingle, Kind::kGrid, Kind::kRandom, Kind::kAsha}) {
    SearcherConfig c = Config(kind);
    c.max_length = 0;
    EXPECT_EQ(Error(c, {Range("model.width", Type::kInt, 1, 4)}),
              "searcher.max_length: expected an integer >= 1, got 0");
  }
}

TEST(ValidationTest, AshaFirstRungShorterThanOneStep) {
  SearcherConfig c = Config(Kind::kAsha);
  c.max_length = 10;
  EXPECT_EQ(Error(c, Lr()),
            "searcher.max_length: 10 steps cannot hold 3 rungs with divisor 4 (rungs of 0.625, 2.5 and 10 steps; the "
            "first must train at least 1 step)");
  c.max_length = 16;  // 1, 4, 16: exactly fits
  EXPECT_EQ(Error(c, Lr()), "");
  c.max_rungs = 40;  // a long list is shortened; 4^39 does not overflow anything
  EXPECT_EQ(Error(c, Lr()),
            "searcher.max_length: 16 steps cannot hold 40 rungs with divisor 4 (rungs of 5.29396e-23, 2.11758e-22, "
            "... and 16 steps; the first must train at least 1 step)");
}

TEST(ValidationTest, AshaNeedsAMetric) {
  SearcherConfig c = Config(Kind::kAsha);
  c.metric = "";
  EXPECT_THAT(Error(c, Lr()), StartsWith("searcher.metric: expected the name of a metric"));
}

TEST(ValidationTest, MaxConcurrentTrials) {
  SearcherConfig c = Config(Kind::kRandom);
  c.max_concurrent_trials = -1;
  EXPECT_EQ(Error(c, Lr()), "searcher.max_concurrent_trials: expected an integer >= 0 (0 = no limit), got -1");
}

TEST(AshaRungLengthsTest, RoundsDownAndEndsAtMaxLength) {
  SearcherConfig c = Config(Kind::kAsha);
  c.max_length = 16;
  c.divisor = 2;
  EXPECT_EQ(AshaRungLengths(c), (std::vector<int64_t>{4, 8, 16}));
  c.max_length = 100;
  c.divisor = 4;
  EXPECT_EQ(AshaRungLengths(c), (std::vector<int64_t>{6, 25, 100}));  // 6.25 and 25 rounded down
  c.max_length = 7;
  c.divisor = 2;
  EXPECT_EQ(AshaRungLengths(c), (std::vector<int64_t>{1, 3, 7}));     // 1.75, 3.5: still strictly rising
  c.max_rungs = 1;
  EXPECT_EQ(AshaRungLengths(c), (std::vector<int64_t>{7}));
  // Strictly increasing for every accepted config of a small family.
  for (int64_t length = 1; length <= 200; ++length) {
    for (int divisor = 2; divisor <= 5; ++divisor) {
      for (int rungs = 1; rungs <= 5; ++rungs) {
        c.max_length = length;
        c.divisor = divisor;
        c.max_rungs = rungs;
        if (!CreateSearcher(c, Lr()).ok()) continue;
        const std::vector<int64_t> l = AshaRungLengths(c);
        ASSERT_EQ(l.size(), static_cast<size_t>(rungs));
        EXPECT_GE(l.front(), 1);
        EXPECT_EQ(l.back(), length);
        for (size_t k = 1; k < l.size(); ++k) EXPECT_LT(l[k - 1], l[k]);
      }
    }
  }
}

}  // namespace
}  // namespace tutti::sweep
