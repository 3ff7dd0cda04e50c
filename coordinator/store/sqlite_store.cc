#include "coordinator/store/sqlite_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "coordinator/store/row_checks.h"

namespace tutti::coord {
namespace {

using store_internal::CheckCheckpointState;
using store_internal::CheckExperimentRow;
using store_internal::CheckpointExists;
using store_internal::CheckReadLimit;
using store_internal::CheckTrialRow;
using store_internal::MissingParent;
using store_internal::CheckNewListenPair;
using store_internal::CheckRatingChoice;
using store_internal::ListenPairAlreadyRated;
using store_internal::ListenPairExists;
using store_internal::ListenPairNotFound;
using store_internal::NotFound;

// --- schema ------------------------------------------------------------------------------------------------
//
// Version 1. Notes on the choices:
//   - STRICT tables: SQLite refuses a value of the wrong type instead of storing it as whatever it is.
//   - AUTOINCREMENT: ids are never reused, even after the row with the largest id is deleted (a plain
//     INTEGER PRIMARY KEY would hand out max(id) + 1 again). The contract requires it.
//   - CHECK constraints repeat the enums' ranges: the code validates first with readable messages; the
//     checks guard the file against anything else that writes it (a future bug, a hand-edited row).
//   - metrics is keyed (trial_id, step, kind), WITHOUT ROWID: the same uniqueness as (trial_id, kind, step),
//     which the upsert's ON CONFLICT names, but in ReadMetrics' order, so a page of points is a range scan
//     of the primary key with no sort and no second index to maintain on every append.
//   - parent_trial_id is not a foreign key: 0 means "none", and forks are informational.
constexpr char kSchemaV1[] = R"sql(
CREATE TABLE experiments (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  source_name TEXT NOT NULL,
  config_yaml TEXT NOT NULL,
  submitted_yaml TEXT NOT NULL,
  overrides_json TEXT NOT NULL,
  state INTEGER NOT NULL CHECK (state BETWEEN 1 AND 5),
  message TEXT NOT NULL,
  searcher_state TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  ended_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE trials (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  experiment_id INTEGER NOT NULL REFERENCES experiments (id),
  state INTEGER NOT NULL CHECK (state BETWEEN 1 AND 6),
  config_yaml TEXT NOT NULL,
  hparams_json TEXT NOT NULL,
  parent_trial_id INTEGER NOT NULL,
  step INTEGER NOT NULL,
  target_steps INTEGER NOT NULL,
  restarts INTEGER NOT NULL,
  lease_id TEXT NOT NULL,
  lease_worker TEXT NOT NULL,
  lease_expires_ms INTEGER NOT NULL,
  stop_request TEXT NOT NULL,
  stop_detail TEXT NOT NULL,
  ranks INTEGER NOT NULL,
  request_id INTEGER NOT NULL,
  max_restarts INTEGER NOT NULL,
  resume_checkpoint_id INTEGER NOT NULL,
  stop_reason TEXT NOT NULL,
  message TEXT NOT NULL,
  last_metrics_json TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  started_ms INTEGER NOT NULL,
  ended_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX trials_by_experiment ON trials (experiment_id);

CREATE TABLE metrics (
  trial_id INTEGER NOT NULL REFERENCES trials (id),
  step INTEGER NOT NULL,
  kind TEXT NOT NULL,
  values_json TEXT NOT NULL,
  time_ms INTEGER NOT NULL,
  PRIMARY KEY (trial_id, step, kind)
) STRICT, WITHOUT ROWID;

CREATE TABLE checkpoints (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  trial_id INTEGER NOT NULL REFERENCES trials (id),
  step INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  metrics_json TEXT NOT NULL,
  state INTEGER NOT NULL CHECK (state IN (1, 2)),
  created_ms INTEGER NOT NULL,
  UNIQUE (trial_id, step)
) STRICT;
CREATE INDEX checkpoints_by_sha256 ON checkpoints (sha256);
CREATE INDEX checkpoints_by_state ON checkpoints (state);
)sql";

// Version 2: blind listening tests (ListenService). choice 0 = unrated; one row per pair, rated at most once.
// Checkpoint ids are not foreign keys: retention may delete a rated checkpoint, and its rating stays.
constexpr char kSchemaV2[] = R"sql(
CREATE TABLE listen_pairs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  pair_id TEXT NOT NULL UNIQUE,
  genre TEXT NOT NULL,
  trial_a INTEGER NOT NULL REFERENCES trials (id),
  checkpoint_a INTEGER NOT NULL,
  step_a INTEGER NOT NULL,
  trial_b INTEGER NOT NULL REFERENCES trials (id),
  checkpoint_b INTEGER NOT NULL,
  step_b INTEGER NOT NULL,
  seed INTEGER NOT NULL,
  choice INTEGER NOT NULL CHECK (choice BETWEEN 0 AND 3),
  listener TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  rated_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX listen_pairs_rated_by_genre ON listen_pairs (genre, choice);
)sql";

// Version 3: training packs stored as blobs (PackService). pack_blobs lists every blob a pack names, so
// blob garbage collection can keep them and a blob shared by two packs is listed under both.
constexpr char kSchemaV3[] = R"sql(
CREATE TABLE packs (
  manifest_sha256 TEXT PRIMARY KEY,
  genre TEXT NOT NULL,
  shards INTEGER NOT NULL,
  size_bytes INTEGER NOT NULL,
  train_samples INTEGER NOT NULL,
  heldout_samples INTEGER NOT NULL,
  registered_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE pack_blobs (
  manifest_sha256 TEXT NOT NULL REFERENCES packs (manifest_sha256),
  sha256 TEXT NOT NULL,
  PRIMARY KEY (manifest_sha256, sha256)
) STRICT;
CREATE INDEX pack_blobs_by_sha256 ON pack_blobs (sha256);
)sql";

// --- statements --------------------------------------------------------------------------------------------
//
// Column lists are shared by the SELECTs and the row readers below (Read*Row): keep them in step. Each
// statement is a distinct constant because the statement cache is keyed by the constant's address.

#define TUTTI_EXPERIMENT_FIELDS                                                                          \
  "name, source_name, config_yaml, submitted_yaml, overrides_json, state, message, searcher_state, " \
  "created_ms, updated_ms, ended_ms"
#define TUTTI_TRIAL_FIELDS                                                                                 \
  "experiment_id, state, config_yaml, hparams_json, parent_trial_id, step, target_steps, restarts, "     \
  "lease_id, lease_worker, lease_expires_ms, stop_request, stop_detail, ranks, request_id, max_restarts, "  \
  "resume_checkpoint_id, stop_reason, message, last_metrics_json, created_ms, started_ms, ended_ms, updated_ms"
#define TUTTI_METRIC_FIELDS "trial_id, step, kind, values_json, time_ms"
#define TUTTI_CHECKPOINT_FIELDS "trial_id, step, sha256, size_bytes, metrics_json, state, created_ms"

constexpr char kInsertExperimentSql[] =
    "INSERT INTO experiments (" TUTTI_EXPERIMENT_FIELDS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
constexpr char kGetExperimentSql[] = "SELECT id, " TUTTI_EXPERIMENT_FIELDS " FROM experiments WHERE id = ?1";
constexpr char kListExperimentsSql[] = "SELECT id, " TUTTI_EXPERIMENT_FIELDS " FROM experiments ORDER BY id";
constexpr char kUpdateExperimentSql[] =
    "UPDATE experiments SET name = ?2, source_name = ?3, config_yaml = ?4, submitted_yaml = ?5, "
    "overrides_json = ?6, state = ?7, message = ?8, searcher_state = ?9, created_ms = ?10, updated_ms = ?11, "
    "ended_ms = ?12 WHERE id = ?1";
constexpr char kExperimentExistsSql[] = "SELECT 1 FROM experiments WHERE id = ?1";
constexpr char kSetSearcherStateSql[] = "UPDATE experiments SET searcher_state = ?2, updated_ms = ?3 WHERE id = ?1";

constexpr char kInsertTrialSql[] =
    "INSERT INTO trials (" TUTTI_TRIAL_FIELDS ") VALUES "
    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)";
constexpr char kGetTrialSql[] = "SELECT id, " TUTTI_TRIAL_FIELDS " FROM trials WHERE id = ?1";
constexpr char kListTrialsSql[] =
    "SELECT id, " TUTTI_TRIAL_FIELDS " FROM trials WHERE experiment_id = ?1 ORDER BY id";
constexpr char kListAllTrialsSql[] = "SELECT id, " TUTTI_TRIAL_FIELDS " FROM trials ORDER BY id";
constexpr char kUpdateTrialSql[] =
    "UPDATE trials SET experiment_id = ?2, state = ?3, config_yaml = ?4, hparams_json = ?5, "
    "parent_trial_id = ?6, step = ?7, target_steps = ?8, restarts = ?9, lease_id = ?10, lease_worker = ?11, "
    "lease_expires_ms = ?12, stop_request = ?13, stop_detail = ?14, ranks = ?15, request_id = ?16, "
    "max_restarts = ?17, resume_checkpoint_id = ?18, stop_reason = ?19, message = ?20, last_metrics_json = ?21, "
    "created_ms = ?22, started_ms = ?23, ended_ms = ?24, updated_ms = ?25 WHERE id = ?1";
constexpr char kTrialExistsSql[] = "SELECT 1 FROM trials WHERE id = ?1";

constexpr char kUpsertMetricSql[] =
    "INSERT INTO metrics (" TUTTI_METRIC_FIELDS ") VALUES (?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT (trial_id, kind, step) DO UPDATE SET values_json = excluded.values_json, "
    "time_ms = excluded.time_ms";
constexpr char kReadMetricsSql[] = "SELECT " TUTTI_METRIC_FIELDS
                                   " FROM metrics WHERE trial_id = ?1 AND step > ?2 ORDER BY step, kind LIMIT ?3";

constexpr char kInsertCheckpointSql[] =
    "INSERT INTO checkpoints (" TUTTI_CHECKPOINT_FIELDS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr char kCheckpointAtStepSql[] = "SELECT id FROM checkpoints WHERE trial_id = ?1 AND step = ?2";
constexpr char kGetCheckpointSql[] = "SELECT id, " TUTTI_CHECKPOINT_FIELDS " FROM checkpoints WHERE id = ?1";
constexpr char kListCheckpointsSql[] =
    "SELECT id, " TUTTI_CHECKPOINT_FIELDS " FROM checkpoints WHERE trial_id = ?1 ORDER BY step";
constexpr char kListCheckpointsInStateSql[] =
    "SELECT id, " TUTTI_CHECKPOINT_FIELDS " FROM checkpoints WHERE state = ?1 ORDER BY id";
constexpr char kSetCheckpointStateSql[] = "UPDATE checkpoints SET state = ?2 WHERE id = ?1";
constexpr char kDeleteCheckpointSql[] = "DELETE FROM checkpoints WHERE id = ?1";
constexpr char kCountCheckpointsWithShaSql[] = "SELECT COUNT(*) FROM checkpoints WHERE sha256 = ?1";
constexpr char kListCheckpointShasSql[] = "SELECT DISTINCT sha256 FROM checkpoints ORDER BY sha256";

#define TUTTI_PACK_FIELDS "manifest_sha256, genre, shards, size_bytes, train_samples, heldout_samples, registered_ms"
constexpr char kInsertPackSql[] =
    "INSERT INTO packs (" TUTTI_PACK_FIELDS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING";
constexpr char kInsertPackBlobSql[] = "INSERT OR IGNORE INTO pack_blobs (manifest_sha256, sha256) VALUES (?1, ?2)";
constexpr char kGetPackSql[] = "SELECT " TUTTI_PACK_FIELDS " FROM packs WHERE manifest_sha256 = ?1";
constexpr char kListPacksSql[] = "SELECT " TUTTI_PACK_FIELDS
                                 " FROM packs WHERE ?1 = '' OR genre = ?1 ORDER BY registered_ms DESC, manifest_sha256";
constexpr char kListBlobsOfPackSql[] = "SELECT sha256 FROM pack_blobs WHERE manifest_sha256 = ?1 ORDER BY sha256";
constexpr char kListPackBlobShasSql[] = "SELECT DISTINCT sha256 FROM pack_blobs ORDER BY sha256";

#define TUTTI_LISTEN_PAIR_FIELDS                                                                          \
  "pair_id, genre, trial_a, checkpoint_a, step_a, trial_b, checkpoint_b, step_b, seed, choice, listener, " \
  "created_ms, rated_ms"
constexpr char kInsertListenPairSql[] =
    "INSERT INTO listen_pairs (" TUTTI_LISTEN_PAIR_FIELDS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
    "?12, ?13)";
constexpr char kGetListenPairSql[] = "SELECT id, " TUTTI_LISTEN_PAIR_FIELDS " FROM listen_pairs WHERE pair_id = ?1";
constexpr char kRateListenPairSql[] =
    "UPDATE listen_pairs SET choice = ?2, listener = ?3, rated_ms = ?4 WHERE pair_id = ?1 AND choice = 0";
// ?1 genre ("" = any), ?2 trial (0 = any).
constexpr char kListRatedPairsSql[] =
    "SELECT id, " TUTTI_LISTEN_PAIR_FIELDS " FROM listen_pairs WHERE choice != 0 AND (?1 = '' OR genre = ?1) "
    "AND (?2 = 0 OR trial_a = ?2 OR trial_b = ?2) ORDER BY id";
#undef TUTTI_LISTEN_PAIR_FIELDS

#undef TUTTI_EXPERIMENT_FIELDS
#undef TUTTI_TRIAL_FIELDS
#undef TUTTI_METRIC_FIELDS
#undef TUTTI_CHECKPOINT_FIELDS

// --- binding and reading rows ------------------------------------------------------------------------------

// BindAll(statement, a, b, c) binds a to ?1, b to ?2, ... and stops at the first error. Every value is an
// int64_t or a std::string (callers cast enums, bools and int32s), so no overload is ambiguous.
Status BindOne(SqliteStatement* statement, int index, int64_t value) { return statement->BindInt64(index, value); }
Status BindOne(SqliteStatement* statement, int index, const std::string& value) {
  return statement->BindText(index, value);
}
template <typename... Values>
Status BindAll(SqliteStatement* statement, const Values&... values) {
  Status status;
  int index = 0;
  ((status.ok() ? (void)(status = BindOne(statement, ++index, values)) : (void)0), ...);
  return status;
}

Status BindExperimentFields(SqliteStatement* s, const ExperimentRow& r) {
  return BindAll(s, r.name, r.source_name, r.config_yaml, r.submitted_yaml, r.overrides_json,
                 static_cast<int64_t>(r.state), r.message, r.searcher_state, r.created_ms, r.updated_ms,
                 r.ended_ms);
}

// For UPDATE: ?1 is the id, the fields follow.
Status BindExperimentWithId(SqliteStatement* s, const ExperimentRow& r) {
  return BindAll(s, r.id, r.name, r.source_name, r.config_yaml, r.submitted_yaml, r.overrides_json,
                 static_cast<int64_t>(r.state), r.message, r.searcher_state, r.created_ms, r.updated_ms,
                 r.ended_ms);
}

ExperimentRow ReadExperimentRow(const SqliteStatement& s) {
  ExperimentRow r;
  r.id = s.ColumnInt64(0);
  r.name = s.ColumnText(1);
  r.source_name = s.ColumnText(2);
  r.config_yaml = s.ColumnText(3);
  r.submitted_yaml = s.ColumnText(4);
  r.overrides_json = s.ColumnText(5);
  r.state = static_cast<ExperimentState>(s.ColumnInt64(6));
  r.message = s.ColumnText(7);
  r.searcher_state = s.ColumnText(8);
  r.created_ms = s.ColumnInt64(9);
  r.updated_ms = s.ColumnInt64(10);
  r.ended_ms = s.ColumnInt64(11);
  return r;
}

// Binds `leading` to ?1.. and the trial's fields from state on after them. INSERT passes the experiment id
// (?1 experiment_id, ?2 state, ...); UPDATE passes the row id and the experiment id (?1 id, ?2
// experiment_id, ?3 state, ...).
template <typename... Leading>
Status BindTrial(SqliteStatement* s, const TrialRow& r, const Leading&... leading) {
  return BindAll(s, leading..., static_cast<int64_t>(r.state), r.config_yaml, r.hparams_json,
                 r.parent_trial_id, r.step, r.target_steps, static_cast<int64_t>(r.restarts), r.lease_id,
                 r.lease_worker, r.lease_expires_ms, r.stop_request, r.stop_detail, static_cast<int64_t>(r.ranks),
                 r.request_id, static_cast<int64_t>(r.max_restarts), r.resume_checkpoint_id, r.stop_reason, r.message,
                 r.last_metrics_json, r.created_ms, r.started_ms, r.ended_ms, r.updated_ms);
}

TrialRow ReadTrialRow(const SqliteStatement& s) {
  TrialRow r;
  r.id = s.ColumnInt64(0);
  r.experiment_id = s.ColumnInt64(1);
  r.state = static_cast<TrialState>(s.ColumnInt64(2));
  r.config_yaml = s.ColumnText(3);
  r.hparams_json = s.ColumnText(4);
  r.parent_trial_id = s.ColumnInt64(5);
  r.step = s.ColumnInt64(6);
  r.target_steps = s.ColumnInt64(7);
  r.restarts = static_cast<int32_t>(s.ColumnInt64(8));
  r.lease_id = s.ColumnText(9);
  r.lease_worker = s.ColumnText(10);
  r.lease_expires_ms = s.ColumnInt64(11);
  r.stop_request = s.ColumnText(12);
  r.stop_detail = s.ColumnText(13);
  r.ranks = static_cast<int32_t>(s.ColumnInt64(14));
  r.request_id = s.ColumnInt64(15);
  r.max_restarts = static_cast<int32_t>(s.ColumnInt64(16));
  r.resume_checkpoint_id = s.ColumnInt64(17);
  r.stop_reason = s.ColumnText(18);
  r.message = s.ColumnText(19);
  r.last_metrics_json = s.ColumnText(20);
  r.created_ms = s.ColumnInt64(21);
  r.started_ms = s.ColumnInt64(22);
  r.ended_ms = s.ColumnInt64(23);
  r.updated_ms = s.ColumnInt64(24);
  return r;
}

MetricRow ReadMetricRow(const SqliteStatement& s) {
  MetricRow r;
  r.trial_id = s.ColumnInt64(0);
  r.step = s.ColumnInt64(1);
  r.kind = s.ColumnText(2);
  r.values_json = s.ColumnText(3);
  r.time_ms = s.ColumnInt64(4);
  return r;
}

CheckpointRow ReadCheckpointRow(const SqliteStatement& s) {
  CheckpointRow r;
  r.id = s.ColumnInt64(0);
  r.trial_id = s.ColumnInt64(1);
  r.step = s.ColumnInt64(2);
  r.sha256 = s.ColumnText(3);
  r.size_bytes = s.ColumnInt64(4);
  r.metrics_json = s.ColumnText(5);
  r.state = static_cast<CheckpointState>(s.ColumnInt64(6));
  r.created_ms = s.ColumnInt64(7);
  return r;
}

PackRow ReadPackRow(const SqliteStatement& s) {
  PackRow r;
  r.manifest_sha256 = s.ColumnText(0);
  r.genre = s.ColumnText(1);
  r.shards = static_cast<int32_t>(s.ColumnInt64(2));
  r.size_bytes = s.ColumnInt64(3);
  r.train_samples = s.ColumnInt64(4);
  r.heldout_samples = s.ColumnInt64(5);
  r.registered_ms = s.ColumnInt64(6);
  return r;
}

ListenPairRow ReadListenPairRow(const SqliteStatement& s) {
  ListenPairRow r;
  r.id = s.ColumnInt64(0);
  r.pair_id = s.ColumnText(1);
  r.genre = s.ColumnText(2);
  r.trial_a = s.ColumnInt64(3);
  r.checkpoint_a = s.ColumnInt64(4);
  r.step_a = s.ColumnInt64(5);
  r.trial_b = s.ColumnInt64(6);
  r.checkpoint_b = s.ColumnInt64(7);
  r.step_b = s.ColumnInt64(8);
  r.seed = s.ColumnInt64(9);
  r.choice = static_cast<ListenChoice>(s.ColumnInt64(10));
  r.listener = s.ColumnText(11);
  r.created_ms = s.ColumnInt64(12);
  r.rated_ms = s.ColumnInt64(13);
  return r;
}

// Steps `statement` to the end, appending read(statement) for each row.
template <typename Row, typename ReadFn>
StatusOr<std::vector<Row>> ReadAll(SqliteStatement* statement, ReadFn read) {
  std::vector<Row> rows;
  while (true) {
    TUTTI_ASSIGN_OR_RETURN(bool has_row, statement->Step());
    if (!has_row) break;
    rows.push_back(read(*statement));
  }
  return rows;
}

bool IsForeignKeyFailure(const SqliteStatement& statement) {
  return statement.last_error() == SQLITE_CONSTRAINT_FOREIGNKEY;
}

// --- opening -----------------------------------------------------------------------------------------------

// How long a statement waits for a lock another process holds before failing with SQLITE_BUSY
// (Unavailable). Long enough for `sqlite3 tutti.db .dump` or a backup; short enough that a stuck lock
// becomes an error a person sees rather than a hang.
constexpr int kBusyTimeoutMs = 5000;

// `status`'s message without the "<db file>: " that SqliteError puts first, for messages that name the
// file themselves (the path as the user gave it, not SQLite's absolute form).
std::string WithoutFilePrefix(sqlite3* db, const Status& status) {
  std::string message(status.message());
  const char* file = sqlite3_db_filename(db, "main");
  if (file != nullptr && file[0] != '\0') {
    std::string prefix = absl::StrCat(file, ": ");
    if (message.compare(0, prefix.size(), prefix) == 0) message.erase(0, prefix.size());
  }
  return message;
}

Status NewerSchemaError(const std::string& path, int64_t version, size_t latest) {
  return absl::FailedPreconditionError(absl::StrCat(
      path, ": written by a newer tutti-coordinator (schema version ", version, "; this build reads up to ",
      latest, "); upgrade tutti-coordinator or use another --home"));
}

// Brings the schema from the file's version to migrations.size(), one transaction per step. The version is
// re-read inside each write transaction, so two processes opening a fresh file at once do not both run a
// step: the second one sees the first one's user_version and moves on. Its errors are complete messages
// naming the path (Open returns them as they are).
Status Migrate(SqliteConnection* connection, const std::vector<std::string>& migrations) {
  const std::string& path = connection->path();
  auto fail = [&](const std::string& step, const Status& status) {
    return Status(status.code(), absl::StrCat(path, ": cannot open the experiment store: ", step, ": ",
                                              WithoutFilePrefix(connection->handle(), status)));
  };
  while (true) {
    auto transaction = SqliteTransaction::Begin(connection, SqliteTransaction::Mode::kWrite);
    if (!transaction.ok()) return fail("locking the file to check its schema", transaction.status());
    StatusOr<int64_t> version = connection->QueryInt64("PRAGMA user_version");
    if (!version.ok()) return fail("reading the schema version", version.status());
    if (*version > static_cast<int64_t>(migrations.size())) {
      return NewerSchemaError(path, *version, migrations.size());
    }
    // Up to date: the transaction wrote nothing, and its destructor ends it.
    if (*version == static_cast<int64_t>(migrations.size())) return absl::OkStatus();
    const std::string step = absl::StrCat("migrating the schema from version ", *version, " to ", *version + 1);
    Status status = connection->Exec(migrations[static_cast<size_t>(*version)]);
    // user_version is part of the database header, which is written in the same transaction: the step and
    // the version that records it commit (or roll back) together.
    if (status.ok()) status = connection->Exec(absl::StrCat("PRAGMA user_version = ", *version + 1));
    if (status.ok()) {
      // A step that rebuilds a table must not leave rows pointing at nothing (SQLite's own advice for
      // schema changes: check, then commit).
      auto check = connection->Prepare("PRAGMA foreign_key_check");
      status = check.status();
      if (status.ok()) {
        auto violation = (*check)->Step();
        status = violation.status();
        if (status.ok() && *violation) {
          status = absl::FailedPreconditionError(
              absl::StrCat("foreign key violation in table ", (*check)->ColumnText(0), " after the step"));
        }
      }
    }
    if (status.ok()) status = (*transaction)->Commit();
    if (!status.ok()) return fail(step, status);
  }
}

}  // namespace

