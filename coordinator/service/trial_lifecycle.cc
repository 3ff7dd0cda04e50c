#include "coordinator/service/trial_lifecycle.h"

#include <chrono>
#include <cmath>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

namespace tutti::coord {
namespace {

std::string LeaseGone(const std::string& lease_id, const TrialRow& row) {
  std::string why;
  if (IsTerminal(row.state)) {
    why = absl::StrCat("the trial ended: ", StateName(row.state));
  } else if (row.state == TrialState::kQueued) {
    why = "the lease expired or was handed back; the trial is queued again";
  } else {
    why = absl::StrCat("the trial is now leased to ", row.lease_worker.empty() ? "another worker" : row.lease_worker);
  }
  return absl::StrCat("lease ", lease_id, " of trial ", row.id, " is no longer held (", why, ")");
}

}  // namespace

std::string NewLeaseId() {
  // /dev/urandom through random_device; 128 bits make a guessed or repeated lease id implausible.
  static std::mutex mu;
  static std::random_device device;
  std::lock_guard<std::mutex> lock(mu);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int i = 0; i < 32; i += 8) {
    uint32_t word = device();
    for (int j = 0; j < 8; ++j) id[i + j] = kHex[(word >> (4 * j)) & 15];
  }
  return id;
}

StatusOr<std::unique_ptr<TrialLifecycle>> TrialLifecycle::Create(ExperimentStore* store, const Clock* clock,
                                                                 LifecycleOptions options) {
  if (store == nullptr || clock == nullptr) return absl::InvalidArgumentError("TrialLifecycle: null store or clock");
  if (options.lease_ttl_ms <= 0 || options.heartbeat_interval_ms <= 0 || options.max_restarts < 0) {
    return absl::InvalidArgumentError("TrialLifecycle: lease_ttl_ms and heartbeat_interval_ms must be > 0, "
                                      "max_restarts >= 0");
  }
  std::unique_ptr<TrialLifecycle> lifecycle(new TrialLifecycle(store, clock, options));
  TUTTI_ASSIGN_OR_RETURN(std::vector<TrialRow> rows, store->ListAllTrials());
  std::lock_guard<std::mutex> lock(lifecycle->mu_);
  std::set<int64_t> experiments;
  TUTTI_ASSIGN_OR_RETURN(std::vector<ExperimentRow> stored_experiments, store->ListExperiments());
  for (const ExperimentRow& e : stored_experiments) {
    if (e.state == ExperimentState::kPaused) lifecycle->paused_experiments_.insert(e.id);
  }
  for (TrialRow& row : rows) {
    experiments.insert(row.experiment_id);
    const int64_t id = row.id;
    if (row.state == TrialState::kQueued) lifecycle->queue_.insert(id);
    if (row.state == TrialState::kRunning) lifecycle->leases_[row.lease_id] = id;
    lifecycle->trials_[id] = std::move(row);
  }
  // Leases that ran out while the coordinator was down end now, before any worker is served.
  lifecycle->ExpireLeasesLocked();
  // A crash between a trial's last transition and its experiment's update leaves the experiment active.
  for (int64_t id : experiments) TUTTI_RETURN_IF_ERROR(lifecycle->MaybeFinishExperimentLocked(id));
  return lifecycle;
}

void TrialLifecycle::BumpLocked() {
  ++version_;
  changed_.notify_all();
}

uint64_t TrialLifecycle::version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return version_;
}

uint64_t TrialLifecycle::WaitForChange(uint64_t seen, int64_t timeout_ms) const {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return version_ != seen; });
  return version_;
}

TrialRow TrialLifecycle::WithLatestLocked(TrialRow row) const {
  auto it = latest_.find(row.id);
  if (it == latest_.end() || it->second.empty()) return row;
  nlohmann::json merged = nlohmann::json::parse(row.last_metrics_json, nullptr, false);
  if (!merged.is_object()) merged = nlohmann::json::object();
  for (const auto& [name, value] : it->second) {
    merged[name] = std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
  }
  row.last_metrics_json = merged.dump();
  return row;
}

