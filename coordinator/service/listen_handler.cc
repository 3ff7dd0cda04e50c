#include "coordinator/service/listen_handler.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "coordinator/service/proto_convert.h"
#include "coordinator/service/checkpoint_registry.h"

namespace tutti::coord {
namespace {

// Seeds and pair orders are chosen at random (they are stored, so nothing needs to replay them).
uint64_t RandomBelow(uint64_t bound) {
  static std::mutex mu;
  static std::random_device device;
  std::lock_guard<std::mutex> lock(mu);
  const uint64_t value = (static_cast<uint64_t>(device()) << 32) | device();
  return value % bound;
}

v1::RatingChoice ToProto(ListenChoice choice) {
  switch (choice) {
    case ListenChoice::kA: return v1::RATING_A;
    case ListenChoice::kB: return v1::RATING_B;
    case ListenChoice::kSame: return v1::RATING_SAME;
    case ListenChoice::kUnrated: break;
  }
  return v1::RATING_CHOICE_UNSPECIFIED;
}

}  // namespace

void RatingCounts::Add(const ListenPairRow& pair, int64_t trial) {
  if (pair.trial_a == pair.trial_b) return;
  const bool is_a = pair.trial_a == trial;
  if (!is_a && pair.trial_b != trial) return;
  switch (pair.choice) {
    case ListenChoice::kSame: ++ties; break;
    case ListenChoice::kA: ++(is_a ? wins : losses); break;
    case ListenChoice::kB: ++(is_a ? losses : wins); break;
    case ListenChoice::kUnrated: break;
  }
}

void ToProto(const ListenPairRow& row, v1::Rating* out) {
  out->set_id(row.id);
  out->set_pair_id(row.pair_id);
  out->set_genre(row.genre);
  out->set_trial_a(row.trial_a);
  out->set_checkpoint_a(row.checkpoint_a);
  out->set_step_a(row.step_a);
  out->set_trial_b(row.trial_b);
  out->set_checkpoint_b(row.checkpoint_b);
  out->set_step_b(row.step_b);
  out->set_seed(static_cast<uint64_t>(row.seed));
  out->set_choice(ToProto(row.choice));
  out->set_listener(row.listener);
  out->set_created_ms(row.created_ms);
  out->set_rated_ms(row.rated_ms);
}

StatusOr<ListenHandler::Side> ListenHandler::SideOfTrial(int64_t trial_id, const std::string& genre) {
  TUTTI_ASSIGN_OR_RETURN(TrialRow trial, lifecycle_->GetTrial(trial_id));
  const std::vector<std::string> genres = catalog_->GenresOf(trial);
  if (std::find(genres.begin(), genres.end(), genre) == genres.end()) {
    return absl::InvalidArgumentError(absl::StrCat("trial ", trial_id, " does not train genre '", genre, "'"));
  }
  // The trial's best by its experiment's objective, else its own best / newest.
  TUTTI_ASSIGN_OR_RETURN(std::vector<GenreTrial> ranked, catalog_->TrialsOfGenre(genre));
  for (const GenreTrial& t : ranked) {
    if (t.trial.id == trial_id && t.best) return Side{*t.best, trial_id};
  }
  TUTTI_ASSIGN_OR_RETURN(std::optional<CheckpointRow> best, checkpoints_->Best(trial_id));
  if (!best) return absl::FailedPreconditionError(absl::StrCat("trial ", trial_id, " has no checkpoint yet"));
  return Side{*best, trial_id};
}

StatusOr<ListenHandler::Side> ListenHandler::SideOfCheckpoint(int64_t checkpoint_id) {
  TUTTI_ASSIGN_OR_RETURN(CheckpointRow row, checkpoints_->Get(checkpoint_id));
  return Side{row, row.trial_id};
}

StatusOr<std::pair<ListenHandler::Side, ListenHandler::Side>> ListenHandler::ChooseSides(
    const v1::CreateListenPairRequest& request) {
  const std::string& genre = request.genre();
  const bool by_trial = request.trial_a() != 0 || request.trial_b() != 0;
  const bool by_checkpoint = request.checkpoint_a() != 0 || request.checkpoint_b() != 0;
  if (by_trial && by_checkpoint) {
    return absl::InvalidArgumentError("CreateListenPair: give two trials or two checkpoints, not both");
  }
  if (by_trial) {
    if (request.trial_a() == 0 || request.trial_b() == 0) {
      return absl::InvalidArgumentError("CreateListenPair: trial_a and trial_b go together");
    }
    TUTTI_ASSIGN_OR_RETURN(Side a, SideOfTrial(request.trial_a(), genre));
    TUTTI_ASSIGN_OR_RETURN(Side b, SideOfTrial(request.trial_b(), genre));
    return std::make_pair(a, b);
  }
  if (by_checkpoint) {
    if (request.checkpoint_a() == 0 || request.checkpoint_b() == 0) {
      return absl::InvalidArgumentError("CreateListenPair: checkpoint_a and checkpoint_b go together");
    }
    TUTTI_ASSIGN_OR_RETURN(Side a, SideOfCheckpoint(request.checkpoint_a()));
    TUTTI_ASSIGN_OR_RETURN(Side b, SideOfCheckpoint(request.checkpoint_b()));
    return std::make_pair(a, b);
  }
  TUTTI_ASSIGN_OR_RETURN(std::vector<GenreTrial> ranked, catalog_->TrialsOfGenre(genre));
  std::vector<Side> top;
  for (const GenreTrial& t : ranked) {
    if (t.best && static_cast<int>(top.size()) < std::max(2, options_.top_trials)) top.push_back({*t.best, t.trial.id});
  }
  if (top.size() < 2) {
    return absl::FailedPreconditionError(absl::StrCat("genre '", genre, "' has ", top.size(),
                                                      " trial(s) with a ranked checkpoint; a listening test needs two"));
  }
  const size_t first = RandomBelow(top.size());
  size_t second = RandomBelow(top.size() - 1);
  if (second >= first) ++second;
  return std::make_pair(top[first], top[second]);
}

Status ListenHandler::GenerateSide(const Side& side, const std::string& genre, uint64_t seed,
                                   const std::vector<std::string>& formats,
                                   google::protobuf::RepeatedPtrField<v1::SampleFile>* out) {
  v1::GenerateRequest request;
  request.set_checkpoint_id(side.checkpoint.id);
  request.set_genre(genre);
  request.set_n(1);
  request.set_seed(seed);
  for (const std::string& f : formats) request.add_formats(f);
  SampleSource source;
  TUTTI_ASSIGN_OR_RETURN(std::vector<SampleFile> files, samples_->GenerateFiles(request, &source));
  for (SampleFile& file : files) {
    if (file.name == "overview.png") continue;  // one sample: its own picture says it all
    v1::SampleFile* f = out->Add();
    f->set_name(file.name);
    f->set_data(std::move(file.bytes));
  }
  return absl::OkStatus();
}

Status ListenHandler::CreatePair(const v1::CreateListenPairRequest& request, v1::CreateListenPairResponse* response) {
  if (request.genre().empty()) return absl::InvalidArgumentError("CreateListenPair: genre is required");
  TUTTI_ASSIGN_OR_RETURN(auto sides, ChooseSides(request));
  std::vector<std::string> formats(request.formats().begin(), request.formats().end());
  if (formats.empty()) formats = {"midi", "png", "wav"};
  const uint64_t seed = request.seed() != 0 ? request.seed() : 1 + RandomBelow(uint64_t{1} << 31);
  TUTTI_RETURN_IF_ERROR(GenerateSide(sides.first, request.genre(), seed, formats, response->mutable_a()));
  TUTTI_RETURN_IF_ERROR(GenerateSide(sides.second, request.genre(), seed, formats, response->mutable_b()));

  ListenPairRow row;
  row.pair_id = NewLeaseId();
  row.genre = request.genre();
  row.trial_a = sides.first.trial_id;
  row.checkpoint_a = sides.first.checkpoint.id;
  row.step_a = sides.first.checkpoint.step;
  row.trial_b = sides.second.trial_id;
  row.checkpoint_b = sides.second.checkpoint.id;
  row.step_b = sides.second.checkpoint.step;
  row.seed = static_cast<int64_t>(seed);
  row.created_ms = clock_->NowMs();
  TUTTI_RETURN_IF_ERROR(store_->InsertListenPair(row).status());
  response->set_pair_id(row.pair_id);
  response->set_genre(row.genre);
  response->set_seed(seed);
  return absl::OkStatus();
}

Status ListenHandler::RecordRatingMetrics(int64_t trial, int64_t step) {
  TUTTI_ASSIGN_OR_RETURN(std::vector<ListenPairRow> pairs, store_->ListRatedPairs("", trial));
  RatingCounts counts;
  for (const ListenPairRow& pair : pairs) {
    const bool heard = (pair.trial_a == trial && pair.step_a == step) || (pair.trial_b == trial && pair.step_b == step);
    if (heard) counts.Add(pair, trial);
  }
  MetricRow row;
  row.trial_id = trial;
  row.step = step;
  row.kind = "rating";
  row.values_json = MetricsToJson({{"rating.win_rate", counts.win_rate()},
                                   {"rating.wins", counts.wins},
                                   {"rating.losses", counts.losses},
                                   {"rating.ties", counts.ties},
                                   {"rating.count", counts.count()}});
  row.time_ms = clock_->NowMs();
  return store_->AppendMetrics({row});
}

Status ListenHandler::Rate(const v1::RateListenPairRequest& request, v1::RateListenPairResponse* response) {
  ListenChoice choice = ListenChoice::kUnrated;
  switch (request.choice()) {
    case v1::RATING_A: choice = ListenChoice::kA; break;
    case v1::RATING_B: choice = ListenChoice::kB; break;
    case v1::RATING_SAME: choice = ListenChoice::kSame; break;
    default:
      return absl::InvalidArgumentError("RateListenPair: choice: expected RATING_A, RATING_B or RATING_SAME");
  }
  if (request.pair_id().empty()) return absl::InvalidArgumentError("RateListenPair: pair_id is required");
  TUTTI_ASSIGN_OR_RETURN(ListenPairRow row,
                         store_->RateListenPair(request.pair_id(), choice, request.listener(), clock_->NowMs()));
  // The rating is stored; the metric points are derived from it and rewritten by the next rating if this
  // write fails, so a failure here is not the caller's.
  (void)RecordRatingMetrics(row.trial_a, row.step_a);
  if (row.trial_b != row.trial_a || row.step_b != row.step_a) (void)RecordRatingMetrics(row.trial_b, row.step_b);
  ToProto(row, response->mutable_rating());
  return absl::OkStatus();
}

Status ListenHandler::ListRatings(const v1::ListRatingsRequest& request, v1::ListRatingsResponse* response) {
  TUTTI_ASSIGN_OR_RETURN(std::vector<ListenPairRow> rows, store_->ListRatedPairs(request.genre(), request.trial_id()));
  for (const ListenPairRow& row : rows) ToProto(row, response->add_ratings());
  return absl::OkStatus();
}

Status ListenHandler::Leaderboard(const v1::LeaderboardRequest& request, v1::LeaderboardResponse* response) {
  if (request.genre().empty()) return absl::InvalidArgumentError("Leaderboard: genre is required");
  TUTTI_ASSIGN_OR_RETURN(std::vector<GenreTrial> trials, catalog_->TrialsOfGenre(request.genre()));
  TUTTI_ASSIGN_OR_RETURN(std::vector<ListenPairRow> pairs, store_->ListRatedPairs(request.genre(), 0));
  response->set_genre(request.genre());
  for (const GenreTrial& t : trials) {
    v1::LeaderboardEntry* entry = response->add_entries();
    StatusOr<std::optional<CheckpointRow>> latest = checkpoints_->Latest(t.trial.id);
    const int64_t latest_id = latest.ok() && latest->has_value() ? (*latest)->id : 0;
    coord::ToProto(t.trial, latest_id, /*with_config=*/false, entry->mutable_trial(), t.best ? t.best->id : 0);
    entry->set_experiment_name(t.experiment_name);
    entry->set_metric(t.objective.metric);
    entry->set_smaller_is_better(t.objective.smaller_is_better);
    entry->set_has_objective(t.best.has_value());
    if (t.best) {
      entry->set_objective(t.value);
      entry->set_checkpoint_id(t.best->id);
      entry->set_step(t.best->step);
    }
    RatingCounts counts;
    for (const ListenPairRow& pair : pairs) counts.Add(pair, t.trial.id);
    entry->set_wins(counts.wins);
    entry->set_losses(counts.losses);
    entry->set_ties(counts.ties);
    entry->set_ratings(counts.count());
    entry->set_win_rate(counts.win_rate());
  }
  return absl::OkStatus();
}

}  // namespace tutti::coord