const std::vector<std::string>& SqliteStore::Migrations() {
  static const std::vector<std::string>* const migrations = new std::vector<std::string>{kSchemaV1, kSchemaV2, kSchemaV3};
  return *migrations;
}

int SqliteStore::LatestSchemaVersion() { return static_cast<int>(Migrations().size()); }

StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  return OpenWithMigrations(path, Migrations());
}

StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path, const SqliteStoreOptions& options) {
  return OpenWithMigrations(path, Migrations(), options);
}

StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::OpenWithMigrations(
    const std::string& path, const std::vector<std::string>& migrations, const SqliteStoreOptions& options) {
  // NOMUTEX: SQLite's per-connection mutex would only repeat mu_ (see the header).
  TUTTI_ASSIGN_OR_RETURN(
      std::unique_ptr<SqliteConnection> connection,
      SqliteConnection::Open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, options.vfs));
  const std::string context = "cannot open the experiment store";
  // "<path>: cannot open the experiment store: <what failed>", whatever step failed.
  auto fail = [&](const Status& status) {
    return Status(status.code(),
                  absl::StrCat(path, ": ", context, ": ", WithoutFilePrefix(connection->handle(), status)));
  };

  Status status = connection->Exec(absl::StrCat("PRAGMA busy_timeout = ", kBusyTimeoutMs));
  if (!status.ok()) return fail(status);
  // The first statement that reads the file: a file that is not a database fails here (DataLoss, naming the
  // path), and a newer schema is refused here, before anything (journal mode included) is changed.
  StatusOr<int64_t> version = connection->QueryInt64("PRAGMA user_version");
  if (!version.ok()) return fail(version.status());
  if (*version > static_cast<int64_t>(migrations.size())) {
    return NewerSchemaError(path, *version, migrations.size());
  }
  if (*version < 0) {
    return absl::DataLossError(
        absl::StrCat(path, ": ", context, ": schema version ", *version, " is negative (not a Tutti database)"));
  }

  // WAL is persistent (recorded in the file); asking again each open is cheap and repairs a file someone
  // switched back. SQLite answers with the mode now in force, which stays the old one where WAL is not
  // possible (a VFS without shared memory); crash safety as documented would then not hold, so refuse.
  StatusOr<std::string> mode = connection->QueryText("PRAGMA journal_mode = WAL");
  if (!mode.ok()) return fail(mode.status());
  if (*mode != "wal") {
    return absl::FailedPreconditionError(absl::StrCat(path, ": ", context, ": journal_mode is \"", *mode,
                                                      "\" after asking for WAL (not possible on this file "
                                                      "system); use a --home on a local disk"));
  }
  // Per connection, not stored in the file: must be set on every open. foreign_keys is silently ignored
  // inside a transaction, hence before the migrations.
  status = connection->Exec("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON");
  if (!status.ok()) return fail(status);
  StatusOr<int64_t> foreign_keys = connection->QueryInt64("PRAGMA foreign_keys");
  if (!foreign_keys.ok()) return fail(foreign_keys.status());
  if (*foreign_keys != 1) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": ", context, ": this SQLite library does not enforce foreign keys"));
  }

  TUTTI_RETURN_IF_ERROR(Migrate(connection.get(), migrations));
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(connection)));
}

