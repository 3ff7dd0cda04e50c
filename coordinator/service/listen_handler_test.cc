// GenreCatalog, the genre side of SampleHandler and ListenHandler as plain classes. The sample backend here
// stands in for LibTorch at the SampleBackend boundary (the real one is tested in coordinator/sample and, end
// to end, by the web page test): its files name the checkpoint and seed they were asked for.
#include "coordinator/service/listen_handler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "coordinator/service/genre_catalog.h"
#include "coordinator/service/sample_handler.h"
#include "coordinator/service/service_test_util.h"

namespace tutti::coord {
namespace {

using ::testing::HasSubstr;
using testing::Fixture;

class LabelBackend final : public SampleBackend {
 public:
  StatusOr<std::vector<SampleFile>> Generate(const SampleJob& job) override {
    std::vector<SampleFile> files;
    for (int64_t i = 0; i < job.n; ++i) {
      for (const std::string& f : job.formats) {
        files.push_back({absl::StrCat("sample-", i, ".", f == "midi" ? "mid" : f),
                         absl::StrCat("ckpt=", job.checkpoint_id, " seed=", job.seed, " i=", i)});
      }
    }
    files.push_back({"overview.png", "overview"});
    return files;
  }
  void Preload(int64_t id, const std::string&, const std::string&, int64_t replaced) override {
    preloads.emplace_back(id, replaced);
  }
  std::vector<std::pair<int64_t, int64_t>> preloads;
};

std::string Genre(const std::string& genre) { return "data:\n  genres: [" + genre + "]\n"; }

struct World {
  Fixture f;
  LabelBackend backend;
  GenreCatalog catalog{f.store.get(), f.lifecycle.get(), f.registry.get()};
  SampleHandler samples{f.lifecycle.get(), f.registry.get(), &catalog, &backend};
  ListenHandler listen{f.store.get(), f.lifecycle.get(), f.registry.get(), &catalog, &samples, &f.clock};
  explicit World(const std::string& name) : f(name) {
    f.registry->SetRecordListener([this](const CheckpointRow& row) { samples.OnCheckpointRecorded(row); });
  }

  // A trial of `genre` (its own experiment) holding a lease, and checkpoints at the given realism scores.
  int64_t Trial(const std::string& genre, const std::vector<double>& scores, const std::string& extra = "") {
    const int64_t id = f.Submit(1, Genre(genre))[0];
    if (!extra.empty()) {  // experiment keys (a searcher) belong to the experiment's config, not the trial's
      auto trial = f.store->GetTrial(id);
      auto experiment = f.store->GetExperiment(trial->experiment_id);
      experiment->config_yaml = testing::JobYaml(Genre(genre) + extra);
      EXPECT_TRUE(f.store->UpdateExperiment(*experiment).ok());
    }
    LeaseGrant grant = f.Lease();
    EXPECT_EQ(grant.trial.id, id);
    int64_t step = 0;
    for (double score : scores) {
      step += 10;
      auto row = f.Upload(grant, step, absl::StrCat("bytes of trial ", id, " step ", step),
                          {{"eval.realism.score", score}, {"eval.other", -score}});
      EXPECT_TRUE(row.ok()) << row.status();
    }
    return id;
  }
};

TEST(GenreCatalog, TheBestCheckpointOfAGenreAcrossExperimentsAndItsCache) {
  World w("catalog");
  const int64_t rock1 = w.Trial("rock", {7.0, 5.0, 6.0});
  const int64_t rock2 = w.Trial("rock", {6.5});
  w.Trial("pop", {3.0});
  EXPECT_EQ(w.catalog.Genres(), (std::vector<std::string>{"pop", "rock"}));

  auto best = w.catalog.BestForGenre("rock");
  ASSERT_TRUE(best.ok()) << best.status();
  EXPECT_EQ(best->trial.id, rock1);
  EXPECT_EQ(best->checkpoint.step, 20);
  EXPECT_DOUBLE_EQ(best->value, 5.0);

  // A better checkpoint lands: the cached answer moves with it, and the backend is told to load it.
  // rock2 still holds the lease it got in Trial().
  auto trial2 = w.f.lifecycle->GetTrial(rock2);
  ASSERT_TRUE(trial2.ok());
  auto row = w.f.Upload(LeaseGrant{trial2->lease_id, *trial2}, 20, "better rock", {{"eval.realism.score", 4.0}});
  ASSERT_TRUE(row.ok()) << row.status();
  best = w.catalog.BestForGenre("rock");
  ASSERT_TRUE(best.ok());
  EXPECT_EQ(best->checkpoint.id, row->id);
  ASSERT_FALSE(w.backend.preloads.empty());
  EXPECT_EQ(w.backend.preloads.back().first, row->id);

  auto unknown = w.catalog.BestForGenre("jazz");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("known genres: pop, rock"));

  w.Trial("jazz", {});
  auto none = w.catalog.BestForGenre("jazz");
  EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(none.status().message()), HasSubstr("carries eval.realism.score yet"));
}

TEST(GenreCatalog, EachExperimentRanksByItsOwnObjectiveAndMixedOnesCompareOnRealism) {
  World w("objectives");
  const std::string larger = "searcher:\n  metric: eval.other\n  smaller_is_better: false\n";
  const int64_t a = w.Trial("rock", {2.0, 9.0}, larger);  // eval.other: -2, -9: best is step 10 (score 2)
  auto only = w.catalog.BestForGenre("rock");
  ASSERT_TRUE(only.ok()) << only.status();
  EXPECT_EQ(only->objective.metric, "eval.other");
  EXPECT_FALSE(only->objective.smaller_is_better);
  EXPECT_EQ(only->checkpoint.step, 10);

  const int64_t b = w.Trial("rock", {1.0});  // default objective: realism. Mixed: compare on realism
  auto mixed = w.catalog.BestForGenre("rock");
  ASSERT_TRUE(mixed.ok());
  EXPECT_EQ(mixed->objective.metric, "eval.realism.score");
  EXPECT_EQ(mixed->trial.id, b);

  auto trials = w.catalog.TrialsOfGenre("rock");
  ASSERT_TRUE(trials.ok());
  ASSERT_EQ(trials->size(), 2u);
  EXPECT_EQ((*trials)[0].trial.id, b);
  EXPECT_EQ((*trials)[1].trial.id, a);
  EXPECT_EQ((*trials)[1].objective.metric, "eval.other");  // each trial keeps its own objective
  EXPECT_EQ((*trials)[1].best->step, 10);
}

