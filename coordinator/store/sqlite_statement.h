#pragma once
// Thin RAII wrappers over the SQLite C API, returning absl::Status with context: SqliteConnection (one
// sqlite3*), SqliteStatement (one sqlite3_stmt*) and SqliteTransaction (BEGIN ... COMMIT, rolled back
// unless committed). Modelled on apache/arrow's flight/sql/example/sqlite_statement.h: fallible creation is
// a static factory, constructors cannot fail, destructors release the handle.
//
// Error messages name the database file, what was being done, SQLite's own message and result code, and
// the SQL: "/x/tutti.db: step failed: FOREIGN KEY constraint failed (sqlite 787) [SQL: INSERT INTO ...]".
// Result codes map onto canonical codes (SqliteErrorCode below); callers that know better (a foreign-key
// failure means "that trial does not exist") replace the status with their own.
//
// Thread-safety: none. These objects are as single-threaded as the connection they use (opened with
// SQLITE_OPEN_NOMUTEX); the owner serialises every call (SqliteStore holds one mutex for all of them).

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "core/base/status.h"

namespace tutti::coord {

// Canonical code for an SQLite (extended) result code: BUSY/LOCKED -> Unavailable (retryable), FULL ->
// ResourceExhausted, CONSTRAINT -> FailedPrecondition, NOTADB/CORRUPT -> DataLoss, PERM/READONLY/AUTH ->
// PermissionDenied, everything else (CANTOPEN, IOERR, ...) Internal.
absl::StatusCode SqliteErrorCode(int result_code);

// "<db file>: <what>: <sqlite message> (sqlite <code>)[ [SQL: <sql>]]" with SqliteErrorCode(result_code).
// `db` may be null (the message then has no file name or SQLite message beyond sqlite3_errstr).
Status SqliteError(sqlite3* db, int result_code, const std::string& what, const std::string& sql = "");

class SqliteStatement {
 public:
  // Compiles `sql` (one statement) on `db`, which must outlive the statement. `persistent` hints that the
  // statement will be kept and reused (SQLITE_PREPARE_PERSISTENT). Errors name the SQL.
  static StatusOr<std::unique_ptr<SqliteStatement>> Prepare(sqlite3* db, const std::string& sql,
                                                            bool persistent = false);

  ~SqliteStatement();
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  // Parameters are numbered from 1 (SQLite's convention). Text is copied (SQLITE_TRANSIENT), so the
  // argument need not outlive the call, and is bound with its length: every byte round-trips.
  Status BindInt64(int index, int64_t value);
  Status BindDouble(int index, double value);
  Status BindText(int index, const std::string& value);
  Status BindNull(int index);

  // Runs the statement one step: true when a row is ready for the column getters, false when done.
  StatusOr<bool> Step();
  // Steps to completion (INSERT / UPDATE / DELETE / DDL) and resets; returns sqlite3_changes().
  StatusOr<int64_t> Run();
  // The extended result code of the last failed Step (SQLITE_OK after a successful one), so that callers
  // can tell SQLITE_CONSTRAINT_FOREIGNKEY from SQLITE_CONSTRAINT_UNIQUE without parsing messages.
  int last_error() const { return last_error_; }

  // Column getters for the current row (columns numbered from 0). A NULL reads as 0 / 0.0 / "".
  int64_t ColumnInt64(int column) const;
  double ColumnDouble(int column) const;
  // Every byte of the value, embedded NULs included (sqlite3_column_text + sqlite3_column_bytes).
  std::string ColumnText(int column) const;
  bool ColumnIsNull(int column) const;

  // Makes the statement ready to run again and clears its bindings. Ends any read the statement had in
  // progress, so a cached SELECT does not pin a WAL snapshot between calls.
  void Reset();

  const std::string& sql() const { return sql_; }
  sqlite3_stmt* handle() const { return stmt_; }

 private:
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt, std::string sql)
      : db_(db), stmt_(stmt), sql_(std::move(sql)) {}
  Status BindResult(int rc, int index);

