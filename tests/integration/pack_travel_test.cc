// Packs travel with the experiment: `tutti submit` uploads the packs a job names to a real coordinator
// (only what it lacks) and pins them; a real agent with 2 ranks then trains the trial on a "node" where the
// packs directory does not exist, from packs fetched into its pack cache (both ranks share it); a damaged
// cached shard is detected and fetched again; a coordinator restart keeps the registered packs' blobs.

#include <gmock/gmock.h>

#include "tests/integration/coordinator_test_util.h"

namespace tutti::testing {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

std::string JobYaml(const std::string& packs_dir) {
  return "name: packs-travel\n"
         "data:\n  packs_dir: " + packs_dir + "\n  genres: [rock]\n  prefetch_batches: 2\n"
         "train:\n  steps: 6\n  batch_size: 4\n  seed: 5\n  intra_op_threads: 1\n  log_every: 3\n"
         "checkpoint:\n  every: 3\n"
         "eval:\n  every: 6\n  samples: 8\n"
         "distributed:\n  timeout_s: 60\n  stall_warning_s: 30\n";
}

TEST(PackTravel, ATrialTrainsFromFetchedPacksAndADamagedCachedShardIsFetchedAgain) {
  const std::string dir = FreshTempDir("pack_travel");
  // Our own packs (the shared PacksDir() must not be moved away).
  ASSERT_EQ(RunCommand(Bin("tutti") + " synth-lpd --out " + dir + "/lpd --songs 40 --seed 2").exit_code, 0);
  CommandResult packed = RunCommand(Bin("tutti") + " pack --lpd " + dir + "/lpd --genres rock --out " + dir + "/packs");
  ASSERT_EQ(packed.exit_code, 0) << packed.err;
  WriteText(dir + "/job.yaml", JobYaml("packs"));  // relative: resolved against the submit directory

  CoordinatorProcess coordinator(dir + "/home", {"--heartbeat-seconds", "1"});
  ASSERT_TRUE(coordinator.Start()) << coordinator.error();

  // 1. Submit uploads the pack's three files; a second submit sends nothing.
  CommandResult first = Tutti(coordinator.address(), "submit " + dir + "/job.yaml --json", "cd " + dir + " &&");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_THAT(first.err, HasSubstr("3 of 3 files sent"));
  const std::string pin = ReadAll(dir + "/packs/rock/manifest.json");
  CommandResult described = Tutti(coordinator.address(), "describe 1");
  EXPECT_THAT(described.out, HasSubstr("rock=" + Sha256Hex(pin))) << "the trial's config pins the manifest's sha256";
  CommandResult second = Tutti(coordinator.address(), "submit " + dir + "/job.yaml", "cd " + dir + " &&");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_THAT(second.err, HasSubstr("already at the coordinator"));

  // 2. A restart runs the blob garbage collection: registered packs keep their blobs.
  ASSERT_EQ(coordinator.Stop(), 0) << coordinator.log();
  ASSERT_TRUE(coordinator.Start(std::chrono::seconds(60), /*same_address=*/true)) << coordinator.error();
  EXPECT_THAT(coordinator.log(), ::testing::Not(HasSubstr("unrecorded blob(s) removed")));

  // 3. No shared filesystem: the packs directory is gone where the worker runs. Two ranks share the cache.
  fs::rename(dir + "/packs", dir + "/packs-elsewhere");
  const std::string env = "TMPDIR=" + dir + "/node";  // the agent's workers default their pack cache to it
  fs::create_directories(dir + "/node");
  const std::string agent = env + " timeout -k 5 300 " + Bin("tutti") + " agent --np 2 --exit-when-idle --poll 0.5 " +
                            "--coordinator " + coordinator.address() + " --work-dir " + dir + "/agent";
  CommandResult ran = RunCommand(agent);
  ASSERT_EQ(ran.exit_code, 0) << ran.err;
  // Whichever rank takes the node's cache lock first fetches (and says so); the other finds it verified.
  EXPECT_THAT(ran.err, HasSubstr("1 fetched (3 file(s)"));
  EXPECT_THAT(ran.err, HasSubstr("packs: 1 verified in the cache, 0 fetched")) << "the second trial fetched again";
  CommandResult trials = Tutti(coordinator.address(), "trials 1 --json");
  ASSERT_EQ(trials.exit_code, 0) << trials.err;
  EXPECT_EQ(Json(trials)["trials"][0]["state"], "TRIAL_COMPLETED") << ran.err;
  EXPECT_EQ(Json(Tutti(coordinator.address(), "trials 2 --json"))["trials"][0]["state"], "TRIAL_COMPLETED") << ran.err;

  // 4. A damaged shard in the cache is found before training and fetched again.
  std::string shard;
  for (const auto& entry : fs::recursive_directory_iterator(dir + "/node/tutti-pack-cache/packs")) {
    if (entry.path().filename() == "train-00000.shard") shard = entry.path().string();
  }
  ASSERT_FALSE(shard.empty());
  {
    std::fstream file(shard, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(4000);
    file.put('\x5a').put('\xa5');
  }
  CommandResult third = Tutti(coordinator.address(), "submit " + dir + "/job.yaml --no-pack-upload --set data.pack_pins=[rock=" +
                                                         Sha256Hex(pin) + "]", "cd " + dir + " &&");
  ASSERT_EQ(third.exit_code, 0) << third.err;
  CommandResult again = RunCommand(agent);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.err, HasSubstr("1 damaged file(s) replaced"));
  EXPECT_EQ(Json(Tutti(coordinator.address(), "trials 3 --json"))["trials"][0]["state"], "TRIAL_COMPLETED") << again.err;
  EXPECT_EQ(ReadAll(shard), ReadAll(dir + "/packs-elsewhere/rock/train-00000.shard")) << "the cached shard was repaired";
  EXPECT_EQ(coordinator.Stop(), 0) << coordinator.log();
}

}  // namespace
}  // namespace tutti::testing
