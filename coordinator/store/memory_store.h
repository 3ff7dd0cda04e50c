#pragma once
// MemoryStore: the ExperimentStore contract (experiment_store.h) in memory, for tests and benchmarks.
// Nothing is durable: the data lives as long as the object. It passes the same contract test as SqliteStore
// (store_contract_test.cc), so code tested against it behaves the same on SQLite.
//
// Thread-safety: every method takes mu_ for its whole duration, which also makes each call atomic (a call
// checks everything it needs before it changes anything).

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/store/experiment_store.h"

namespace tutti::coord {

class MemoryStore : public ExperimentStore {
 public:
  MemoryStore() = default;  // cannot fail: no I/O
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  StatusOr<int64_t> CreateExperiment(const ExperimentRow& experiment, const std::vector<TrialRow>& trials,
                                     std::vector<int64_t>* trial_ids) override;
  StatusOr<ExperimentRow> GetExperiment(int64_t id) override;
  StatusOr<std::vector<ExperimentRow>> ListExperiments() override;
  Status UpdateExperiment(const ExperimentRow& row) override;
  Status SetSearcherState(int64_t experiment_id, const std::string& state, int64_t updated_ms) override;

  StatusOr<int64_t> AddTrial(const TrialRow& trial) override;
  StatusOr<TrialRow> GetTrial(int64_t id) override;
  StatusOr<std::vector<TrialRow>> ListTrials(int64_t experiment_id) override;
  StatusOr<std::vector<TrialRow>> ListAllTrials() override;
  Status UpdateTrial(const TrialRow& row) override;

  Status AppendMetrics(const std::vector<MetricRow>& rows) override;
  StatusOr<std::vector<MetricRow>> ReadMetrics(int64_t trial_id, int64_t after_step, int limit) override;

  StatusOr<int64_t> InsertCheckpoint(const CheckpointRow& row) override;
  StatusOr<CheckpointRow> GetCheckpoint(int64_t id) override;
  StatusOr<std::vector<CheckpointRow>> ListCheckpoints(int64_t trial_id) override;
  StatusOr<std::vector<CheckpointRow>> ListCheckpointsInState(CheckpointState state) override;
  Status SetCheckpointState(int64_t id, CheckpointState state) override;
  Status DeleteCheckpoint(int64_t id) override;
  StatusOr<int64_t> CountCheckpointsWithSha(const std::string& sha256) override;
  StatusOr<std::vector<std::string>> ListCheckpointShas() override;

  StatusOr<int64_t> InsertListenPair(const ListenPairRow& row) override;
  StatusOr<ListenPairRow> GetListenPair(const std::string& pair_id) override;
  StatusOr<ListenPairRow> RateListenPair(const std::string& pair_id, ListenChoice choice, const std::string& listener,
                                         int64_t rated_ms) override;
  StatusOr<std::vector<ListenPairRow>> ListRatedPairs(const std::string& genre, int64_t trial_id) override;

  StatusOr<bool> InsertPack(const PackRow& row) override;
  StatusOr<PackRow> GetPack(const std::string& manifest_sha256) override;
  StatusOr<std::vector<PackRow>> ListPacks(const std::string& genre) override;
  StatusOr<std::vector<std::string>> ListPackBlobShas() override;

 private:
  // A trial's metric points keyed by (step, kind): map order is ReadMetrics' order.
  using MetricKey = std::pair<int64_t, std::string>;

  absl::Mutex mu_;
  // The last id handed out per table; ids are never reused, so deletions do not lower them.
  int64_t last_experiment_id_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t last_trial_id_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t last_checkpoint_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<int64_t, ExperimentRow> experiments_ ABSL_GUARDED_BY(mu_);  // by id
  std::map<int64_t, TrialRow> trials_ ABSL_GUARDED_BY(mu_);            // by id
  std::map<int64_t, std::map<MetricKey, MetricRow>> metrics_ ABSL_GUARDED_BY(mu_);  // by trial id
  std::map<int64_t, CheckpointRow> checkpoints_ ABSL_GUARDED_BY(mu_);  // by id
  int64_t last_listen_pair_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, ListenPairRow> listen_pairs_ ABSL_GUARDED_BY(mu_);  // by pair_id
  std::map<std::string, PackRow> packs_ ABSL_GUARDED_BY(mu_);               // by manifest_sha256
};

}  // namespace tutti::coord
