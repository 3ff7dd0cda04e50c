#pragma once
// The `tutti` CLI's subcommands. Each Register* adds its subcommands to the app; the selected
// subcommand's callback stores the process exit code in `*exit_code` (0 only on success).

#include "CLI/CLI.hpp"

namespace tutti::cli {

// synth-lpd, pack, pack-info, pack-verify.
void RegisterDataCommands(CLI::App& app, int* exit_code);
// inspect SONG.npz|SONG.mid.
void RegisterInspectCommand(CLI::App& app, int* exit_code);

// Built only with LibTorch (target tutti_cli_torch; main.cc registers them when TUTTI_CLI_WITH_TORCH is set).
// generate --checkpoint C -n N --seed S --out DIR: samples as MIDI/.npz/PNG/WAV (cmd_generate.cc).
void RegisterGenerateCommand(CLI::App& app, int* exit_code);
// metrics --packs DIR [--checkpoint C]: MuseGAN metrics of real (and generated) samples (cmd_metrics.cc).
void RegisterMetricsCommand(CLI::App& app, int* exit_code);

}  // namespace tutti::cli
