// kill -9 at any moment, tutti-worker (issue 20, item 4): a standalone tutti-worker training a tiny model
// that checkpoints every 2 steps is SIGKILLed at random instants, then started again with --resume latest,
// again and again. After every kill each ckpt-*.tutti left verifies (ReadCheckpointMeta: sizes and the
// payload's sha256) and names its own step, the newest checkpoint never goes backwards, and a run that
// resumes says it resumes from the newest one. A run removes what the killed one left (temporaries of a
// checkpoint being written, an orphan checksum) and prints one line per file naming it. A last run
// resumes, trains on and ends cleanly; then nothing is left over and metrics.jsonl holds every logged step
// exactly once, as if the run had never been interrupted.
//
// Half of the instants are drawn over the first seconds of a run (start-up, resume, the first steps), the
// other half at the moment a checkpoint is being written (its temporary has just appeared), where a kill
// has the most to break.

#include <filesystem>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>
#include <gtest/gtest.h>

#include "core/base/sha256.h"
#include "core/checkpoint/checkpoint.h"
#include "tests/integration/kill9_util.h"
#include "tests/testing/run_command.h"

namespace tutti::testing {
namespace {

namespace fs = std::filesystem;

const std::string kTutti = std::string(TUTTI_BIN_DIR) + "/tutti";
const std::string kWorker = std::string(TUTTI_BIN_DIR) + "/tutti-worker";
constexpr int kRounds = 10;  // the last one aims at a checkpoint write, so the final run has leftovers to clean

std::string JobYaml(const std::string& packs, const std::string& output_dir) {
  // More steps than all rounds together reach: every run is killed (or, the last, stopped by --max-seconds).
  return "name: kill9\n"
         "output_dir: " + output_dir + "\n"
         "data:\n  packs_dir: " + packs + "\n  genres: [rock]\n  prefetch_batches: 2\n"
         "train:\n  steps: 5000\n  batch_size: 4\n  seed: 11\n  intra_op_threads: 1\n  log_every: 2\n"
         "checkpoint:\n  every: 2\n  keep: 3\n"
         "eval:\n  every: 20\n  samples: 8\n";
}

int64_t StepOf(const std::string& checkpoint_path) {
  const std::string name = fs::path(checkpoint_path).filename().string();  // ckpt-00000010.tutti
  return std::stoll(name.substr(5, name.size() - 11));
}

// Every checkpoint verifies and holds the step its name says; a checksum file beside it (when it made it)
// matches its bytes. Returns the newest step (-1 when none). Failures are recorded by gtest.
int64_t CheckCheckpoints(const std::string& dir) {
  StatusOr<std::vector<std::string>> listed = ListCheckpoints(dir);
  EXPECT_TRUE(listed.ok()) << listed.status();
  int64_t newest = -1;
  for (const std::string& path : listed.value_or(std::vector<std::string>{})) {
    StatusOr<CheckpointMeta> meta = ReadCheckpointMeta(path);
    EXPECT_TRUE(meta.ok()) << meta.status();
    if (!meta.ok()) continue;
    EXPECT_EQ(meta->step, StepOf(path)) << path;
    std::error_code ec;
    if (fs::exists(path + ".sha256", ec)) {
      EXPECT_EQ(Slurp(path + ".sha256"), Sha256Hex(Slurp(path)) + "  " + fs::path(path).filename().string() + "\n")
          << path << ".sha256";
    }
    newest = std::max(newest, meta->step);
  }
  return newest;
}

// What a killed run can leave: temporaries in the checkpoint and output directories, and checksum files
// whose checkpoint is gone. Full paths, sorted.
std::vector<std::string> Leftovers(const std::string& out, const std::string& ckpt) {
  std::vector<std::string> found;
  for (const std::string& name : NamesWith(ckpt, ".tmp-")) found.push_back(ckpt + "/" + name);
  for (const std::string& name : NamesWith(ckpt, ".sha256")) {
    if (name.find(".tmp-") == std::string::npos && !fs::exists(ckpt + "/" + name.substr(0, name.size() - 7))) {
      found.push_back(ckpt + "/" + name);
    }
  }
  for (const std::string& name : NamesWith(out, ".tmp-")) found.push_back(out + "/" + name);
  std::sort(found.begin(), found.end());
  return found;
}

// The path named by a "removed leftover ... <path> from an interrupted run" line.
std::string PathInLine(const std::string& line) {
  static const std::regex pattern("removed leftover .* (/[^ ]+) from an interrupted run");
  std::smatch match;
  return std::regex_search(line, match, pattern) ? match[1].str() : std::string();
}

std::string ResumeLine(int64_t step, const std::string& ckpt) {
  char name[64];
  std::snprintf(name, sizeof name, "ckpt-%08lld.tutti", static_cast<long long>(step));
  return "resuming from " + ckpt + "/" + name + " at step " + std::to_string(step);
}

TEST(Kill9Test, WorkerCheckpointsAlwaysVerifyAndResumeContinuesFromTheNewest) {
  const uint64_t seed = Kill9Seed();
  std::mt19937_64 rng(seed);
  const std::string root = FreshTempDir("kill9_worker");
  CommandResult synth = RunCommand(kTutti + " synth-lpd --out " + root + "/lpd --songs 60 --seed 1 -q");
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  CommandResult packed = RunCommand(kTutti + " pack --lpd " + root + "/lpd --genres rock --out " + root + "/packs -q");
  ASSERT_EQ(packed.exit_code, 0) << packed.err;
  const std::string out = root + "/run", ckpt = out + "/checkpoints", job = root + "/job.yaml";
  std::ofstream(job) << JobYaml(root + "/packs", out);
  const std::vector<std::string> args = {kWorker, "--config", job, "--quiet", "--resume", "latest"};

  // How long start-up takes here: the first checkpoint of a fresh run (in its own directory) bounds the
  // window of the "whole run" instants, which then span start-up, resume and the first checkpoints.
  double first_checkpoint_s = 0;
  {
    const std::string calibration = root + "/calibration";
    std::ofstream(root + "/calibration.yaml") << JobYaml(root + "/packs", calibration);
    const auto start = std::chrono::steady_clock::now();
    const pid_t pid = SpawnWithLog({kWorker, "--config", root + "/calibration.yaml", "--quiet"}, root + "/calibration.log");
    ASSERT_GT(pid, 0);
    while (ListCheckpoints(calibration + "/checkpoints").value_or(std::vector<std::string>{}).size() < 1 &&
           StillRunning(pid) && SecondsSince(start) < 120) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    first_checkpoint_s = SecondsSince(start);
    ASSERT_TRUE(KillAndReap(pid).landed) << Slurp(root + "/calibration.log");
    ASSERT_LT(first_checkpoint_s, 120) << Slurp(root + "/calibration.log");
  }
  const double window_s = first_checkpoint_s + 1.5;
  std::printf("[kill9] first checkpoint after %.2f s; random instants over [0, %.2f] s\n", first_checkpoint_s, window_s);

  std::map<std::string, int> landed;
  int lines_checked = 0, resumes_checked = 0;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round) + ", seed " + std::to_string(seed));
    const std::vector<std::string> leftovers_before = Leftovers(out, ckpt);
    const int64_t newest_before = CheckCheckpoints(ckpt);
    const bool at_a_write = round % 2 == 1;
    const std::string log = root + "/round" + std::to_string(round) + ".log";
    const auto start = std::chrono::steady_clock::now();
    const pid_t pid = SpawnWithLog(args, log);
    ASSERT_GT(pid, 0);
    if (at_a_write) {
      // A checkpoint temporary of this run (not a leftover of an earlier one) has just appeared.
      const std::set<std::string> old(leftovers_before.begin(), leftovers_before.end());
      bool seen = false;
      while (!seen && StillRunning(pid) && SecondsSince(start) < 120) {
        for (const std::string& name : NamesWith(ckpt, ".tmp-")) seen = seen || old.count(ckpt + "/" + name) == 0;
        if (!seen) std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      std::this_thread::sleep_for(std::chrono::duration<double>(std::uniform_real_distribution<double>(0, 0.002)(rng)));
    } else {
      SleepUntil(start, std::uniform_real_distribution<double>(0, window_s)(rng));
    }
    const KillOutcome killed = KillAndReap(pid);
    ASSERT_TRUE(killed.landed) << "the worker ended by itself (" << killed.exit_code << "):\n" << Slurp(log);

    // Every checkpoint verifies; the newest never goes backwards (checkpoint.keep: 3 keeps it).
    const int64_t newest_after = CheckCheckpoints(ckpt);
    EXPECT_GE(newest_after, newest_before);
    const std::vector<std::string> leftovers_after = Leftovers(out, ckpt);
    ++landed[leftovers_after.size() > leftovers_before.size() ? "while writing a checkpoint (temporary left)"
             : newest_after > newest_before                    ? "while training (new checkpoints, nothing left)"
                                                               : "during start-up or resume"];

    // A resume names the newest checkpoint there was; every clean-up line names a leftover that was there
    // and is gone now; once the run got as far as resuming, every leftover was cleaned and named.
    const std::string text = Slurp(log);
    const std::vector<std::string> resumed = LinesWith(text, "resuming from ");
    if (!resumed.empty()) {
      EXPECT_EQ(resumed[0], ResumeLine(newest_before, ckpt)) << text;
      ++resumes_checked;
    }
    std::set<std::string> named;
    for (const std::string& line : LinesWith(text, "removed leftover ")) {
      const std::string path = PathInLine(line);
      EXPECT_NE(std::find(leftovers_before.begin(), leftovers_before.end(), path), leftovers_before.end()) << line;
      EXPECT_FALSE(fs::exists(path)) << line;
      named.insert(path);
    }
    if (!resumed.empty()) {
      EXPECT_EQ(named, std::set<std::string>(leftovers_before.begin(), leftovers_before.end())) << text;
      lines_checked += static_cast<int>(named.size());
    }
  }

