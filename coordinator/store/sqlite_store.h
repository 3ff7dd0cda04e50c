#pragma once
// SqliteStore: the ExperimentStore contract (experiment_store.h) in one SQLite file (<home>/tutti.db).
//
// Durability: the file is in WAL journal mode with synchronous=NORMAL. A call that returned OK has been
// written to the WAL with write(2), so it survives the coordinator's crash or SIGKILL (the next open
// replays the WAL); a power cut or kernel crash may lose the last few commits but never corrupts the file.
// foreign_keys=ON makes SQLite itself refuse rows that name a missing parent, and busy_timeout makes a
// second process that holds the lock (`sqlite3 tutti.db` during a write) a wait instead of an error.
//
// Schema versions: PRAGMA user_version holds the version of the schema in the file. Migrations() lists
// the SQL that takes version v to v+1 (index v); Open applies the missing ones in order, each in its own
// transaction together with the new user_version, so a failed migration leaves the file at the previous
// version. A file whose version is newer than this build knows is refused (FailedPrecondition) without
// being changed. A migration is never edited once released: a schema change is a new entry at the end.
//
// Thread-safety: one connection (opened SQLITE_OPEN_NOMUTEX), serialised by mu_; every public method holds
// mu_ for its whole duration, so calls from several threads are safe and each runs in its own transaction.
// Several processes may open the same file (SQLite's own locking), but the coordinator is the only writer
// by design (DESIGN.md section 6).

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/store/experiment_store.h"
#include "coordinator/store/sqlite_statement.h"

namespace tutti::coord {

struct SqliteStoreOptions {
  // The SQLite VFS the file is opened with (a name registered with sqlite3_vfs_register); "" is SQLite's
  // default ("unix"). Only the storage-fault tests set it, to a VFS that fails chosen writes and syncs.
  std::string vfs;
};

class SqliteStore : public ExperimentStore {
 public:
  // Opens (creating when missing) the database file at `path` and brings its schema to the latest version.
  // Errors name the path: FailedPrecondition for a file from a newer build ("written by a newer
  // tutti-coordinator ..."), DataLoss for a file that is not an SQLite database or is corrupt, others as
  // SqliteErrorCode maps them.
  static StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path);
  static StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path, const SqliteStoreOptions& options);

  // Open with another migration list: for tests of the migration mechanism only (a list that extends
  // Migrations() by a step, or one whose last step fails).
  static StatusOr<std::unique_ptr<SqliteStore>> OpenWithMigrations(const std::string& path,
                                                                   const std::vector<std::string>& migrations,
                                                                   const SqliteStoreOptions& options = {});

  // The SQL that takes the schema from version i to i + 1, for i = 0 .. size() - 1.
  static const std::vector<std::string>& Migrations();
  // The schema version this build writes (Migrations().size()).
  static int LatestSchemaVersion();

  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

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

  // --- diagnostics (tests, `doctor`-style checks) ---------------------------------------------------------
  // The value of `PRAGMA <name>` on the store's own connection, as text ("wal", "1"). Per-connection
  // settings (foreign_keys, synchronous, busy_timeout) can only be seen this way. `name` must be a bare
  // pragma name ([a-z_]+): InvalidArgument otherwise.
  StatusOr<std::string> ReadPragma(const std::string& name);
  // PRAGMA integrity_check: OK when SQLite answers "ok", DataLoss with its report (naming the file) else.
  Status CheckIntegrity();

  // The file's path as given to Open.
  const std::string& path() const { return path_; }

 private:
  explicit SqliteStore(std::unique_ptr<SqliteConnection> connection);

  // The prepared statement for `sql`, compiled on first use and kept for the store's life (every SQL text
  // the store runs is a constant, so the cache is bounded). The caller resets it (ScopedReset).
  StatusOr<SqliteStatement*> Statement(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  StatusOr<bool> ExistsLocked(const char* sql, int64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  StatusOr<std::vector<std::string>> BlobsOfPackLocked(const std::string& manifest_sha256) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  StatusOr<int64_t> InsertTrialLocked(const TrialRow& trial, int64_t experiment_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const std::string path_;

  absl::Mutex mu_;
  // The one connection; SQLITE_OPEN_NOMUTEX, so mu_ is its only protection. Declared before the cache so
  // that it is destroyed after the statements prepared on it.
  std::unique_ptr<SqliteConnection> connection_ ABSL_GUARDED_BY(mu_);
  // Keyed by the SQL constant's address: every caller passes one of the k*Sql constants in sqlite_store.cc.
  std::map<const char*, std::unique_ptr<SqliteStatement>> statements_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tutti::coord
