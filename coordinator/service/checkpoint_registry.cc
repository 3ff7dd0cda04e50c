#include "coordinator/service/checkpoint_registry.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "core/base/sha256.h"
#include "core/config/job_config_yaml.h"

namespace tutti::coord {
namespace {

// Which records of one trial retention keeps.
struct RetentionPolicy {
  int keep_latest = 3;
  int keep_best = 1;
  std::string best_metric;
  bool smaller_is_better = true;
};

RetentionPolicy PolicyOf(const TrialRow& trial) {
  RetentionPolicy policy;
  // The config was validated at submission; a config that no longer parses (an older build's keys) keeps
  // the defaults rather than deleting anything unexpected.
  StatusOr<JobConfig> config = ParseJobConfig(trial.config_yaml, absl::StrCat("trial ", trial.id, " config"));
  if (!config.ok()) return policy;
  policy.keep_latest = std::max(1, config->checkpoint.keep);  // never delete what the trial resumes from
  policy.keep_best = std::max(0, config->checkpoint.keep_best);
  policy.best_metric = config->checkpoint.best_metric;
  policy.smaller_is_better = config->checkpoint.best_mode != "max";
  return policy;
}

// The value that ranks `row` (lower ranks first); records without the metric rank last.
double RankValue(const CheckpointRow& row, const RetentionPolicy& policy) {
  const std::map<std::string, double> metrics = MetricsFromJson(row.metrics_json);
  auto it = metrics.find(policy.best_metric);
  if (it == metrics.end() || !std::isfinite(it->second)) return std::numeric_limits<double>::infinity();
  return policy.smaller_is_better ? it->second : -it->second;
}

std::vector<CheckpointRow> LiveOnly(std::vector<CheckpointRow> rows) {
  rows.erase(std::remove_if(rows.begin(), rows.end(),
                            [](const CheckpointRow& r) { return r.state != CheckpointState::kLive; }),
             rows.end());
  return rows;
}

}  // namespace

std::string MetricsToJson(const std::map<std::string, double>& metrics) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, value] : metrics) j[name] = std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
  return j.dump();
}

std::map<std::string, double> MetricsFromJson(const std::string& json) {
  std::map<std::string, double> out;
  nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    out[it.key()] = it->is_number() ? it->get<double>() : std::numeric_limits<double>::quiet_NaN();
  }
  return out;
}

StatusOr<std::unique_ptr<CheckpointRegistry>> CheckpointRegistry::Create(ExperimentStore* store, BlobStore* blobs,
                                                                         TrialLifecycle* lifecycle,
                                                                         const Clock* clock, RegistryOptions options) {
  if (store == nullptr || blobs == nullptr || lifecycle == nullptr || clock == nullptr) {
    return absl::InvalidArgumentError("CheckpointRegistry: null dependency");
  }
  std::unique_ptr<CheckpointRegistry> registry(new CheckpointRegistry(store, blobs, lifecycle, clock, options));
  TUTTI_RETURN_IF_ERROR(registry->Recover());
  return registry;
}

Status CheckpointRegistry::Recover() {
  std::lock_guard<std::mutex> lock(mu_);
  recovered_.incoming_removed = blobs_->removed_at_open();
  TUTTI_ASSIGN_OR_RETURN(std::vector<CheckpointRow> deleting, store_->ListCheckpointsInState(CheckpointState::kDeleting));
  for (CheckpointRow& row : deleting) {
    TUTTI_RETURN_IF_ERROR(DeleteLocked(std::move(row)));
    ++recovered_.finished_deletions;
  }
  TUTTI_ASSIGN_OR_RETURN(std::vector<std::string> named, store_->ListCheckpointShas());
  std::set<std::string> referenced(named.begin(), named.end());
  // Registered packs (PackService) keep their blobs too; blobs uploaded for a pack never registered are
  // orphans like any other and go (the client's next submit finds them missing and sends them again).
  TUTTI_ASSIGN_OR_RETURN(std::vector<std::string> pack_blobs, store_->ListPackBlobShas());
  referenced.insert(pack_blobs.begin(), pack_blobs.end());
  TUTTI_ASSIGN_OR_RETURN(std::vector<std::string> stored, blobs_->List());
  for (const std::string& sha : stored) {
    if (referenced.count(sha) != 0) continue;
    TUTTI_RETURN_IF_ERROR(blobs_->Remove(sha));
    ++recovered_.orphan_blobs_removed;
  }
  return absl::OkStatus();
}

