#include "tests/testing/coordinator_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/testing/run_command.h"

namespace tutti::testing {

CoordinatorProcess::CoordinatorProcess(std::string home, std::vector<std::string> extra)
    : home_(std::move(home)), extra_(std::move(extra)) {}

CoordinatorProcess::~CoordinatorProcess() {
  if (pid_ > 0) Kill();
}

std::string CoordinatorProcess::log() const {
  std::ifstream in(log_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool CoordinatorProcess::Start(std::chrono::seconds timeout, bool same_address) {
  std::filesystem::create_directories(home_);
  const std::string address_file = home_ + ".addr";
  std::filesystem::remove(address_file);
  log_ = home_ + ".log." + std::to_string(starts_++);
  const std::string listen = same_address && !address_.empty() ? address_ : "127.0.0.1:0";
  std::vector<std::string> args = {std::string(TUTTI_BIN_DIR) + "/tutti-coordinator", "--home", home_, "--listen",
                                   listen, "--address-file", address_file, "--grace", "2"};
  args.insert(args.end(), extra_.begin(), extra_.end());
  pid_ = SpawnWithLog(args, log_);
  if (pid_ < 0) {
    error_ = "cannot start " + args[0];
    return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(address_file);
    std::string address;
    if (in >> address && !address.empty()) {
      address_ = address;
      return true;
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      error_ = "tutti-coordinator exited at start:\n" + log();
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  error_ = "tutti-coordinator did not serve within the timeout:\n" + log();
  Kill();
  return false;
}

int WaitForExit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int CoordinatorProcess::Stop(std::chrono::seconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  const int code = WaitForExit(pid_, timeout);
  pid_ = -1;
  return code;
}

void CoordinatorProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

}  // namespace tutti::testing
