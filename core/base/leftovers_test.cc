// Leftovers of interrupted runs and the lock that tells a live owner from a dead one. The "dead writer"
// cases use real processes: a forked child leaves its files behind and exits without cleaning up, which
// is what a SIGKILL leaves (the parent reaps it, so its pid is really gone).

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/base/file_lock.h"
#include "core/base/file_util.h"
#include "core/base/leftovers.h"

namespace tutti {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class Dir {
 public:
  Dir() {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/tutti_leftovers_test.XXXXXX";
    path_ = ::mkdtemp(pattern.data()) != nullptr ? pattern : "";
    EXPECT_FALSE(path_.empty());
  }
  ~Dir() { RemoveAllQuietly(path_); }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void Touch(const std::string& path) { std::ofstream(path) << "x"; }

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// A pid that certainly belonged to a process that is gone now: a child that exited and was reaped.
pid_t DeadPid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return pid;
}

bool IsOurs(const std::string& target) { return target.rfind("ckpt-", 0) == 0; }

TEST(LeftoversTest, ParsesOnlyWriteFileAtomicallyNames) {
  std::optional<AtomicWriteTempName> t = ParseAtomicWriteTempName("ckpt-00000010.tutti.tmp-4242-7");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->target, "ckpt-00000010.tutti");
  EXPECT_EQ(t->pid, 4242);
  EXPECT_EQ(ParseAtomicWriteTempName("a.tmp-1-0")->target, "a");
  for (const char* bad : {"ckpt.tutti", ".tmp-12-3", "a.tmp-", "a.tmp-12", "a.tmp-12-", "a.tmp--3", "a.tmp-x-3",
                          "a.tmp-12-3x", "a.tmp-0-1", "a.tmp-1234567890-1", "a.tmp-12-3.bak"}) {
    EXPECT_FALSE(ParseAtomicWriteTempName(bad).has_value()) << bad;
  }
}

TEST(LeftoversTest, StagingNamesAreExactlyMkdtemps) {
  EXPECT_TRUE(IsStagingDirectoryName(".rock.tmp-Ab3xZ9", "rock"));
  for (const char* bad : {".rock.tmp-Ab3xZ", ".rock.tmp-Ab3xZ90", ".rock.tmp-Ab3x.9", "rock.tmp-Ab3xZ9",
                          ".rocks.tmp-Ab3xZ9", ".pop.tmp-Ab3xZ9", ".rock.tmp-Ab3xZ9/"}) {
    EXPECT_FALSE(IsStagingDirectoryName(bad, "rock")) << bad;
  }
  EXPECT_FALSE(IsStagingDirectoryName("..tmp-Ab3xZ9", ""));
  // The real thing matches.
  Dir dir;
  StatusOr<std::string> staged = MakeTempDirectoryIn(dir.path(), "rock");
  ASSERT_TRUE(staged.ok()) << staged.status();
  EXPECT_TRUE(IsStagingDirectoryName(fs::path(*staged).filename().string(), "rock")) << *staged;
}

TEST(LeftoversTest, AliveMeansThisProcessOrAnExistingOne) {
  EXPECT_TRUE(ProcessIsAlive(::getpid()));
  EXPECT_TRUE(ProcessIsAlive(1));  // init: alive, and not ours to signal when unprivileged (EPERM)
  EXPECT_FALSE(ProcessIsAlive(DeadPid()));
  EXPECT_FALSE(ProcessIsAlive(0));
  EXPECT_FALSE(ProcessIsAlive(-5));
}

TEST(LeftoversTest, RemovesTempsOfDeadWritersOnlyWhenOurs) {
  Dir dir;
  const pid_t dead = DeadPid();
  const std::string dead_ckpt = "ckpt-00000010.tutti.tmp-" + std::to_string(dead) + "-0";
  const std::string dead_sha = "ckpt-00000010.tutti.sha256.tmp-" + std::to_string(dead) + "-1";
  const std::string live_ckpt = "ckpt-00000012.tutti.tmp-" + std::to_string(::getpid()) + "-3";
  const std::string not_ours = "notes.txt.tmp-" + std::to_string(dead) + "-0";
  for (const std::string& name : {dead_ckpt, dead_sha, live_ckpt, not_ours, std::string("ckpt-00000010.tutti")}) {
    Touch(dir / name);
  }
  fs::create_directory(dir / ("ckpt-1.tutti.tmp-" + std::to_string(dead) + "-9"));  // not a file: left alone
  StatusOr<std::vector<std::string>> removed = RemoveDeadAtomicWriteTemps(dir.path(), IsOurs);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_THAT(*removed, ElementsAre(dir / dead_sha, dir / dead_ckpt));  // sorted: ".s" < ".t"
  EXPECT_FALSE(fs::exists(dir / dead_ckpt));
  EXPECT_TRUE(fs::exists(dir / live_ckpt));
  EXPECT_TRUE(fs::exists(dir / not_ours));
  EXPECT_TRUE(fs::exists(dir / "ckpt-00000010.tutti"));
  // A second pass finds nothing more.
  EXPECT_THAT(RemoveDeadAtomicWriteTemps(dir.path(), IsOurs).value(), IsEmpty());
}