Status TrialLifecycle::WriteTrialLocked(TrialRow& row) {
  TrialRow merged = WithLatestLocked(row);
  merged.updated_ms = clock_->NowMs();
  TUTTI_RETURN_IF_ERROR(store_->UpdateTrial(merged));
  row = std::move(merged);
  latest_.erase(row.id);
  auto it = trials_.find(row.id);
  if (it != trials_.end() && !it->second.lease_id.empty()) leases_.erase(it->second.lease_id);
  queue_.erase(row.id);
  if (row.state == TrialState::kQueued) queue_.insert(row.id);
  if (row.state == TrialState::kRunning) leases_[row.lease_id] = row.id;
  if (row.state != TrialState::kRunning) checkpoint_requested_.erase(row.id);
  trials_[row.id] = row;
  BumpLocked();
  return absl::OkStatus();
}

StatusOr<ExperimentRow> TrialLifecycle::Submit(ExperimentRow experiment, std::vector<TrialRow> trials,
                                               std::vector<TrialRow>* created) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = clock_->NowMs();
  experiment.state = ExperimentState::kActive;
  experiment.created_ms = experiment.updated_ms = now;
  experiment.ended_ms = 0;
  for (TrialRow& t : trials) {
    t.state = TrialState::kQueued;
    t.created_ms = t.updated_ms = now;
  }
  std::vector<int64_t> ids;
  TUTTI_ASSIGN_OR_RETURN(experiment.id, store_->CreateExperiment(experiment, trials, &ids));
  for (size_t i = 0; i < trials.size(); ++i) {
    trials[i].id = ids[i];
    trials[i].experiment_id = experiment.id;
    queue_.insert(ids[i]);
    trials_[ids[i]] = trials[i];
  }
  if (created != nullptr) *created = std::move(trials);
  BumpLocked();
  return experiment;
}

StatusOr<TrialRow> TrialLifecycle::GetTrial(int64_t trial_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = trials_.find(trial_id);
  if (it == trials_.end()) return absl::NotFoundError(absl::StrCat("trial ", trial_id, " not found"));
  return WithLatestLocked(it->second);
}

StatusOr<std::vector<TrialRow>> TrialLifecycle::TrialsOf(int64_t experiment_id) const {
  // The store says whether the experiment exists (NotFound naming it); the cache has the freshest rows.
  TUTTI_ASSIGN_OR_RETURN(std::vector<TrialRow> stored, store_->ListTrials(experiment_id));
  std::lock_guard<std::mutex> lock(mu_);
  for (TrialRow& row : stored) {
    auto it = trials_.find(row.id);
    if (it != trials_.end()) row = WithLatestLocked(it->second);
  }
  return stored;
}

std::vector<TrialRow> TrialLifecycle::AllTrials() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<TrialRow> rows;
  rows.reserve(trials_.size());
  for (const auto& [id, row] : trials_) rows.push_back(WithLatestLocked(row));
  return rows;
}

Status TrialLifecycle::KillTrial(int64_t trial_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = trials_.find(trial_id);
  if (it == trials_.end()) return absl::NotFoundError(absl::StrCat("trial ", trial_id, " not found"));
  TrialRow row = it->second;
  if (IsTerminal(row.state) || row.stop_request == "kill") return absl::OkStatus();
  if (row.state != TrialState::kRunning) {  // queued or waiting (PAUSED): nobody to tell
    row.state = TrialState::kKilled;
    row.stop_reason = kReasonKilled;
    row.message = "killed by a user before it ran to its end";
    row.ended_ms = clock_->NowMs();
    TUTTI_RETURN_IF_ERROR(WriteTrialLocked(row));
    Log(absl::StrCat("trial ", row.id, " KILLED before it ran"));
    return MaybeFinishExperimentLocked(row.experiment_id);
  }
  row.stop_request = "kill";  // the next heartbeat tells the worker
  Log(absl::StrCat("trial ", row.id, ": kill requested; its worker stops at its next heartbeat"));
  return WriteTrialLocked(row);
}

