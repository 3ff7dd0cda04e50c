#pragma once
// ExperimentStore: where the coordinator keeps experiments, trials, metrics and checkpoint records. One
// narrow interface, two implementations (SQLite for real use, in memory for tests and benchmarks), one
// contract test both pass (store_contract_test.cc).
//
// Rows are plain structs, independent of the wire format (proto/) and of gRPC. The coordinator's handlers
// hold the in-memory view (queue, leases) and write through this interface; at start-up they rebuild that
// view from ListAllTrials() (DESIGN.md section 6).
//
// Contract, for every implementation:
//   - Every method is atomic: it changes everything it says or nothing. CreateExperiment writes the
//     experiment and all its trials in one transaction.
//   - Ids are assigned by the store, start at 1, increase, and are never reused (even after deletion).
//   - NotFound messages name the kind and the id: "experiment 7 not found", "trial 12 not found",
//     "checkpoint 3 not found".
//   - Lists are ordered by id (metrics by step, then kind; checkpoints by step).
//   - Strings round-trip byte for byte (YAML, JSON); int64 values round-trip exactly.
//   - Thread-safe: any thread may call any method; calls are serialised as needed.
//   - A write that returns OK is durable once the implementation says so (SQLite: committed in WAL mode
//     with synchronous=NORMAL, which survives a process crash; see sqlite_store.h).
//   - A state outside its enum's values is InvalidArgument and nothing is written (in CreateExperiment:
//     neither the experiment nor any of its trials). ReadMetrics with limit <= 0 is InvalidArgument.
//   - Reading the children of a missing parent is NotFound naming the parent: ListTrials (experiment),
//     ReadMetrics and ListCheckpoints (trial).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/base/status.h"

