#include "coordinator/service/experiment_manager.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "core/config/experiment_config_yaml.h"
#include "core/config/job_config_yaml.h"

namespace tutti::coord {
namespace {

using sweep::Operation;

nlohmann::json OpToJson(const Operation& op) {
  return {{"kind", static_cast<int>(op.kind)}, {"request", op.request_id}, {"hparams", op.hparams},
          {"length", op.length}, {"reason", op.reason}};
}

Operation OpFromJson(const nlohmann::json& j) {
  Operation op;
  op.kind = static_cast<Operation::Kind>(j.at("kind").get<int>());
  op.request_id = j.at("request").get<int64_t>();
  op.hparams = j.at("hparams").get<sweep::Assignment>();
  op.length = j.at("length").get<int64_t>();
  op.reason = j.at("reason").get<std::string>();
  return op;
}

// "stopped at rung 1 of 3" from "stopped at rung 1 of 3: not in the top 1/4 (value 0.8)".
std::string ReasonCode(const std::string& reason) { return reason.substr(0, reason.find(':')); }

}  // namespace

StatusOr<std::unique_ptr<ExperimentManager>> ExperimentManager::Create(ExperimentStore* store, TrialLifecycle* lifecycle,
                                                                       const Clock* clock) {
  std::unique_ptr<ExperimentManager> manager(new ExperimentManager(store, lifecycle, clock));
  ExperimentManager* raw = manager.get();
  lifecycle->set_experiment_can_finish([raw](int64_t id) { return raw->IsDone(id); });
  TUTTI_ASSIGN_OR_RETURN(std::vector<ExperimentRow> experiments, store->ListExperiments());
  for (const ExperimentRow& e : experiments) {
    if (IsTerminal(e.state)) {
      std::lock_guard<std::mutex> lock(raw->done_mu_);
      raw->done_.insert(e.id);
    }
  }
  {
    std::lock_guard<std::mutex> lock(raw->mu_);
    for (const ExperimentRow& e : experiments) {
      if (IsTerminal(e.state)) continue;
      TUTTI_RETURN_IF_ERROR(raw->ReconcileLocked(e.id));
    }
  }
  // Early stopping of the trials still in play, rebuilt from their stored metrics (OnMetrics locks mu_).
  for (const TrialRow& t : lifecycle->AllTrials()) {
    if (t.state != TrialState::kRunning && t.state != TrialState::kQueued) continue;
    TUTTI_ASSIGN_OR_RETURN(std::vector<MetricRow> rows, store->ReadMetrics(t.id, -1, 1 << 30));
    for (const MetricRow& m : rows) {
      std::map<std::string, double> values;
      nlohmann::json j = nlohmann::json::parse(m.values_json, nullptr, false);
      if (!j.is_object()) continue;
      for (auto it = j.begin(); it != j.end(); ++it) {
        const double v = it->is_number() ? it->get<double>() : std::nan("");
        values[m.kind == "eval" ? "eval." + it.key() : it.key()] = v;
      }
      raw->OnMetrics(t.id, m.step, m.kind, values);
    }
  }
  return manager;
}

bool ExperimentManager::IsDone(int64_t experiment_id) const {
  std::lock_guard<std::mutex> lock(done_mu_);
  return done_.count(experiment_id) != 0;
}

StatusOr<ExperimentManager::Sweep*> ExperimentManager::SweepLocked(int64_t experiment_id) {
  auto it = sweeps_.find(experiment_id);
  if (it != sweeps_.end()) return it->second.get();
  TUTTI_ASSIGN_OR_RETURN(ExperimentRow row, store_->GetExperiment(experiment_id));
  auto sweep = std::make_unique<Sweep>();
  TUTTI_ASSIGN_OR_RETURN(sweep->config,
                         ParseExperimentConfig(row.config_yaml, absl::StrCat("experiment ", experiment_id, " config")));
  TUTTI_ASSIGN_OR_RETURN(sweep->searcher,
                         sweep::CreateSearcher(ToSearcherConfig(sweep->config), sweep->config.hyperparameters));
  if (!row.searcher_state.empty()) {
    nlohmann::json j = nlohmann::json::parse(row.searcher_state, nullptr, false);
    if (!j.is_object()) {
      return absl::DataLossError(absl::StrCat("experiment ", experiment_id, ": its saved searcher state is not JSON"));
    }
    try {
      TUTTI_RETURN_IF_ERROR(sweep->searcher->LoadState(j.at("searcher").get<std::string>()));
      for (const auto& [request, trial] : j.at("trials").items()) sweep->trial_of_request[std::stoll(request)] = trial;
      for (const auto& [trial, length] : j.at("reached").items()) sweep->reached[std::stoll(trial)] = length;
      for (int64_t trial : j.at("ended")) sweep->ended.insert(trial);
      for (const nlohmann::json& op : j.at("pending")) sweep->pending.push_back(OpFromJson(op));
      sweep->done = j.at("done").get<bool>();
    } catch (const nlohmann::json::exception& e) {
      return absl::DataLossError(absl::StrCat("experiment ", experiment_id, ": saved searcher state: ", e.what()));
    }
  }
  if (sweep->done || IsTerminal(row.state)) {
    std::lock_guard<std::mutex> lock(done_mu_);
    done_.insert(experiment_id);
  }
  Sweep* raw = sweep.get();
  sweeps_[experiment_id] = std::move(sweep);
  PublishLocked(experiment_id, *raw);
  return raw;
}

void ExperimentManager::PublishLocked(int64_t experiment_id, const Sweep& sweep) {
  std::lock_guard<std::mutex> lock(view_mu_);
  View& view = views_[experiment_id];
  if (view.config == nullptr || view.config->searcher.max_trials != sweep.config.searcher.max_trials) {
    view.config = std::make_shared<const ExperimentConfig>(sweep.config);
  }
  view.progress = sweep.done ? 1.0 : sweep.searcher->Progress();
}

Status ExperimentManager::SaveLocked(int64_t experiment_id, const Sweep& sweep) {
  nlohmann::json j;
  j["searcher"] = sweep.searcher->SaveState();
  nlohmann::json trials = nlohmann::json::object(), reached = nlohmann::json::object(), pending = nlohmann::json::array();
  for (const auto& [request, trial] : sweep.trial_of_request) trials[std::to_string(request)] = trial;
  for (const auto& [trial, length] : sweep.reached) reached[std::to_string(trial)] = length;
  for (const Operation& op : sweep.pending) pending.push_back(OpToJson(op));
  j["trials"] = trials;
  j["reached"] = reached;
  j["ended"] = sweep.ended;
  j["pending"] = pending;
  j["done"] = sweep.done;
  return store_->SetSearcherState(experiment_id, j.dump(), clock_->NowMs());
}

Status ExperimentManager::ApplyLocked(int64_t experiment_id, Sweep* sweep, const Operation& op, bool replaying) {
  switch (op.kind) {
    case Operation::Kind::kCreate: {
      if (sweep->trial_of_request.count(op.request_id) != 0) return absl::OkStatus();
      // A crash after creating the trial but before saving the mapping (an operation replayed from the
      // saved state): find it instead of creating it twice. Fresh decisions skip the scan.
      if (replaying) {
        TUTTI_ASSIGN_OR_RETURN(std::vector<TrialRow> existing, lifecycle_->TrialsOf(experiment_id));
        for (const TrialRow& t : existing) {
          if (t.request_id == op.request_id) {
            sweep->trial_of_request[op.request_id] = t.id;
            return absl::OkStatus();
          }
        }
      }
      TUTTI_ASSIGN_OR_RETURN(JobConfig job, TrialJobConfig(sweep->config, op.hparams, op.length));
      TrialRow row;
      row.experiment_id = experiment_id;
      row.config_yaml = JobConfigToYaml(job);
      row.hparams_json = nlohmann::json(op.hparams).dump();
      row.target_steps = job.train.steps;
      row.ranks = sweep->config.resources.ranks;
      row.request_id = op.request_id;
      row.max_restarts = sweep->config.max_restarts;
      TUTTI_ASSIGN_OR_RETURN(TrialRow created, lifecycle_->AddTrial(row));
      sweep->trial_of_request[op.request_id] = created.id;
      return absl::OkStatus();
    }
    case Operation::Kind::kTrainTo: {
      auto found = sweep->trial_of_request.find(op.request_id);
      if (found == sweep->trial_of_request.end()) {
        return absl::InternalError(absl::StrCat("searcher asked to continue unknown request ", op.request_id));
      }
      TUTTI_ASSIGN_OR_RETURN(TrialRow row, lifecycle_->GetTrial(found->second));
      if (row.target_steps >= op.length) return absl::OkStatus();  // already on its way, or past it
      if (row.state != TrialState::kCompleted && row.state != TrialState::kPaused) return absl::OkStatus();
      TUTTI_ASSIGN_OR_RETURN(JobConfig job, ParseJobConfig(row.config_yaml, absl::StrCat("trial ", row.id, " config")));
      job.train.steps = op.length;
      return lifecycle_
          ->Continue(row.id, op.length, JobConfigToYaml(job),
                     absl::StrCat("promoted: continues from step ", row.step, " to ", op.length))
          .status();
    }
    case Operation::Kind::kClose: {
      auto found = sweep->trial_of_request.find(op.request_id);
      if (found == sweep->trial_of_request.end()) return absl::OkStatus();
      sweep->ended.insert(found->second);  // a closed trial is not "ended" news for the searcher
      TUTTI_ASSIGN_OR_RETURN(TrialRow row, lifecycle_->GetTrial(found->second));
      if (row.state != TrialState::kCompleted && row.state != TrialState::kPaused) return absl::OkStatus();
      return lifecycle_->Close(row.id, ReasonCode(op.reason), op.reason).status();
    }
    case Operation::Kind::kShutdown: {
      sweep->done = true;
      std::lock_guard<std::mutex> lock(done_mu_);
      done_.insert(experiment_id);
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

Status ExperimentManager::DecideLocked(int64_t experiment_id, Sweep* sweep, std::vector<Operation> ops) {
  if (ops.empty() && sweep->pending.empty()) return SaveLocked(experiment_id, *sweep);
  const size_t replayed = sweep->pending.size();  // operations from before (a restart): maybe done already
  sweep->pending.insert(sweep->pending.end(), ops.begin(), ops.end());
  TUTTI_RETURN_IF_ERROR(SaveLocked(experiment_id, *sweep));  // write-ahead: the decision survives a crash
  for (size_t i = 0; i < sweep->pending.size(); ++i) {
    TUTTI_RETURN_IF_ERROR(ApplyLocked(experiment_id, sweep, sweep->pending[i], /*replaying=*/i < replayed));
  }
  // Carried out: the next save drops them. Until then a restart carries them out again, which changes
  // nothing (every operation checks whether it is already done).
  sweep->pending.clear();
  PublishLocked(experiment_id, *sweep);
  if (sweep->done) TUTTI_RETURN_IF_ERROR(lifecycle_->MaybeFinishExperiment(experiment_id));
  return absl::OkStatus();
}

StatusOr<std::optional<double>> ExperimentManager::ValidationAt(const Sweep& sweep, int64_t trial_id, int64_t step) {
  const std::string& metric = sweep.config.searcher.metric;
  const bool eval_metric = metric.rfind("eval.", 0) == 0;
  const std::string key = eval_metric ? metric.substr(5) : metric;
  TUTTI_ASSIGN_OR_RETURN(std::vector<MetricRow> rows, store_->ReadMetrics(trial_id, -1, 1 << 30));
  std::optional<double> value;
  for (const MetricRow& m : rows) {
    if (m.step > step || (m.kind == "eval") != eval_metric) continue;
    nlohmann::json j = nlohmann::json::parse(m.values_json, nullptr, false);
    if (j.is_object() && j.contains(key) && j[key].is_number()) value = j[key].get<double>();
  }
  return value;
}

Status ExperimentManager::ConsumeLocked(int64_t experiment_id, Sweep* sweep, const TrialRow& t) {
  if (t.request_id == 0) return absl::OkStatus();  // forks are not the searcher's
  const bool reached_length = t.state == TrialState::kCompleted && t.stop_reason == kReasonCompleted;
  if (reached_length && sweep->reached[t.id] < t.target_steps) {
    std::vector<Operation> ops;
    TUTTI_ASSIGN_OR_RETURN(std::optional<double> value, ValidationAt(*sweep, t.id, t.target_steps));
    if (value) {
      std::vector<Operation> v = sweep->searcher->OnValidation(t.request_id, t.target_steps, *value);
      ops.insert(ops.end(), v.begin(), v.end());
    }
    sweep->reached[t.id] = t.target_steps;
    std::vector<Operation> r = sweep->searcher->OnLengthReached(t.request_id, t.target_steps);
    ops.insert(ops.end(), r.begin(), r.end());
    const bool addressed = std::any_of(ops.begin(), ops.end(), [&](const Operation& op) {
      return op.request_id == t.request_id &&
             (op.kind == Operation::Kind::kTrainTo || op.kind == Operation::Kind::kClose);
    });
    TUTTI_RETURN_IF_ERROR(DecideLocked(experiment_id, sweep, std::move(ops)));
    if (!addressed) {
      TUTTI_ASSIGN_OR_RETURN(TrialRow now, lifecycle_->GetTrial(t.id));
      if (now.state == TrialState::kCompleted && now.stop_reason == kReasonCompleted) {
        TUTTI_RETURN_IF_ERROR(
            lifecycle_
                ->Park(t.id, absl::StrCat("waiting at step ", t.target_steps,
                                          value ? absl::StrCat(" (", sweep->config.searcher.metric, " ", *value, ")")
                                                : std::string(" (no ") + sweep->config.searcher.metric + " reported)",
                                          " for a promotion; more trials must finish this rung first"))
                .status());
      }
    }
    return absl::OkStatus();
  }
  const bool ended = t.state == TrialState::kFailed || t.state == TrialState::kKilled ||
                     (t.state == TrialState::kCompleted && t.stop_reason != kReasonCompleted);
  if (ended && sweep->ended.count(t.id) == 0) {
    sweep->ended.insert(t.id);
    TUTTI_RETURN_IF_ERROR(
        DecideLocked(experiment_id, sweep, sweep->searcher->OnTrialEnded(t.request_id, t.state == TrialState::kFailed)));
  }
  return absl::OkStatus();
}

StatusOr<ExperimentManager::Sweep*> ExperimentManager::LiveSweepLocked(int64_t experiment_id) {
  TUTTI_ASSIGN_OR_RETURN(ExperimentRow experiment, store_->GetExperiment(experiment_id));
  TUTTI_ASSIGN_OR_RETURN(Sweep * sweep, SweepLocked(experiment_id));
  if (experiment.state == ExperimentState::kKilled || (IsTerminal(experiment.state) && sweep->done)) {
    std::lock_guard<std::mutex> lock(done_mu_);
    done_.insert(experiment_id);
    return static_cast<Sweep*>(nullptr);
  }
  if (experiment.searcher_state.empty()) {
    // Stored but never started (a crash right after the submission).
    TUTTI_RETURN_IF_ERROR(DecideLocked(experiment_id, sweep, sweep->searcher->Start()));
  } else if (!sweep->pending.empty()) {
    TUTTI_RETURN_IF_ERROR(DecideLocked(experiment_id, sweep, {}));
  }
  return sweep;
}

Status ExperimentManager::ReconcileLocked(int64_t experiment_id) {
  TUTTI_ASSIGN_OR_RETURN(Sweep * sweep, LiveSweepLocked(experiment_id));
  if (sweep == nullptr) return absl::OkStatus();
  TUTTI_ASSIGN_OR_RETURN(std::vector<TrialRow> trials, lifecycle_->TrialsOf(experiment_id));
  for (const TrialRow& t : trials) TUTTI_RETURN_IF_ERROR(ConsumeLocked(experiment_id, sweep, t));
  if (sweep->done) TUTTI_RETURN_IF_ERROR(lifecycle_->MaybeFinishExperiment(experiment_id));
  return absl::OkStatus();
}

Status ExperimentManager::ReconcileTrial(int64_t trial_id) {
  std::lock_guard<std::mutex> lock(mu_);
  TUTTI_ASSIGN_OR_RETURN(TrialRow t, lifecycle_->GetTrial(trial_id));
  TUTTI_ASSIGN_OR_RETURN(Sweep * sweep, LiveSweepLocked(t.experiment_id));
  if (sweep == nullptr) return absl::OkStatus();
  TUTTI_RETURN_IF_ERROR(ConsumeLocked(t.experiment_id, sweep, t));
  if (sweep->done) TUTTI_RETURN_IF_ERROR(lifecycle_->MaybeFinishExperiment(t.experiment_id));
  return absl::OkStatus();
}

Status ExperimentManager::Reconcile(int64_t experiment_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return ReconcileLocked(experiment_id);
}

Status ExperimentManager::ReconcileAll() {
  TUTTI_ASSIGN_OR_RETURN(std::vector<ExperimentRow> experiments, store_->ListExperiments());
  std::lock_guard<std::mutex> lock(mu_);
  for (const ExperimentRow& e : experiments) {
    if (IsTerminal(e.state) && IsDone(e.id)) continue;
    TUTTI_RETURN_IF_ERROR(ReconcileLocked(e.id));
  }
  return absl::OkStatus();
}

StatusOr<ExperimentRow> ExperimentManager::Submit(const ExperimentConfig& config, const std::string& source_name,
                                                  const std::string& submitted_yaml,
                                                  const std::vector<std::string>& overrides,
                                                  std::vector<TrialRow>* created) {
  // The searcher is built before anything is stored, so a bad sweep is refused with nothing left behind.
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<sweep::Searcher> searcher,
                         sweep::CreateSearcher(ToSearcherConfig(config), config.hyperparameters));
  ExperimentRow row;
  row.name = config.job.name;
  row.source_name = source_name;
  row.config_yaml = ExperimentConfigToYaml(config);
  row.submitted_yaml = submitted_yaml;
  row.overrides_json = nlohmann::json(overrides).dump();
  std::lock_guard<std::mutex> lock(mu_);
  TUTTI_ASSIGN_OR_RETURN(ExperimentRow stored, lifecycle_->Submit(row, {}, nullptr));
  auto sweep = std::make_unique<Sweep>();
  sweep->config = config;
  sweep->searcher = std::move(searcher);
  Sweep* raw = sweep.get();
  sweeps_[stored.id] = std::move(sweep);
  PublishLocked(stored.id, *raw);
  TUTTI_RETURN_IF_ERROR(DecideLocked(stored.id, raw, raw->searcher->Start()));
  if (created != nullptr) {
    TUTTI_ASSIGN_OR_RETURN(*created, lifecycle_->TrialsOf(stored.id));
  }
  return store_->GetExperiment(stored.id);
}

void ExperimentManager::OnMetrics(int64_t trial_id, int64_t step, const std::string& kind,
                                  const std::map<std::string, double>& values) {
  // The hot path of metric reports: its own lock, and the experiment's config only on a trial's first point.
  std::unique_lock<std::mutex> lock(early_mu_);
  auto it = early_.find(trial_id);
  if (it == early_.end()) {
    lock.unlock();
    std::unique_ptr<sweep::EarlyStopping> stopper;
    StatusOr<TrialRow> trial = lifecycle_->GetTrial(trial_id);
    if (!trial.ok()) return;
    StatusOr<ExperimentConfig> config = Config(trial->experiment_id);
    if (!config.ok()) return;
    const sweep::EarlyStoppingConfig early = ToEarlyStoppingConfig(*config);
    if (early.enabled) stopper = std::make_unique<sweep::EarlyStopping>(early);
    lock.lock();
    it = early_.emplace(trial_id, std::move(stopper)).first;
  }
  if (it->second == nullptr) return;
  std::optional<sweep::StopDecision> stop = it->second->Observe(step, kind, values);
  lock.unlock();
  if (stop) (void)lifecycle_->RequestEarlyStop(trial_id, stop->code, stop->message);
}

Status ExperimentManager::SetMaxTrials(int64_t experiment_id, int max_trials) {
  std::lock_guard<std::mutex> lock(mu_);
  TUTTI_ASSIGN_OR_RETURN(Sweep * sweep, SweepLocked(experiment_id));
  if (sweep->done) {
    return absl::FailedPreconditionError(
        absl::StrCat("experiment ", experiment_id, ": its search has ended; fork a trial to train more"));
  }
  TUTTI_ASSIGN_OR_RETURN(std::vector<Operation> ops, sweep->searcher->SetMaxTrials(max_trials));
  sweep->config.searcher.max_trials = max_trials;
  PublishLocked(experiment_id, *sweep);
  TUTTI_ASSIGN_OR_RETURN(ExperimentRow row, store_->GetExperiment(experiment_id));
  row.config_yaml = ExperimentConfigToYaml(sweep->config);
  TUTTI_RETURN_IF_ERROR(store_->UpdateExperiment(row));
  return DecideLocked(experiment_id, sweep, std::move(ops));
}

StatusOr<TrialRow> ExperimentManager::Fork(int64_t parent_trial_id, int64_t checkpoint_id, int64_t newest_checkpoint_id,
                                           const std::vector<std::string>& overrides) {
  TUTTI_ASSIGN_OR_RETURN(TrialRow parent, lifecycle_->GetTrial(parent_trial_id));
  TUTTI_ASSIGN_OR_RETURN(JobConfig job,
                         ParseJobConfig(parent.config_yaml, absl::StrCat("trial ", parent.id, " config"), overrides));
  nlohmann::json hparams = nlohmann::json::parse(parent.hparams_json, nullptr, false);
  if (!hparams.is_object()) hparams = nlohmann::json::object();
  for (const std::string& o : overrides) {
    const size_t eq = o.find('=');
    if (eq != std::string::npos) hparams[o.substr(0, eq)] = o.substr(eq + 1);
  }
  TrialRow row;
  row.experiment_id = parent.experiment_id;
  row.config_yaml = JobConfigToYaml(job);
  row.hparams_json = hparams.dump();
  row.parent_trial_id = parent.id;
  row.target_steps = job.train.steps;
  row.ranks = parent.ranks;
  row.request_id = 0;
  row.max_restarts = parent.max_restarts;
  row.resume_checkpoint_id = checkpoint_id != 0 ? checkpoint_id : newest_checkpoint_id;
  row.message = absl::StrCat("forked from trial ", parent.id,
                             row.resume_checkpoint_id != 0 ? absl::StrCat(" at checkpoint ", row.resume_checkpoint_id)
                                                           : std::string(" (no checkpoint: from scratch)"));
  return lifecycle_->AddTrial(row);
}

StatusOr<ExperimentConfig> ExperimentManager::Config(int64_t experiment_id) {
  {
    std::lock_guard<std::mutex> lock(view_mu_);
    auto it = views_.find(experiment_id);
    if (it != views_.end() && it->second.config != nullptr) return *it->second.config;
  }
  std::lock_guard<std::mutex> lock(mu_);  // first use: load the experiment's sweep
  TUTTI_ASSIGN_OR_RETURN(Sweep * sweep, SweepLocked(experiment_id));
  return sweep->config;
}

double ExperimentManager::Progress(int64_t experiment_id) {
  {
    std::lock_guard<std::mutex> lock(view_mu_);
    auto it = views_.find(experiment_id);
    if (it != views_.end()) return it->second.progress;
  }
  std::lock_guard<std::mutex> lock(mu_);
  StatusOr<Sweep*> sweep = SweepLocked(experiment_id);
  if (!sweep.ok()) return 0;
  return (*sweep)->done ? 1.0 : (*sweep)->searcher->Progress();
}

}  // namespace tutti::coord
