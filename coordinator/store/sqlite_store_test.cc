// SqliteStore beyond the shared contract: the file, its pragmas, schema migrations, files it must refuse,
// and a real crash (SIGKILL of a writing child process). Also the SQLite wrappers' own promises.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "coordinator/store/sqlite_statement.h"
#include "coordinator/store/sqlite_store.h"
#include "core/base/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tutti::coord {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

ExperimentRow MakeExperiment(const std::string& name) {
  ExperimentRow row;
  row.name = name;
  row.config_yaml = "name: " + name + "\n";
  row.overrides_json = "[]";
  return row;
}

TrialRow MakeTrial() {
  TrialRow row;
  row.config_yaml = "train:\n  steps: 100\n";
  return row;
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "tutti_sqlite_store_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    RemoveAllQuietly(dir_);
    ASSERT_TRUE(CreateDirectories(dir_).ok());
    path_ = dir_ + "/tutti.db";
  }
  void TearDown() override { RemoveAllQuietly(dir_); }

  std::unique_ptr<SqliteStore> MustOpen() {
    auto store = SqliteStore::Open(path_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  // A raw connection to the file, to look at it (or build it) the way another program would.
  std::unique_ptr<SqliteConnection> Raw() {
    auto connection = SqliteConnection::Open(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    EXPECT_TRUE(connection.ok()) << connection.status();
    return connection.ok() ? std::move(*connection) : nullptr;
  }

  int64_t UserVersion() {
    auto raw = Raw();
    if (raw == nullptr) return -1;
    auto version = raw->QueryInt64("PRAGMA user_version");
    EXPECT_TRUE(version.ok()) << version.status();
    return version.ok() ? *version : -1;
  }

  bool TableExists(const std::string& table) {
    auto raw = Raw();
    if (raw == nullptr) return false;
    auto count = raw->QueryInt64(
        absl::StrCat("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '", table, "'"));
    EXPECT_TRUE(count.ok()) << count.status();
    return count.ok() && *count == 1;
  }

  std::string dir_;
  std::string path_;
};

// --- the file ----------------------------------------------------------------------------------------------

TEST_F(SqliteStoreTest, DataSurvivesCloseAndReopen) {
  int64_t experiment_id = 0;
  std::vector<int64_t> trial_ids;
  int64_t newest_checkpoint = 0;
  {
    auto store = MustOpen();
    ASSERT_NE(store, nullptr);
    auto id = store->CreateExperiment(MakeExperiment("persist"), {MakeTrial(), MakeTrial()}, &trial_ids);
    ASSERT_TRUE(id.ok()) << id.status();
    experiment_id = *id;
    MetricRow metric;
    metric.trial_id = trial_ids[0];
    metric.step = 5;
    metric.kind = "train";
    metric.values_json = R"({"loss":0.5})";
    ASSERT_TRUE(store->AppendMetrics({metric}).ok());
    CheckpointRow checkpoint;
    checkpoint.trial_id = trial_ids[1];
    checkpoint.step = 5;
    checkpoint.sha256 = std::string(64, 'a');
    ASSERT_TRUE(store->InsertCheckpoint(checkpoint).ok());
    checkpoint.step = 6;
    auto newest = store->InsertCheckpoint(checkpoint);
    ASSERT_TRUE(newest.ok());
    newest_checkpoint = *newest;
    ASSERT_TRUE(store->DeleteCheckpoint(newest_checkpoint).ok());
  }
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  auto experiment = store->GetExperiment(experiment_id);
  ASSERT_TRUE(experiment.ok()) << experiment.status();
  EXPECT_EQ(experiment->name, "persist");
  auto trials = store->ListTrials(experiment_id);
  ASSERT_TRUE(trials.ok());
  EXPECT_EQ(trials->size(), 2u);
  auto points = store->ReadMetrics(trial_ids[0], 0, 10);
  ASSERT_TRUE(points.ok());
  ASSERT_EQ(points->size(), 1u);
  EXPECT_EQ((*points)[0].values_json, R"({"loss":0.5})");
  auto checkpoints = store->ListCheckpoints(trial_ids[1]);
  ASSERT_TRUE(checkpoints.ok());
  EXPECT_EQ(checkpoints->size(), 1u);

  // Ids keep increasing across a restart, even past a deleted newest record.
  auto next = store->CreateExperiment(MakeExperiment("next"), {}, nullptr);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, experiment_id + 1);
  CheckpointRow checkpoint;
  checkpoint.trial_id = trial_ids[1];
  checkpoint.step = 7;
  checkpoint.sha256 = std::string(64, 'b');
  auto after_restart = store->InsertCheckpoint(checkpoint);
  ASSERT_TRUE(after_restart.ok());
  EXPECT_EQ(*after_restart, newest_checkpoint + 1);
}

TEST_F(SqliteStoreTest, PragmasAreSetOnTheStoresConnection) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  auto pragma = [&](const std::string& name) {
    auto value = store->ReadPragma(name);
    EXPECT_TRUE(value.ok()) << value.status();
    return value.ok() ? *value : std::string("<error>");
  };
  EXPECT_EQ(pragma("journal_mode"), "wal");
  EXPECT_EQ(pragma("foreign_keys"), "1");
  EXPECT_EQ(pragma("synchronous"), "1");  // NORMAL
  EXPECT_EQ(pragma("busy_timeout"), "5000");
  EXPECT_EQ(pragma("user_version"), std::to_string(SqliteStore::LatestSchemaVersion()));
  EXPECT_EQ(store->ReadPragma("journal_mode; DROP TABLE trials").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(store->CheckIntegrity().ok());
  // WAL is recorded in the file: another connection sees it too.
  auto raw = Raw();
  ASSERT_NE(raw, nullptr);
  auto mode = raw->QueryText("PRAGMA journal_mode");
  ASSERT_TRUE(mode.ok());
  EXPECT_EQ(*mode, "wal");
}

// --- migrations --------------------------------------------------------------------------------------------

TEST_F(SqliteStoreTest, EmptyFileIsMigratedToTheLatestVersionOnce) {
  ASSERT_TRUE(WriteFileAtomically(path_, "").ok());  // an empty file is a valid, empty database
  ASSERT_EQ(SqliteStore::LatestSchemaVersion(), static_cast<int>(SqliteStore::Migrations().size()));
  {
    auto store = MustOpen();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->CreateExperiment(MakeExperiment("kept"), {MakeTrial()}, nullptr).ok());
  }
  EXPECT_EQ(UserVersion(), SqliteStore::LatestSchemaVersion());
  for (const char* table : {"experiments", "trials", "metrics", "checkpoints"}) {
    EXPECT_TRUE(TableExists(table)) << table;
  }
  // Reopening runs no migration: version 1's CREATE TABLEs would fail on the existing tables, and the
  // data would not survive a re-created schema.
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  auto experiments = store->ListExperiments();
  ASSERT_TRUE(experiments.ok()) << experiments.status();
  ASSERT_EQ(experiments->size(), 1u);
  EXPECT_EQ((*experiments)[0].name, "kept");
  EXPECT_EQ(UserVersion(), SqliteStore::LatestSchemaVersion());
}

