#pragma once
// Runs a real process for integration tests and captures what it printed.

#include <string>

namespace tutti::testing {

struct CommandResult {
  int exit_code = -1;   // the process's exit status; 128+N when killed by signal N
  std::string out;      // stdout
  std::string err;      // stderr
};

// Runs `command` through /bin/sh with stdout and stderr captured to temporary files.
CommandResult RunCommand(const std::string& command);

// A fresh empty directory under the test temp dir.
std::string FreshTempDir(const std::string& name);

// Single-quotes `s` for /bin/sh.
std::string ShellQuote(const std::string& s);

}  // namespace tutti::testing