namespace tutti::coord {

// kPaused: a user paused it; its trials are not leased until it is resumed.
enum class ExperimentState { kActive = 1, kCompleted = 2, kFailed = 3, kKilled = 4, kPaused = 5 };
// kPaused: the trial reached the length its searcher gave it and waits (ASHA: for a promotion that may still
// come when more trials finish its rung); not terminal.
enum class TrialState { kQueued = 1, kRunning = 2, kCompleted = 3, kFailed = 4, kKilled = 5, kPaused = 6 };
// A checkpoint record is kLive until retention or a user deletes it; kDeleting marks a record whose bytes
// are being removed (hidden from users; finished at the next start if the coordinator died meanwhile).
enum class CheckpointState { kLive = 1, kDeleting = 2 };

// "ACTIVE", "QUEUED", "LIVE", ... (the proto enum names without prefix).
const char* StateName(ExperimentState state);
const char* StateName(TrialState state);
const char* StateName(CheckpointState state);
// True for COMPLETED, FAILED and KILLED.
bool IsTerminal(TrialState state);
bool IsTerminal(ExperimentState state);

struct ExperimentRow {
  int64_t id = 0;               // assigned by CreateExperiment
  std::string name;             // the job's name
  std::string source_name;      // the submitted file's name
  std::string config_yaml;      // the resolved job config (every key)
  std::string submitted_yaml;   // the file as submitted
  std::string overrides_json;   // JSON array of the --set assignments, "[]" when none
  ExperimentState state = ExperimentState::kActive;
  std::string message;          // why it ended
  std::string searcher_state;   // opaque searcher state (JSON) saved after every decision; "" for none
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int64_t ended_ms = 0;         // 0 while active
};

struct TrialRow {
  int64_t id = 0;                // assigned by the store
  int64_t experiment_id = 0;     // must name an existing experiment (FailedPrecondition otherwise)
  TrialState state = TrialState::kQueued;
  std::string config_yaml;       // this trial's resolved config
  std::string hparams_json = "{}";  // the hyperparameters that made it (JSON object)
  int64_t parent_trial_id = 0;   // trial it was forked from (0 = none)
  int64_t step = 0;              // latest step reported
  int64_t target_steps = 0;      // train.steps
  int32_t restarts = 0;          // times re-queued after a lost lease or retryable failure
  std::string lease_id;          // "" unless running
  std::string lease_worker;      // "host:pid" of the lease holder
  int64_t lease_expires_ms = 0;  // 0 unless running
  // A stop the coordinator asked for and the next heartbeat delivers: "" (none), "kill" (a user; ends
  // KILLED), "pause" (its experiment was paused; back to QUEUED), "early" (early stopping: ends COMPLETED
  // with stop_detail as its reason).
  std::string stop_request;
  std::string stop_detail;       // for "early": the reason code and numbers
  int32_t ranks = 0;             // ranks it trains with (0 = the agent's default)
  int64_t request_id = 0;        // its searcher's id for it (0 = not the searcher's: a fork)
  int32_t max_restarts = 3;      // retryable failures before it fails for good
  int64_t resume_checkpoint_id = 0;  // a fork starts from this checkpoint (of its parent) until it has its own
  std::string stop_reason;       // "" while queued or running
  std::string message;           // detail of the stop or the last failure
  std::string last_metrics_json = "{}";  // latest value of each metric (JSON object name -> number)
  int64_t created_ms = 0;
  int64_t started_ms = 0;
  int64_t ended_ms = 0;
  int64_t updated_ms = 0;
};

struct MetricRow {
  int64_t trial_id = 0;
  int64_t step = 0;
  std::string kind;          // "train" or "eval"
  std::string values_json;   // JSON object name -> number (NaN written as null)
  int64_t time_ms = 0;
};

struct CheckpointRow {
  int64_t id = 0;            // assigned by InsertCheckpoint
  int64_t trial_id = 0;      // must name an existing trial
  int64_t step = 0;
  std::string sha256;        // 64 lower-case hex digits; the blob's name
  int64_t size_bytes = 0;
  std::string metrics_json = "{}";
  CheckpointState state = CheckpointState::kLive;
  int64_t created_ms = 0;
};

// A blind listening test of two samples of one genre (ListenService). Created unrated (choice kUnrated);
// rated once.
enum class ListenChoice { kUnrated = 0, kA = 1, kB = 2, kSame = 3 };

struct ListenPairRow {
  int64_t id = 0;            // assigned by InsertListenPair
  std::string pair_id;       // the opaque id clients rate with; unique
  std::string genre;
  // Side A and side B. Trials must exist; checkpoints are plain ids (retention may delete them later).
  int64_t trial_a = 0, checkpoint_a = 0, step_a = 0;
  int64_t trial_b = 0, checkpoint_b = 0, step_b = 0;
  int64_t seed = 0;          // the latents' seed (a uint64 stored bit for bit)
  ListenChoice choice = ListenChoice::kUnrated;
  std::string listener;
  int64_t created_ms = 0;
  int64_t rated_ms = 0;
};

// A training pack stored as blobs (PackService): its manifest.json and shards, each by the sha256 of its bytes.
// Registered once; a registered pack keeps its blobs from garbage collection.
struct PackRow {
  std::string manifest_sha256;       // the pack's identity; unique
  std::string genre;
  std::vector<std::string> blob_shas;  // manifest + every shard, distinct, sorted
  int32_t shards = 0;
  int64_t size_bytes = 0;            // manifest + shards
  int64_t train_samples = 0;
  int64_t heldout_samples = 0;
  int64_t registered_ms = 0;
};

class ExperimentStore {
 public:
  virtual ~ExperimentStore() = default;

  // --- experiments -------------------------------------------------------------------------------------
  // Inserts the experiment and its trials (their experiment_id is set to the new id) in one transaction.
  // Returns the experiment id; `trial_ids` (optional) receives the trials' ids in order.
  virtual StatusOr<int64_t> CreateExperiment(const ExperimentRow& experiment, const std::vector<TrialRow>& trials,
                                             std::vector<int64_t>* trial_ids) = 0;
  virtual StatusOr<ExperimentRow> GetExperiment(int64_t id) = 0;
  virtual StatusOr<std::vector<ExperimentRow>> ListExperiments() = 0;
  // Replaces every field of the experiment with row.id. NotFound when there is none.
  virtual Status UpdateExperiment(const ExperimentRow& row) = 0;
  // Replaces only searcher_state and updated_ms (the searcher saves after every decision; the rest of the
  // row is not read or rewritten). NotFound when there is none.
  virtual Status SetSearcherState(int64_t experiment_id, const std::string& state, int64_t updated_ms) = 0;

  // --- trials ------------------------------------------------------------------------------------------
  // Adds one trial to an existing experiment (searchers create trials as they go). Returns its id.
  virtual StatusOr<int64_t> AddTrial(const TrialRow& trial) = 0;
  virtual StatusOr<TrialRow> GetTrial(int64_t id) = 0;
  // Trials of one experiment (NotFound when the experiment does not exist).
  virtual StatusOr<std::vector<TrialRow>> ListTrials(int64_t experiment_id) = 0;
  // Every trial of every experiment (start-up rebuild).
  virtual StatusOr<std::vector<TrialRow>> ListAllTrials() = 0;
  // Replaces every field of the trial with row.id (experiment_id included). NotFound when there is none.
  virtual Status UpdateTrial(const TrialRow& row) = 0;