// The older-file path: a hand-built version-1 file is brought to this build's version and one more step (as
// a future release would add it), keeping its rows; the listening-test table of version 2 works on it.
TEST_F(SqliteStoreTest, OlderFileIsMigratedStepByStepKeepingItsRows) {
  {
    auto raw = Raw();
    ASSERT_NE(raw, nullptr);
    ASSERT_TRUE(raw->Exec(SqliteStore::Migrations()[0]).ok());
    ASSERT_TRUE(raw->Exec("PRAGMA user_version = 1").ok());
    ASSERT_TRUE(raw->Exec("INSERT INTO experiments (name, source_name, config_yaml, submitted_yaml, "
                          "overrides_json, state, message, searcher_state, created_ms, updated_ms, ended_ms) "
                          "VALUES ('by hand', 'a.yaml', 'x: 1', 'x: 1', '[]', 1, '', '', 5, 6, 0)")
                    .ok());
  }
  std::vector<std::string> migrations = SqliteStore::Migrations();
  migrations.push_back("ALTER TABLE experiments ADD COLUMN owner TEXT NOT NULL DEFAULT 'nobody'");
  {
    auto store = SqliteStore::OpenWithMigrations(path_, migrations);
    ASSERT_TRUE(store.ok()) << store.status();
    auto experiment = (*store)->GetExperiment(1);
    ASSERT_TRUE(experiment.ok()) << experiment.status();
    EXPECT_EQ(experiment->name, "by hand");
    EXPECT_EQ(experiment->created_ms, 5);
    auto ratings = (*store)->ListRatedPairs("", 0);  // version 2's table is there
    ASSERT_TRUE(ratings.ok()) << ratings.status();
    EXPECT_TRUE(ratings->empty());
  }
  EXPECT_EQ(UserVersion(), SqliteStore::LatestSchemaVersion() + 1);
  {
    auto raw = Raw();
    ASSERT_NE(raw, nullptr);
    auto owner = raw->QueryText("SELECT owner FROM experiments WHERE id = 1");
    ASSERT_TRUE(owner.ok()) << owner.status();
    EXPECT_EQ(*owner, "nobody");
  }
  // Opening again does not repeat step 2 (a second ADD COLUMN owner would fail).
  auto again = SqliteStore::OpenWithMigrations(path_, migrations);
  EXPECT_TRUE(again.ok()) << again.status();
  again->reset();
  // And this build, which does not know the extra step, refuses the file.
  auto old_build = SqliteStore::Open(path_);
  EXPECT_EQ(old_build.status().code(), absl::StatusCode::kFailedPrecondition) << old_build.status();
}

