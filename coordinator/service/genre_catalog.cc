#include "coordinator/service/genre_catalog.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/config/experiment_config_yaml.h"
#include "core/config/job_config_yaml.h"

namespace tutti::coord {

bool RanksBefore(double a, double b, const Objective& objective) {
  return objective.smaller_is_better ? a < b : a > b;
}

const GenreCatalog::TrialInfo& GenreCatalog::InfoLocked(const TrialRow& trial) {
  auto it = trial_info_.find(trial.id);
  if (it != trial_info_.end()) return it->second;
  TrialInfo info;
  StatusOr<JobConfig> config = ParseJobConfig(trial.config_yaml, absl::StrCat("trial ", trial.id, " config"));
  if (config.ok()) {
    info.genres = config->data.genres;
    info.conditional = config->model.genre_conditional;
  }
  return trial_info_.emplace(trial.id, std::move(info)).first->second;
}

bool GenreCatalog::TrainsLocked(const TrialRow& trial, const std::string& genre) {
  const TrialInfo& info = InfoLocked(trial);
  if (info.genres.size() == 1) return info.genres[0] == genre;
  return info.conditional && std::find(info.genres.begin(), info.genres.end(), genre) != info.genres.end();
}

std::vector<std::string> GenreCatalog::GenresOf(const TrialRow& trial) {
  std::lock_guard<std::mutex> lock(mu_);
  const TrialInfo& info = InfoLocked(trial);
  // A mix trained without conditioning generates no genre in particular.
  if (info.genres.size() > 1 && !info.conditional) return {};
  return info.genres;
}

std::vector<std::string> GenreCatalog::Genres() {
  std::set<std::string> genres;
  for (const TrialRow& trial : lifecycle_->AllTrials()) {
    for (const std::string& g : GenresOf(trial)) genres.insert(g);
  }
  return std::vector<std::string>(genres.begin(), genres.end());
}

Objective GenreCatalog::ObjectiveLocked(int64_t experiment_id) {
  auto it = objectives_.find(experiment_id);
  if (it != objectives_.end()) return it->second;
  Objective objective;
  StatusOr<ExperimentRow> row = store_->GetExperiment(experiment_id);
  if (!row.ok()) return objective;  // not cached: the store may answer next time
  experiment_names_[experiment_id] = row->name;
  StatusOr<ExperimentConfig> config =
      ParseExperimentConfig(row->config_yaml, absl::StrCat("experiment ", experiment_id, " config"));
  if (config.ok()) {
    const sweep::SearcherConfig searcher = ToSearcherConfig(*config);
    if (!searcher.metric.empty()) objective.metric = searcher.metric;
    objective.smaller_is_better = searcher.smaller_is_better;
  }
  objectives_[experiment_id] = objective;
  return objective;
}

Objective GenreCatalog::ObjectiveOf(int64_t experiment_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return ObjectiveLocked(experiment_id);
}

std::string GenreCatalog::ExperimentNameLocked(int64_t experiment_id) {
  (void)ObjectiveLocked(experiment_id);  // fills the name
  auto it = experiment_names_.find(experiment_id);
  return it == experiment_names_.end() ? std::string() : it->second;
}

Objective GenreCatalog::SharedObjectiveLocked(const std::vector<TrialRow>& trials) {
  std::optional<Objective> shared;
  for (const TrialRow& trial : trials) {
    const Objective o = ObjectiveLocked(trial.experiment_id);
    if (!shared) {
      shared = o;
    } else if (shared->metric != o.metric || shared->smaller_is_better != o.smaller_is_better) {
      return Objective{};  // different scales: compare on the metric every evaluation reports
    }
  }
  return shared.value_or(Objective{});
}

StatusOr<std::optional<std::pair<CheckpointRow, double>>> GenreCatalog::BestOfTrialLocked(
    const TrialRow& trial, const Objective& objective) {
  TUTTI_ASSIGN_OR_RETURN(std::vector<CheckpointRow> rows, checkpoints_->ListForTrial(trial.id));
  std::optional<std::pair<CheckpointRow, double>> best;
  for (const CheckpointRow& row : rows) {
    const std::map<std::string, double> metrics = MetricsFromJson(row.metrics_json);
    auto it = metrics.find(objective.metric);
    if (it == metrics.end() || !std::isfinite(it->second)) continue;
    // Rows come by step, so ">=" on ties keeps the newer one.
    if (!best || RanksBefore(it->second, best->second, objective) || it->second == best->second) {
      best = std::make_pair(row, it->second);
    }
  }
  return best;
}

Status GenreCatalog::UnknownGenreLocked(const std::string& genre, const std::vector<TrialRow>& all) {
  std::set<std::string> known;
  for (const TrialRow& trial : all) {
    const TrialInfo& info = InfoLocked(trial);
    if (info.genres.size() == 1 || info.conditional) known.insert(info.genres.begin(), info.genres.end());
  }
  return absl::NotFoundError(absl::StrCat("no trial trains genre '", genre, "'",
                                          known.empty() ? std::string(" (no trials yet)")
                                                        : absl::StrCat("; known genres: ", absl::StrJoin(known, ", "))));
}

StatusOr<RankedCheckpoint> GenreCatalog::BestAmongLocked(const std::vector<TrialRow>& trials, const std::string& what) {
  const Objective objective = SharedObjectiveLocked(trials);
  std::optional<RankedCheckpoint> best;
  for (const TrialRow& trial : trials) {
    TUTTI_ASSIGN_OR_RETURN(auto candidate, BestOfTrialLocked(trial, objective));
    if (!candidate) continue;
    const bool better = !best || RanksBefore(candidate->second, best->value, objective) ||
                        (candidate->second == best->value && candidate->first.id > best->checkpoint.id);
    if (better) {
      best = RankedCheckpoint{candidate->first, trial, ExperimentNameLocked(trial.experiment_id), objective,
                              candidate->second};
    }
  }
  if (!best) {
    return absl::FailedPreconditionError(absl::StrCat("no checkpoint of ", what, " carries ", objective.metric,
                                                      " yet (trials report it at their evaluations, every "
                                                      "eval.every steps)"));
  }
  return *best;
}

StatusOr<RankedCheckpoint> GenreCatalog::BestForGenre(const std::string& genre) {
  const std::vector<TrialRow> all = lifecycle_->AllTrials();
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t generation = checkpoints_->generation();
  if (generation != cached_generation_ || all.size() != cached_trials_) {
    best_by_genre_.clear();
    cached_generation_ = generation;
    cached_trials_ = all.size();
  }
  auto cached = best_by_genre_.find(genre);
  if (cached != best_by_genre_.end()) return cached->second;
  std::vector<TrialRow> trials;
  for (const TrialRow& trial : all) {
    if (TrainsLocked(trial, genre)) trials.push_back(trial);
  }
  StatusOr<RankedCheckpoint> result =
      trials.empty() ? StatusOr<RankedCheckpoint>(UnknownGenreLocked(genre, all))
                     : BestAmongLocked(trials, absl::StrCat("genre '", genre, "'"));
  best_by_genre_.emplace(genre, result);
  return result;
}

StatusOr<RankedCheckpoint> GenreCatalog::BestForExperiment(int64_t experiment_id, const std::string& genre) {
  TUTTI_ASSIGN_OR_RETURN(std::vector<TrialRow> rows, store_->ListTrials(experiment_id));
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<TrialRow> trials;
  for (const TrialRow& trial : rows) {
    if (genre.empty() || TrainsLocked(trial, genre)) trials.push_back(trial);
  }
  if (trials.empty()) {
    return absl::NotFoundError(absl::StrCat("experiment ", experiment_id, " has no trial of genre '", genre, "'"));
  }
  return BestAmongLocked(trials, genre.empty() ? absl::StrCat("experiment ", experiment_id)
                                               : absl::StrCat("genre '", genre, "' in experiment ", experiment_id));
}

StatusOr<std::vector<GenreTrial>> GenreCatalog::TrialsOfGenre(const std::string& genre) {
  const std::vector<TrialRow> all = lifecycle_->AllTrials();
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<GenreTrial> trials;
  for (const TrialRow& trial : all) {
    if (!TrainsLocked(trial, genre)) continue;
    GenreTrial entry;
    entry.trial = trial;
    entry.experiment_name = ExperimentNameLocked(trial.experiment_id);
    entry.objective = ObjectiveLocked(trial.experiment_id);
    TUTTI_ASSIGN_OR_RETURN(auto best, BestOfTrialLocked(trial, entry.objective));
    if (best) {
      entry.best = best->first;
      entry.value = best->second;
    }
    trials.push_back(std::move(entry));
  }
  if (trials.empty()) return UnknownGenreLocked(genre, all);
  // Ranked trials first. Within them, one scale when the objectives agree; otherwise realism, as BestForGenre.
  std::vector<TrialRow> rows;
  for (const GenreTrial& t : trials) rows.push_back(t.trial);
  const Objective shared = SharedObjectiveLocked(rows);
  auto key = [&](const GenreTrial& t) -> std::optional<double> {
    if (!t.best) return std::nullopt;
    if (t.objective.metric == shared.metric) return t.value;
    const std::map<std::string, double> metrics = MetricsFromJson(t.best->metrics_json);
    auto it = metrics.find(shared.metric);
    if (it == metrics.end() || !std::isfinite(it->second)) return std::nullopt;
    return it->second;
  };
  std::stable_sort(trials.begin(), trials.end(), [&](const GenreTrial& a, const GenreTrial& b) {
    const std::optional<double> ka = key(a), kb = key(b);
    if (ka.has_value() != kb.has_value()) return ka.has_value();
    if (ka && *ka != *kb) return RanksBefore(*ka, *kb, shared);
    return a.trial.id < b.trial.id;
  });
  return trials;
}

}  // namespace tutti::coord
