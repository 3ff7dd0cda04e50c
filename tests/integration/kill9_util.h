#pragma once
// Shared by the kill -9 tests (ctest label kill9): the seed that makes the random kill instants
// reproducible, SIGKILL at an instant with the outcome (did it land, or had the process already ended?),
// and small file helpers. Every process is started by the test itself and killed by its own pid.
//
// Replaying a failure: every test prints "[kill9] seed N"; TUTTI_KILL9_SEED=N gives the same instants
// (the same delays; what the process is doing at a delay still varies with the machine's speed).

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace tutti::testing {

// TUTTI_KILL9_SEED when set, a fresh random seed otherwise; printed (and recorded in the test's XML) either way.
inline uint64_t Kill9Seed() {
  uint64_t seed = 0;
  const char* env = std::getenv("TUTTI_KILL9_SEED");
  if (env != nullptr && *env != '\0') {
    seed = std::strtoull(env, nullptr, 10);
  } else {
    std::random_device device;
    seed = (static_cast<uint64_t>(device()) << 32) ^ device();
  }
  std::printf("[kill9] seed %llu (replay with TUTTI_KILL9_SEED=%llu)\n", static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  ::testing::Test::RecordProperty("kill9_seed", std::to_string(seed));
  return seed;
}

// What became of a process we meant to SIGKILL.
struct KillOutcome {
  bool landed = false;  // it was still running and died of our SIGKILL
  int exit_code = -1;   // when it had already ended by itself: its exit status (128+N for signal N)
};

inline int DecodeWaitStatus(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

// SIGKILL to `pid` unless it already exited, then reaps it (so its pid is really gone before the next run
// looks for owners of leftovers).
inline KillOutcome KillAndReap(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) == pid) return {false, DecodeWaitStatus(status)};
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) return {true, 128 + SIGKILL};
  return {false, DecodeWaitStatus(status)};  // it ended between the two calls
}

// Exit code of `pid` within `timeout_s`; -1 (after a SIGKILL) when it did not end in time.
inline int WaitForExitCode(pid_t pid, double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return DecodeWaitStatus(status);
}

// True while `pid` (our child) has not exited; never reaps it.
inline bool StillRunning(pid_t pid) {
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0;
}

inline double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

inline void SleepUntil(std::chrono::steady_clock::time_point start, double seconds) {
  std::this_thread::sleep_until(start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                            std::chrono::duration<double>(seconds)));
}

inline std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Lines of `text` that contain `needle`.
inline std::vector<std::string> LinesWith(const std::string& text, const std::string& needle) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(needle) != std::string::npos) lines.push_back(line);
  }
  return lines;
}

// Names in `dir` (not recursive) that contain `needle`, sorted; none when `dir` does not exist.
inline std::vector<std::string> NamesWith(const std::string& dir, const std::string& needle) {
  std::vector<std::string> names;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.find(needle) != std::string::npos) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace tutti::testing