  sqlite3* const db_;          // not owned
  sqlite3_stmt* const stmt_;   // owned; finalized by the destructor
  const std::string sql_;
  int last_error_ = SQLITE_OK;
};

// Resets a (cached) statement when the scope ends, on every return path.
class ScopedReset {
 public:
  explicit ScopedReset(SqliteStatement* statement) : statement_(statement) {}
  ~ScopedReset() { statement_->Reset(); }
  ScopedReset(const ScopedReset&) = delete;
  ScopedReset& operator=(const ScopedReset&) = delete;

 private:
  SqliteStatement* statement_;
};

class SqliteTransaction;

class SqliteConnection {
 public:
  // sqlite3_open_v2(path, flags, vfs). SQLITE_OPEN_EXRESCODE is always added so that errors carry extended
  // result codes. `vfs` names a registered SQLite VFS; "" is the default one. Errors name the path.
  static StatusOr<std::unique_ptr<SqliteConnection>> Open(const std::string& path, int flags,
                                                          const std::string& vfs = "");

  // Closes the connection; every statement prepared on it must have been destroyed first.
  ~SqliteConnection();
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  // Runs one or more statements that return no rows we need (sqlite3_exec). Errors name the SQL.
  Status Exec(const std::string& sql);
  // Runs a statement whose result is one row with one integer column (PRAGMA user_version, COUNT(*)).
  StatusOr<int64_t> QueryInt64(const std::string& sql);
  // Same, for a text result (PRAGMA journal_mode, PRAGMA integrity_check).
  StatusOr<std::string> QueryText(const std::string& sql);

  StatusOr<std::unique_ptr<SqliteStatement>> Prepare(const std::string& sql, bool persistent = false) {
    return SqliteStatement::Prepare(db_, sql, persistent);
  }

  // True between a BEGIN and its COMMIT / ROLLBACK (including SQLite's automatic rollbacks after
  // SQLITE_FULL, SQLITE_IOERR, ...).
  bool InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  friend class SqliteTransaction;
  SqliteConnection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  // BEGIN IMMEDIATE / BEGIN / COMMIT / ROLLBACK, prepared once: a transaction per AppendMetrics call
  // should not pay three compilations.
  StatusOr<SqliteStatement*> Cached(std::unique_ptr<SqliteStatement>* slot, const char* sql);

  sqlite3* const db_;  // owned; closed by the destructor
  const std::string path_;
  std::unique_ptr<SqliteStatement> begin_immediate_;
  std::unique_ptr<SqliteStatement> begin_deferred_;
  std::unique_ptr<SqliteStatement> commit_;
  std::unique_ptr<SqliteStatement> rollback_;
};

// BEGIN ... COMMIT. Destroying a transaction that was not committed rolls it back (errors ignored: the
// rollback may already have happened automatically). Transactions do not nest.
class SqliteTransaction {
 public:
  enum class Mode {
    // BEGIN IMMEDIATE: takes the write lock now, so a writer never fails half-way with SQLITE_BUSY when
    // another process holds it (it waits busy_timeout instead). Use it for every write.
    kWrite,
    // BEGIN (deferred): a consistent snapshot for several reads.
    kRead,
  };

  static StatusOr<std::unique_ptr<SqliteTransaction>> Begin(SqliteConnection* connection, Mode mode);

  ~SqliteTransaction();
  SqliteTransaction(const SqliteTransaction&) = delete;
  SqliteTransaction& operator=(const SqliteTransaction&) = delete;

  // COMMIT. On error the transaction stays open (or was rolled back by SQLite) and the destructor rolls it
  // back. Must be called at most once.
  Status Commit();

 private:
  explicit SqliteTransaction(SqliteConnection* connection) : connection_(connection) {}

  SqliteConnection* const connection_;  // not owned
  bool done_ = false;                   // committed (nothing left to roll back)
};

}  // namespace tutti::coord