  // The last run resumes from the newest checkpoint, cleans up and says so, trains on and stops cleanly.
  const std::vector<std::string> leftovers_before = Leftovers(out, ckpt);
  const int64_t newest_before = CheckCheckpoints(ckpt);
  std::vector<std::string> last_args = args;
  last_args.insert(last_args.end(), {"--max-seconds", "3"});
  const pid_t last = SpawnWithLog(last_args, root + "/last.log");
  ASSERT_EQ(WaitForExitCode(last, 300), 0) << Slurp(root + "/last.log");
  const std::string text = Slurp(root + "/last.log");
  if (newest_before >= 0) {
    EXPECT_EQ(LinesWith(text, "resuming from "), std::vector<std::string>{ResumeLine(newest_before, ckpt)}) << text;
  }
  std::vector<std::string> expected_lines;
  for (const std::string& path : leftovers_before) {
    const bool orphan = path.find(".tmp-") == std::string::npos;
    expected_lines.push_back(std::string("removed leftover ") +
                             (orphan ? "checksum file (its checkpoint was already pruned) " : "temporary file ") + path +
                             " from an interrupted run");
  }
  std::vector<std::string> said = LinesWith(text, "removed leftover ");
  std::sort(said.begin(), said.end());
  std::sort(expected_lines.begin(), expected_lines.end());
  EXPECT_EQ(said, expected_lines) << text;
  lines_checked += static_cast<int>(said.size());
  EXPECT_EQ(Leftovers(out, ckpt), std::vector<std::string>{}) << "nothing left over after a run that ended";
  const int64_t final_step = CheckCheckpoints(ckpt);
  EXPECT_GT(final_step, newest_before) << text;
  EXPECT_EQ(LinesWith(text, "time limit at step " + std::to_string(final_step) + "; checkpoint: ").size(), 1u) << text;

