// The torch-free half of the run-control seam: FlattenMetrics, StepReport::ToJson, stop reason names, the
// fan-out and console observers.

#include "worker/run/run_observer.h"

#include <cmath>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "worker/run/console_observer.h"

namespace tutti {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(FlattenMetrics, JoinsKeysAndNamesTrackListsByName) {
  // The shape of MetricsReport::ToJson (abridged).
  const nlohmann::json report = nlohmann::json::parse(R"({
    "samples": 8,
    "tracks": [{"name": "Drums", "is_drum": true, "empty_bars": 0.25, "drum_pattern": null},
               {"name": "Piano", "is_drum": false, "used_pitch_classes_true_pc": 4.2, "notes": 17}],
    "tonal_distance": {"B-G": {"mean": 1.5, "bars": 3}},
    "definitions": {"empty_bars": "share of bars with no note"},
    "caveat": "not comparable with the paper"
  })");
  const std::map<std::string, double> flat = FlattenMetrics(report, "eval");
  EXPECT_EQ(flat.at("eval.samples"), 8);
  EXPECT_EQ(flat.at("eval.tracks.Drums.is_drum"), 1);
  EXPECT_EQ(flat.at("eval.tracks.Drums.empty_bars"), 0.25);
  EXPECT_TRUE(std::isnan(flat.at("eval.tracks.Drums.drum_pattern")));
  EXPECT_EQ(flat.at("eval.tracks.Piano.is_drum"), 0);
  EXPECT_EQ(flat.at("eval.tracks.Piano.used_pitch_classes_true_pc"), 4.2);
  EXPECT_EQ(flat.at("eval.tracks.Piano.notes"), 17);
  EXPECT_EQ(flat.at("eval.tonal_distance.B-G.mean"), 1.5);
  EXPECT_EQ(flat.at("eval.tonal_distance.B-G.bars"), 3);
  // Strings add nothing: not the names, not the definitions, not the caveat.
  EXPECT_EQ(flat.size(), 9u);
  for (const auto& [key, value] : flat) {
    EXPECT_THAT(key, Not(HasSubstr("name"))) << key;
    EXPECT_THAT(key, Not(HasSubstr("definitions"))) << key;
  }
}

TEST(FlattenMetrics, OtherArraysUseTheIndex) {
  const nlohmann::json value = nlohmann::json::parse(R"({
    "plain": [1, 2.5, false],
    "unnamed": [{"x": 1}, {"x": 2}],
    "duplicate_names": [{"name": "a", "x": 1}, {"name": "a", "x": 2}],
    "empty_name": [{"name": "", "x": 1}],
    "nested": [[3]]
  })");
  const std::map<std::string, double> flat = FlattenMetrics(value);
  const std::map<std::string, double> expected = {
      {"plain.0", 1},           {"plain.1", 2.5},           {"plain.2", 0},
      {"unnamed.0.x", 1},       {"unnamed.1.x", 2},         {"duplicate_names.0.x", 1},
      {"duplicate_names.1.x", 2}, {"empty_name.0.x", 1},    {"nested.0.0", 3}};
  EXPECT_EQ(flat, expected);
  // A bare number is stored under the prefix; without one there is no key for it.
  EXPECT_EQ(FlattenMetrics(nlohmann::json(2.0), "loss"), (std::map<std::string, double>{{"loss", 2.0}}));
  EXPECT_TRUE(FlattenMetrics(nlohmann::json(2.0)).empty());
  EXPECT_TRUE(FlattenMetrics(nlohmann::json("text"), "x").empty());
}

TEST(StepReport, ToJsonIsTheMetricsLine) {
  StepReport r;
  r.step = 20;
  r.total_steps = 100;
  r.logged = true;
  r.d_loss = -1.5;
  r.g_loss = 0.5;
  r.gradient_penalty = 0.25;
  r.wasserstein = 1.5;
  r.d_grad_norm = 3;
  r.g_grad_norm = 4;
  r.steps_per_s = 9.5;
  r.elapsed_s = 12;
  nlohmann::json j = r.ToJson();
  EXPECT_EQ(j, nlohmann::json::parse(R"({"step": 20, "d_loss": -1.5, "g_loss": 0.5, "gradient_penalty": 0.25,
      "wasserstein": 1.5, "d_grad_norm": 3.0, "g_grad_norm": 4.0, "steps_per_s": 9.5, "elapsed_s": 12.0})"));
  r.data_parallel = true;
  r.comm_s = 0.5;
  r.comm_share = 0.1;
  j = r.ToJson();
  EXPECT_EQ(j["comm_s"], 0.5);
  EXPECT_EQ(j["comm_share"], 0.1);
  // The flattened report is what a checkpoint carries.
  EXPECT_EQ(FlattenMetrics(j).at("g_grad_norm"), 4);
}