TEST(SampleHandler, AGenreAloneIsServedFromItsBestCheckpoint) {
  World w("genre-sample");
  w.Trial("rock", {6.0, 5.0});
  const int64_t pop = w.Trial("pop", {4.0});
  v1::GenerateRequest request;
  request.set_genre("pop");
  request.set_n(2);
  request.set_seed(9);
  std::vector<v1::GenerateResponse> messages;
  Status s = w.samples.Generate(request, [&](const v1::GenerateResponse& m) {
    messages.push_back(m);
    return true;
  });
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_FALSE(messages.empty());
  EXPECT_EQ(messages[0].trial_id(), pop);
  EXPECT_EQ(messages[0].genre(), "pop");
  EXPECT_THAT(messages[0].data(), HasSubstr("seed=9"));

  v1::ListGenresResponse genres;
  ASSERT_TRUE(w.samples.ListGenres({}, &genres).ok());
  ASSERT_EQ(genres.genres_size(), 2);
  EXPECT_EQ(genres.genres(0).genre(), "pop");
  EXPECT_EQ(genres.genres(0).trial_id(), pop);
  EXPECT_EQ(genres.genres(1).step(), 20);

  v1::GenerateRequest nothing;
  nothing.set_n(1);
  EXPECT_EQ(w.samples.Generate(nothing, [](const v1::GenerateResponse&) { return true; }).code(),
            absl::StatusCode::kInvalidArgument);
  v1::GenerateRequest too_many = request;
  too_many.set_n(65);
  Status over = w.samples.Generate(too_many, [](const v1::GenerateResponse&) { return true; });
  EXPECT_EQ(over.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(over.message()), HasSubstr("n: expected 1..64"));
}

TEST(ListenHandler, APairIsBlindRatedOnceCountedAndRecordedAsMetrics) {
  World w("listen");
  const int64_t a = w.Trial("rock", {5.0});
  const int64_t b = w.Trial("rock", {6.0});
  v1::CreateListenPairRequest create;
  create.set_genre("rock");
  create.set_seed(77);
  v1::CreateListenPairResponse pair;
  Status s = w.listen.CreatePair(create, &pair);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(pair.seed(), 77u);
  ASSERT_EQ(pair.a_size(), 3);  // midi, png, wav; no overview
  EXPECT_THAT(pair.a(0).data(), HasSubstr("seed=77"));
  EXPECT_NE(pair.a(0).data(), pair.b(0).data());  // two different checkpoints

  v1::RateListenPairRequest rate;
  rate.set_pair_id(pair.pair_id());
  rate.set_choice(v1::RATING_A);
  v1::RateListenPairResponse rated;
  ASSERT_TRUE(w.listen.Rate(rate, &rated).ok());
  const int64_t winner = rated.rating().trial_a();
  const int64_t loser = rated.rating().trial_b();
  EXPECT_EQ(std::set<int64_t>({winner, loser}), std::set<int64_t>({a, b}));
  v1::RateListenPairResponse twice;
  Status again = w.listen.Rate(rate, &twice);
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);

  v1::LeaderboardRequest board_request;
  board_request.set_genre("rock");
  v1::LeaderboardResponse board;
  ASSERT_TRUE(w.listen.Leaderboard(board_request, &board).ok());
  ASSERT_EQ(board.entries_size(), 2);
  EXPECT_EQ(board.entries(0).trial().id(), a);  // realism 5 before 6
  for (const v1::LeaderboardEntry& e : board.entries()) {
    EXPECT_EQ(e.ratings(), 1);
    EXPECT_DOUBLE_EQ(e.win_rate(), e.trial().id() == winner ? 1.0 : 0.0);
  }

  // The rating is a metric point of the winner ("rating.win_rate" at the heard checkpoint's step).
  auto points = w.f.store->ReadMetrics(winner, -1, 100);
  ASSERT_TRUE(points.ok());
  bool found = false;
  for (const MetricRow& m : *points) {
    if (m.kind == "rating") {
      found = true;
      EXPECT_THAT(m.values_json, HasSubstr("\"rating.win_rate\":1"));
    }
  }
  EXPECT_TRUE(found);

  v1::ListRatingsRequest list;
  list.set_genre("rock");
  v1::ListRatingsResponse ratings;
  ASSERT_TRUE(w.listen.ListRatings(list, &ratings).ok());
  ASSERT_EQ(ratings.ratings_size(), 1);
  EXPECT_EQ(ratings.ratings(0).choice(), v1::RATING_A);
}

TEST(ListenHandler, OneRankedTrialIsNotEnoughForAPair) {
  World w("listen-one");
  w.Trial("rock", {5.0});
  w.Trial("rock", {});  // no checkpoint carries the metric
  v1::CreateListenPairRequest create;
  create.set_genre("rock");
  v1::CreateListenPairResponse pair;
  Status s = w.listen.CreatePair(create, &pair);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("a listening test needs two"));
  create.set_genre("");
  EXPECT_EQ(w.listen.CreatePair(create, &pair).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tutti::coord