TEST(LeftoversTest, RealWriterKilledMidWriteIsCleanedUp) {
  // The child starts WriteFileAtomically's pattern by hand and dies before the rename, as SIGKILL would
  // leave it; it sleeps until the parent has seen the file while the writer is alive.
  Dir dir;
  const pid_t child = ::fork();
  if (child == 0) {
    Touch(dir / ("ckpt-00000004.tutti.tmp-" + std::to_string(::getpid()) + "-0"));
    ::pause();
    ::_exit(0);
  }
  const std::string temp = dir / ("ckpt-00000004.tutti.tmp-" + std::to_string(child) + "-0");
  for (int i = 0; i < 500 && !fs::exists(temp); ++i) ::usleep(10000);
  ASSERT_TRUE(fs::exists(temp));
  EXPECT_THAT(RemoveDeadAtomicWriteTemps(dir.path(), IsOurs).value(), IsEmpty()) << "its writer is alive";
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_THAT(RemoveDeadAtomicWriteTemps(dir.path(), IsOurs).value(), ElementsAre(temp));
  EXPECT_THAT(Names(dir.path()), IsEmpty());
}

TEST(LeftoversTest, MissingDirectoryHoldsNoneAndAFileInTheWayIsAnError) {
  Dir dir;
  EXPECT_THAT(RemoveDeadAtomicWriteTemps(dir / "nowhere", IsOurs).value(), IsEmpty());
  EXPECT_THAT(RemoveStagingDirectories(dir / "nowhere", "rock").value(), IsEmpty());
  Touch(dir / "file");
  StatusOr<std::vector<std::string>> listed = RemoveDeadAtomicWriteTemps(dir / "file", IsOurs);
  ASSERT_FALSE(listed.ok());
  EXPECT_THAT(std::string(listed.status().message()), HasSubstr(dir / "file"));
}

TEST(LeftoversTest, RemovesStagingDirectoriesOfTheStemOnly) {
  Dir dir;
  const std::string a = MakeTempDirectoryIn(dir.path(), "rock").value();
  const std::string b = MakeTempDirectoryIn(dir.path(), "rock").value();
  const std::string other = MakeTempDirectoryIn(dir.path(), "pop").value();
  Touch(a + "/train-00000.shard");
  fs::create_directories(a + "/deeper");
  Touch(dir / ".rock.tmp-FILE00");                                  // a file with the name: left alone
  fs::create_directory_symlink(other, dir / ".rock.tmp-LINK00");    // a link: left alone, and so is its target
  fs::create_directory(dir / "rock");                               // the pack itself: untouched
  StatusOr<std::vector<std::string>> removed = RemoveStagingDirectories(dir.path(), "rock");
  ASSERT_TRUE(removed.ok()) << removed.status();
  std::vector<std::string> expected = {a, b};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(*removed, expected);
  EXPECT_THAT(Names(dir.path()), ElementsAre(fs::path(other).filename().string(), ".rock.tmp-FILE00",
                                             ".rock.tmp-LINK00", "rock"));
}

TEST(LeftoversTest, NoticeNamesWhatAndWhere) {
  EXPECT_EQ(LeftoverNotice("staging directory", "/p/.rock.tmp-abcdef"),
            "removed leftover staging directory /p/.rock.tmp-abcdef from an interrupted run");
}

TEST(FileLockTest, OneHolderAtATimeAndTheFileGoesWithIt) {
  Dir dir;
  const std::string path = dir / ".rock.lock";
  {
    StatusOr<std::unique_ptr<FileLock>> first = FileLock::TryAcquire(path);
    ASSERT_TRUE(first.ok()) << first.status();
    StatusOr<std::unique_ptr<FileLock>> second = FileLock::TryAcquire(path);
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(second.status().message()), HasSubstr(path + " is held by pid " + std::to_string(::getpid())));
  }
  EXPECT_FALSE(fs::exists(path)) << "a lock released normally leaves no file";
  EXPECT_TRUE(FileLock::TryAcquire(path).ok());
}

TEST(FileLockTest, AHolderKilledWithSigkillFreesTheLockButLeavesTheFile) {
  Dir dir;
  const std::string path = dir / ".rock.lock";
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    StatusOr<std::unique_ptr<FileLock>> lock = FileLock::TryAcquire(path);
    const char byte = lock.ok() ? '1' : '0';
    (void)!::write(ready[1], &byte, 1);
    ::pause();
    ::_exit(0);
  }
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  ASSERT_EQ(byte, '1');
  StatusOr<std::unique_ptr<FileLock>> busy = FileLock::TryAcquire(path);
  ASSERT_FALSE(busy.ok());
  EXPECT_THAT(std::string(busy.status().message()), HasSubstr("pid " + std::to_string(child)));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_TRUE(fs::exists(path)) << "SIGKILL gives the holder no chance to remove it";
  StatusOr<std::unique_ptr<FileLock>> mine = FileLock::TryAcquire(path);
  ASSERT_TRUE(mine.ok()) << mine.status();
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST(FileLockTest, AMissingParentIsAClearError) {
  Dir dir;
  StatusOr<std::unique_ptr<FileLock>> lock = FileLock::TryAcquire(dir / "no/such/dir/.x.lock");
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(lock.status().message()), HasSubstr("no/such/dir/.x.lock"));
}

}  // namespace
}  // namespace tutti
