#include "core/sweep/early_stopping.h"

#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tutti::sweep {
namespace {

using Values = std::map<std::string, double>;

Values Train(double w, double d_loss = -1, double g_loss = 1) {
  return {{"d_loss", d_loss}, {"g_loss", g_loss}, {"wasserstein", w}, {"gradient_penalty", 0.1}};
}
Values Eval(double score, double diversity = 0.8) {
  return {{"eval.realism.score", score}, {"eval.diversity", diversity}};
}

EarlyStoppingConfig Config() {
  EarlyStoppingConfig c;
  c.divergence_threshold = 100;
  c.divergence_window = 3;
  c.collapse_threshold = 0.05;
  c.collapse_evaluations = 2;
  c.patience = 0;
  return c;
}

std::string Describe(const std::optional<StopDecision>& d) {
  return d ? d->code + ": " + d->message : "none";
}

TEST(EarlyStoppingTest, HealthyRunNeverStops) {
  EarlyStoppingConfig c = Config();
  c.patience = 3;
  EarlyStopping es(c);
  double score = 1.0;
  for (int step = 1; step <= 400; ++step) {
    ASSERT_EQ(Describe(es.Observe(step, "train", Train(15 + std::sin(step) * 5))), "none") << step;
    if (step % 50 == 0) {
      score *= 0.9;
      ASSERT_EQ(Describe(es.Observe(step, "eval", Eval(score, 0.7))), "none") << step;
    }
  }
}

TEST(EarlyStoppingTest, CriticDivergedOverAFullWindow) {
  EarlyStopping es(Config());
  EXPECT_FALSE(es.Observe(10, "train", Train(500)));  // one point: the window (3) is not full
  EXPECT_FALSE(es.Observe(20, "train", Train(-400)));
  const std::optional<StopDecision> d = es.Observe(30, "train", Train(37.5));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->code, "critic diverged");
  EXPECT_EQ(d->message, "mean |wasserstein| 312.5 over the last 3 points at step 30 > 100");
  EXPECT_FALSE(es.Observe(40, "train", Train(1000)));  // stopped: later points say nothing
}

TEST(EarlyStoppingTest, DivergenceWindowSlides) {
  EarlyStopping es(Config());
  for (int step = 1; step <= 3; ++step) EXPECT_FALSE(es.Observe(step, "train", Train(99)));
  EXPECT_FALSE(es.Observe(4, "train", Train(102)));  // (99 + 99 + 102) / 3 = 100: not above
  EXPECT_FALSE(es.Observe(5, "train", {{"d_loss", 1.0}}));  // no wasserstein: not a window point
  const std::optional<StopDecision> d = es.Observe(6, "train", Train(100));  // (99 + 102 + 100) / 3
  ASSERT_TRUE(d);
  EXPECT_EQ(d->message, "mean |wasserstein| 100.333 over the last 3 points at step 6 > 100");
}

TEST(EarlyStoppingTest, GeneratorCollapsedAfterConsecutiveLowDiversity) {
  EarlyStopping es(Config());
  EXPECT_FALSE(es.Observe(100, "eval", Eval(0.5, 0.01)));
  EXPECT_FALSE(es.Observe(200, "eval", Eval(0.5, 0.3)));   // breaks the streak
  EXPECT_FALSE(es.Observe(300, "eval", Eval(0.5, 0.02)));
  EXPECT_FALSE(es.Observe(350, "eval", {{"eval.realism.score", 0.5}}));  // no diversity: streak unchanged
  EXPECT_FALSE(es.Observe(380, "eval", Eval(0.5, std::nan(""))));         // NaN: unchanged too
  const std::optional<StopDecision> d = es.Observe(400, "eval", Eval(0.5, 0.01));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->code, "generator collapsed");
  EXPECT_EQ(d->message, "eval.diversity 0.01 < 0.05 at 2 consecutive evaluations, the last at step 400");
}

