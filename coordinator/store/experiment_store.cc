#include "coordinator/store/experiment_store.h"

namespace tutti::coord {

// The names are the proto enums' without their prefix (tutti.v1 TRIAL_QUEUED -> "QUEUED"),
// so logs, the CLI and the wire agree. An out-of-range value (a corrupt row, a bad cast) gets a name that
// says so instead of undefined behaviour.

const char* StateName(ExperimentState state) {
  switch (state) {
    case ExperimentState::kActive:
      return "ACTIVE";
    case ExperimentState::kCompleted:
      return "COMPLETED";
    case ExperimentState::kFailed:
      return "FAILED";
    case ExperimentState::kPaused:
      return "PAUSED";
    case ExperimentState::kKilled:
      return "KILLED";
  }
  return "UNKNOWN";
}

const char* StateName(TrialState state) {
  switch (state) {
    case TrialState::kQueued:
      return "QUEUED";
    case TrialState::kRunning:
      return "RUNNING";
    case TrialState::kCompleted:
      return "COMPLETED";
    case TrialState::kFailed:
      return "FAILED";
    case TrialState::kPaused:
      return "PAUSED";
    case TrialState::kKilled:
      return "KILLED";
  }
  return "UNKNOWN";
}

const char* StateName(CheckpointState state) {
  switch (state) {
    case CheckpointState::kLive:
      return "LIVE";
    case CheckpointState::kDeleting:
      return "DELETING";
  }
  return "UNKNOWN";
}

bool IsTerminal(TrialState state) {
  return state == TrialState::kCompleted || state == TrialState::kFailed || state == TrialState::kKilled;
}

bool IsTerminal(ExperimentState state) {
  return state == ExperimentState::kCompleted || state == ExperimentState::kFailed ||
         state == ExperimentState::kKilled;
}

}  // namespace tutti::coord