Status TrialLifecycle::KillExperiment(int64_t experiment_id) {
  TUTTI_ASSIGN_OR_RETURN(ExperimentRow experiment, store_->GetExperiment(experiment_id));
  std::vector<int64_t> ids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, row] : trials_) {
      if (row.experiment_id == experiment_id) ids.push_back(id);
    }
    if (!IsTerminal(experiment.state)) {
      experiment.state = ExperimentState::kKilled;
      experiment.message = "killed by a user";
      experiment.updated_ms = clock_->NowMs();  // ended_ms is set when its last trial has stopped
      TUTTI_RETURN_IF_ERROR(store_->UpdateExperiment(experiment));
    }
  }
  for (int64_t id : ids) TUTTI_RETURN_IF_ERROR(KillTrial(id));
  return absl::OkStatus();
}

Status TrialLifecycle::RequestCheckpoint(int64_t trial_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = trials_.find(trial_id);
  if (it == trials_.end()) return absl::NotFoundError(absl::StrCat("trial ", trial_id, " not found"));
  if (it->second.state != TrialState::kRunning) {
    return absl::FailedPreconditionError(
        absl::StrCat("trial ", trial_id, " is ", StateName(it->second.state), ", not RUNNING: no worker to ask"));
  }
  checkpoint_requested_.insert(trial_id);
  return absl::OkStatus();
}

StatusOr<std::optional<LeaseGrant>> TrialLifecycle::LeaseNext(const std::string& worker, int ranks) {
  LeaseAsk ask;
  ask.worker = worker;
  ask.free_ranks = 0;
  ask.default_ranks = std::max(1, ranks);
  TUTTI_ASSIGN_OR_RETURN(LeaseResult result, LeaseNext(ask));
  return result.grant;
}

StatusOr<TrialLifecycle::LeaseResult> TrialLifecycle::LeaseNext(const LeaseAsk& ask) {
  std::lock_guard<std::mutex> lock(mu_);
  ExpireLeasesLocked();
  LeaseResult result;
  const int most = ask.max_ranks > 0 ? ask.max_ranks : ask.free_ranks;
  for (int64_t id : queue_) {
    const TrialRow& candidate = trials_.at(id);
    if (paused_experiments_.count(candidate.experiment_id) != 0) continue;
    const int needs = candidate.ranks > 0 ? candidate.ranks : std::max(1, ask.default_ranks);
    const bool fits = ask.free_ranks <= 0 || (ask.exact ? needs == ask.free_ranks : needs <= ask.free_ranks);
    if (!fits) {
      if (most > 0 && needs > most && result.unfit_trial_id == 0) {
        result.unfit_trial_id = id;
        result.unfit_ranks = needs;
      }
      continue;
    }
    TrialRow row = candidate;
    const int64_t now = clock_->NowMs();
    row.state = TrialState::kRunning;
    row.ranks = needs;
    row.lease_id = NewLeaseId();
    row.lease_worker = ask.worker;
    row.lease_expires_ms = now + options_.lease_ttl_ms;
    if (row.started_ms == 0) row.started_ms = now;
    TUTTI_RETURN_IF_ERROR(WriteTrialLocked(row));
    Log(absl::StrCat("trial ", row.id, " (experiment ", row.experiment_id, ") leased to ", ask.worker, " with ", needs,
                     " rank(s) at step ", row.step));
    result.grant = LeaseGrant{row.lease_id, row};
    return result;
  }
  return result;
}