TEST(EarlyStoppingTest, NoImprovementAfterPatience) {
  EarlyStoppingConfig c = Config();
  c.patience = 3;
  c.min_delta = 0.01;
  EarlyStopping es(c);
  EXPECT_FALSE(es.Observe(100, "eval", Eval(0.5)));
  EXPECT_FALSE(es.Observe(200, "eval", Eval(0.42)));    // best 0.42 at step 200
  EXPECT_FALSE(es.Observe(300, "eval", Eval(0.415)));   // better, but not by more than 0.01: 1
  EXPECT_FALSE(es.Observe(350, "eval", {{"eval.diversity", 0.7}}));  // no objective: skipped
  EXPECT_FALSE(es.Observe(400, "eval", Eval(0.6)));     // 2
  const std::optional<StopDecision> d = es.Observe(500, "eval", Eval(0.43));  // 3
  ASSERT_TRUE(d);
  EXPECT_EQ(d->code, "no improvement");
  EXPECT_EQ(d->message,
            "eval.realism.score 0.43 at step 500: no improvement on the best 0.42 (step 200) by more than 0.01 for 3 "
            "evaluations");
}

TEST(EarlyStoppingTest, NoImprovementLargerIsBetterAndImprovementResets) {
  EarlyStoppingConfig c = Config();
  c.patience = 2;
  c.smaller_is_better = false;
  EarlyStopping es(c);
  EXPECT_FALSE(es.Observe(1, "eval", Eval(0.5)));
  EXPECT_FALSE(es.Observe(2, "eval", Eval(0.4)));  // 1
  EXPECT_FALSE(es.Observe(3, "eval", Eval(0.6)));  // improved: 0
  EXPECT_FALSE(es.Observe(4, "eval", Eval(0.6)));  // equal is not better: 1
  const std::optional<StopDecision> d = es.Observe(5, "eval", Eval(0.1));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->code, "no improvement");
}

TEST(EarlyStoppingTest, PatienceZeroIsOff) {
  EarlyStopping es(Config());
  for (int step = 1; step <= 50; ++step) ASSERT_FALSE(es.Observe(step, "eval", Eval(step)));  // ever worse
}

TEST(EarlyStoppingTest, NonFiniteLoss) {
  EarlyStopping es(Config());
  EXPECT_FALSE(es.Observe(1, "train", Train(10)));
  const std::optional<StopDecision> d = es.Observe(120, "train", Train(10, -1, std::nan("")));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->code, "non-finite loss");
  EXPECT_EQ(d->message, "g_loss is nan at step 120");

  EarlyStopping inf(Config());
  const std::optional<StopDecision> w = inf.Observe(7, "train", Train(std::numeric_limits<double>::infinity()));
  ASSERT_TRUE(w);
  EXPECT_EQ(Describe(w), "non-finite loss: wasserstein is inf at step 7");
  // A non-finite loss wins over a divergence on the same point.
  EarlyStopping both(Config());
  (void)both.Observe(1, "train", Train(1000));
  (void)both.Observe(2, "train", Train(1000));
  EXPECT_EQ(Describe(both.Observe(3, "train", Train(1000, -HUGE_VAL))), "non-finite loss: d_loss is -inf at step 3");
}

TEST(EarlyStoppingTest, NonFiniteObjectiveCountsAsNoImprovement) {
  EarlyStoppingConfig c = Config();
  c.patience = 2;
  EarlyStopping es(c);
  EXPECT_FALSE(es.Observe(1, "eval", Eval(std::nan(""))));  // no best yet: 1
  const std::optional<StopDecision> d = es.Observe(2, "eval", Eval(std::nan("")));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->message, "eval.realism.score nan at step 2: no finite value yet by more than 0 for 2 evaluations");
}

TEST(EarlyStoppingTest, DisabledAndOtherKindsAreIgnored) {
  EarlyStoppingConfig c = Config();
  c.enabled = false;
  EarlyStopping off(c);
  EXPECT_FALSE(off.Observe(1, "train", Train(std::nan(""))));
  EarlyStopping on(Config());
  EXPECT_FALSE(on.Observe(1, "checkpoint", Train(std::nan(""))));
}