SqliteStore::SqliteStore(std::unique_ptr<SqliteConnection> connection)
    : path_(connection->path()), connection_(std::move(connection)) {}

SqliteStore::~SqliteStore() {
  absl::MutexLock lock(&mu_);
  statements_.clear();  // before the connection they were prepared on (also true of member order)
  connection_.reset();
}

StatusOr<std::string> SqliteStore::ReadPragma(const std::string& name) {
  // The name is pasted into SQL (pragmas take no parameters), so only a bare identifier is accepted.
  bool bare = !name.empty();
  for (char c : name) bare = bare && ((c >= 'a' && c <= 'z') || c == '_');
  if (!bare) return absl::InvalidArgumentError(absl::StrCat("\"", name, "\" is not a pragma name ([a-z_]+)"));
  absl::MutexLock lock(&mu_);
  return connection_->QueryText(absl::StrCat("PRAGMA ", name));
}

Status SqliteStore::CheckIntegrity() {
  absl::MutexLock lock(&mu_);
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<SqliteStatement> check, connection_->Prepare("PRAGMA integrity_check"));
  // One row "ok", or one row per problem found.
  TUTTI_ASSIGN_OR_RETURN(std::vector<std::string> report,
                         ReadAll<std::string>(check.get(), [](const SqliteStatement& s) { return s.ColumnText(0); }));
  if (report.size() == 1 && report[0] == "ok") return absl::OkStatus();
  std::string message = absl::StrCat(path_, ": integrity check failed:");
  for (const std::string& line : report) absl::StrAppend(&message, "\n  ", line);
  return absl::DataLossError(message);
}

