#pragma once
// The `tutti` CLI's subcommands. Each Register* adds its subcommands to the app; the selected
// subcommand's callback stores the process exit code in `*exit_code` (0 only on success).

#include "CLI/CLI.hpp"

namespace tutti::cli {

// synth-lpd, pack, pack-info, pack-verify.
void RegisterDataCommands(CLI::App& app, int* exit_code);
// inspect SONG.npz|SONG.mid.
void RegisterInspectCommand(CLI::App& app, int* exit_code);

}  // namespace tutti::cli