TEST(EarlyStoppingTest, SaveLoadContinuesExactly) {
  EarlyStoppingConfig c = Config();
  c.patience = 4;
  c.divergence_window = 4;
  c.divergence_threshold = 60;
  // A scripted run: wasserstein creeping up, scores stalling, diversity dipping.
  struct Point {
    int64_t step;
    std::string kind;
    Values values;
  };
  std::vector<Point> points;
  for (int i = 1; i <= 40; ++i) {
    points.push_back({i * 10, "train", Train(10 + i * 1.7)});
    if (i % 4 == 0) points.push_back({i * 10, "eval", Eval(0.5 - (i < 16 ? i * 0.01 : 0.0), i % 8 ? 0.04 : 0.5)});
  }
  std::vector<std::string> reference;
  {
    EarlyStopping es(c);
    for (const Point& p : points) reference.push_back(Describe(es.Observe(p.step, p.kind, p.values)));
  }
  ASSERT_NE(std::find_if(reference.begin(), reference.end(), [](const std::string& s) { return s != "none"; }),
            reference.end());
  EarlyStopping live(c);
  for (size_t i = 0; i < points.size(); ++i) {
    ASSERT_EQ(Describe(live.Observe(points[i].step, points[i].kind, points[i].values)), reference[i]);
    const std::string state = live.SaveState();
    EarlyStopping resumed(c);
    ASSERT_TRUE(resumed.LoadState(state).ok()) << state;
    ASSERT_EQ(resumed.SaveState(), state);
    for (size_t j = i + 1; j < points.size(); ++j) {
      ASSERT_EQ(Describe(resumed.Observe(points[j].step, points[j].kind, points[j].values)), reference[j])
          << "saved after " << i << ", point " << j;
    }
  }
}

TEST(EarlyStoppingTest, BadStateIsRefusedAndChangesNothing) {
  EarlyStopping es(Config());
  (void)es.Observe(1, "train", Train(5));
  const std::string before = es.SaveState();
  for (const char* bad : {"", "nope", "{}", R"({"recent_wasserstein": [1], "low_diversity_streak": "x"})",
                          R"({"recent_wasserstein": [], "low_diversity_streak": 0, "best_objective": "a",
                              "best_step": 0, "evaluations_since_best": 0, "stopped": false})"}) {
    EXPECT_EQ(es.LoadState(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(es.SaveState(), before);
  }
}

TEST(ValidateEarlyStoppingTest, EachField) {
  EXPECT_TRUE(ValidateEarlyStopping(EarlyStoppingConfig{}).ok());
  auto message = [](auto change) {
    EarlyStoppingConfig c;
    change(c);
    const Status s = ValidateEarlyStopping(c);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    return std::string(s.message());
  };
  EXPECT_EQ(message([](auto& c) { c.divergence_threshold = 0; }),
            "early_stopping.divergence_threshold: expected a number > 0, got 0");
  EXPECT_EQ(message([](auto& c) { c.divergence_threshold = std::nan(""); }),
            "early_stopping.divergence_threshold: expected a number > 0, got nan");
  EXPECT_EQ(message([](auto& c) { c.divergence_window = 0; }),
            "early_stopping.divergence_window: expected an integer >= 1, got 0");
  EXPECT_EQ(message([](auto& c) { c.diversity_metric = ""; }),
            "early_stopping.diversity_metric: expected a metric name, got ''");
  EXPECT_EQ(message([](auto& c) { c.collapse_threshold = 1.5; }),
            "early_stopping.collapse_threshold: expected a diversity in [0, 1], got 1.5");
  EXPECT_EQ(message([](auto& c) { c.collapse_evaluations = 0; }),
            "early_stopping.collapse_evaluations: expected an integer >= 1, got 0");
  EXPECT_EQ(message([](auto& c) { c.patience = -1; }),
            "early_stopping.patience: expected an integer >= 0 (0 = off), got -1");
  EXPECT_EQ(message([](auto& c) { c.min_delta = -0.1; }), "early_stopping.min_delta: expected a number >= 0, got -0.1");
  EXPECT_EQ(message([](auto& c) {
              c.patience = 2;
              c.objective = "";
            }),
            "early_stopping.objective: expected a metric name when patience > 0, got ''");
}

}  // namespace
}  // namespace tutti::sweep
