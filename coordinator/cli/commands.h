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
// accompany --checkpoint C --input SONG --out DIR: an accompaniment model around the user's part (cmd_accompany.cc).
void RegisterAccompanyCommand(CLI::App& app, int* exit_code);

// Coordinator commands (tutti_cli_remote; gRPC client, torch-free):
// submit, experiments, trials, describe, logs, kill (cmd_experiments.cc).
void RegisterExperimentCommands(CLI::App& app, int* exit_code);
// checkpoints [TRIAL] | checkpoints download ID | checkpoints delete ID (cmd_checkpoints.cc).
void RegisterCheckpointCommands(CLI::App& app, int* exit_code);
// validate, pause, resume, extend, fork, best (cmd_sweeps.cc).
void RegisterSweepCommands(CLI::App& app, int* exit_code);
// sample, genres, leaderboard, ratings (cmd_listen.cc).
void RegisterListenCommands(CLI::App& app, int* exit_code);
// agent --np N --slots K (cmd_agent.cc).
void RegisterAgentCommand(CLI::App& app, int* exit_code);
// `tutti generate --checkpoint-id ID | --trial ID ...`: samples made by the coordinator (cmd_checkpoints.cc).
// argv[1] is "generate".
int RunRemoteGenerate(int argc, char** argv);
// True when `tutti generate` was given --checkpoint-id or --trial (the coordinator makes the samples).
bool IsRemoteGenerate(int argc, char** argv);

}  // namespace tutti::cli