StatusOr<LeaseGrant> TrialLifecycle::Adopt(const std::string& lease_id, const std::string& worker) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = leases_.find(lease_id);
  if (it == leases_.end()) {
    return absl::FailedPreconditionError(absl::StrCat("lease ", lease_id, " is not held by any trial (it expired, "
                                                      "was handed back or never existed)"));
  }
  TrialRow row = trials_.at(it->second);
  row.lease_worker = worker;
  row.lease_expires_ms = clock_->NowMs() + options_.lease_ttl_ms;
  TUTTI_RETURN_IF_ERROR(WriteTrialLocked(row));
  return LeaseGrant{lease_id, row};
}

StatusOr<TrialRow> TrialLifecycle::CheckLeaseLocked(const std::string& lease_id, int64_t trial_id) const {
  auto it = trials_.find(trial_id);
  if (it == trials_.end()) return absl::NotFoundError(absl::StrCat("trial ", trial_id, " not found"));
  const TrialRow& row = it->second;
  // No lease id at all is a malformed request, not a lease that was lost ("lease  of trial 1 is no longer held").
  if (lease_id.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("trial ", trial_id, ": lease_id: expected the id LeaseTrial returned, got none"));
  }
  if (row.state != TrialState::kRunning || row.lease_id != lease_id) {
    return absl::FailedPreconditionError(LeaseGone(lease_id, row));
  }
  return row;
}

StatusOr<TrialRow> TrialLifecycle::CheckLease(const std::string& lease_id, int64_t trial_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return CheckLeaseLocked(lease_id, trial_id);
}

StatusOr<HeartbeatReply> TrialLifecycle::Heartbeat(const std::string& lease_id, int64_t trial_id, int64_t step) {
  std::lock_guard<std::mutex> lock(mu_);
  // A lease that ran out is gone even if the reaper has not run yet: the worker must not keep a trial
  // another worker may be about to take.
  ExpireLeasesLocked();
  TUTTI_ASSIGN_OR_RETURN(TrialRow row, CheckLeaseLocked(lease_id, trial_id));
  row.lease_expires_ms = clock_->NowMs() + options_.lease_ttl_ms;
  row.step = std::max(row.step, step);
  TUTTI_RETURN_IF_ERROR(WriteTrialLocked(row));
  HeartbeatReply reply;
  if (!row.stop_request.empty()) {
    reply.control = HeartbeatReply::Control::kStop;
    reply.reason = row.stop_request == "kill"    ? std::string("killed by a user")
                   : row.stop_request == "pause" ? std::string("its experiment was paused")
                                                 : absl::StrCat("early stop: ", row.stop_detail);
  } else if (checkpoint_requested_.erase(trial_id) > 0) {
    reply.control = HeartbeatReply::Control::kCheckpointNow;
    reply.reason = "the coordinator asked for a checkpoint";
  }
  return reply;
}

Status TrialLifecycle::RecordProgress(const std::string& lease_id, int64_t trial_id, int64_t step,
                                      const std::map<std::string, double>& latest) {
  std::lock_guard<std::mutex> lock(mu_);
  TUTTI_ASSIGN_OR_RETURN(TrialRow row, CheckLeaseLocked(lease_id, trial_id));
  TrialRow& cached = trials_.at(trial_id);
  cached.step = std::max(row.step, step);
  if (!latest.empty()) {
    std::map<std::string, double>& pending = latest_[trial_id];
    for (const auto& [name, value] : latest) pending[name] = value;
  }
  BumpLocked();
  return absl::OkStatus();
}

StatusOr<TrialRow> TrialLifecycle::Complete(const std::string& lease_id, int64_t trial_id, int64_t step,
                                            const std::string& stop_reason, const std::string& message) {
  if (stop_reason != kReasonCompleted && stop_reason != kReasonByCoordinator && stop_reason != kReasonPruned) {
    return absl::InvalidArgumentError(absl::StrCat("stop_reason: expected one of \"", kReasonCompleted, "\", \"",
                                                   kReasonByCoordinator, "\", \"", kReasonPruned, "\", got \"",
                                                   stop_reason, "\""));
  }
  std::lock_guard<std::mutex> lock(mu_);
  TUTTI_ASSIGN_OR_RETURN(TrialRow row, CheckLeaseLocked(lease_id, trial_id));
  row.step = std::max(row.step, step);
  ApplyStopRequestLocked(&row, stop_reason, message);
  TUTTI_RETURN_IF_ERROR(WriteTrialLocked(row));
  Log(absl::StrCat("trial ", row.id, " ", StateName(row.state), " at step ", row.step, " (", row.stop_reason, ")"));
  TUTTI_RETURN_IF_ERROR(MaybeFinishExperimentLocked(row.experiment_id));
  return row;
}

