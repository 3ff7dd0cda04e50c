#pragma once
// CheckpointRegistry: the coordinator's checkpoints — records in the ExperimentStore, bytes in the
// BlobStore — and the rules that keep the two consistent.
//
// Recording (worker protocol): Report() checks the lease and either records at once (the blob store already
// holds those bytes: content addressing makes a re-sent or shared checkpoint free) or asks for an upload.
// An Upload streams the bytes into the blob store; Finish() publishes the blob (verified sha256 and size,
// fsync, rename: blob_store.h), re-checks the lease, and only then commits the record. So a record never
// names missing bytes, a failed or cut upload leaves nothing listed, and a worker that lost its lease
// during the upload cannot add a checkpoint to a trial another worker now runs. Recording is idempotent
// per (trial, step): a second report of a step already recorded returns the existing record.
//
// Retention, after every new record of a trial: its newest checkpoint.keep records and its best
// checkpoint.keep_best records by checkpoint.best_metric / best_mode (from the trial's config) stay; the
// others are deleted. Deletion (retention or a user) is: mark the record DELETING (hidden from every list
// and download) -> remove the blob when no other record names it -> remove the record. It is recorded as
// done only after the bytes are gone, and a crash in between is finished by the next Create().
//
// Create() also removes blobs no record names (a crash between publishing a blob and committing its
// record). Both recoveries are counted in recovered().
//
// Thread-safety: all methods may be called from any thread. One mutex orders recording and deletion;
// upload bytes are written outside it (each Upload belongs to one thread).

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/blob/blob_store.h"
#include "coordinator/service/clock.h"
#include "coordinator/service/trial_lifecycle.h"
#include "coordinator/store/experiment_store.h"
#include "core/base/status.h"

namespace tutti::coord {

struct CheckpointAnnouncement {
  std::string lease_id;
  int64_t trial_id = 0;
  int64_t step = 0;
  std::string sha256;
  int64_t size_bytes = 0;
  std::map<std::string, double> metrics;
};

struct RegistryOptions {
  // Largest checkpoint accepted, in bytes (ResourceExhausted above).
  int64_t max_checkpoint_bytes = int64_t{2} << 30;
};

struct RegistryRecovery {
  int finished_deletions = 0;   // records found DELETING at start
  int orphan_blobs_removed = 0; // blobs no record named
  int incoming_removed = 0;     // unfinished uploads found in the blob store
};

class CheckpointRegistry {
 public:
  static StatusOr<std::unique_ptr<CheckpointRegistry>> Create(ExperimentStore* store, BlobStore* blobs,
                                                              TrialLifecycle* lifecycle, const Clock* clock,
                                                              RegistryOptions options = {});

  struct ReportResult {
    bool upload_required = false;
    std::optional<CheckpointRow> checkpoint;  // set when recorded
  };
  StatusOr<ReportResult> Report(const CheckpointAnnouncement& announcement);

  class Upload {
   public:
    // InvalidArgument / DataLoss when more bytes arrive than announced; the blob store's errors.
    Status Append(const void* data, size_t size);
    // See the file comment. DataLoss for a truncated upload (fewer bytes than announced) or a sha256
    // mismatch; FailedPrecondition when the lease was lost meanwhile.
    StatusOr<CheckpointRow> Finish();

   private:
    friend class CheckpointRegistry;
    Upload(CheckpointRegistry* registry, CheckpointAnnouncement announcement, std::unique_ptr<BlobStore::Writer> writer)
        : registry_(registry), announcement_(std::move(announcement)), writer_(std::move(writer)) {}
    CheckpointRegistry* const registry_;
    const CheckpointAnnouncement announcement_;
    std::unique_ptr<BlobStore::Writer> writer_;
  };
  // Checks the announcement and the lease, then opens the blob upload.
  StatusOr<std::unique_ptr<Upload>> BeginUpload(const CheckpointAnnouncement& announcement);

  // A live record (NotFound naming the id for unknown or deleted ones).
  StatusOr<CheckpointRow> Get(int64_t checkpoint_id);
  // Live records of a trial by step (NotFound for an unknown trial).
  StatusOr<std::vector<CheckpointRow>> ListForTrial(int64_t trial_id);
  // Live records of every trial of an experiment (NotFound for an unknown experiment).
  StatusOr<std::vector<CheckpointRow>> ListForExperiment(int64_t experiment_id);
  // The newest live record of a trial; nullopt when it has none.
  StatusOr<std::optional<CheckpointRow>> Latest(int64_t trial_id);
  // The best live record by the trial's checkpoint.best_metric (the newest when it names no metric or no
  // record carries it); nullopt when the trial has none.
  StatusOr<std::optional<CheckpointRow>> Best(int64_t trial_id);
  // The bytes of a live record. DataLoss when the blob is missing.
  StatusOr<std::unique_ptr<BlobStore::Reader>> OpenBytes(const CheckpointRow& row);
  // Path of a record's blob (for tools that load the file directly, such as the sample service).
  std::string BlobPath(const CheckpointRow& row) const { return blobs_->PathOf(row.sha256); }
  // A user's delete (see the proto): idempotent; FailedPrecondition for the newest record of a trial that
  // has not ended.
  Status Delete(int64_t checkpoint_id);

  const RegistryRecovery& recovered() const { return recovered_; }

  // Changes whenever a record is added or a deletion starts: readers that derive something from the
  // records (the best checkpoint per genre) recompute only when it moved.
  int64_t generation() const { return generation_.load(); }
  // Called after each new record is committed, on the recording thread, with no lock of the registry held
  // (the listener may call back into it). One listener; a later call replaces it.
  void SetRecordListener(std::function<void(const CheckpointRow&)> listener);

 private:
  CheckpointRegistry(ExperimentStore* store, BlobStore* blobs, TrialLifecycle* lifecycle, const Clock* clock,
                     RegistryOptions options)
      : store_(store), blobs_(blobs), lifecycle_(lifecycle), clock_(clock), options_(options) {}

  Status Validate(const CheckpointAnnouncement& a) const;
  // Records a checkpoint whose bytes are in the blob store, then applies retention. Callers hold mu_.
  StatusOr<CheckpointRow> RecordLocked(const CheckpointAnnouncement& a, bool* created);
  void NotifyRecorded(const CheckpointRow& row);
  // The existing live record of (trial, step), if any. Callers hold mu_.
  StatusOr<std::optional<CheckpointRow>> FindLocked(int64_t trial_id, int64_t step);
  Status ApplyRetentionLocked(int64_t trial_id);
  // DELETING -> blob (when unshared) -> record. Callers hold mu_.
  Status DeleteLocked(CheckpointRow row);
  Status Recover();

  ExperimentStore* const store_;
  BlobStore* const blobs_;
  TrialLifecycle* const lifecycle_;
  const Clock* const clock_;
  const RegistryOptions options_;
  RegistryRecovery recovered_;

  std::mutex mu_;  // orders RecordLocked, retention and deletion
  std::atomic<int64_t> generation_{0};
  std::mutex listener_mu_;
  std::function<void(const CheckpointRow&)> listener_;  // guarded by listener_mu_
};

// Checkpoint metrics as a JSON object (non-finite values as null) and back.
std::string MetricsToJson(const std::map<std::string, double>& metrics);
std::map<std::string, double> MetricsFromJson(const std::string& json);

}  // namespace tutti::coord
