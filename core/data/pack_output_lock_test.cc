// PackOutputLock with real processes: a forked child that dies in the middle of a PackWriter (no
// destructor runs, as after SIGKILL) leaves its staging directory; the next holder of the lock removes it
// and says so, and never touches a pack, another genre's staging or anything while a live run holds it.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/data/data_test_util.h"
#include "core/data/pack_output_lock.h"
#include "core/data/pack_reader.h"

namespace tutti {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const SampleShape kSmall{2, 8, 12};

// Runs `body` in a child that then dies with _exit (no destructors, no clean-up), and reaps it.
template <typename F>
void DieAfter(F body) {
  const pid_t child = ::fork();
  if (child == 0) {
    body();
    ::_exit(0);
  }
  ::waitpid(child, nullptr, 0);
}

// A child that stages `samples` samples of a pack at `pack_dir` and dies before Finish.
void KilledWriter(const std::string& pack_dir, int samples) {
  DieAfter([&] {
    PackWriterOptions options;
    options.genre = "rock";
    options.shape = kSmall;
    options.samples_per_shard = 2;
    StatusOr<std::unique_ptr<PackWriter>> writer = PackWriter::Create(pack_dir, options);
    if (!writer.ok()) ::_exit(1);
    for (int i = 0; i < samples; ++i) {
      if (!(*writer)->Add(Split::kTrain, testing::TestSample(kSmall, 5, Split::kTrain, i).data()).ok()) ::_exit(1);
    }
    (void)writer->release();  // what SIGKILL does to the destructor: it never runs
  });
}

TEST(PackOutputLockTest, RemovesWhatAKilledRunStagedAndLeavesThePackAlone) {
  testing::TempDir dir;
  const std::string pack = dir / "packs/rock";
  ASSERT_TRUE(testing::WriteTestPack(pack, "rock", 1, 6, 2, 4, kSmall).ok());
  KilledWriter(pack, 5);
  KilledWriter(pack, 1);
  KilledWriter(dir / "packs/pop", 3);  // another pack's staging: not ours to judge
  std::vector<std::string> staged;
  for (const std::string& name : testing::ListDir(dir / "packs")) {
    if (name.rfind(".rock.tmp-", 0) == 0) staged.push_back(dir / ("packs/" + name));
  }
  ASSERT_EQ(staged.size(), 2u) << "the dead writers left their staging behind";

  StatusOr<std::unique_ptr<PackOutputLock>> lock = PackOutputLock::Acquire(pack + "/");
  ASSERT_TRUE(lock.ok()) << lock.status();
  ASSERT_EQ((*lock)->notices().size(), 2u);
  for (size_t i = 0; i < staged.size(); ++i) {
    EXPECT_EQ((*lock)->notices()[i],
              "removed leftover staging directory " + staged[i] + " from an interrupted run");
    EXPECT_FALSE(fs::exists(staged[i]));
  }
  EXPECT_EQ((*lock)->lock_path(), dir / "packs/.rock.lock");
  std::vector<std::string> left = testing::ListDir(dir / "packs");
  ASSERT_EQ(left.size(), 3u);
  EXPECT_EQ(left[0].rfind(".pop.tmp-", 0), 0u) << left[0];
  EXPECT_EQ(left[1], ".rock.lock");
  EXPECT_EQ(left[2], "rock");
  EXPECT_TRUE(VerifyPack(pack).ok());
  lock->reset();
  EXPECT_FALSE(fs::exists(dir / "packs/.rock.lock")) << "a run that ends leaves no lock file";
}

TEST(PackOutputLockTest, ALiveRunKeepsItsStagingAndTheSecondRunIsRefused) {
  testing::TempDir dir;
  const std::string pack = dir / "packs/rock";
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    StatusOr<std::unique_ptr<PackOutputLock>> lock = PackOutputLock::Acquire(pack);
    PackWriterOptions options;
    options.genre = "rock";
    options.shape = kSmall;
    StatusOr<std::unique_ptr<PackWriter>> writer = PackWriter::Create(pack, options);
    const char byte = lock.ok() && writer.ok() ? '1' : '0';
    (void)!::write(ready[1], &byte, 1);
    ::pause();
    ::_exit(0);
  }
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  ASSERT_EQ(byte, '1');
  StatusOr<std::unique_ptr<PackOutputLock>> busy = PackOutputLock::Acquire(pack);
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(busy.status().message()),
              HasSubstr(pack + " is being written by another tutti pack (" + dir / "packs/.rock.lock" +
                        " is held by pid " + std::to_string(child) + ")"));
  EXPECT_EQ(testing::ListDir(dir / "packs").size(), 2u) << "the live run's staging is still there";

  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  StatusOr<std::unique_ptr<PackOutputLock>> mine = PackOutputLock::Acquire(pack);
  ASSERT_TRUE(mine.ok()) << mine.status();
  ASSERT_EQ((*mine)->notices().size(), 1u);
  EXPECT_THAT((*mine)->notices()[0], HasSubstr("removed leftover staging directory " + dir / "packs/.rock.tmp-"));
  EXPECT_THAT(testing::ListDir(dir / "packs"), ElementsAre(".rock.lock"));
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST(PackOutputLockTest, NothingToCleanSaysNothingAndBadNamesAreRefused) {
  testing::TempDir dir;
  StatusOr<std::unique_ptr<PackOutputLock>> lock = PackOutputLock::Acquire(dir / "new/packs/rock");
  ASSERT_TRUE(lock.ok()) << lock.status();
  EXPECT_THAT((*lock)->notices(), IsEmpty());
  EXPECT_TRUE(fs::is_directory(dir / "new/packs")) << "the parent is made, as PackWriter would";
  EXPECT_EQ(PackOutputLock::Acquire("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PackOutputLock::Acquire("/").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tutti
