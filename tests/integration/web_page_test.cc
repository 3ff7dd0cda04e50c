// The coordinator's web page (coordinator/http/web) in headless Chromium against a real coordinator:
// a synthetic corpus packed for rock, pop and jazz by the real CLI, a real agent training two rock trials (a
// grid over train.g_lr) and one pop trial to checkpoints that carry eval.realism.score (jazz is submitted
// after the agent left, so it has no checkpoint), then
// tests/web/page_test.js (playwright-core driving /usr/bin/chromium) works the Compose, Experiments and
// Listen views over `--http` with a token, as a person would. Screenshots are copied to
// <build>/test-artifacts/web/ whether it passes or not.

#include <unistd.h>

#include <filesystem>
#include <iostream>

#include <gmock/gmock.h>

#include "tests/integration/coordinator_test_util.h"

namespace tutti::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const std::string kWebTestDir = std::string(TUTTI_SOURCE_DIR) + "/tests/web";
constexpr char kChromium[] = "/usr/bin/chromium";
constexpr char kToken[] = "web-page-test-token";

// What the browser half needs and scripts/install-deps.sh provides; empty when everything is there.
std::string MissingPrerequisites() {
  std::string missing;
  if (RunCommand("command -v node").exit_code != 0) missing += "\n  node (Node.js >= 18) on PATH";
  if (!fs::exists(kChromium)) missing += std::string("\n  ") + kChromium + " (Debian's chromium)";
  if (!fs::exists(kWebTestDir + "/node_modules/playwright-core/package.json")) {
    missing += "\n  " + kWebTestDir + "/node_modules/playwright-core (npm ci in tests/web, pinned by its package-lock.json)";
  }
  return missing;
}

// One genre's experiment: 20 steps of batch 4 on one rank, evaluated and checkpointed every 10 steps, so
// every checkpoint carries eval.realism.score. `hyperparameters` (YAML lines) turn it into a sweep.
std::string JobYaml(const std::string& name, const std::string& packs, const std::string& genre,
                    const std::string& hyperparameters) {
  return "name: " + name + "\n"
         "description: web page test, " + genre + "\n"
         "data:\n  packs_dir: " + packs + "\n  genres: [" + genre + "]\n  prefetch_batches: 2\n"
         "train:\n  steps: 20\n  batch_size: 4\n  seed: 11\n  intra_op_threads: 1\n  log_every: 5\n"
         "checkpoint:\n  every: 10\n  best_metric: eval.realism.score\n"
         "eval:\n  every: 10\n  samples: 8\n"
         "distributed:\n  timeout_s: 30\n  stall_warning_s: 10\n"
         "resources:\n  ranks: 1\n" +
         hyperparameters;
}

// The address the coordinator's HTTP server wrote to `file` ("" after `timeout`).
std::string WaitForAddressFile(const std::string& file, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(file);
    std::string address;
    if (in >> address && !address.empty()) return address;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return "";
}

// Copies the screenshots in `from` to the build's test-artifacts/web/ (replacing older ones).
void KeepScreenshots(const std::string& from) {
  const fs::path to = TUTTI_WEB_ARTIFACTS_DIR;
  std::error_code ec;
  fs::create_directories(to, ec);
  for (const auto& name : {"compose.png", "error.png", "experiments.png", "listen.png", "failure.png"}) {
    fs::remove(to / name, ec);
    if (fs::exists(fs::path(from) / name)) fs::copy_file(fs::path(from) / name, to / name, ec);
    if (ec) ADD_FAILURE() << "cannot copy " << name << " to " << to << ": " << ec.message();
  }
}