TEST_F(SqliteStoreTest, FailedMigrationStepLeavesThePreviousVersion) {
  MustOpen().reset();  // a file at this build's version
  const int latest = SqliteStore::LatestSchemaVersion();
  std::vector<std::string> migrations = SqliteStore::Migrations();
  // The step's first statement succeeds, its second fails: the whole step must roll back.
  migrations.push_back("CREATE TABLE extra (x INTEGER); INSERT INTO no_such_table VALUES (1)");
  auto store = SqliteStore::OpenWithMigrations(path_, migrations);
  ASSERT_FALSE(store.ok());
  std::string message(store.status().message());
  EXPECT_THAT(message, HasSubstr(absl::StrCat("migrating the schema from version ", latest, " to ", latest + 1)));
  EXPECT_THAT(message, HasSubstr(path_));
  EXPECT_THAT(message, HasSubstr("no_such_table"));
  EXPECT_EQ(UserVersion(), latest);
  EXPECT_FALSE(TableExists("extra"));
  EXPECT_NE(MustOpen(), nullptr);  // still a good file of this build's version
}

// --- files to refuse ---------------------------------------------------------------------------------------

TEST_F(SqliteStoreTest, NewerSchemaIsRefusedUnchanged) {
  {
    auto raw = Raw();
    ASSERT_NE(raw, nullptr);
    ASSERT_TRUE(raw->Exec("CREATE TABLE future (x INTEGER); PRAGMA user_version = 999").ok());
  }
  auto store = SqliteStore::Open(path_);
  ASSERT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();
  EXPECT_EQ(store.status().message(),
            absl::StrCat(path_, ": written by a newer tutti-coordinator (schema version 999; this build reads up "
                                "to ",
                         SqliteStore::LatestSchemaVersion(), "); upgrade tutti-coordinator or use another --home"));
  // Refused before anything changed: still version 999, still in the default rollback-journal mode.
  EXPECT_EQ(UserVersion(), 999);
  auto raw = Raw();
  ASSERT_NE(raw, nullptr);
  auto mode = raw->QueryText("PRAGMA journal_mode");
  ASSERT_TRUE(mode.ok());
  EXPECT_EQ(*mode, "delete");
  EXPECT_FALSE(TableExists("experiments"));
}

TEST_F(SqliteStoreTest, GarbageFileIsAClearErrorNamingThePath) {
  std::string garbage(8192, '\0');
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>((i * 131 + 7) & 0xff);
  ASSERT_TRUE(WriteFileAtomically(path_, garbage).ok());
  auto store = SqliteStore::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss) << store.status();
  std::string message(store.status().message());
  EXPECT_THAT(message, HasSubstr(path_));
  EXPECT_THAT(message, HasSubstr("not a database"));
  auto after = ReadFileToString(path_);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, garbage) << "a refused file must not be modified";
}

TEST_F(SqliteStoreTest, UnopenablePathIsAnErrorNamingIt) {
  std::string path = dir_ + "/no/such/dir/tutti.db";
  auto store = SqliteStore::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(std::string(store.status().message()), HasSubstr(path));
}

