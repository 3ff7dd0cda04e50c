#include "core/sweep/internal/fixed_length_searcher.h"

#include <algorithm>
#include <exception>
#include <string>

#include <nlohmann/json.hpp>

#include "core/sweep/internal/sweep_internal.h"

namespace tutti::sweep::internal {

FixedLengthSearcher::FixedLengthSearcher(const char* kind, const SearcherConfig& config, int max_trials)
    : kind_(kind), config_(config), max_trials_(max_trials) {}

std::vector<Operation> FixedLengthSearcher::Start() {
  std::vector<Operation> ops;
  if (started_) return ops;  // a second Start (a coordinator retrying) changes nothing
  started_ = true;
  Fill(&ops);
  return ops;
}

void FixedLengthSearcher::Fill(std::vector<Operation>* ops) {
  if (done_ || !started_) return;
  const size_t limit = config_.max_concurrent_trials;
  while ((limit == 0 || training_.size() < limit) && created_ < max_trials_) {
    Operation op;
    op.kind = Operation::Kind::kCreate;
    op.hparams = NextAssignment();  // before ++created_: NextAssignment reads created()
    op.request_id = ++created_;
    op.length = config_.max_length;
    training_.insert(op.request_id);
    ops->push_back(std::move(op));
  }
  if (training_.empty() && created_ >= max_trials_) {
    done_ = true;
    ops->push_back(ShutdownOperation());
  }
}

std::vector<Operation> FixedLengthSearcher::OnLengthReached(int64_t request_id, int64_t length) {
  std::vector<Operation> ops;
  // Unknown, finished or ended trials, and lengths short of the one given, are not this call's business.
  if (done_ || length < config_.max_length || training_.erase(request_id) == 0) return ops;
  ++finished_;
  Operation close;
  close.kind = Operation::Kind::kClose;
  close.request_id = request_id;
  close.reason = "completed";
  ops.push_back(std::move(close));
  Fill(&ops);
  return ops;
}

std::vector<Operation> FixedLengthSearcher::OnTrialEnded(int64_t request_id, bool /*failed*/) {
  // A failed trial's point is not retried: the coordinator's retry policy ran before it "failed for good".
  std::vector<Operation> ops;
  if (done_ || training_.erase(request_id) == 0) return ops;
  ++finished_;
  Fill(&ops);
  return ops;
}

StatusOr<std::vector<Operation>> FixedLengthSearcher::SetMaxTrials(int max_trials) {
  TUTTI_RETURN_IF_ERROR(CheckNewMaxTrials(done_, created_, max_trials));
  max_trials_ = max_trials;
  std::vector<Operation> ops;
  Fill(&ops);
  return ops;
}

double FixedLengthSearcher::Progress() const {
  if (done_) return 1.0;
  return max_trials_ > 0 ? std::min(1.0, static_cast<double>(finished_) / max_trials_) : 0.0;
}

std::string FixedLengthSearcher::SaveState() const {
  nlohmann::json state = {{"searcher", kind_},         {"version", kStateVersion}, {"max_trials", max_trials_},
                          {"started", started_},       {"done", done_},            {"created", created_},
                          {"finished", finished_},     {"training", training_},    {"max_length", config_.max_length}};
  SaveExtra(&state);
  return state.dump();
}

Status FixedLengthSearcher::LoadState(const std::string& text) {
  nlohmann::json state;
  TUTTI_RETURN_IF_ERROR(ParseState(text, kind_, &state));
  int max_trials = 0, created = 0, finished = 0;
  bool started = false, done = false;
  std::set<int64_t> training;
  try {
    // Exceptions stop here: a missing field or a wrong type is a bad state text, reported as such.
    if (state.at("max_length").get<int64_t>() != config_.max_length) {
      return absl::InvalidArgumentError(absl::StrCat("searcher state: saved with max_length ",
                                                     state.at("max_length").dump(), ", this searcher has ",
                                                     config_.max_length));
    }
    max_trials = state.at("max_trials").get<int>();
    started = state.at("started").get<bool>();
    done = state.at("done").get<bool>();
    created = state.at("created").get<int>();
    finished = state.at("finished").get<int>();
    training = state.at("training").get<std::set<int64_t>>();
    TUTTI_RETURN_IF_ERROR(CheckExtra(state));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("searcher state: ", e.what()));
  }
  const bool ids_ok = std::all_of(training.begin(), training.end(),
                                  [&](int64_t id) { return id >= 1 && id <= created; });
  if (created < 0 || created > max_trials || finished < 0 ||
      finished + static_cast<int64_t>(training.size()) != created || !ids_ok) {
    return absl::InvalidArgumentError(absl::StrCat("searcher state: inconsistent counts (max_trials ", max_trials,
                                                   ", created ", created, ", finished ", finished, ", training ",
                                                   training.size(), ")"));
  }
  max_trials_ = max_trials;
  started_ = started;
  done_ = done;
  created_ = created;
  finished_ = finished;
  training_ = std::move(training);
  ApplyExtra(state);
  return absl::OkStatus();
}

}  // namespace tutti::sweep::internal