TEST(WebPageTest, ComposeExperimentsAndListenWorkInHeadlessChromium) {
  const std::string missing = MissingPrerequisites();
  ASSERT_TRUE(missing.empty()) << "the web page test needs:" << missing
                               << "\nrun scripts/install-deps.sh (it installs chromium and playwright-core)";

  const std::string dir = FreshTempDir("web_page");
  // Rock, pop and jazz packs, made by the real CLI from a synthetic corpus.
  CommandResult synth = RunCommand(Bin("tutti") + " synth-lpd --out " + dir + "/lpd --songs 60 --seed 1 -q");
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  CommandResult pack =
      RunCommand(Bin("tutti") + " pack --lpd " + dir + "/lpd --genres rock,pop,jazz --out " + dir + "/packs");
  ASSERT_EQ(pack.exit_code, 0) << pack.err;

  WriteText(dir + "/token", std::string(kToken) + "\n");
  const std::string http_address_file = dir + "/http.addr";
  CoordinatorProcess coordinator(dir + "/home", {"--token-file", dir + "/token", "--http", "127.0.0.1:0",
                                                 "--http-address-file", http_address_file, "--heartbeat-seconds", "1"});
  ASSERT_TRUE(coordinator.Start()) << coordinator.error();
  const std::string http = WaitForAddressFile(http_address_file, std::chrono::seconds(30));
  ASSERT_FALSE(http.empty()) << "no address in " << http_address_file << ":\n" << coordinator.log();
  const std::string url = http.rfind("http", 0) == 0 ? http : "http://" + http;
  const std::string address = coordinator.address();
  const std::string env = std::string("TUTTI_TOKEN=") + kToken;

  // Two rock trials (the Listen view needs two models of a genre) and one pop trial.
  WriteText(dir + "/rock.yaml", JobYaml("web-rock", dir + "/packs", "rock",
                                        "hyperparameters:\n  train.g_lr: {type: categorical, values: [0.001, 0.002]}\n"
                                        "searcher:\n  name: grid\n  metric: eval.realism.score\n  smaller_is_better: true\n"));
  WriteText(dir + "/pop.yaml", JobYaml("web-pop", dir + "/packs", "pop", ""));
  for (const char* job : {"rock.yaml", "pop.yaml"}) {
    CommandResult submitted = Tutti(address, "submit " + dir + "/" + job, env);
    ASSERT_EQ(submitted.exit_code, 0) << job << ": " << submitted.err;
  }
  // Two 1-rank trials side by side on the 2 ranks this agent gives.
  CommandResult agent = RunCommand(env + " TUTTI_COORDINATOR=" + address + " timeout -k 5 240 " + Bin("tutti") +
                                   " agent --ranks 2 --np 1 --exit-when-idle --poll 0.5 --work-dir " + dir + "/agent");
  ASSERT_EQ(agent.exit_code, 0) << agent.err;
  CommandResult experiments = Tutti(address, "experiments --json", env);
  ASSERT_EQ(experiments.exit_code, 0) << experiments.err;
  const nlohmann::json listed = Json(experiments);
  ASSERT_EQ(listed["experiments"].size(), 2u) << experiments.out;
  for (const auto& e : listed["experiments"]) {
    ASSERT_EQ(e["state"], "EXPERIMENT_COMPLETED") << e.dump() << "\n" << agent.err;
  }
  // A genre with an experiment but no checkpoint yet (its trial stays queued: the agent is gone): the page
  // lists it disabled, with the reason.
  WriteText(dir + "/jazz.yaml", JobYaml("web-jazz", dir + "/packs", "jazz", ""));
  CommandResult jazz = Tutti(address, "submit " + dir + "/jazz.yaml", env);
  ASSERT_EQ(jazz.exit_code, 0) << jazz.err;

  // The page, driven by a real browser. Each wait inside is time-boxed; `timeout` is the last resort.
  const std::string shots = dir + "/screenshots";
  CommandResult browser = RunCommand("timeout -k 5 400 node " + ShellQuote(kWebTestDir + "/page_test.js") +
                                     " --url " + url + " --out " + ShellQuote(shots) + " --token " + kToken +
                                     " --genre rock --disabled-genre jazz --seed 7 --timeout 60");
  KeepScreenshots(shots);
  std::cout << "page_test.js:\n" << browser.out << browser.err;
  EXPECT_EQ(browser.exit_code, 0) << "page_test.js failed (screenshots in " << TUTTI_WEB_ARTIFACTS_DIR << "):\n"
                                  << browser.out << browser.err << "\ncoordinator log:\n" << coordinator.log();
  EXPECT_THAT(browser.out, HasSubstr("PASS every check"));
  for (const char* name : {"compose.png", "experiments.png", "listen.png"}) {
    EXPECT_TRUE(fs::exists(shots + "/" + name)) << name;
  }
  EXPECT_EQ(coordinator.Stop(), 0) << coordinator.log();
}

}  // namespace
}  // namespace tutti::testing