StatusOr<SqliteStatement*> SqliteStore::Statement(const char* sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return it->second.get();
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<SqliteStatement> statement,
                         connection_->Prepare(sql, /*persistent=*/true));
  SqliteStatement* raw = statement.get();
  statements_.emplace(sql, std::move(statement));
  return raw;
}

StatusOr<bool> SqliteStore::ExistsLocked(const char* sql, int64_t id) {
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * statement, Statement(sql));
  ScopedReset reset(statement);
  TUTTI_RETURN_IF_ERROR(statement->BindInt64(1, id));
  return statement->Step();
}

// --- experiments -------------------------------------------------------------------------------------------

StatusOr<int64_t> SqliteStore::InsertTrialLocked(const TrialRow& trial, int64_t experiment_id) {
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * statement, Statement(kInsertTrialSql));
  ScopedReset reset(statement);
  TUTTI_RETURN_IF_ERROR(BindTrial(statement, trial, experiment_id));
  StatusOr<int64_t> changes = statement->Run();
  if (!changes.ok()) {
    if (IsForeignKeyFailure(*statement)) return MissingParent("trial", "experiment", experiment_id);
    return changes.status();
  }
  return static_cast<int64_t>(sqlite3_last_insert_rowid(connection_->handle()));
}

StatusOr<int64_t> SqliteStore::CreateExperiment(const ExperimentRow& experiment,
                                                const std::vector<TrialRow>& trials,
                                                std::vector<int64_t>* trial_ids) {
  TUTTI_RETURN_IF_ERROR(CheckExperimentRow(experiment, "new experiment"));
  absl::MutexLock lock(&mu_);
  TUTTI_ASSIGN_OR_RETURN(auto transaction,
                         SqliteTransaction::Begin(connection_.get(), SqliteTransaction::Mode::kWrite));
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * insert, Statement(kInsertExperimentSql));
  {
    ScopedReset reset(insert);
    TUTTI_RETURN_IF_ERROR(BindExperimentFields(insert, experiment));
    TUTTI_RETURN_IF_ERROR(insert->Run().status());
  }
  const int64_t id = sqlite3_last_insert_rowid(connection_->handle());
  std::vector<int64_t> ids;
  ids.reserve(trials.size());
  for (size_t i = 0; i < trials.size(); ++i) {
    // Checked as each trial comes: a bad one after good ones returns here, and the transaction's destructor
    // rolls back the experiment and the trials already inserted.
    TUTTI_RETURN_IF_ERROR(CheckTrialRow(trials[i], absl::StrCat("trial ", i + 1, " of the new experiment")));
    TUTTI_ASSIGN_OR_RETURN(int64_t trial_id, InsertTrialLocked(trials[i], id));
    ids.push_back(trial_id);
  }
  TUTTI_RETURN_IF_ERROR(transaction->Commit());
  if (trial_ids != nullptr) *trial_ids = std::move(ids);
  return id;
}

