// RemoveRunLeftovers on the names a killed run really leaves (pids of reaped children: really dead), next
// to files it must never touch: complete checkpoints, temporaries of a live writer, other people's files.

#include "worker/run/run_leftovers.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/base/file_util.h"
#include "worker/run/run_log.h"

namespace tutti {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

class Dir {
 public:
  Dir() {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/tutti_run_leftovers_test.XXXXXX";
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

std::string DeadPid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return std::to_string(pid);
}

TEST(RunLeftoversTest, RemovesWhatAKilledRunLeftAndSaysSoOncePerFile) {
  Dir dir;
  const std::string out = dir.path(), ckpt = dir / "checkpoints";
  fs::create_directories(ckpt);
  const std::string dead = DeadPid(), live = std::to_string(::getpid());
  for (const std::string& name : std::vector<std::string>{
        "ckpt-00000004.tutti", "ckpt-00000004.tutti.sha256",             // a complete checkpoint
        "ckpt-00000006.tutti",                                            // one whose checksum never came
        "ckpt-00000002.tutti.sha256",                                     // pruned, checksum left: orphan
        "ckpt-00000008.tutti.tmp-" + dead + "-5",                         // cut before the rename
        "ckpt-00000006.tutti.sha256.tmp-" + dead + "-6",                  // its checksum, cut too
        "ckpt-00000010.tutti.tmp-" + live + "-7",                         // a live writer's: kept
        "notes.tmp-" + dead + "-1"}) {                                    // not ours: kept
    Touch(ckpt + "/" + name);
  }
  Touch(out + "/config.yaml.tmp-" + dead + "-0");
  Touch(out + "/metrics.jsonl.tmp-" + dead + "-3");
  Touch(out + "/other.yaml.tmp-" + dead + "-0");  // not a file this run writes: kept

  StatusOr<std::vector<std::string>> notices = RemoveRunLeftovers(out, ckpt, out + "/metrics.jsonl");
  ASSERT_TRUE(notices.ok()) << notices.status();
  const std::string tail = " from an interrupted run";
  EXPECT_THAT(*notices,
              ElementsAre("removed leftover temporary file " + ckpt + "/ckpt-00000006.tutti.sha256.tmp-" + dead + "-6" + tail,
                          "removed leftover temporary file " + ckpt + "/ckpt-00000008.tutti.tmp-" + dead + "-5" + tail,
                          "removed leftover checksum file (its checkpoint was already pruned) " + ckpt +
                              "/ckpt-00000002.tutti.sha256" + tail,
                          "removed leftover temporary file " + out + "/config.yaml.tmp-" + dead + "-0" + tail,
                          "removed leftover temporary file " + out + "/metrics.jsonl.tmp-" + dead + "-3" + tail));
  EXPECT_THAT(Names(ckpt), ElementsAre("ckpt-00000004.tutti", "ckpt-00000004.tutti.sha256", "ckpt-00000006.tutti",
                                       "ckpt-00000010.tutti.tmp-" + live + "-7", "notes.tmp-" + dead + "-1"));
  EXPECT_THAT(Names(out), ElementsAre("checkpoints", "other.yaml.tmp-" + dead + "-0"));
  EXPECT_THAT(RemoveRunLeftovers(out, ckpt, out + "/metrics.jsonl").value(), IsEmpty()) << "nothing twice";
}

TEST(RunLeftoversTest, AMetricsFileElsewhereIsCleanedWhereItLives) {
  Dir dir;
  fs::create_directories(dir / "logs");
  const std::string dead = DeadPid();
  Touch(dir / ("logs/m.jsonl.tmp-" + dead + "-0"));
  Touch(dir / ("m.jsonl.tmp-" + dead + "-0"));  // the output dir holds no metrics file of this run: kept
  StatusOr<std::vector<std::string>> notices = RemoveRunLeftovers(dir.path(), dir / "ckpt", dir / "logs/m.jsonl");
  ASSERT_TRUE(notices.ok()) << notices.status();
  ASSERT_EQ(notices->size(), 1u);
  EXPECT_FALSE(fs::exists(dir / ("logs/m.jsonl.tmp-" + dead + "-0")));
  EXPECT_TRUE(fs::exists(dir / ("m.jsonl.tmp-" + dead + "-0")));
}

TEST(RunLeftoversTest, AFreshRunHasNothingToSay) {
  Dir dir;
  StatusOr<std::vector<std::string>> notices = RemoveRunLeftovers(dir / "out", dir / "out/checkpoints", dir / "out/m.jsonl");
  ASSERT_TRUE(notices.ok()) << notices.status();
  EXPECT_THAT(*notices, IsEmpty());
}

TEST(RunLeftoversTest, AnUnreadableCheckpointDirectoryIsAnErrorNamingIt) {
  Dir dir;
  Touch(dir / "checkpoints");  // a file where the directory should be
  StatusOr<std::vector<std::string>> notices = RemoveRunLeftovers(dir.path(), dir / "checkpoints", dir / "m.jsonl");
  ASSERT_FALSE(notices.ok());
  EXPECT_NE(std::string(notices.status().message()).find(dir / "checkpoints"), std::string::npos)
      << notices.status();
}

// The metrics file is appended, not written atomically: a kill can cut its last line. The next run drops
// that piece together with the lines after the checkpoint it resumes from (from step 0 when it starts
// fresh), so the file never holds a glued line or a step twice.
TEST(MetricsLogAfterAKillTest, ACutLastLineGoesWithTheLinesAfterTheResumeStep) {
  Dir dir;
  const std::string path = dir / "metrics.jsonl";
  {
    std::ofstream out(path);
    out << "{\"step\":2}\nnot json but whole\n{\"step\":4}\n{\"step\":6}\n{\"step\":8,\"g_lo";
  }
  ASSERT_TRUE(MetricsLog::DropLinesAfterStep(path, 4).ok());
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "{\"step\":2}\nnot json but whole\n{\"step\":4}\n");
  ASSERT_TRUE(MetricsLog::DropLinesAfterStep(path, 0).ok());
  std::ifstream again(path);
  text.assign((std::istreambuf_iterator<char>(again)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "not json but whole\n");
  {
    std::ofstream out(path);
    out << "{\"step\":2,";  // nothing but a cut first line
  }
  ASSERT_TRUE(MetricsLog::DropLinesAfterStep(path, 0).ok());
  EXPECT_EQ(fs::file_size(path), 0u);
}

}  // namespace
}  // namespace tutti