Status CheckpointRegistry::Validate(const CheckpointAnnouncement& a) const {
  if (!IsSha256Hex(a.sha256)) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint of trial ", a.trial_id, " step ", a.step,
                                                   ": sha256: expected 64 lower-case hex digits, got \"", a.sha256, "\""));
  }
  if (a.step < 0) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint of trial ", a.trial_id, ": step: expected >= 0, got ", a.step));
  }
  if (a.size_bytes <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint of trial ", a.trial_id, " step ", a.step,
                                                   ": size_bytes: expected > 0, got ", a.size_bytes));
  }
  if (a.size_bytes > options_.max_checkpoint_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("checkpoint of trial ", a.trial_id, " step ", a.step, " is ",
                                                     a.size_bytes, " bytes; this coordinator accepts at most ",
                                                     options_.max_checkpoint_bytes, " (--max-checkpoint-mb)"));
  }
  return lifecycle_->CheckLease(a.lease_id, a.trial_id).status();
}

StatusOr<std::optional<CheckpointRow>> CheckpointRegistry::FindLocked(int64_t trial_id, int64_t step) {
  TUTTI_ASSIGN_OR_RETURN(std::vector<CheckpointRow> rows, store_->ListCheckpoints(trial_id));
  for (CheckpointRow& row : rows) {
    if (row.step == step && row.state == CheckpointState::kLive) return std::optional<CheckpointRow>(std::move(row));
  }
  return std::optional<CheckpointRow>();
}

StatusOr<CheckpointRegistry::ReportResult> CheckpointRegistry::Report(const CheckpointAnnouncement& a) {
  TUTTI_RETURN_IF_ERROR(Validate(a));
  ReportResult result;
  bool created = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    TUTTI_ASSIGN_OR_RETURN(result.checkpoint, FindLocked(a.trial_id, a.step));
    if (result.checkpoint) return result;
    if (!blobs_->Contains(a.sha256)) {
      result.upload_required = true;
      return result;
    }
    TUTTI_ASSIGN_OR_RETURN(CheckpointRow row, RecordLocked(a, &created));
    result.checkpoint = std::move(row);
  }
  if (created) NotifyRecorded(*result.checkpoint);
  return result;
}

void CheckpointRegistry::SetRecordListener(std::function<void(const CheckpointRow&)> listener) {
  std::lock_guard<std::mutex> lock(listener_mu_);
  listener_ = std::move(listener);
}

void CheckpointRegistry::NotifyRecorded(const CheckpointRow& row) {
  std::function<void(const CheckpointRow&)> listener;
  {
    std::lock_guard<std::mutex> lock(listener_mu_);
    listener = listener_;
  }
  if (listener) listener(row);
}

StatusOr<CheckpointRow> CheckpointRegistry::RecordLocked(const CheckpointAnnouncement& a, bool* created) {
  *created = false;
  // The lease again: an upload may have taken minutes, and the trial may have moved on meanwhile.
  TUTTI_ASSIGN_OR_RETURN(TrialRow trial, lifecycle_->CheckLease(a.lease_id, a.trial_id));
  TUTTI_ASSIGN_OR_RETURN(std::optional<CheckpointRow> existing, FindLocked(a.trial_id, a.step));
  if (existing) return *existing;
  CheckpointRow row;
  row.trial_id = a.trial_id;
  row.step = a.step;
  row.sha256 = a.sha256;
  row.size_bytes = a.size_bytes;
  row.metrics_json = MetricsToJson(a.metrics);
  row.state = CheckpointState::kLive;
  row.created_ms = clock_->NowMs();
  TUTTI_ASSIGN_OR_RETURN(row.id, store_->InsertCheckpoint(row));
  *created = true;
  generation_.fetch_add(1);
  (void)lifecycle_->RecordProgress(a.lease_id, a.trial_id, a.step, {});
  // A failing retention pass does not undo the record: it runs again after the next checkpoint.
  (void)ApplyRetentionLocked(a.trial_id);
  return row;
}

StatusOr<std::unique_ptr<CheckpointRegistry::Upload>> CheckpointRegistry::BeginUpload(const CheckpointAnnouncement& a) {
  TUTTI_RETURN_IF_ERROR(Validate(a));
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<BlobStore::Writer> writer, blobs_->StartUpload());
  return std::unique_ptr<Upload>(new Upload(this, a, std::move(writer)));
}

