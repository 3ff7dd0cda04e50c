// model.rest_plans in a real TrainingRun on real (synthetic LPD-5) packs: the plans come from the packs' training
// samples, the chief says what they hold, and the checkpoint carries them to whoever loads it.

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/checkpoint/checkpoint.h"
#include "core/data/pack_reader.h"
#include "core/data/pack_writer.h"
#include "core/train/trainer_from_config.h"
#include "worker/run/run_data.h"
#include "worker/run/run_test_util.h"
#include "worker/run/training_run.h"

namespace tutti {
namespace {

using ::tutti::testing::SmallJobConfig;
using ::tutti::testing::TempDir;

// A rock pack of 64 training and 16 held-out samples in which track i % 5 rests in bar (i / 5) % 4 of sample i and
// every other (track, bar) holds a few notes: the synthetic songs never leave a track out of a bar.
std::string WriteArrangedPacks(const std::string& packs_dir) {
  PackWriterOptions options;
  options.genre = "rock";
  StatusOr<std::unique_ptr<PackWriter>> writer = PackWriter::Create(packs_dir + "/rock", options);
  EXPECT_TRUE(writer.ok()) << writer.status();
  if (!writer.ok()) return packs_dir;
  const SampleShape shape = options.shape;
  for (const auto& [split, count] : {std::pair{Split::kTrain, 64}, std::pair{Split::kHeldout, 16}}) {
    for (int i = 0; i < count; ++i) {
      std::vector<uint8_t> cells(static_cast<size_t>(shape.cells()), 0);
      for (int track = 0; track < 5; ++track) {
        for (int bar = 0; bar < 4; ++bar) {
          if (track == i % 5 && bar == (i / 5) % 4) continue;
          for (int step = bar * 16; step < bar * 16 + 16; step += 4) {
            cells[static_cast<size_t>(shape.CellIndex(track, step, 24 + (i + step) % 24))] = 1;
          }
        }
      }
      EXPECT_TRUE((*writer)->Add(split, cells.data()).ok());
    }
  }
  const Status done = (*writer)->Finish({PackSong{"md5-a", {"TRA"}, 64, Split::kTrain},
                                         PackSong{"md5-b", {"TRB"}, 16, Split::kHeldout}},
                                        {}, {});
  EXPECT_TRUE(done.ok()) << done;
  return packs_dir;
}

class NoteRecorder : public RunObserver {
 public:
  void OnNote(const std::string& note) override { notes.push_back(note); }
  std::vector<std::string> notes;
};

TEST(RestPlansRunTest, ThePlansComeFromTheTrainingSamplesAndRideTheCheckpoint) {
  TempDir tmp;
  JobConfig config = SmallJobConfig(tmp / "out");
  config.data.packs_dir = WriteArrangedPacks(tmp / "packs");
  config.train.steps = 10;
  config.model.rest_plans = true;
  NoteRecorder notes;
  RunOptions options;
  options.observer = &notes;
  StatusOr<std::unique_ptr<TrainingRun>> run = TrainingRun::Create(config, options);
  ASSERT_TRUE(run.ok()) << run.status();

  // What the packs say, read here without the run.
  StatusOr<std::unique_ptr<PackReader>> pack = PackReader::Open(config.data.packs_dir + "/rock");
  ASSERT_TRUE(pack.ok()) << pack.status();
  StatusOr<at::Tensor> expected =
      RestPlansFromPacks(config.model, {std::shared_ptr<const PackReader>(std::move(*pack))});
  ASSERT_TRUE(expected.ok()) << expected.status();
  ASSERT_EQ(expected->sizes(), (std::vector<int64_t>{1024, 5, 4}));
  // One (track, bar) of 20 rests in every sample.
  EXPECT_NEAR(expected->mean().item<double>(), 19.0 / 20.0, 1e-6);
  const Generator& live = (*run)->trainer().generator();
  ASSERT_TRUE(live->rest_plans);
  EXPECT_TRUE(torch::equal(live->rest_plans->plans, *expected));

  bool described = false;
  for (const std::string& note : notes.notes) {
    if (note.rfind("rest plans: 1024 arrangements from the training samples; bars resting: Drums ", 0) == 0) {
      described = true;
    }
  }
  EXPECT_TRUE(described) << "no rest plans note among " << notes.notes.size();

  ASSERT_TRUE((*run)->Run().ok());
  // A fresh trainer of the same model holds no plans (all ones) until it loads the checkpoint.
  StatusOr<std::unique_ptr<GanTrainer>> fresh = CreateTrainerFromConfig(config, 1, 0, 1);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_TRUE(torch::equal((*fresh)->generator()->rest_plans->plans, torch::ones({1024, 5, 4})));
  ASSERT_TRUE(LoadCheckpoint((*run)->last_checkpoint(), fresh->get()).ok());
  EXPECT_TRUE(torch::equal((*fresh)->generator()->rest_plans->plans, *expected));
}

TEST(RestPlansRunTest, AResumedRunTrainsAsAnUninterruptedOne) {
  TempDir tmp;
  JobConfig straight = SmallJobConfig(tmp / "straight");
  straight.data.packs_dir = WriteArrangedPacks(tmp / "packs");
  straight.model.rest_plans = true;
  straight.train.steps = 10;
  StatusOr<std::unique_ptr<TrainingRun>> a = TrainingRun::Create(straight, {});
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE((*a)->Run().ok());

  JobConfig split = SmallJobConfig(tmp / "split");
  split.data.packs_dir = straight.data.packs_dir;
  split.model.rest_plans = true;
  split.train.steps = 5;
  split.checkpoint.every = 5;
  {
    StatusOr<std::unique_ptr<TrainingRun>> b = TrainingRun::Create(split, {});
    ASSERT_TRUE(b.ok()) << b.status();
    ASSERT_TRUE((*b)->Run().ok());
  }
  split.train.steps = 10;
  RunOptions resume;
  resume.resume = "latest";
  NoteRecorder notes;
  resume.observer = &notes;
  StatusOr<std::unique_ptr<TrainingRun>> c = TrainingRun::Create(split, resume);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->step(), 5);
  // The resumed run says what it holds: the checkpoint's plans, not read from the packs again.
  int described = 0;
  for (const std::string& note : notes.notes) described += note.rfind("rest plans: 1024 arrangements", 0) == 0;
  EXPECT_EQ(described, 1);
  ASSERT_TRUE((*c)->Run().ok());
  const auto pa = (*a)->trainer().generator()->named_parameters(), pc = (*c)->trainer().generator()->named_parameters();
  for (const auto& item : pa) EXPECT_TRUE(torch::equal(item.value(), pc[item.key()])) << item.key();
  EXPECT_TRUE(
      torch::equal((*a)->trainer().generator()->rest_plans->plans, (*c)->trainer().generator()->rest_plans->plans));
}

}  // namespace
}  // namespace tutti
