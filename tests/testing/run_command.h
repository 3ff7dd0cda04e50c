#pragma once
// Runs a real process for integration tests and captures what it printed.

#include <sys/types.h>

#include <string>
#include <vector>

namespace tutti::testing {

struct CommandResult {
  int exit_code = -1;   // the process's exit status; 128+N when killed by signal N
  std::string out;      // stdout
  std::string err;      // stderr
};

// Runs `command` through /bin/sh with stdout and stderr captured to temporary files.
CommandResult RunCommand(const std::string& command);

// Starts args[0] (searched on PATH when it has no '/') with args, stdout and stderr both written to `log`
// (truncated first), without a shell. Returns the child's pid, or -1 when it could not be started.
pid_t SpawnWithLog(const std::vector<std::string>& args, const std::string& log);

// A fresh empty directory under the test temp dir.
std::string FreshTempDir(const std::string& name);

// Single-quotes `s` for /bin/sh.
std::string ShellQuote(const std::string& s);

}  // namespace tutti::testing
