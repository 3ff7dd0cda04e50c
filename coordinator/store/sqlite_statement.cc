#include "coordinator/store/sqlite_statement.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace tutti::coord {

absl::StatusCode SqliteErrorCode(int result_code) {
  switch (result_code & 0xff) {  // an extended code's low byte is its primary code
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::StatusCode::kUnavailable;
    case SQLITE_FULL:
      return absl::StatusCode::kResourceExhausted;
    case SQLITE_CONSTRAINT:
      return absl::StatusCode::kFailedPrecondition;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return absl::StatusCode::kDataLoss;
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return absl::StatusCode::kPermissionDenied;
    default:
      return absl::StatusCode::kInternal;
  }
}

Status SqliteError(sqlite3* db, int result_code, const std::string& what, const std::string& sql) {
  std::string file;
  const char* detail = sqlite3_errstr(result_code);
  if (db != nullptr) {
    // sqlite3_db_filename gives the absolute path SQLite resolved; "" for in-memory databases.
    const char* name = sqlite3_db_filename(db, "main");
    if (name != nullptr && name[0] != '\0') file = name;
    // sqlite3_errmsg describes the most recent failure on this connection, which is the one we report:
    // the caller is the connection's only user (see the header) and reports immediately.
    detail = sqlite3_errmsg(db);
  }
  std::string message = absl::StrCat(file.empty() ? "" : file + ": ", what, ": ", detail, " (sqlite ",
                                     result_code, ")");
  if (!sql.empty()) absl::StrAppend(&message, " [SQL: ", sql, "]");
  return Status(SqliteErrorCode(result_code), message);
}

// --- SqliteStatement ---------------------------------------------------------------------------------------

StatusOr<std::unique_ptr<SqliteStatement>> SqliteStatement::Prepare(sqlite3* db, const std::string& sql,
                                                                    bool persistent) {
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db, sql.c_str(), static_cast<int>(sql.size() + 1),
                              persistent ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, &tail);
  if (rc != SQLITE_OK) return SqliteError(db, rc, "cannot prepare", sql);
  if (stmt == nullptr) {
    // Only whitespace or comments: nothing to run, which is always a bug in our SQL.
    return absl::InternalError(absl::StrCat("empty SQL statement [SQL: ", sql, "]"));
  }
  // Anything after the first statement would be silently ignored by sqlite3_step: refuse it instead.
  for (; tail != nullptr && *tail != '\0'; ++tail) {
    if (std::strchr(" \t\r\n;", *tail) == nullptr) {
      sqlite3_finalize(stmt);
      return absl::InternalError(absl::StrCat("more than one SQL statement given to Prepare [SQL: ", sql, "]"));
    }
  }
  return std::unique_ptr<SqliteStatement>(new SqliteStatement(db, stmt, sql));
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

Status SqliteStatement::BindResult(int rc, int index) {
  if (rc == SQLITE_OK) return absl::OkStatus();
  return SqliteError(db_, rc, absl::StrCat("cannot bind parameter ", index), sql_);
}

Status SqliteStatement::BindInt64(int index, int64_t value) {
  return BindResult(sqlite3_bind_int64(stmt_, index, value), index);
}

Status SqliteStatement::BindDouble(int index, double value) {
  return BindResult(sqlite3_bind_double(stmt_, index, value), index);
}

Status SqliteStatement::BindText(int index, const std::string& value) {
  // sqlite3_bind_text64 with an explicit length: embedded NULs and any byte sequence are stored as given
  // (the database encoding is UTF-8, so SQLite never converts them).
  return BindResult(
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8), index);
}

Status SqliteStatement::BindNull(int index) { return BindResult(sqlite3_bind_null(stmt_, index), index); }

StatusOr<bool> SqliteStatement::Step() {
  int rc = sqlite3_step(stmt_);
  last_error_ = SQLITE_OK;
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // Read now: it describes this failure only until the next call on the connection.
  last_error_ = sqlite3_extended_errcode(db_);
  Status error = SqliteError(db_, rc, "step failed", sql_);
  // After an error the statement must be reset before it is used again; do it now so that the error
  // leaves nothing behind (sqlite3_reset repeats the error code, which we already have).
  sqlite3_reset(stmt_);
  return error;
}

StatusOr<int64_t> SqliteStatement::Run() {
  ScopedReset reset(this);
  while (true) {
    TUTTI_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) break;
  }
  return static_cast<int64_t>(sqlite3_changes64(db_));
}

int64_t SqliteStatement::ColumnInt64(int column) const { return sqlite3_column_int64(stmt_, column); }

double SqliteStatement::ColumnDouble(int column) const { return sqlite3_column_double(stmt_, column); }