TEST(StopReason, NamesAreWhatPeopleRead) {
  EXPECT_STREQ(StopReasonName(StopReason::kCompleted), "completed");
  EXPECT_STREQ(StopReasonName(StopReason::kTimeLimit), "time limit");
  EXPECT_STREQ(StopReasonName(StopReason::kInterrupted), "interrupted");
  EXPECT_STREQ(StopReasonName(StopReason::kByCoordinator), "stopped by the coordinator");
  EXPECT_STREQ(StopReasonName(StopReason::kPruned), "pruned");
  EXPECT_STREQ(StopReasonName(StopReason::kFailed), "failed");
  EXPECT_STREQ(StopReasonName(StopReason::kNotStopped), "not stopped");
  ControlDecision stop = ControlDecision::Stop(StopReason::kPruned, "rung 2");
  EXPECT_EQ(stop.action, ControlDecision::Action::kStop);
  EXPECT_EQ(stop.reason, StopReason::kPruned);
  EXPECT_EQ(stop.message, "rung 2");
  EXPECT_EQ(ControlDecision::CheckpointNow().action, ControlDecision::Action::kCheckpointNow);
  EXPECT_EQ(ControlDecision::Continue().action, ControlDecision::Action::kContinue);
}

class Counting : public RunObserver {
 public:
  void OnStep(const StepReport& r) override { events.push_back("step " + std::to_string(r.step)); }
  void OnNote(const std::string& note) override { events.push_back("note " + note); }
  void OnStop(const StopReport& r) override { events.push_back(std::string("stop ") + StopReasonName(r.reason)); }
  std::vector<std::string> events;
};

TEST(FanOutObserver, ForwardsEveryEventInOrderAndSkipsNull) {
  Counting a, b;
  FanOutObserver both({&a, nullptr, &b});
  StepReport step;
  step.step = 3;
  both.OnStep(step);
  both.OnNote("hello");
  StopReport stop;
  stop.reason = StopReason::kPruned;
  both.OnStop(stop);
  const std::vector<std::string> expected = {"step 3", "note hello", "stop pruned"};
  EXPECT_EQ(a.events, expected);
  EXPECT_EQ(b.events, expected);
}

// What tutti-worker printed before the observer existed (stderr is not a terminal under the test, so the
// progress line is a plain line, printed at the last step at least).
TEST(ConsoleObserver, PrintsResumeEvalCheckpointAndProgressLines) {
  ::testing::internal::CaptureStderr();
  {
    ConsoleObserver console;
    console.OnResume({10, "/out/checkpoints/ckpt-00000010.tutti", "train.g_lr: 0.0001 (checkpoint: 0.001)"});
    StepReport step;
    step.step = 20;
    step.total_steps = 20;
    step.steps_per_s = 4;
    step.d_loss = -1.25;
    step.g_loss = 0.5;
    console.OnStep(step);
    console.OnEvaluation({20, 8, nlohmann::json::object(), "empty_bars 0.10 0.20 | used_pitch_classes 1.00"});
    console.OnCheckpoint({20, "/out/checkpoints/ckpt-00000020.tutti", "ab12", 1000, {}});
    console.OnNote("warning: something");
    console.OnStop({StopReason::kCompleted, 20, "", "/out/checkpoints/ckpt-00000020.tutti"});
  }
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(out, HasSubstr("resuming from /out/checkpoints/ckpt-00000010.tutti at step 10\n"));
  EXPECT_THAT(out, HasSubstr("note: settings changed since the checkpoint: train.g_lr: 0.0001 (checkpoint: 0.001)\n"));
  EXPECT_THAT(out, HasSubstr("step 20/20 100% | 4.00 steps/s | ETA 0:00 | d_loss -1.2500 g_loss 0.5000"));
  EXPECT_THAT(out, HasSubstr("eval at step 20 (8 samples): empty_bars 0.10 0.20 | used_pitch_classes 1.00\n"));
  EXPECT_THAT(out, HasSubstr("checkpoint /out/checkpoints/ckpt-00000020.tutti\n"));
  EXPECT_THAT(out, HasSubstr("warning: something\n"));
}

// --quiet: the resume line and notes only.
TEST(ConsoleObserver, WithoutProgressPrintsOnlyWhatPeopleMustKnow) {
  ::testing::internal::CaptureStderr();
  {
    ConsoleObserver console(ConsoleObserverOptions{/*progress=*/false});
    console.OnResume({10, "/c/ckpt-00000010.tutti", ""});
    StepReport step;
    step.step = 20;
    step.total_steps = 20;
    console.OnStep(step);
    console.OnEvaluation({20, 8, nlohmann::json::object(), "x"});
    console.OnCheckpoint({20, "/c/ckpt-00000020.tutti", "ab12", 1000, {}});
    console.OnNote("warning: old checkpoints were not pruned");
    console.OnStop({});
  }
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(out, "resuming from /c/ckpt-00000010.tutti at step 10\nwarning: old checkpoints were not pruned\n");
}

}  // namespace
}  // namespace tutti
