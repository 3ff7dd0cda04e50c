#pragma once
// A real tutti-coordinator for integration tests: started on 127.0.0.1 port 0 (the bound address comes
// back through --address-file), stopped by its own pid (SIGTERM for a clean stop, SIGKILL for a crash),
// never by name.

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace tutti::testing {

class CoordinatorProcess {
 public:
  // `home` is the state directory; `extra` more flags (e.g. {"--token-file", path}).
  CoordinatorProcess(std::string home, std::vector<std::string> extra = {});
  ~CoordinatorProcess();  // SIGKILL if still running

  // Starts it and waits (up to `timeout`) until it serves. False with the log in error() otherwise.
  // `same_address`: listen on the address of the previous start (a restart clients can find again)
  // instead of a fresh port 0.
  bool Start(std::chrono::seconds timeout = std::chrono::seconds(60), bool same_address = false);
  // SIGTERM, then waits for the exit code (SIGKILL after `timeout`). Returns the exit code.
  int Stop(std::chrono::seconds timeout = std::chrono::seconds(30));
  // SIGKILL and reap: a crash at an arbitrary instant.
  void Kill();

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  const std::string& address() const { return address_; }
  const std::string& home() const { return home_; }
  const std::string& log_path() const { return log_; }
  std::string log() const;
  const std::string& error() const { return error_; }

 private:
  std::string home_;
  std::vector<std::string> extra_;
  std::string log_;
  std::string address_;
  std::string error_;
  pid_t pid_ = -1;
  int starts_ = 0;
};

// Waits for `pid` up to `timeout`; returns its exit code (128+N for signal N), or -1 after SIGKILL.
int WaitForExit(pid_t pid, std::chrono::milliseconds timeout);

}  // namespace tutti::testing