// --- a real crash ------------------------------------------------------------------------------------------

// A child process streams AppendMetrics + UpdateTrial calls and, after each pair returns OK, writes its
// sequence number to a pipe. The parent lets it run, SIGKILLs it mid-stream, and reopens the file: it must
// open, pass PRAGMA integrity_check, and hold every pair the child reported (and at most one more).
TEST_F(SqliteStoreTest, SigkillMidStreamLosesNothingCommitted) {
  int64_t trial_id = 0;
  {
    auto store = MustOpen();
    ASSERT_NE(store, nullptr);
    std::vector<int64_t> ids;
    ASSERT_TRUE(store->CreateExperiment(MakeExperiment("crash"), {MakeTrial()}, &ids).ok());
    trial_id = ids[0];
  }  // closed: SQLite connections must not cross fork()

  int fds[2];
  ASSERT_EQ(::pipe(fds), 0) << std::strerror(errno);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0) << std::strerror(errno);
  if (pid == 0) {
    // The child: no gtest here; failures become exit codes, and _exit skips the parent's atexit handlers.
    ::close(fds[0]);
    auto store = SqliteStore::Open(path_);
    if (!store.ok()) ::_exit(2);
    auto row = (*store)->GetTrial(trial_id);
    if (!row.ok()) ::_exit(3);
    // ~250 bytes per point, so pages fill and WAL auto-checkpoints happen during the run.
    const std::string padding(200, 'p');
    for (int64_t i = 1;; ++i) {
      MetricRow metric;
      metric.trial_id = trial_id;
      metric.step = i;
      metric.kind = "train";
      metric.values_json = absl::StrCat(R"({"i":)", i, R"(,"pad":")", padding, "\"}");
      if (!(*store)->AppendMetrics({metric}).ok()) ::_exit(4);
      row->step = i;
      row->last_metrics_json = metric.values_json;
      if (!(*store)->UpdateTrial(*row).ok()) ::_exit(5);
      // 8 bytes < PIPE_BUF: the write is atomic, so the parent never sees half a number.
      if (::write(fds[1], &i, sizeof i) != static_cast<ssize_t>(sizeof i)) ::_exit(6);
    }
  }
  ::close(fds[1]);

  // Read the child's reports. Once it has committed kMinCommits pairs (so the kill lands in a long stream,
  // whatever the machine's speed), keep draining for ~200 ms so it never blocks on a full pipe, then kill.
  constexpr int64_t kMinCommits = 300;
  int64_t last_reported = 0;
  std::string pending;
  bool killed = false;
  auto kill_at = std::chrono::steady_clock::time_point::max();
  char buffer[4096];
  while (true) {
    if (!killed && std::chrono::steady_clock::now() >= kill_at) {
      ASSERT_EQ(::kill(pid, SIGKILL), 0) << std::strerror(errno);
      killed = true;
    }
    ssize_t n = ::read(fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    ASSERT_GE(n, 0) << std::strerror(errno);
    if (n == 0) break;  // every write end closed: the child is gone
    pending.append(buffer, static_cast<size_t>(n));
    size_t whole = pending.size() - pending.size() % sizeof(int64_t);
    for (size_t at = 0; at < whole; at += sizeof(int64_t)) {
      int64_t value = 0;
      std::memcpy(&value, pending.data() + at, sizeof value);
      ASSERT_EQ(value, last_reported + 1) << "the child reports in order";
      last_reported = value;
    }
    pending.erase(0, whole);
    if (last_reported >= kMinCommits && kill_at == std::chrono::steady_clock::time_point::max()) {
      kill_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
    }
  }
  ::close(fds[0]);
  int wait_status = 0;
  ASSERT_EQ(::waitpid(pid, &wait_status, 0), pid);
  ASSERT_TRUE(killed) << "the child stopped by itself after " << last_reported << " commits, status "
                      << wait_status << " (exit code " << (WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1)
                      << ")";
  ASSERT_TRUE(WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL) << "status " << wait_status;
  ASSERT_GE(last_reported, kMinCommits);
  // The crash left a WAL behind, so reopening exercises recovery rather than a clean file.
  EXPECT_TRUE(fs::exists(path_ + "-wal"));

  {
    auto raw = Raw();
    ASSERT_NE(raw, nullptr);
    auto integrity = raw->QueryText("PRAGMA integrity_check");
    ASSERT_TRUE(integrity.ok()) << integrity.status();
    EXPECT_EQ(*integrity, "ok");
  }
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->CheckIntegrity().ok());
  auto trial = store->GetTrial(trial_id);
  ASSERT_TRUE(trial.ok()) << trial.status();
  // Reported pairs are all there; the child may have committed one more call before it could report.
  EXPECT_GE(trial->step, last_reported);
  EXPECT_LE(trial->step, last_reported + 1);

  std::vector<MetricRow> points;
  int64_t after = 0;
  while (true) {
    auto page = store->ReadMetrics(trial_id, after, 1000);
    ASSERT_TRUE(page.ok()) << page.status();
    if (page->empty()) break;
    points.insert(points.end(), page->begin(), page->end());
    after = page->back().step;
  }
  ASSERT_GE(points.size(), static_cast<size_t>(last_reported));
  ASSERT_LE(points.size(), static_cast<size_t>(last_reported + 1));
  for (size_t i = 0; i < points.size(); ++i) {
    ASSERT_EQ(points[i].step, static_cast<int64_t>(i + 1)) << "no gaps";
    ASSERT_THAT(points[i].values_json, HasSubstr(absl::StrCat(R"({"i":)", i + 1, ",")));
  }
  // The trial row never runs ahead of its metrics (each UpdateTrial follows its AppendMetrics).
  EXPECT_LE(trial->step, static_cast<int64_t>(points.size()));
  EXPECT_GE(trial->step + 1, static_cast<int64_t>(points.size()));
}