std::string SqliteStatement::ColumnText(int column) const {
  // Order matters: sqlite3_column_text first (it may convert the value), then sqlite3_column_bytes for the
  // length of that very representation (SQLite's documented idiom).
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  if (text == nullptr || size <= 0) return std::string();
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
}

bool SqliteStatement::ColumnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

void SqliteStatement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

// --- SqliteConnection --------------------------------------------------------------------------------------

StatusOr<std::unique_ptr<SqliteConnection>> SqliteConnection::Open(const std::string& path, int flags,
                                                                    const std::string& vfs) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_EXRESCODE, vfs.empty() ? nullptr : vfs.c_str());
  if (rc != SQLITE_OK) {
    // sqlite3_open_v2 allocates a handle even when it fails (except out of memory); it carries the message
    // and must be closed.
    std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return Status(SqliteErrorCode(rc),
                  absl::StrCat(path, ": cannot open database: ", detail, " (sqlite ", rc, ")"));
  }
  return std::unique_ptr<SqliteConnection>(new SqliteConnection(db, path));
}

SqliteConnection::~SqliteConnection() {
  // The cached statements belong to this connection: finalize them before closing it.
  begin_immediate_.reset();
  begin_deferred_.reset();
  commit_.reset();
  rollback_.reset();
  // sqlite3_close_v2 rather than sqlite3_close: should a statement still be alive (a bug), the handle
  // becomes a zombie and is closed with it instead of leaking the file descriptor and locks.
  sqlite3_close_v2(db_);
}

Status SqliteConnection::Exec(const std::string& sql) {
  char* error = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
  sqlite3_free(error);  // the same text as sqlite3_errmsg, which SqliteError reads
  if (rc != SQLITE_OK) return SqliteError(db_, rc, "exec failed", sql);
  return absl::OkStatus();
}

StatusOr<int64_t> SqliteConnection::QueryInt64(const std::string& sql) {
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<SqliteStatement> statement, Prepare(sql));
  TUTTI_ASSIGN_OR_RETURN(bool row, statement->Step());
  if (!row) return absl::InternalError(absl::StrCat(path_, ": query returned no row [SQL: ", sql, "]"));
  return statement->ColumnInt64(0);
}

StatusOr<std::string> SqliteConnection::QueryText(const std::string& sql) {
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<SqliteStatement> statement, Prepare(sql));
  TUTTI_ASSIGN_OR_RETURN(bool row, statement->Step());
  if (!row) return absl::InternalError(absl::StrCat(path_, ": query returned no row [SQL: ", sql, "]"));
  return statement->ColumnText(0);
}

StatusOr<SqliteStatement*> SqliteConnection::Cached(std::unique_ptr<SqliteStatement>* slot, const char* sql) {
  if (*slot == nullptr) {
    TUTTI_ASSIGN_OR_RETURN(*slot, Prepare(sql, /*persistent=*/true));
  }
  return slot->get();
}

// --- SqliteTransaction -------------------------------------------------------------------------------------

StatusOr<std::unique_ptr<SqliteTransaction>> SqliteTransaction::Begin(SqliteConnection* connection, Mode mode) {
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * begin,
                         mode == Mode::kWrite
                             ? connection->Cached(&connection->begin_immediate_, "BEGIN IMMEDIATE")
                             : connection->Cached(&connection->begin_deferred_, "BEGIN"));
  TUTTI_RETURN_IF_ERROR(begin->Run().status());
  return std::unique_ptr<SqliteTransaction>(new SqliteTransaction(connection));
}

Status SqliteTransaction::Commit() {
  TUTTI_ASSIGN_OR_RETURN(SqliteStatement * commit, connection_->Cached(&connection_->commit_, "COMMIT"));
  TUTTI_RETURN_IF_ERROR(commit->Run().status());
  done_ = true;
  return absl::OkStatus();
}

SqliteTransaction::~SqliteTransaction() {
  // SQLite rolls a transaction back by itself after some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM,
  // ...); a second ROLLBACK would then fail, so only roll back what is still open.
  if (done_ || !connection_->InTransaction()) return;
  auto rollback = connection_->Cached(&connection_->rollback_, "ROLLBACK");
  if (rollback.ok()) {
    // Ignored on purpose: a destructor cannot report. A failed ROLLBACK leaves the transaction open, and the
    // next BEGIN then fails loudly ("cannot start a transaction within a transaction") instead of silently
    // joining it; closing the connection rolls it back.
    (void)(*rollback)->Run();
  } else {
    (void)connection_->Exec("ROLLBACK");
  }
}

}  // namespace tutti::coord
