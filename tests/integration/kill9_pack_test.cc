// kill -9 at any moment, `tutti pack` (issue 20, item 4): a real `tutti pack` replacing a pack is SIGKILLed
// at random instants over its whole run, again and again. After every kill the pack directory holds the
// complete old pack or the complete new one (manifest and every shard verified, and nothing else in it),
// never a mix and never nothing; the next run removes what the killed one staged and prints one line per
// directory naming it; at the end nothing is left beside the pack.
//
// Half of the instants are drawn over the whole run (and a little past its usual end); the other half over
// the window in which the pack is being written (from the moment its staging directory appears to the
// end), where a kill has the most to break. The test counts where the kills landed and fails when none landed mid-write.

#include <filesystem>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "core/base/file_util.h"
#include "core/base/sha256.h"
#include "core/data/pack_manifest.h"
#include "core/data/pack_reader.h"
#include "tests/integration/kill9_util.h"
#include "tests/testing/run_command.h"

namespace tutti::testing {
namespace {

namespace fs = std::filesystem;

const std::string kTutti = std::string(TUTTI_BIN_DIR) + "/tutti";
constexpr int kRounds = 24;

// A pack directory checked from top to bottom: manifest parsed, every shard re-hashed against it
// (VerifyPack), and exactly manifest.json plus the listed shards in it.
struct PackState {
  std::string problem;        // empty when the pack is complete and verified
  std::string manifest_sha;   // sha256 of manifest.json's bytes
  std::vector<std::string> shards;  // "<file> <sha256>" of every shard, train then held-out
  uint64_t seed = 0;          // packing.seed: which of the two contents this is
};

PackState Inspect(const std::string& dir) {
  PackState state;
  StatusOr<std::string> bytes = ReadFileToString(dir + "/manifest.json");
  if (!bytes.ok()) {
    state.problem = "no readable manifest: " + std::string(bytes.status().message());
    return state;
  }
  state.manifest_sha = Sha256Hex(*bytes);
  StatusOr<PackManifest> manifest = ReadManifest(dir + "/manifest.json");
  if (!manifest.ok()) {
    state.problem = std::string(manifest.status().message());
    return state;
  }
  if (Status verified = VerifyPack(dir); !verified.ok()) {
    state.problem = std::string(verified.message());
    return state;
  }
  std::set<std::string> expected = {"manifest.json"};
  for (Split split : kAllSplits) {
    for (const ShardInfo& shard : manifest->shards(split)) {
      expected.insert(shard.file);
      state.shards.push_back(shard.file + " " + shard.sha256);
    }
  }
  std::set<std::string> present;
  for (const auto& entry : fs::directory_iterator(dir)) present.insert(entry.path().filename().string());
  if (present != expected) {
    state.problem = "the directory holds other files than the manifest lists";
    return state;
  }
  state.seed = manifest->packing.value("seed", uint64_t{0});
  return state;
}

std::vector<std::string> PackArgs(const std::string& lpd, const std::string& out, uint64_t seed) {
  // One reader thread and 4-sample shards: ~0.4 s, most of it spent writing and syncing ~80 shard files,
  // so there are many instants at which a pack is half-written.
  return {kTutti, "pack", "--lpd", lpd, "--genres", "rock", "--out", out, "--seed", std::to_string(seed),
          "--threads", "1", "--samples-per-shard", "4", "-q"};
}

// An uninterrupted run into `out`: its timings (first staging directory, exit) from the spawn, polled.
struct Timing {
  double staged_s = -1;
  double exit_s = 0;
};

Timing TimedRun(const std::vector<std::string>& args, const std::string& out, const std::string& log) {
  Timing t;
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = SpawnWithLog(args, log);
  EXPECT_GT(pid, 0);
  while (StillRunning(pid)) {
    if (t.staged_s < 0 && !NamesWith(out, ".rock.tmp-").empty()) t.staged_s = SecondsSince(start);
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  EXPECT_EQ(WaitForExitCode(pid, 60), 0) << Slurp(log);
  t.exit_s = SecondsSince(start);
  return t;
}

TEST(Kill9Test, PackIsTheOldOrTheNewNeverAMixAndTheNextRunCleansUp) {
  const uint64_t seed = Kill9Seed();
  std::mt19937_64 rng(seed);
  const std::string root = FreshTempDir("kill9_pack");
  CommandResult synth = RunCommand(kTutti + " synth-lpd --out " + root + "/lpd --songs 400 --seed 1 -q");
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  const std::string lpd = root + "/lpd", out = root + "/out", pack = out + "/rock";

  // The two contents (packing seeds 1 and 2), each made once without interruption; their shard lists say
  // what "complete old" and "complete new" mean.
  std::map<uint64_t, PackState> reference;
  for (uint64_t content : {1, 2}) {
    const std::string ref_out = root + "/ref" + std::to_string(content);
    TimedRun(PackArgs(lpd, ref_out, content), ref_out, root + "/ref.log");
    reference[content] = Inspect(ref_out + "/rock");
    ASSERT_EQ(reference[content].problem, "") << ref_out;
  }
  ASSERT_NE(reference[1].shards, reference[2].shards) << "the two seeds must give different packs";
  // The old pack of round 0, then two uninterrupted runs that replace it (as every round does) to time a run
  // from start to exit and from its staging directory's appearance to exit.
  TimedRun(PackArgs(lpd, out, 1), out, root + "/first.log");
  Timing timing;
  for (uint64_t content : {2, 1}) {
    const Timing t = TimedRun(PackArgs(lpd, out, content), out, root + "/timing.log");
    timing.exit_s = std::max(timing.exit_s, t.exit_s);
    timing.staged_s = std::max(timing.staged_s, t.staged_s);
  }
  ASSERT_GT(timing.staged_s, 0) << "no staging directory was ever seen";
  std::printf("[kill9] an uninterrupted pack takes %.3f s; its staging directory appears at %.3f s\n", timing.exit_s,
              timing.staged_s);

  std::map<std::string, int> landed;  // where the kills landed
  int cleanup_lines = 0;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round) + ", seed " + std::to_string(seed));
    const PackState before = Inspect(pack);
    ASSERT_EQ(before.problem, "");
    const uint64_t target = before.seed == 1 ? 2 : 1;
    const bool whole_run = round % 2 == 0;
    const double delay = whole_run ? std::uniform_real_distribution<double>(0, timing.exit_s * 1.3)(rng)
                                   : std::uniform_real_distribution<double>(0, timing.exit_s - timing.staged_s)(rng);
    const std::string log = root + "/round" + std::to_string(round) + ".log";
    const auto start = std::chrono::steady_clock::now();
    const pid_t pid = SpawnWithLog(PackArgs(lpd, out, target), log);
    ASSERT_GT(pid, 0);
    if (whole_run) {
      SleepUntil(start, delay);
    } else {
      // Wait for this run's staging directory, then kill within the time writing takes.
      while (NamesWith(out, ".rock.tmp-").empty() && StillRunning(pid) && SecondsSince(start) < 30) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      std::this_thread::sleep_for(std::chrono::duration<double>(delay));
    }
    const KillOutcome killed = KillAndReap(pid);