Status CheckpointRegistry::Upload::Append(const void* data, size_t size) {
  if (writer_ == nullptr) return absl::FailedPreconditionError("upload already finished or failed");
  if (writer_->size() + static_cast<int64_t>(size) > announcement_.size_bytes) {
    writer_.reset();  // removes the partial file
    return absl::DataLossError(absl::StrCat("checkpoint of trial ", announcement_.trial_id, " step ", announcement_.step,
                                            ": more bytes than the announced ", announcement_.size_bytes));
  }
  Status status = writer_->Append(data, size);
  if (!status.ok()) writer_.reset();
  return status;
}

StatusOr<CheckpointRow> CheckpointRegistry::Upload::Finish() {
  if (writer_ == nullptr) return absl::FailedPreconditionError("upload already finished or failed");
  std::unique_ptr<BlobStore::Writer> writer = std::move(writer_);
  const CheckpointAnnouncement& a = announcement_;
  if (writer->size() != a.size_bytes) {
    return absl::DataLossError(absl::StrCat("checkpoint of trial ", a.trial_id, " step ", a.step, ": upload truncated: ",
                                            writer->size(), " of ", a.size_bytes, " bytes arrived"));
  }
  TUTTI_RETURN_IF_ERROR(Annotate(writer->Commit(a.sha256, a.size_bytes),
                                 absl::StrCat("checkpoint of trial ", a.trial_id, " step ", a.step)));
  bool created = false;
  StatusOr<CheckpointRow> row;
  {
    std::lock_guard<std::mutex> lock(registry_->mu_);
    row = registry_->RecordLocked(a, &created);
  }
  if (created) registry_->NotifyRecorded(*row);
  return row;
}

StatusOr<CheckpointRow> CheckpointRegistry::Get(int64_t checkpoint_id) {
  TUTTI_ASSIGN_OR_RETURN(CheckpointRow row, store_->GetCheckpoint(checkpoint_id));
  if (row.state != CheckpointState::kLive) {
    return absl::NotFoundError(absl::StrCat("checkpoint ", checkpoint_id, " not found (it was deleted)"));
  }
  return row;
}

StatusOr<std::vector<CheckpointRow>> CheckpointRegistry::ListForTrial(int64_t trial_id) {
  TUTTI_RETURN_IF_ERROR(lifecycle_->GetTrial(trial_id).status());
  TUTTI_ASSIGN_OR_RETURN(std::vector<CheckpointRow> rows, store_->ListCheckpoints(trial_id));
  return LiveOnly(std::move(rows));
}

StatusOr<std::vector<CheckpointRow>> CheckpointRegistry::ListForExperiment(int64_t experiment_id) {
  TUTTI_ASSIGN_OR_RETURN(std::vector<TrialRow> trials, lifecycle_->TrialsOf(experiment_id));
  std::vector<CheckpointRow> all;
  for (const TrialRow& trial : trials) {
    TUTTI_ASSIGN_OR_RETURN(std::vector<CheckpointRow> rows, store_->ListCheckpoints(trial.id));
    for (CheckpointRow& row : LiveOnly(std::move(rows))) all.push_back(std::move(row));
  }
  return all;
}

StatusOr<std::optional<CheckpointRow>> CheckpointRegistry::Latest(int64_t trial_id) {
  TUTTI_ASSIGN_OR_RETURN(std::vector<CheckpointRow> rows, ListForTrial(trial_id));
  if (rows.empty()) return std::optional<CheckpointRow>();
  return std::optional<CheckpointRow>(rows.back());
}

StatusOr<std::optional<CheckpointRow>> CheckpointRegistry::Best(int64_t trial_id) {
  TUTTI_ASSIGN_OR_RETURN(TrialRow trial, lifecycle_->GetTrial(trial_id));
  TUTTI_ASSIGN_OR_RETURN(std::vector<CheckpointRow> rows, ListForTrial(trial_id));
  if (rows.empty()) return std::optional<CheckpointRow>();
  const RetentionPolicy policy = PolicyOf(trial);
  if (policy.best_metric.empty()) return std::optional<CheckpointRow>(rows.back());
  // Ties go to the newer checkpoint.
  const CheckpointRow* best = &rows.back();
  for (auto it = rows.rbegin(); it != rows.rend(); ++it) {
    if (RankValue(*it, policy) < RankValue(*best, policy)) best = &*it;
  }
  return std::optional<CheckpointRow>(*best);
}