StatusOr<ExperimentRow> SqliteStore::GetExperiment(int64_t id) {
  absl::MutexLock lock(&mu_);
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * statement, Statement(kGetExperimentSql));
  ScopedReset reset(statement);
  TUTTI_RETURN_IF_ERROR(statement->BindInt64(1, id));
  TUTTI_ASSIGN_OR_RETURN(bool found, statement->Step());
  if (!found) return NotFound("experiment", id);
  return ReadExperimentRow(*statement);
}

StatusOr<std::vector<ExperimentRow>> SqliteStore::ListExperiments() {
  absl::MutexLock lock(&mu_);
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * statement, Statement(kListExperimentsSql));
  ScopedReset reset(statement);
  return ReadAll<ExperimentRow>(statement, ReadExperimentRow);
}

Status SqliteStore::UpdateExperiment(const ExperimentRow& row) {
  TUTTI_RETURN_IF_ERROR(CheckExperimentRow(row, absl::StrCat("experiment ", row.id)));
  absl::MutexLock lock(&mu_);
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * statement, Statement(kUpdateExperimentSql));
  ScopedReset reset(statement);
  TUTTI_RETURN_IF_ERROR(BindExperimentWithId(statement, row));
  // One statement: atomic on its own (autocommit), no explicit transaction needed.
  TUTTI_ASSIGN_OR_RETURN(int64_t changes, statement->Run());
  if (changes == 0) return NotFound("experiment", row.id);
  return absl::OkStatus();
}