StatusOr<TrialRow> TrialLifecycle::Release(const std::string& lease_id, int64_t trial_id, int64_t step,
                                           const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  TUTTI_ASSIGN_OR_RETURN(TrialRow row, CheckLeaseLocked(lease_id, trial_id));
  row.step = std::max(row.step, step);
  if (!row.stop_request.empty()) {
    ApplyStopRequestLocked(&row, kReasonByCoordinator, reason);
  } else {
    row.lease_id.clear();
    row.lease_expires_ms = 0;
    row.state = TrialState::kQueued;
    row.message = absl::StrCat("handed back by ", row.lease_worker, " at step ", row.step, ": ", reason);
    row.lease_worker.clear();
  }
  TUTTI_RETURN_IF_ERROR(WriteTrialLocked(row));
  Log(absl::StrCat("trial ", row.id, " ", StateName(row.state), ": ", row.message));
  TUTTI_RETURN_IF_ERROR(MaybeFinishExperimentLocked(row.experiment_id));
  return row;
}

TrialRow TrialLifecycle::RequeueOrEnd(TrialRow row, const std::string& why) const {
  const int64_t now = clock_->NowMs();
  row.lease_id.clear();
  row.lease_expires_ms = 0;
  row.lease_worker.clear();
  if (row.stop_request == "kill") {
    row.state = TrialState::kKilled;
    row.stop_reason = kReasonKilled;
    row.message = absl::StrCat("killed by a user; ", why);
    row.ended_ms = now;
  } else if (row.stop_request == "early") {
    row.state = TrialState::kCompleted;
    row.stop_reason = row.stop_detail.substr(0, row.stop_detail.find(':'));
    row.message = absl::StrCat("early stop: ", row.stop_detail, "; ", why);
    row.ended_ms = now;
  } else if (row.restarts >= row.max_restarts) {
    row.state = TrialState::kFailed;
    row.stop_reason = kReasonTooManyRestarts;
    row.message = absl::StrCat("gave up after ", row.restarts, " restart(s) (limit ", row.max_restarts,
                               "); last: ", why);
    row.ended_ms = now;
  } else {
    // A pause that could not be delivered (the worker died) just leaves the trial queued.
    if (row.stop_request != "pause") row.restarts += 1;
    row.state = TrialState::kQueued;
    row.stop_request.clear();
    row.message = absl::StrCat(why, "; queued again (restart ", row.restarts, " of at most ", row.max_restarts,
                               "), it resumes from its latest checkpoint");
  }
  return row;
}

StatusOr<TrialRow> TrialLifecycle::Fail(const std::string& lease_id, int64_t trial_id, int64_t step,
                                        const std::string& message, bool retryable, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  TUTTI_ASSIGN_OR_RETURN(TrialRow row, CheckLeaseLocked(lease_id, trial_id));
  row.step = std::max(row.step, step);
  if (retryable) {
    row = RequeueOrEnd(std::move(row), absl::StrCat("failed at step ", row.step, ": ", message));
  } else {
    row.lease_id.clear();
    row.lease_expires_ms = 0;
    row.lease_worker.clear();
    row.state = row.stop_request == "kill" ? TrialState::kKilled : TrialState::kFailed;
    row.stop_reason = row.stop_request == "kill" ? kReasonKilled : reason.empty() ? kReasonFailed : reason;
    row.message = absl::StrCat("failed at step ", row.step, ": ", message);
    row.ended_ms = clock_->NowMs();
  }
  TUTTI_RETURN_IF_ERROR(WriteTrialLocked(row));
  Log(absl::StrCat("trial ", row.id, " ", StateName(row.state), ": ", row.message));
  TUTTI_RETURN_IF_ERROR(MaybeFinishExperimentLocked(row.experiment_id));
  return row;
}

