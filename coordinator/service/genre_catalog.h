#pragma once
// GenreCatalog: which genres the coordinator's trials train, and which stored checkpoint stands for a genre
// — what the sample service serves for "genre → music", what `tutti best` and the leaderboard rank by, and
// what a listening test compares.
//
// A trial trains genre g when its data.genres is exactly [g], or when it is genre-conditional and lists g.
//
// Ranking. Each experiment ranks by its own objective (searcher.metric, searcher.smaller_is_better). Across
// experiments of one genre the catalog compares on that metric when all of them use it; when they differ,
// on "eval.realism.score" (smaller is better), which every evaluation reports, so all checkpoints compare on
// one scale. A checkpoint competes with the value of that metric it carries (the worker's metrics at that
// step); checkpoints without a finite value do not compete. Ties go to the newer checkpoint.
//
// Cost: trial configs and experiment objectives are parsed once per id and kept; the best checkpoint per
// genre is kept until the registry's generation moves (a checkpoint recorded or deleted) or the set of
// trials changes, so a request that names only a genre costs a map lookup in the steady state.
//
// Thread-safety: all methods may be called from any thread (one mutex).

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/service/checkpoint_registry.h"
#include "coordinator/service/trial_lifecycle.h"
#include "coordinator/store/experiment_store.h"
#include "core/base/status.h"

namespace tutti::coord {

// How checkpoints of one genre are compared.
struct Objective {
  std::string metric = "eval.realism.score";
  bool smaller_is_better = true;
};

// A checkpoint standing for a trial or a genre, with the value it was ranked by.
struct RankedCheckpoint {
  CheckpointRow checkpoint;
  TrialRow trial;
  std::string experiment_name;
  Objective objective;
  double value = 0;
};

// One trial of a genre, for the leaderboard: its best checkpoint by its experiment's objective (none yet
// when it has no checkpoint carrying the metric).
struct GenreTrial {
  TrialRow trial;
  std::string experiment_name;
  Objective objective;
  std::optional<CheckpointRow> best;
  double value = 0;  // the metric at `best`
};

class GenreCatalog {
 public:
  GenreCatalog(ExperimentStore* store, TrialLifecycle* lifecycle, CheckpointRegistry* checkpoints)
      : store_(store), lifecycle_(lifecycle), checkpoints_(checkpoints) {}

  // Every genre some trial trains, sorted.
  std::vector<std::string> Genres();
  // The genres one trial trains (empty when its config cannot be read).
  std::vector<std::string> GenresOf(const TrialRow& trial);

  // The checkpoint a request for `genre` alone is served from (see the file comment). NotFound naming the
  // genre and listing the known ones when no trial trains it; FailedPrecondition "no checkpoint of genre g
  // carries <metric> yet" when trials train it but none has a ranked checkpoint.
  StatusOr<RankedCheckpoint> BestForGenre(const std::string& genre);
  // The same among one experiment's trials (genre "" = any of its trials).
  StatusOr<RankedCheckpoint> BestForExperiment(int64_t experiment_id, const std::string& genre);

  // Trials of `genre`, best first: those with a ranked checkpoint by their experiment's objective (in that
  // objective's direction; experiments with different metrics are ordered as in the file comment), then the
  // others by id. NotFound as for BestForGenre.
  StatusOr<std::vector<GenreTrial>> TrialsOfGenre(const std::string& genre);

  // The objective of an experiment (its searcher metric and direction; the default when unreadable).
  Objective ObjectiveOf(int64_t experiment_id);

 private:
  struct TrialInfo {
    std::vector<std::string> genres;
    bool conditional = false;
  };
  const TrialInfo& InfoLocked(const TrialRow& trial);
  Objective ObjectiveLocked(int64_t experiment_id);
  std::string ExperimentNameLocked(int64_t experiment_id);
  bool TrainsLocked(const TrialRow& trial, const std::string& genre);
  // The objective all of `trials`' experiments share, or the common default.
  Objective SharedObjectiveLocked(const std::vector<TrialRow>& trials);
  // The best live checkpoint of `trial` by `objective`; nullopt when none carries a finite value.
  StatusOr<std::optional<std::pair<CheckpointRow, double>>> BestOfTrialLocked(const TrialRow& trial,
                                                                             const Objective& objective);
  StatusOr<RankedCheckpoint> BestAmongLocked(const std::vector<TrialRow>& trials, const std::string& what);
  Status UnknownGenreLocked(const std::string& genre, const std::vector<TrialRow>& all);

  ExperimentStore* const store_;
  TrialLifecycle* const lifecycle_;
  CheckpointRegistry* const checkpoints_;

  std::mutex mu_;
  std::map<int64_t, TrialInfo> trial_info_;          // by trial id; a trial's config never changes genres
  std::map<int64_t, Objective> objectives_;          // by experiment id
  std::map<int64_t, std::string> experiment_names_;  // by experiment id
  // BestForGenre's answers, valid while the registry's generation and the trial count stay as they were.
  int64_t cached_generation_ = -1;
  size_t cached_trials_ = 0;
  std::map<std::string, StatusOr<RankedCheckpoint>> best_by_genre_;
};

// "metric 0.42" style comparison: true when `a` ranks before `b` under `objective`.
bool RanksBefore(double a, double b, const Objective& objective);

}  // namespace tutti::coord