  // --- metrics -----------------------------------------------------------------------------------------
  // Inserts the points; a point with the same (trial_id, kind, step) as a stored one replaces it (retried
  // reports and steps re-run after a resume do not duplicate). All or nothing. FailedPrecondition when a
  // trial does not exist.
  virtual Status AppendMetrics(const std::vector<MetricRow>& rows) = 0;
  // Points of a trial with step > after_step, in (step, kind) order, at most `limit` (> 0).
  virtual StatusOr<std::vector<MetricRow>> ReadMetrics(int64_t trial_id, int64_t after_step, int limit) = 0;

  // --- checkpoints -------------------------------------------------------------------------------------
  // Records a checkpoint. AlreadyExists when the trial already has a record at that step (the message
  // names the trial, the step and the existing id). FailedPrecondition when the trial does not exist.
  virtual StatusOr<int64_t> InsertCheckpoint(const CheckpointRow& row) = 0;
  virtual StatusOr<CheckpointRow> GetCheckpoint(int64_t id) = 0;
  // Records of one trial in step order, in any state.
  virtual StatusOr<std::vector<CheckpointRow>> ListCheckpoints(int64_t trial_id) = 0;
  // Records in `state` across all trials, by id.
  virtual StatusOr<std::vector<CheckpointRow>> ListCheckpointsInState(CheckpointState state) = 0;
  virtual Status SetCheckpointState(int64_t id, CheckpointState state) = 0;
  // Removes the record. OK when it does not exist (deletion is idempotent).
  virtual Status DeleteCheckpoint(int64_t id) = 0;
  // Number of records (any state) whose sha256 is `sha256`: a blob may be removed only at zero.
  virtual StatusOr<int64_t> CountCheckpointsWithSha(const std::string& sha256) = 0;
  // Every distinct sha256 any record names (blob garbage collection at start-up), sorted ascending.
  virtual StatusOr<std::vector<std::string>> ListCheckpointShas() = 0;

  // --- listening tests ---------------------------------------------------------------------------------
  // Records a new, unrated pair. AlreadyExists for a pair_id already stored; FailedPrecondition when a trial
  // does not exist; InvalidArgument for a choice that is not kUnrated or an empty pair_id.
  virtual StatusOr<int64_t> InsertListenPair(const ListenPairRow& row) = 0;
  // NotFound "listen pair <pair_id> not found".
  virtual StatusOr<ListenPairRow> GetListenPair(const std::string& pair_id) = 0;
  // Sets the choice, listener and rated_ms of an unrated pair and returns the row. NotFound as above;
  // FailedPrecondition "listen pair <id> was already rated" when it was; InvalidArgument for kUnrated or a
  // value outside the enum.
  virtual StatusOr<ListenPairRow> RateListenPair(const std::string& pair_id, ListenChoice choice,
                                                 const std::string& listener, int64_t rated_ms) = 0;
  // Rated pairs by id; `genre` "" = every genre, `trial_id` 0 = every trial (else pairs with it on either side).
  virtual StatusOr<std::vector<ListenPairRow>> ListRatedPairs(const std::string& genre, int64_t trial_id) = 0;

  // --- packs -------------------------------------------------------------------------------------------
  // Records a pack with its blobs in one transaction. Returns false (and changes nothing) when a pack with
  // that manifest_sha256 is stored already. InvalidArgument for a sha that is not 64 lower-case hex digits,
  // an empty genre or no blobs, or blob_shas not naming the manifest.
  virtual StatusOr<bool> InsertPack(const PackRow& row) = 0;
  // NotFound "pack <sha> not found".
  virtual StatusOr<PackRow> GetPack(const std::string& manifest_sha256) = 0;
  // Packs newest first (then by sha); `genre` "" = all.
  virtual StatusOr<std::vector<PackRow>> ListPacks(const std::string& genre) = 0;
  // Every distinct blob sha256 any pack names, sorted ascending (garbage collection keeps them).
  virtual StatusOr<std::vector<std::string>> ListPackBlobShas() = 0;
};

}  // namespace tutti::coord