Status SqliteStore::SetSearcherState(int64_t experiment_id, const std::string& state, int64_t updated_ms) {
  absl::MutexLock lock(&mu_);
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * statement, Statement(kSetSearcherStateSql));
  ScopedReset reset(statement);
  TUTTI_RETURN_IF_ERROR(BindAll(statement, experiment_id, state, updated_ms));
  TUTTI_ASSIGN_OR_RETURN(int64_t changes, statement->Run());
  if (changes == 0) return NotFound("experiment", experiment_id);
  return absl::OkStatus();
}

// --- trials ------------------------------------------------------------------------------------------------

StatusOr<int64_t> SqliteStore::AddTrial(const TrialRow& trial) {
  TUTTI_RETURN_IF_ERROR(CheckTrialRow(trial, "new trial"));
  absl::MutexLock lock(&mu_);
  // The foreign key on experiment_id does the existence check (InsertTrialLocked names the experiment).
  return InsertTrialLocked(trial, trial.experiment_id);
}

StatusOr<TrialRow> SqliteStore::GetTrial(int64_t id) {
  absl::MutexLock lock(&mu_);
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * statement, Statement(kGetTrialSql));
  ScopedReset reset(statement);
  TUTTI_RETURN_IF_ERROR(statement->BindInt64(1, id));
  TUTTI_ASSIGN_OR_RETURN(bool found, statement->Step());
  if (!found) return NotFound("trial", id);
  return ReadTrialRow(*statement);
}

StatusOr<std::vector<TrialRow>> SqliteStore::ListTrials(int64_t experiment_id) {
  absl::MutexLock lock(&mu_);
  // Two statements without a transaction: consistent because this process is the only writer and holds mu_.
  TUTTI_ASSIGN_OR_RETURN(bool exists, ExistsLocked(kExperimentExistsSql, experiment_id));
  if (!exists) return NotFound("experiment", experiment_id);
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * statement, Statement(kListTrialsSql));
  ScopedReset reset(statement);
  TUTTI_RETURN_IF_ERROR(statement->BindInt64(1, experiment_id));
  return ReadAll<TrialRow>(statement, ReadTrialRow);
}

StatusOr<std::vector<TrialRow>> SqliteStore::ListAllTrials() {
  absl::MutexLock lock(&mu_);
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * statement, Statement(kListAllTrialsSql));
  ScopedReset reset(statement);
  return ReadAll<TrialRow>(statement, ReadTrialRow);
}

Status SqliteStore::UpdateTrial(const TrialRow& row) {
  TUTTI_RETURN_IF_ERROR(CheckTrialRow(row, absl::StrCat("trial ", row.id)));
  absl::MutexLock lock(&mu_);
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * statement, Statement(kUpdateTrialSql));
  ScopedReset reset(statement);
  TUTTI_RETURN_IF_ERROR(BindTrial(statement, row, row.id, row.experiment_id));
  StatusOr<int64_t> changes = statement->Run();
  if (!changes.ok()) {
    if (IsForeignKeyFailure(*statement)) return MissingParent("trial", "experiment", row.experiment_id);
    return changes.status();
  }
  // An UPDATE that matches no row checks no foreign key, so a missing trial is NotFound whatever its
  // experiment_id says (MemoryStore checks in the same order).
  if (*changes == 0) return NotFound("trial", row.id);
  return absl::OkStatus();
}

// --- metrics -----------------------------------------------------------------------------------------------

Status SqliteStore::AppendMetrics(const std::vector<MetricRow>& rows) {
  if (rows.empty()) return absl::OkStatus();
  absl::MutexLock lock(&mu_);
  // One transaction per call (not per point): with synchronous=NORMAL a commit costs a WAL append, so the
  // cost is the points' B-tree updates, and the call is all-or-nothing.
  TUTTI_ASSIGN_OR_RETURN(auto transaction,
                         SqliteTransaction::Begin(connection_.get(), SqliteTransaction::Mode::kWrite));
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * upsert, Statement(kUpsertMetricSql));
  for (const MetricRow& row : rows) {
    ScopedReset reset(upsert);
    TUTTI_RETURN_IF_ERROR(BindAll(upsert, row.trial_id, row.step, row.kind, row.values_json, row.time_ms));
    StatusOr<int64_t> changes = upsert->Run();
    if (!changes.ok()) {
      if (IsForeignKeyFailure(*upsert)) return MissingParent("metric point", "trial", row.trial_id);
      return changes.status();
    }
  }
  return transaction->Commit();
}

StatusOr<std::vector<MetricRow>> SqliteStore::ReadMetrics(int64_t trial_id, int64_t after_step, int limit) {
  TUTTI_RETURN_IF_ERROR(CheckReadLimit(limit));
  absl::MutexLock lock(&mu_);
  TUTTI_ASSIGN_OR_RETURN(bool exists, ExistsLocked(kTrialExistsSql, trial_id));
  if (!exists) return NotFound("trial", trial_id);
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * statement, Statement(kReadMetricsSql));
  ScopedReset reset(statement);
  TUTTI_RETURN_IF_ERROR(BindAll(statement, trial_id, after_step, static_cast<int64_t>(limit)));
  return ReadAll<MetricRow>(statement, ReadMetricRow);
}

