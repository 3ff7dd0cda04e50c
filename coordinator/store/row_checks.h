#pragma once
// Checks and messages shared by every ExperimentStore implementation, so that they fail the same way with
// the same words (the contract test compares codes and message fragments). Internal to coordinator/store.

#include <cstdint>
#include <string>

#include "coordinator/store/experiment_store.h"
#include "core/base/status.h"

namespace tutti::coord::store_internal {

// True when the value is one of the enum's named values.
bool IsValidState(ExperimentState state);
bool IsValidState(TrialState state);
bool IsValidState(CheckpointState state);

// InvalidArgument naming `what` ("experiment 3", "trial 2 of the new experiment") and the bad value.
Status CheckExperimentRow(const ExperimentRow& row, const std::string& what);
Status CheckTrialRow(const TrialRow& row, const std::string& what);
Status CheckCheckpointState(CheckpointState state, const std::string& what);
// InvalidArgument unless limit > 0.
Status CheckReadLimit(int limit);

// "experiment 7 not found" / "trial 12 not found" / "checkpoint 3 not found" (NotFound).
Status NotFound(const char* kind, int64_t id);
// FailedPrecondition for a row that names a parent which does not exist:
// "trial names experiment 7, which does not exist".
Status MissingParent(const char* child_kind, const char* parent_kind, int64_t parent_id);
// AlreadyExists: "trial 5 already has checkpoint 3 at step 100".
Status CheckpointExists(int64_t trial_id, int64_t step, int64_t existing_id);

// Listening tests: a new pair (non-empty pair_id, unrated); a rating's choice (A, B or same).
Status CheckNewListenPair(const ListenPairRow& row);
Status CheckRatingChoice(ListenChoice choice);
// "listen pair <id> not found" (NotFound); "listen pair <id> already exists" (AlreadyExists); "listen pair
// <id> was already rated" (FailedPrecondition).
Status ListenPairNotFound(const std::string& pair_id);
Status ListenPairExists(const std::string& pair_id);
Status ListenPairAlreadyRated(const std::string& pair_id);
// Packs: well-formed shas, a genre, blob_shas naming the manifest. "pack <sha> not found" (NotFound).
Status CheckNewPack(const PackRow& row);
Status PackNotFound(const std::string& manifest_sha256);
// Whether a rated pair passes ListRatedPairs' filters.
bool MatchesRatingFilter(const ListenPairRow& row, const std::string& genre, int64_t trial_id);

}  // namespace tutti::coord::store_internal