int TrialLifecycle::ExpireLeases() {
  std::lock_guard<std::mutex> lock(mu_);
  return ExpireLeasesLocked();
}

int TrialLifecycle::ExpireLeasesLocked() {
  const int64_t now = clock_->NowMs();
  std::vector<int64_t> expired;
  for (const auto& [lease, id] : leases_) {
    if (trials_.at(id).lease_expires_ms <= now) expired.push_back(id);
  }
  int count = 0;
  for (int64_t id : expired) {
    const TrialRow& row = trials_.at(id);
    TrialRow next = RequeueOrEnd(row, absl::StrCat("the lease of ", row.lease_worker.empty() ? "its worker" : row.lease_worker,
                                                   " expired at step ", row.step, " (no heartbeat for ",
                                                   options_.lease_ttl_ms / 1000.0, " s)"));
    // A store that fails now (full disk) leaves the lease in place; the next sweep tries again.
    if (!WriteTrialLocked(next).ok()) continue;
    Log(absl::StrCat("trial ", next.id, " ", StateName(next.state), ": ", next.message));
    (void)MaybeFinishExperimentLocked(next.experiment_id);
    ++count;
  }
  return count;
}

Status TrialLifecycle::MaybeFinishExperiment(int64_t experiment_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return MaybeFinishExperimentLocked(experiment_id);
}

Status TrialLifecycle::MaybeFinishExperimentLocked(int64_t experiment_id) {
  if (can_finish_ && !can_finish_(experiment_id)) return absl::OkStatus();
  int completed = 0, total = 0;
  std::map<std::string, int> reasons;
  for (const auto& [id, row] : trials_) {
    if (row.experiment_id != experiment_id) continue;
    ++total;
    if (!IsTerminal(row.state)) return absl::OkStatus();
    if (row.state == TrialState::kCompleted) ++completed;
    if (row.state == TrialState::kFailed) ++reasons[row.message];
  }
  if (total == 0) return absl::OkStatus();
  TUTTI_ASSIGN_OR_RETURN(ExperimentRow experiment, store_->GetExperiment(experiment_id));
  if (experiment.ended_ms != 0) return absl::OkStatus();
  const int64_t now = clock_->NowMs();
  experiment.ended_ms = experiment.updated_ms = now;
  if (experiment.state == ExperimentState::kKilled) {
    // stays KILLED
  } else if (completed > 0) {
    experiment.state = ExperimentState::kCompleted;
    experiment.message = absl::StrCat(completed, " of ", total, " trial(s) completed");
  } else {
    experiment.state = ExperimentState::kFailed;
    std::string why;
    for (const auto& [message, n] : reasons) {
      absl::StrAppend(&why, why.empty() ? "" : "; ", n > 1 ? absl::StrCat(n, " x ") : "", message);
    }
    experiment.message = absl::StrCat("no trial completed: ", why.empty() ? "all were killed" : why);
  }
  TUTTI_RETURN_IF_ERROR(store_->UpdateExperiment(experiment));
  Log(absl::StrCat("experiment ", experiment.id, " ", StateName(experiment.state), ": ", experiment.message));
  return absl::OkStatus();
}

