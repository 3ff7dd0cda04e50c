#include "coordinator/store/memory_store.h"

#include <algorithm>
#include <limits>
#include <set>

#include "absl/strings/str_cat.h"
#include "coordinator/store/row_checks.h"

namespace tutti::coord {

using store_internal::CheckCheckpointState;
using store_internal::CheckExperimentRow;
using store_internal::CheckpointExists;
using store_internal::CheckReadLimit;
using store_internal::CheckTrialRow;
using store_internal::MissingParent;
using store_internal::CheckNewListenPair;
using store_internal::CheckRatingChoice;
using store_internal::ListenPairAlreadyRated;
using store_internal::ListenPairExists;
using store_internal::ListenPairNotFound;
using store_internal::MatchesRatingFilter;
using store_internal::NotFound;

// --- experiments -------------------------------------------------------------------------------------------

StatusOr<int64_t> MemoryStore::CreateExperiment(const ExperimentRow& experiment,
                                                const std::vector<TrialRow>& trials,
                                                std::vector<int64_t>* trial_ids) {
  absl::MutexLock lock(&mu_);
  // All checks first, then all changes: that is this implementation's transaction.
  TUTTI_RETURN_IF_ERROR(CheckExperimentRow(experiment, "new experiment"));
  for (size_t i = 0; i < trials.size(); ++i) {
    TUTTI_RETURN_IF_ERROR(CheckTrialRow(trials[i], absl::StrCat("trial ", i + 1, " of the new experiment")));
  }
  ExperimentRow stored = experiment;
  stored.id = ++last_experiment_id_;
  experiments_[stored.id] = stored;
  if (trial_ids != nullptr) trial_ids->clear();
  for (const TrialRow& trial : trials) {
    TrialRow row = trial;
    row.id = ++last_trial_id_;
    row.experiment_id = stored.id;
    trials_[row.id] = row;
    if (trial_ids != nullptr) trial_ids->push_back(row.id);
  }
  return stored.id;
}

StatusOr<ExperimentRow> MemoryStore::GetExperiment(int64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = experiments_.find(id);
  if (it == experiments_.end()) return NotFound("experiment", id);
  return it->second;
}

StatusOr<std::vector<ExperimentRow>> MemoryStore::ListExperiments() {
  absl::MutexLock lock(&mu_);
  std::vector<ExperimentRow> rows;
  rows.reserve(experiments_.size());
  for (const auto& [id, row] : experiments_) rows.push_back(row);
  return rows;
}

Status MemoryStore::UpdateExperiment(const ExperimentRow& row) {
  absl::MutexLock lock(&mu_);
  TUTTI_RETURN_IF_ERROR(CheckExperimentRow(row, absl::StrCat("experiment ", row.id)));
  auto it = experiments_.find(row.id);
  if (it == experiments_.end()) return NotFound("experiment", row.id);
  it->second = row;
  return absl::OkStatus();
}

Status MemoryStore::SetSearcherState(int64_t experiment_id, const std::string& state, int64_t updated_ms) {
  absl::MutexLock lock(&mu_);
  auto it = experiments_.find(experiment_id);
  if (it == experiments_.end()) return NotFound("experiment", experiment_id);
  it->second.searcher_state = state;
  it->second.updated_ms = updated_ms;
  return absl::OkStatus();
}

// --- trials ------------------------------------------------------------------------------------------------

StatusOr<int64_t> MemoryStore::AddTrial(const TrialRow& trial) {
  absl::MutexLock lock(&mu_);
  TUTTI_RETURN_IF_ERROR(CheckTrialRow(trial, "new trial"));
  if (experiments_.count(trial.experiment_id) == 0) {
    return MissingParent("trial", "experiment", trial.experiment_id);
  }
  TrialRow row = trial;
  row.id = ++last_trial_id_;
  trials_[row.id] = row;
  return row.id;
}

StatusOr<TrialRow> MemoryStore::GetTrial(int64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = trials_.find(id);
  if (it == trials_.end()) return NotFound("trial", id);
  return it->second;
}

StatusOr<std::vector<TrialRow>> MemoryStore::ListTrials(int64_t experiment_id) {
  absl::MutexLock lock(&mu_);
  if (experiments_.count(experiment_id) == 0) return NotFound("experiment", experiment_id);
  std::vector<TrialRow> rows;
  for (const auto& [id, row] : trials_) {
    if (row.experiment_id == experiment_id) rows.push_back(row);
  }
  return rows;
}

StatusOr<std::vector<TrialRow>> MemoryStore::ListAllTrials() {
  absl::MutexLock lock(&mu_);
  std::vector<TrialRow> rows;
  rows.reserve(trials_.size());
  for (const auto& [id, row] : trials_) rows.push_back(row);
  return rows;
}

Status MemoryStore::UpdateTrial(const TrialRow& row) {
  absl::MutexLock lock(&mu_);
  TUTTI_RETURN_IF_ERROR(CheckTrialRow(row, absl::StrCat("trial ", row.id)));
  auto it = trials_.find(row.id);
  // NotFound before the parent check, as SQLite does: an UPDATE of a missing row checks no foreign key.
  if (it == trials_.end()) return NotFound("trial", row.id);
  if (experiments_.count(row.experiment_id) == 0) return MissingParent("trial", "experiment", row.experiment_id);
  it->second = row;
  return absl::OkStatus();
}

// --- metrics -----------------------------------------------------------------------------------------------

Status MemoryStore::AppendMetrics(const std::vector<MetricRow>& rows) {
  absl::MutexLock lock(&mu_);
  for (const MetricRow& row : rows) {
    if (trials_.count(row.trial_id) == 0) return MissingParent("metric point", "trial", row.trial_id);
  }
  // In order, so that a later point with the same key in the same call wins (as SQLite's upserts do).
  for (const MetricRow& row : rows) metrics_[row.trial_id][MetricKey(row.step, row.kind)] = row;
  return absl::OkStatus();
}

StatusOr<std::vector<MetricRow>> MemoryStore::ReadMetrics(int64_t trial_id, int64_t after_step, int limit) {
  TUTTI_RETURN_IF_ERROR(CheckReadLimit(limit));
  absl::MutexLock lock(&mu_);
  if (trials_.count(trial_id) == 0) return NotFound("trial", trial_id);
  std::vector<MetricRow> rows;
  auto points = metrics_.find(trial_id);
  if (points == metrics_.end() || after_step == std::numeric_limits<int64_t>::max()) return rows;
  // (after_step + 1, "") is the first key with step > after_step: "" sorts before every kind.
  for (auto it = points->second.lower_bound(MetricKey(after_step + 1, std::string()));
       it != points->second.end() && static_cast<int>(rows.size()) < limit; ++it) {
    rows.push_back(it->second);
  }
  return rows;
}

// --- checkpoints -------------------------------------------------------------------------------------------

StatusOr<int64_t> MemoryStore::InsertCheckpoint(const CheckpointRow& row) {
  absl::MutexLock lock(&mu_);
  TUTTI_RETURN_IF_ERROR(CheckCheckpointState(row.state, "new checkpoint"));
  if (trials_.count(row.trial_id) == 0) return MissingParent("checkpoint", "trial", row.trial_id);
  for (const auto& [id, existing] : checkpoints_) {
    if (existing.trial_id == row.trial_id && existing.step == row.step) {
      return CheckpointExists(row.trial_id, row.step, id);
    }
  }
  CheckpointRow stored = row;
  stored.id = ++last_checkpoint_id_;
  checkpoints_[stored.id] = stored;
  return stored.id;
}

StatusOr<CheckpointRow> MemoryStore::GetCheckpoint(int64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = checkpoints_.find(id);
  if (it == checkpoints_.end()) return NotFound("checkpoint", id);
  return it->second;
}

StatusOr<std::vector<CheckpointRow>> MemoryStore::ListCheckpoints(int64_t trial_id) {
  absl::MutexLock lock(&mu_);
  if (trials_.count(trial_id) == 0) return NotFound("trial", trial_id);
  std::vector<CheckpointRow> rows;
  for (const auto& [id, row] : checkpoints_) {
    if (row.trial_id == trial_id) rows.push_back(row);
  }
  // (trial, step) is unique, so step order is a total order here.
  std::sort(rows.begin(), rows.end(),
            [](const CheckpointRow& a, const CheckpointRow& b) { return a.step < b.step; });
  return rows;
}

StatusOr<std::vector<CheckpointRow>> MemoryStore::ListCheckpointsInState(CheckpointState state) {
  TUTTI_RETURN_IF_ERROR(CheckCheckpointState(state, "ListCheckpointsInState"));
  absl::MutexLock lock(&mu_);
  std::vector<CheckpointRow> rows;
  for (const auto& [id, row] : checkpoints_) {
    if (row.state == state) rows.push_back(row);
  }
  return rows;
}

Status MemoryStore::SetCheckpointState(int64_t id, CheckpointState state) {
  TUTTI_RETURN_IF_ERROR(CheckCheckpointState(state, absl::StrCat("checkpoint ", id)));
  absl::MutexLock lock(&mu_);
  auto it = checkpoints_.find(id);
  if (it == checkpoints_.end()) return NotFound("checkpoint", id);
  it->second.state = state;
  return absl::OkStatus();
}

Status MemoryStore::DeleteCheckpoint(int64_t id) {
  absl::MutexLock lock(&mu_);
  checkpoints_.erase(id);
  return absl::OkStatus();
}

StatusOr<int64_t> MemoryStore::CountCheckpointsWithSha(const std::string& sha256) {
  absl::MutexLock lock(&mu_);
  int64_t count = 0;
  for (const auto& [id, row] : checkpoints_) count += row.sha256 == sha256 ? 1 : 0;
  return count;
}

StatusOr<std::vector<std::string>> MemoryStore::ListCheckpointShas() {
  absl::MutexLock lock(&mu_);
  std::set<std::string> shas;
  for (const auto& [id, row] : checkpoints_) shas.insert(row.sha256);
  return std::vector<std::string>(shas.begin(), shas.end());
}

// --- listening tests -----------------------------------------------------------------------------------

StatusOr<int64_t> MemoryStore::InsertListenPair(const ListenPairRow& row) {
  TUTTI_RETURN_IF_ERROR(CheckNewListenPair(row));
  absl::MutexLock lock(&mu_);
  if (listen_pairs_.count(row.pair_id) != 0) return ListenPairExists(row.pair_id);
  for (int64_t trial : {row.trial_a, row.trial_b}) {
    if (trials_.count(trial) == 0) return MissingParent("listen pair", "trial", trial);
  }
  ListenPairRow stored = row;
  stored.id = ++last_listen_pair_id_;
  listen_pairs_[stored.pair_id] = stored;
  return stored.id;
}

StatusOr<ListenPairRow> MemoryStore::GetListenPair(const std::string& pair_id) {
  absl::MutexLock lock(&mu_);
  auto it = listen_pairs_.find(pair_id);
  if (it == listen_pairs_.end()) return ListenPairNotFound(pair_id);
  return it->second;
}

StatusOr<ListenPairRow> MemoryStore::RateListenPair(const std::string& pair_id, ListenChoice choice,
                                                    const std::string& listener, int64_t rated_ms) {
  TUTTI_RETURN_IF_ERROR(CheckRatingChoice(choice));
  absl::MutexLock lock(&mu_);
  auto it = listen_pairs_.find(pair_id);
  if (it == listen_pairs_.end()) return ListenPairNotFound(pair_id);
  if (it->second.choice != ListenChoice::kUnrated) return ListenPairAlreadyRated(pair_id);
  it->second.choice = choice;
  it->second.listener = listener;
  it->second.rated_ms = rated_ms;
  return it->second;
}

StatusOr<std::vector<ListenPairRow>> MemoryStore::ListRatedPairs(const std::string& genre, int64_t trial_id) {
  absl::MutexLock lock(&mu_);
  std::vector<ListenPairRow> rows;
  for (const auto& [pair_id, row] : listen_pairs_) {
    if (MatchesRatingFilter(row, genre, trial_id)) rows.push_back(row);
  }
  std::sort(rows.begin(), rows.end(), [](const ListenPairRow& a, const ListenPairRow& b) { return a.id < b.id; });
  return rows;
}

// --- packs -------------------------------------------------------------------------------------------

namespace {
// Sorted, distinct: what every store returns, so callers and the contract test compare rows directly.
PackRow Normalized(PackRow row) {
  std::sort(row.blob_shas.begin(), row.blob_shas.end());
  row.blob_shas.erase(std::unique(row.blob_shas.begin(), row.blob_shas.end()), row.blob_shas.end());
  return row;
}
bool NewerFirst(const PackRow& a, const PackRow& b) {
  return a.registered_ms != b.registered_ms ? a.registered_ms > b.registered_ms : a.manifest_sha256 < b.manifest_sha256;
}
}  // namespace

StatusOr<bool> MemoryStore::InsertPack(const PackRow& row) {
  TUTTI_RETURN_IF_ERROR(store_internal::CheckNewPack(row));
  absl::MutexLock lock(&mu_);
  return packs_.emplace(row.manifest_sha256, Normalized(row)).second;
}

StatusOr<PackRow> MemoryStore::GetPack(const std::string& manifest_sha256) {
  absl::MutexLock lock(&mu_);
  auto it = packs_.find(manifest_sha256);
  if (it == packs_.end()) return store_internal::PackNotFound(manifest_sha256);
  return it->second;
}

StatusOr<std::vector<PackRow>> MemoryStore::ListPacks(const std::string& genre) {
  absl::MutexLock lock(&mu_);
  std::vector<PackRow> out;
  for (const auto& [sha, row] : packs_) {
    if (genre.empty() || row.genre == genre) out.push_back(row);
  }
  std::sort(out.begin(), out.end(), NewerFirst);
  return out;
}

StatusOr<std::vector<std::string>> MemoryStore::ListPackBlobShas() {
  absl::MutexLock lock(&mu_);
  std::set<std::string> shas;
  for (const auto& [sha, row] : packs_) shas.insert(row.blob_shas.begin(), row.blob_shas.end());
  return std::vector<std::string>(shas.begin(), shas.end());
}

}  // namespace tutti::coord
