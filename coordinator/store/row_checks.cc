#include "coordinator/store/row_checks.h"

#include "absl/strings/str_cat.h"
#include "core/base/sha256.h"

namespace tutti::coord::store_internal {

bool IsValidState(ExperimentState state) {
  int value = static_cast<int>(state);
  return value >= static_cast<int>(ExperimentState::kActive) && value <= static_cast<int>(ExperimentState::kPaused);
}

bool IsValidState(TrialState state) {
  int value = static_cast<int>(state);
  return value >= static_cast<int>(TrialState::kQueued) && value <= static_cast<int>(TrialState::kPaused);
}

bool IsValidState(CheckpointState state) {
  int value = static_cast<int>(state);
  return value >= static_cast<int>(CheckpointState::kLive) && value <= static_cast<int>(CheckpointState::kDeleting);
}

Status CheckExperimentRow(const ExperimentRow& row, const std::string& what) {
  if (!IsValidState(row.state)) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": state ", static_cast<int>(row.state),
                                                   " is not an ExperimentState (expected 1..5)"));
  }
  return absl::OkStatus();
}

Status CheckTrialRow(const TrialRow& row, const std::string& what) {
  if (!IsValidState(row.state)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": state ", static_cast<int>(row.state), " is not a TrialState (expected 1..6)"));
  }
  return absl::OkStatus();
}

Status CheckCheckpointState(CheckpointState state, const std::string& what) {
  if (!IsValidState(state)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": state ", static_cast<int>(state), " is not a CheckpointState (expected 1..2)"));
  }
  return absl::OkStatus();
}

Status CheckReadLimit(int limit) {
  if (limit <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("ReadMetrics: limit must be > 0, got ", limit));
  }
  return absl::OkStatus();
}

Status NotFound(const char* kind, int64_t id) {
  return absl::NotFoundError(absl::StrCat(kind, " ", id, " not found"));
}

Status MissingParent(const char* child_kind, const char* parent_kind, int64_t parent_id) {
  return absl::FailedPreconditionError(
      absl::StrCat(child_kind, " names ", parent_kind, " ", parent_id, ", which does not exist"));
}

Status CheckpointExists(int64_t trial_id, int64_t step, int64_t existing_id) {
  return absl::AlreadyExistsError(
      absl::StrCat("trial ", trial_id, " already has checkpoint ", existing_id, " at step ", step));
}

Status CheckNewListenPair(const ListenPairRow& row) {
  if (row.pair_id.empty()) return absl::InvalidArgumentError("new listen pair: pair_id is empty");
  if (row.choice != ListenChoice::kUnrated) {
    return absl::InvalidArgumentError(absl::StrCat("new listen pair ", row.pair_id, ": choice must be unrated (0), got ",
                                                   static_cast<int>(row.choice)));
  }
  return absl::OkStatus();
}

Status CheckNewPack(const PackRow& row) {
  if (!IsSha256Hex(row.manifest_sha256)) {
    return absl::InvalidArgumentError(absl::StrCat("new pack: manifest_sha256: expected 64 lower-case hex digits, got \"",
                                                   row.manifest_sha256, "\""));
  }
  if (row.genre.empty()) return absl::InvalidArgumentError(absl::StrCat("new pack ", row.manifest_sha256, ": genre is empty"));
  bool names_manifest = false;
  for (const std::string& sha : row.blob_shas) {
    if (!IsSha256Hex(sha)) {
      return absl::InvalidArgumentError(absl::StrCat("new pack ", row.manifest_sha256, ": blob sha256 \"", sha,
                                                     "\" is not 64 lower-case hex digits"));
    }
    names_manifest |= sha == row.manifest_sha256;
  }
  if (!names_manifest) {
    return absl::InvalidArgumentError(absl::StrCat("new pack ", row.manifest_sha256, ": its blobs must include the manifest"));
  }
  return absl::OkStatus();
}

Status PackNotFound(const std::string& manifest_sha256) {
  return absl::NotFoundError(absl::StrCat("pack ", manifest_sha256, " not found"));
}

Status CheckRatingChoice(ListenChoice choice) {
  if (choice == ListenChoice::kA || choice == ListenChoice::kB || choice == ListenChoice::kSame) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("rating choice: expected A (1), B (2) or same (3), got ", static_cast<int>(choice)));
}

Status ListenPairNotFound(const std::string& pair_id) {
  return absl::NotFoundError(absl::StrCat("listen pair ", pair_id, " not found"));
}

Status ListenPairExists(const std::string& pair_id) {
  return absl::AlreadyExistsError(absl::StrCat("listen pair ", pair_id, " already exists"));
}

Status ListenPairAlreadyRated(const std::string& pair_id) {
  return absl::FailedPreconditionError(absl::StrCat("listen pair ", pair_id, " was already rated"));
}

bool MatchesRatingFilter(const ListenPairRow& row, const std::string& genre, int64_t trial_id) {
  if (row.choice == ListenChoice::kUnrated) return false;
  if (!genre.empty() && row.genre != genre) return false;
  return trial_id == 0 || row.trial_a == trial_id || row.trial_b == trial_id;
}

}  // namespace tutti::coord::store_internal