void TrialLifecycle::ApplyStopRequestLocked(TrialRow* row, const std::string& default_reason,
                                            const std::string& message) {
  const int64_t now = clock_->NowMs();
  row->lease_id.clear();
  row->lease_expires_ms = 0;
  row->lease_worker.clear();
  if (row->stop_request == "kill") {
    row->state = TrialState::kKilled;
    row->stop_reason = kReasonKilled;
    row->message = absl::StrCat("killed by a user; stopped at step ", row->step);
    row->ended_ms = now;
  } else if (row->stop_request == "pause") {
    row->state = TrialState::kQueued;  // not a restart: its experiment was paused
    row->message = absl::StrCat("paused at step ", row->step, " with its experiment");
  } else if (row->stop_request == "early") {
    row->state = TrialState::kCompleted;
    row->stop_reason = row->stop_detail.substr(0, row->stop_detail.find(':'));
    row->message = absl::StrCat("early stop at step ", row->step, ": ", row->stop_detail);
    row->ended_ms = now;
  } else {
    row->state = TrialState::kCompleted;
    row->stop_reason = default_reason;
    row->message = message;
    row->ended_ms = now;
  }
  if (row->state == TrialState::kQueued || IsTerminal(row->state)) row->stop_request.clear();
}

Status TrialLifecycle::PauseExperiment(int64_t experiment_id) {
  TUTTI_ASSIGN_OR_RETURN(ExperimentRow experiment, store_->GetExperiment(experiment_id));
  std::lock_guard<std::mutex> lock(mu_);
  if (experiment.state == ExperimentState::kPaused) return absl::OkStatus();
  if (IsTerminal(experiment.state)) {
    return absl::FailedPreconditionError(
        absl::StrCat("experiment ", experiment_id, " is ", StateName(experiment.state), ": nothing to pause"));
  }
  experiment.state = ExperimentState::kPaused;
  experiment.updated_ms = clock_->NowMs();
  TUTTI_RETURN_IF_ERROR(store_->UpdateExperiment(experiment));
  paused_experiments_.insert(experiment_id);
  for (auto& [id, cached] : trials_) {
    if (cached.experiment_id != experiment_id || cached.state != TrialState::kRunning || !cached.stop_request.empty()) {
      continue;
    }
    TrialRow row = cached;
    row.stop_request = "pause";
    TUTTI_RETURN_IF_ERROR(WriteTrialLocked(row));
  }
  Log(absl::StrCat("experiment ", experiment_id, " PAUSED: running trials stop after a checkpoint"));
  BumpLocked();
  return absl::OkStatus();
}

Status TrialLifecycle::ResumeExperiment(int64_t experiment_id) {
  TUTTI_ASSIGN_OR_RETURN(ExperimentRow experiment, store_->GetExperiment(experiment_id));
  std::lock_guard<std::mutex> lock(mu_);
  if (experiment.state != ExperimentState::kPaused) {
    if (experiment.state == ExperimentState::kActive) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat("experiment ", experiment_id, " is ", StateName(experiment.state), ", not PAUSED"));
  }
  experiment.state = ExperimentState::kActive;
  experiment.updated_ms = clock_->NowMs();
  TUTTI_RETURN_IF_ERROR(store_->UpdateExperiment(experiment));
  paused_experiments_.erase(experiment_id);
  for (auto& [id, cached] : trials_) {
    if (cached.experiment_id != experiment_id || cached.stop_request != "pause") continue;
    TrialRow row = cached;  // still running toward its pause: let it go on
    row.stop_request.clear();
    TUTTI_RETURN_IF_ERROR(WriteTrialLocked(row));
  }
  Log(absl::StrCat("experiment ", experiment_id, " resumed"));
  BumpLocked();
  return absl::OkStatus();
}

Status TrialLifecycle::RequestEarlyStop(int64_t trial_id, const std::string& code, const std::string& detail) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = trials_.find(trial_id);
  if (it == trials_.end()) return absl::NotFoundError(absl::StrCat("trial ", trial_id, " not found"));
  TrialRow row = it->second;
  if (IsTerminal(row.state) || !row.stop_request.empty()) return absl::OkStatus();
  row.stop_request = "early";
  row.stop_detail = absl::StrCat(code, ": ", detail);
  if (row.state != TrialState::kRunning) {
    ApplyStopRequestLocked(&row, code, detail);
    TUTTI_RETURN_IF_ERROR(WriteTrialLocked(row));
    return MaybeFinishExperimentLocked(row.experiment_id);
  }
  Log(absl::StrCat("trial ", trial_id, ": early stop (", code, "): ", detail));
  return WriteTrialLocked(row);
}