// --- checkpoints -------------------------------------------------------------------------------------------

StatusOr<int64_t> SqliteStore::InsertCheckpoint(const CheckpointRow& row) {
  TUTTI_RETURN_IF_ERROR(CheckCheckpointState(row.state, "new checkpoint"));
  absl::MutexLock lock(&mu_);
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * insert, Statement(kInsertCheckpointSql));
  int error = SQLITE_OK;
  {
    ScopedReset reset(insert);
    TUTTI_RETURN_IF_ERROR(BindAll(insert, row.trial_id, row.step, row.sha256, row.size_bytes, row.metrics_json,
                                  static_cast<int64_t>(row.state), row.created_ms));
    StatusOr<int64_t> changes = insert->Run();
    if (changes.ok()) return static_cast<int64_t>(sqlite3_last_insert_rowid(connection_->handle()));
    error = insert->last_error();
    if (error != SQLITE_CONSTRAINT_FOREIGNKEY && error != SQLITE_CONSTRAINT_UNIQUE) return changes.status();
  }
  if (error == SQLITE_CONSTRAINT_FOREIGNKEY) return MissingParent("checkpoint", "trial", row.trial_id);
  // UNIQUE (trial_id, step): name the record in the way. Nothing was written, and mu_ keeps it in place.
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * lookup, Statement(kCheckpointAtStepSql));
  ScopedReset reset(lookup);
  TUTTI_RETURN_IF_ERROR(BindAll(lookup, row.trial_id, row.step));
  TUTTI_ASSIGN_OR_RETURN(bool found, lookup->Step());
  if (!found) {
    return absl::InternalError(absl::StrCat(path_, ": UNIQUE (trial_id, step) failed for trial ", row.trial_id,
                                            " step ", row.step, " but no such checkpoint exists"));
  }
  return CheckpointExists(row.trial_id, row.step, lookup->ColumnInt64(0));
}

StatusOr<CheckpointRow> SqliteStore::GetCheckpoint(int64_t id) {
  absl::MutexLock lock(&mu_);
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * statement, Statement(kGetCheckpointSql));
  ScopedReset reset(statement);
  TUTTI_RETURN_IF_ERROR(statement->BindInt64(1, id));
  TUTTI_ASSIGN_OR_RETURN(bool found, statement->Step());
  if (!found) return NotFound("checkpoint", id);
  return ReadCheckpointRow(*statement);
}

StatusOr<std::vector<CheckpointRow>> SqliteStore::ListCheckpoints(int64_t trial_id) {
  absl::MutexLock lock(&mu_);
  TUTTI_ASSIGN_OR_RETURN(bool exists, ExistsLocked(kTrialExistsSql, trial_id));
  if (!exists) return NotFound("trial", trial_id);
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * statement, Statement(kListCheckpointsSql));
  ScopedReset reset(statement);
  TUTTI_RETURN_IF_ERROR(statement->BindInt64(1, trial_id));
  return ReadAll<CheckpointRow>(statement, ReadCheckpointRow);
}

StatusOr<std::vector<CheckpointRow>> SqliteStore::ListCheckpointsInState(CheckpointState state) {
  TUTTI_RETURN_IF_ERROR(CheckCheckpointState(state, "ListCheckpointsInState"));
  absl::MutexLock lock(&mu_);
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * statement, Statement(kListCheckpointsInStateSql));
  ScopedReset reset(statement);
  TUTTI_RETURN_IF_ERROR(statement->BindInt64(1, static_cast<int64_t>(state)));
  return ReadAll<CheckpointRow>(statement, ReadCheckpointRow);
}

Status SqliteStore::SetCheckpointState(int64_t id, CheckpointState state) {
  TUTTI_RETURN_IF_ERROR(CheckCheckpointState(state, absl::StrCat("checkpoint ", id)));
  absl::MutexLock lock(&mu_);
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * statement, Statement(kSetCheckpointStateSql));
  ScopedReset reset(statement);
  TUTTI_RETURN_IF_ERROR(BindAll(statement, id, static_cast<int64_t>(state)));
  TUTTI_ASSIGN_OR_RETURN(int64_t changes, statement->Run());
  if (changes == 0) return NotFound("checkpoint", id);
  return absl::OkStatus();
}

Status SqliteStore::DeleteCheckpoint(int64_t id) {
  absl::MutexLock lock(&mu_);
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * statement, Statement(kDeleteCheckpointSql));
  ScopedReset reset(statement);
  TUTTI_RETURN_IF_ERROR(statement->BindInt64(1, id));
  return statement->Run().status();  // zero rows deleted is fine: deletion is idempotent
}

StatusOr<int64_t> SqliteStore::CountCheckpointsWithSha(const std::string& sha256) {
  absl::MutexLock lock(&mu_);
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * statement, Statement(kCountCheckpointsWithShaSql));
  ScopedReset reset(statement);
  TUTTI_RETURN_IF_ERROR(statement->BindText(1, sha256));
  TUTTI_ASSIGN_OR_RETURN(bool has_row, statement->Step());
  return has_row ? statement->ColumnInt64(0) : 0;
}

StatusOr<std::vector<std::string>> SqliteStore::ListCheckpointShas() {
  absl::MutexLock lock(&mu_);
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * statement, Statement(kListCheckpointShasSql));
  ScopedReset reset(statement);
  return ReadAll<std::string>(statement, [](const SqliteStatement& s) { return s.ColumnText(0); });
}

// --- listening tests -----------------------------------------------------------------------------------

StatusOr<int64_t> SqliteStore::InsertListenPair(const ListenPairRow& row) {
  TUTTI_RETURN_IF_ERROR(CheckNewListenPair(row));
  absl::MutexLock lock(&mu_);
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * insert, Statement(kInsertListenPairSql));
  int error = SQLITE_OK;
  {
    ScopedReset reset(insert);
    TUTTI_RETURN_IF_ERROR(BindAll(insert, row.pair_id, row.genre, row.trial_a, row.checkpoint_a, row.step_a,
                                  row.trial_b, row.checkpoint_b, row.step_b, row.seed,
                                  static_cast<int64_t>(row.choice), row.listener, row.created_ms, row.rated_ms));
    StatusOr<int64_t> changes = insert->Run();
    if (changes.ok()) return static_cast<int64_t>(sqlite3_last_insert_rowid(connection_->handle()));
    error = insert->last_error();
    if (error != SQLITE_CONSTRAINT_FOREIGNKEY && error != SQLITE_CONSTRAINT_UNIQUE) return changes.status();
  }
  if (error == SQLITE_CONSTRAINT_UNIQUE) return ListenPairExists(row.pair_id);
  // Name the missing trial, as the memory store does (A first).
  TUTTI_ASSIGN_OR_RETURN(bool a_exists, ExistsLocked(kTrialExistsSql, row.trial_a));
  return MissingParent("listen pair", "trial", a_exists ? row.trial_b : row.trial_a);
}