StatusOr<std::unique_ptr<BlobStore::Reader>> CheckpointRegistry::OpenBytes(const CheckpointRow& row) {
  StatusOr<std::unique_ptr<BlobStore::Reader>> reader = blobs_->OpenBlob(row.sha256);
  if (!reader.ok() && reader.status().code() == absl::StatusCode::kNotFound) {
    return absl::DataLossError(absl::StrCat("checkpoint ", row.id, " (trial ", row.trial_id, ", step ", row.step,
                                            "): its bytes (sha256 ", row.sha256, ") are missing from the blob store"));
  }
  return reader;
}

Status CheckpointRegistry::ApplyRetentionLocked(int64_t trial_id) {
  TUTTI_ASSIGN_OR_RETURN(TrialRow trial, lifecycle_->GetTrial(trial_id));
  const RetentionPolicy policy = PolicyOf(trial);
  TUTTI_ASSIGN_OR_RETURN(std::vector<CheckpointRow> all, store_->ListCheckpoints(trial_id));
  std::vector<CheckpointRow> rows = LiveOnly(std::move(all));  // by step
  std::set<int64_t> keep;
  for (size_t i = rows.size() > static_cast<size_t>(policy.keep_latest) ? rows.size() - policy.keep_latest : 0;
       i < rows.size(); ++i) {
    keep.insert(rows[i].id);
  }
  if (!policy.best_metric.empty() && policy.keep_best > 0) {
    std::vector<const CheckpointRow*> ranked;
    for (const CheckpointRow& r : rows) ranked.push_back(&r);
    std::stable_sort(ranked.begin(), ranked.end(), [&](const CheckpointRow* a, const CheckpointRow* b) {
      return RankValue(*a, policy) < RankValue(*b, policy);
    });
    for (int i = 0; i < policy.keep_best && i < static_cast<int>(ranked.size()); ++i) {
      if (std::isfinite(RankValue(*ranked[i], policy))) keep.insert(ranked[i]->id);
    }
  }
  for (CheckpointRow& row : rows) {
    if (keep.count(row.id) == 0) TUTTI_RETURN_IF_ERROR(DeleteLocked(std::move(row)));
  }
  return absl::OkStatus();
}

Status CheckpointRegistry::DeleteLocked(CheckpointRow row) {
  if (row.state != CheckpointState::kDeleting) {
    TUTTI_RETURN_IF_ERROR(store_->SetCheckpointState(row.id, CheckpointState::kDeleting));
  }
  TUTTI_ASSIGN_OR_RETURN(int64_t users, store_->CountCheckpointsWithSha(row.sha256));
  if (users <= 1) TUTTI_RETURN_IF_ERROR(blobs_->Remove(row.sha256));
  generation_.fetch_add(1);
  return store_->DeleteCheckpoint(row.id);
}

Status CheckpointRegistry::Delete(int64_t checkpoint_id) {
  std::lock_guard<std::mutex> lock(mu_);
  StatusOr<CheckpointRow> row = store_->GetCheckpoint(checkpoint_id);
  if (!row.ok()) return row.status().code() == absl::StatusCode::kNotFound ? absl::OkStatus() : row.status();
  if (row->state == CheckpointState::kLive) {
    TUTTI_ASSIGN_OR_RETURN(TrialRow trial, lifecycle_->GetTrial(row->trial_id));
    if (!IsTerminal(trial.state)) {
      TUTTI_ASSIGN_OR_RETURN(std::vector<CheckpointRow> all, store_->ListCheckpoints(row->trial_id));
      std::vector<CheckpointRow> live = LiveOnly(std::move(all));
      if (!live.empty() && live.back().id == checkpoint_id) {
        return absl::FailedPreconditionError(absl::StrCat(
            "checkpoint ", checkpoint_id, " is the newest of trial ", trial.id, ", which is ", StateName(trial.state),
            ": the trial resumes from it. Kill the trial first or wait for a newer checkpoint"));
      }
    }
  }
  return DeleteLocked(*std::move(row));
}

}  // namespace tutti::coord
