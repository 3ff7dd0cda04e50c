#pragma once
// generate and metrics need LibTorch, and merely loading LibTorch costs ~0.5 s and ~150 MB of memory at
// start-up. So they live in a sibling binary, tutti-ml, and `tutti generate ...` / `tutti metrics ...`
// re-execute as `tutti-ml generate ...` from the same folder: the data commands (pack, pack-info, ...) start
// instantly and `tutti pack`'s memory stays that of the work it does.

#include "CLI/CLI.hpp"

namespace tutti::cli {

// True for "generate", "metrics" and "accompany".
bool IsTorchCommand(const char* name);

// Replaces this process with <folder of this executable>/tutti-ml and the same arguments. Returns only on
// failure (exit code 1 with a message saying what is missing).
int ExecTorchCommands(int argc, char** argv);

// Lists generate and metrics in `tutti --help` (they never run here: main() hands them over first).
void RegisterTorchCommandStubs(CLI::App& app);

}  // namespace tutti::cli