  // metrics.jsonl: every line whole, every logged step once and in order, as if never interrupted.
  std::vector<int64_t> train_steps;
  std::set<int64_t> eval_steps;
  std::istringstream lines(Slurp(out + "/metrics.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "a broken metrics line: " << line;
    const int64_t step = j.at("step").get<int64_t>();
    if (j.contains("eval")) {
      EXPECT_TRUE(eval_steps.insert(step).second) << "eval at step " << step << " twice";
    } else {
      train_steps.push_back(step);
    }
  }
  std::vector<int64_t> expected_steps;
  for (int64_t s = 2; s <= final_step; s += 2) expected_steps.push_back(s);
  EXPECT_EQ(train_steps, expected_steps);

  std::string summary;
  for (const auto& [where, count] : landed) summary += "\n  " + where + ": " + std::to_string(count);
  std::printf("[kill9] %d kills of tutti-worker (seed %llu), final step %lld; where they landed:%s\n"
              "  resume lines checked: %d, clean-up lines checked: %d\n",
              kRounds, static_cast<unsigned long long>(seed), static_cast<long long>(final_step), summary.c_str(),
              resumes_checked + (newest_before >= 0 ? 1 : 0), lines_checked);
  EXPECT_GE(landed["while writing a checkpoint (temporary left)"], 1) << "no kill landed in a checkpoint write" << summary;
  EXPECT_GE(lines_checked, 1) << "no leftover was ever cleaned up, so the clean-up line was never checked";
  EXPECT_GE(resumes_checked, 1) << "no killed run got as far as resuming";
  fs::remove_all(root);
}

}  // namespace
}  // namespace tutti::testing