StatusOr<TrialRow> TrialLifecycle::AddTrial(TrialRow row) {
  TUTTI_ASSIGN_OR_RETURN(ExperimentRow experiment, store_->GetExperiment(row.experiment_id));
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = clock_->NowMs();
  row.state = TrialState::kQueued;
  row.created_ms = row.updated_ms = now;
  TUTTI_ASSIGN_OR_RETURN(row.id, store_->AddTrial(row));
  trials_[row.id] = row;
  queue_.insert(row.id);
  if (IsTerminal(experiment.state) && experiment.state != ExperimentState::kKilled) {
    experiment.state = ExperimentState::kActive;  // a fork of a finished experiment
    experiment.ended_ms = 0;
    experiment.message.clear();
    experiment.updated_ms = now;
    TUTTI_RETURN_IF_ERROR(store_->UpdateExperiment(experiment));
  }
  BumpLocked();
  return row;
}

StatusOr<TrialRow> TrialLifecycle::Continue(int64_t trial_id, int64_t target_steps, const std::string& config_yaml,
                                            const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = trials_.find(trial_id);
  if (it == trials_.end()) return absl::NotFoundError(absl::StrCat("trial ", trial_id, " not found"));
  TrialRow row = it->second;
  if (row.state != TrialState::kCompleted && row.state != TrialState::kPaused) {
    return absl::FailedPreconditionError(
        absl::StrCat("trial ", trial_id, " is ", StateName(row.state), ": only a finished or waiting trial continues"));
  }
  row.state = TrialState::kQueued;
  row.target_steps = target_steps;
  row.config_yaml = config_yaml;
  row.stop_reason.clear();
  row.ended_ms = 0;
  row.message = message;
  TUTTI_RETURN_IF_ERROR(WriteTrialLocked(row));
  Log(absl::StrCat("trial ", trial_id, " continues to step ", target_steps, ": ", message));
  return row;
}

StatusOr<TrialRow> TrialLifecycle::Park(int64_t trial_id, const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = trials_.find(trial_id);
  if (it == trials_.end()) return absl::NotFoundError(absl::StrCat("trial ", trial_id, " not found"));
  TrialRow row = it->second;
  if (row.state != TrialState::kCompleted && row.state != TrialState::kPaused) {
    return absl::FailedPreconditionError(absl::StrCat("trial ", trial_id, " is ", StateName(row.state)));
  }
  row.state = TrialState::kPaused;
  row.stop_reason.clear();
  row.ended_ms = 0;
  row.message = message;
  TUTTI_RETURN_IF_ERROR(WriteTrialLocked(row));
  return row;
}

StatusOr<TrialRow> TrialLifecycle::Close(int64_t trial_id, const std::string& stop_reason, const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = trials_.find(trial_id);
  if (it == trials_.end()) return absl::NotFoundError(absl::StrCat("trial ", trial_id, " not found"));
  TrialRow row = it->second;
  if (row.state != TrialState::kCompleted && row.state != TrialState::kPaused) {
    return absl::FailedPreconditionError(absl::StrCat("trial ", trial_id, " is ", StateName(row.state)));
  }
  row.state = TrialState::kCompleted;
  row.stop_reason = stop_reason;
  row.message = message;
  if (row.ended_ms == 0) row.ended_ms = clock_->NowMs();
  TUTTI_RETURN_IF_ERROR(WriteTrialLocked(row));
  TUTTI_RETURN_IF_ERROR(MaybeFinishExperimentLocked(row.experiment_id));
  return row;
}

}  // namespace tutti::coord