StatusOr<ListenPairRow> SqliteStore::GetListenPair(const std::string& pair_id) {
  absl::MutexLock lock(&mu_);
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * statement, Statement(kGetListenPairSql));
  ScopedReset reset(statement);
  TUTTI_RETURN_IF_ERROR(statement->BindText(1, pair_id));
  TUTTI_ASSIGN_OR_RETURN(bool found, statement->Step());
  if (!found) return ListenPairNotFound(pair_id);
  return ReadListenPairRow(*statement);
}

StatusOr<ListenPairRow> SqliteStore::RateListenPair(const std::string& pair_id, ListenChoice choice,
                                                    const std::string& listener, int64_t rated_ms) {
  TUTTI_RETURN_IF_ERROR(CheckRatingChoice(choice));
  absl::MutexLock lock(&mu_);
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * update, Statement(kRateListenPairSql));
  int64_t changed = 0;
  {
    ScopedReset reset(update);
    TUTTI_RETURN_IF_ERROR(BindAll(update, pair_id, static_cast<int64_t>(choice), listener, rated_ms));
    TUTTI_ASSIGN_OR_RETURN(changed, update->Run());
  }
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * get, Statement(kGetListenPairSql));
  ScopedReset reset(get);
  TUTTI_RETURN_IF_ERROR(get->BindText(1, pair_id));
  TUTTI_ASSIGN_OR_RETURN(bool found, get->Step());
  if (!found) return ListenPairNotFound(pair_id);
  // "AND choice = 0" made the update a no-op for a rated pair; mu_ keeps anyone from rating in between.
  if (changed == 0) return ListenPairAlreadyRated(pair_id);
  return ReadListenPairRow(*get);
}

StatusOr<std::vector<ListenPairRow>> SqliteStore::ListRatedPairs(const std::string& genre, int64_t trial_id) {
  absl::MutexLock lock(&mu_);
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * statement, Statement(kListRatedPairsSql));
  ScopedReset reset(statement);
  TUTTI_RETURN_IF_ERROR(BindAll(statement, genre, trial_id));
  return ReadAll<ListenPairRow>(statement, ReadListenPairRow);
}

// --- packs -------------------------------------------------------------------------------------------

StatusOr<bool> SqliteStore::InsertPack(const PackRow& row) {
  TUTTI_RETURN_IF_ERROR(store_internal::CheckNewPack(row));
  absl::MutexLock lock(&mu_);
  TUTTI_ASSIGN_OR_RETURN(auto transaction, SqliteTransaction::Begin(connection_.get(), SqliteTransaction::Mode::kWrite));
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * insert, Statement(kInsertPackSql));
  int64_t inserted = 0;
  {
    ScopedReset reset(insert);
    TUTTI_RETURN_IF_ERROR(BindAll(insert, row.manifest_sha256, row.genre, static_cast<int64_t>(row.shards),
                                  row.size_bytes, row.train_samples, row.heldout_samples, row.registered_ms));
    TUTTI_ASSIGN_OR_RETURN(inserted, insert->Run());
  }
  if (inserted == 0) return false;  // registered before: the transaction rolls back (nothing was written)
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * blob, Statement(kInsertPackBlobSql));
  for (const std::string& sha : row.blob_shas) {
    ScopedReset reset(blob);
    TUTTI_RETURN_IF_ERROR(BindAll(blob, row.manifest_sha256, sha));
    TUTTI_RETURN_IF_ERROR(blob->Run().status());
  }
  TUTTI_RETURN_IF_ERROR(transaction->Commit());
  return true;
}

StatusOr<std::vector<std::string>> SqliteStore::BlobsOfPackLocked(const std::string& manifest_sha256) {
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * statement, Statement(kListBlobsOfPackSql));
  ScopedReset reset(statement);
  TUTTI_RETURN_IF_ERROR(statement->BindText(1, manifest_sha256));
  return ReadAll<std::string>(statement, [](const SqliteStatement& s) { return s.ColumnText(0); });
}

StatusOr<PackRow> SqliteStore::GetPack(const std::string& manifest_sha256) {
  absl::MutexLock lock(&mu_);
  PackRow row;
  {
    TUTTI_ASSIGN_OR_RETURN(SqliteStatement * statement, Statement(kGetPackSql));
    ScopedReset reset(statement);
    TUTTI_RETURN_IF_ERROR(statement->BindText(1, manifest_sha256));
    TUTTI_ASSIGN_OR_RETURN(bool found, statement->Step());
    if (!found) return store_internal::PackNotFound(manifest_sha256);
    row = ReadPackRow(*statement);
  }
  TUTTI_ASSIGN_OR_RETURN(row.blob_shas, BlobsOfPackLocked(manifest_sha256));
  return row;
}

StatusOr<std::vector<PackRow>> SqliteStore::ListPacks(const std::string& genre) {
  absl::MutexLock lock(&mu_);
  std::vector<PackRow> rows;
  {
    TUTTI_ASSIGN_OR_RETURN(SqliteStatement * statement, Statement(kListPacksSql));
    ScopedReset reset(statement);
    TUTTI_RETURN_IF_ERROR(statement->BindText(1, genre));
    TUTTI_ASSIGN_OR_RETURN(rows, ReadAll<PackRow>(statement, ReadPackRow));
  }
  for (PackRow& row : rows) {
    TUTTI_ASSIGN_OR_RETURN(row.blob_shas, BlobsOfPackLocked(row.manifest_sha256));
  }
  return rows;
}

StatusOr<std::vector<std::string>> SqliteStore::ListPackBlobShas() {
  absl::MutexLock lock(&mu_);
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * statement, Statement(kListPackBlobShasSql));
  ScopedReset reset(statement);
  return ReadAll<std::string>(statement, [](const SqliteStatement& s) { return s.ColumnText(0); });
}

}  // namespace tutti::coord