// --- the wrappers ------------------------------------------------------------------------------------------

TEST_F(SqliteStoreTest, TransactionRollsBackUnlessCommitted) {
  auto raw = Raw();
  ASSERT_NE(raw, nullptr);
  ASSERT_TRUE(raw->Exec("CREATE TABLE t (x INTEGER)").ok());
  {
    auto transaction = SqliteTransaction::Begin(raw.get(), SqliteTransaction::Mode::kWrite);
    ASSERT_TRUE(transaction.ok()) << transaction.status();
    ASSERT_TRUE(raw->Exec("INSERT INTO t VALUES (1)").ok());
    EXPECT_TRUE(raw->InTransaction());
  }  // dropped without Commit
  EXPECT_FALSE(raw->InTransaction());
  auto count = raw->QueryInt64("SELECT COUNT(*) FROM t");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 0);
  {
    auto transaction = SqliteTransaction::Begin(raw.get(), SqliteTransaction::Mode::kWrite);
    ASSERT_TRUE(transaction.ok());
    ASSERT_TRUE(raw->Exec("INSERT INTO t VALUES (2)").ok());
    ASSERT_TRUE((*transaction)->Commit().ok());
  }
  count = raw->QueryInt64("SELECT COUNT(*) FROM t");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 1);
}

TEST_F(SqliteStoreTest, StatementErrorsNameTheSqlAndTheFile) {
  auto raw = Raw();
  ASSERT_NE(raw, nullptr);
  auto bad = raw->Prepare("SELEKT 1");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("[SQL: SELEKT 1]"));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr(path_));
  // Two statements in one Prepare would silently drop the second: refused.
  EXPECT_FALSE(raw->Prepare("SELECT 1; SELECT 2").ok());
  EXPECT_TRUE(raw->Prepare("SELECT 1;  \n").ok());

  ASSERT_TRUE(raw->Exec("CREATE TABLE u (x INTEGER PRIMARY KEY)").ok());
  auto insert = raw->Prepare("INSERT INTO u VALUES (?1)");
  ASSERT_TRUE(insert.ok());
  ASSERT_TRUE((*insert)->BindInt64(1, 7).ok());
  ASSERT_TRUE((*insert)->Run().ok());
  ASSERT_TRUE((*insert)->BindInt64(1, 7).ok());
  auto duplicate = (*insert)->Run();
  EXPECT_EQ(duplicate.status().code(), absl::StatusCode::kFailedPrecondition) << duplicate.status();
  EXPECT_EQ((*insert)->last_error(), SQLITE_CONSTRAINT_PRIMARYKEY);
  EXPECT_EQ((*insert)->BindInt64(5, 1).code(), absl::StatusCode::kInternal);  // SQLITE_RANGE
}

}  // namespace
}  // namespace tutti::coord