    // Old or new, complete, nothing else.
    const PackState after = Inspect(pack);
    ASSERT_EQ(after.problem, "") << "after a kill at " << delay << " s:\n" << Slurp(log);
    const bool is_old = after.manifest_sha == before.manifest_sha;
    const bool is_new = after.shards == reference[target].shards && after.seed == target;
    ASSERT_TRUE(is_old || is_new) << "the pack is neither the old one nor the new one";
    const std::vector<std::string> staged = NamesWith(out, ".rock.tmp-");
    if (!killed.landed) {
      ASSERT_EQ(killed.exit_code, 0) << Slurp(log);
      ASSERT_TRUE(is_new);
      ++landed["after it finished"];
    } else if (is_new) {
      ++landed[staged.empty() ? "after the publish" : "between the swap and removing the old pack"];
    } else {
      ++landed[staged.empty() ? "before the pack was staged" : "mid-write (staging, not published)"];
    }
    for (const std::string& name : NamesWith(out, "")) {
      const bool allowed = name == "rock" || name == ".rock.lock" || name.rfind(".rock.tmp-", 0) == 0;
      ASSERT_TRUE(allowed) << "unexpected entry beside the pack: " << name;
    }
    if (staged.empty()) continue;

    // The next run removes what the killed one staged and says so, one line per directory.
    const std::string next_log = root + "/round" + std::to_string(round) + ".next.log";
    const uint64_t next_target = is_new ? (target == 1 ? 2 : 1) : target;
    const pid_t next = SpawnWithLog(PackArgs(lpd, out, next_target), next_log);
    ASSERT_EQ(WaitForExitCode(next, 60), 0) << Slurp(next_log);
    std::vector<std::string> expected, said = LinesWith(Slurp(next_log), "removed leftover");
    for (const std::string& name : staged) {
      expected.push_back("removed leftover staging directory " + (fs::path(out) / name).lexically_normal().string() +
                         " from an interrupted run");
    }
    EXPECT_EQ(said, expected) << Slurp(next_log);
    cleanup_lines += static_cast<int>(said.size());
    EXPECT_EQ(NamesWith(out, ""), std::vector<std::string>{"rock"}) << "after the clean-up run";
    const PackState cleaned = Inspect(pack);
    ASSERT_EQ(cleaned.problem, "");
    EXPECT_EQ(cleaned.shards, reference[next_target].shards);
  }

  // One last uninterrupted run: nothing of any killed run is left beside the pack, not even the lock.
  const pid_t last = SpawnWithLog(PackArgs(lpd, out, Inspect(pack).seed == 1 ? 2 : 1), root + "/last.log");
  ASSERT_EQ(WaitForExitCode(last, 60), 0) << Slurp(root + "/last.log");
  EXPECT_EQ(NamesWith(out, ""), std::vector<std::string>{"rock"});
  EXPECT_EQ(Inspect(pack).problem, "");

  std::string summary;
  int mid_run = 0;
  for (const auto& [where, count] : landed) {
    summary += "\n  " + where + ": " + std::to_string(count);
    if (where != "after it finished") mid_run += count;
  }
  std::printf("[kill9] %d kills of tutti pack (seed %llu); where they landed:%s\n  clean-up lines checked: %d\n",
              kRounds, static_cast<unsigned long long>(seed), summary.c_str(), cleanup_lines);
  EXPECT_GE(mid_run, kRounds / 2) << "most kills must land while the pack runs" << summary;
  EXPECT_GE(landed["mid-write (staging, not published)"], 1) << "no kill landed while the pack was written" << summary;
  EXPECT_GE(cleanup_lines, 1) << "no leftover was ever cleaned up, so the clean-up line was never checked";
  fs::remove_all(root);
}

}  // namespace
}  // namespace tutti::testing
