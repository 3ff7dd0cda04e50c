#pragma once
// ListenHandler: ListenService as a plain class — blind listening tests of two samples of one genre, the
// ratings they produce, and the per-genre leaderboard that shows them beside each trial's objective.
//
// A pair is two sources of one genre (by default two of the top four ranked trials, in random order; or two
// given trials or checkpoints), one sample each, generated with the same seed so the latents are the same
// and only the models differ. The pair (sources and seed, not the audio) is stored before it is returned,
// so a rating survives a coordinator restart; it can be rated once.
//
// A rating also becomes metric points of both trials: kind "rating" at the step of the checkpoint that was
// heard, values "rating.win_rate" ((wins + ties/2) / ratings of that checkpoint), "rating.wins",
// "rating.losses", "rating.ties", "rating.count" — so `searcher.metric: rating.win_rate` (larger is better)
// ranks trials by people's ears, and curves show them.
//
// Thread-safety: all methods may be called from any thread.

#include <cstdint>
#include <string>

#include "coordinator/service/clock.h"
#include "coordinator/service/genre_catalog.h"
#include "coordinator/service/sample_handler.h"
#include "coordinator/store/experiment_store.h"
#include "core/base/status.h"
#include "tutti/v1/listen_service.pb.h"

namespace tutti::coord {

struct ListenHandlerOptions {
  // Default pairs come from this many of the genre's best-ranked trials.
  int top_trials = 4;
};

// Wins, losses and ties of one trial (or one checkpoint of it) over rated pairs.
struct RatingCounts {
  int wins = 0, losses = 0, ties = 0;
  int count() const { return wins + losses + ties; }
  double win_rate() const { return count() == 0 ? 0.0 : (wins + 0.5 * ties) / count(); }
  // Adds one pair's outcome for `trial` (pairs of a trial with itself count nothing).
  void Add(const ListenPairRow& pair, int64_t trial);
};

class ListenHandler {
 public:
  ListenHandler(ExperimentStore* store, TrialLifecycle* lifecycle, CheckpointRegistry* checkpoints,
                GenreCatalog* catalog, SampleHandler* samples, const Clock* clock, ListenHandlerOptions options = {})
      : store_(store),
        lifecycle_(lifecycle),
        checkpoints_(checkpoints),
        catalog_(catalog),
        samples_(samples),
        clock_(clock),
        options_(options) {}

  Status CreatePair(const v1::CreateListenPairRequest& request, v1::CreateListenPairResponse* response);
  Status Rate(const v1::RateListenPairRequest& request, v1::RateListenPairResponse* response);
  Status ListRatings(const v1::ListRatingsRequest& request, v1::ListRatingsResponse* response);
  Status Leaderboard(const v1::LeaderboardRequest& request, v1::LeaderboardResponse* response);

 private:
  struct Side {
    CheckpointRow checkpoint;
    int64_t trial_id = 0;
  };
  StatusOr<std::pair<Side, Side>> ChooseSides(const v1::CreateListenPairRequest& request);
  StatusOr<Side> SideOfTrial(int64_t trial_id, const std::string& genre);
  StatusOr<Side> SideOfCheckpoint(int64_t checkpoint_id);
  // Files of one sample from `side`, without the overview picture.
  Status GenerateSide(const Side& side, const std::string& genre, uint64_t seed, const std::vector<std::string>& formats,
                      google::protobuf::RepeatedPtrField<v1::SampleFile>* out);
  // Rewrites the "rating" metric point of `trial` at `step` from every rated pair of it.
  Status RecordRatingMetrics(int64_t trial, int64_t step);

  ExperimentStore* const store_;
  TrialLifecycle* const lifecycle_;
  CheckpointRegistry* const checkpoints_;
  GenreCatalog* const catalog_;
  SampleHandler* const samples_;
  const Clock* const clock_;
  const ListenHandlerOptions options_;
};

// Wire <-> store forms of a rating.
void ToProto(const ListenPairRow& row, v1::Rating* out);

}  // namespace tutti::coord
