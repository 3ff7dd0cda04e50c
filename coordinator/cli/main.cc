// tutti: the command-line tool. Data commands (synth-lpd, pack, pack-info, pack-verify, inspect), samples
// and metrics from checkpoints (generate, metrics; LibTorch builds only); training and sweeps join as the
// coordinator lands (docs/architecture.md).

#include <cstdio>

#include "CLI/CLI.hpp"
#include "coordinator/cli/commands.h"
#include "core/base/interrupt.h"

int main(int argc, char** argv) {
  CLI::App app{
      "tutti — distributed training of multi-track music GANs.\n"
      "Turn LPD-5 (or your own MIDI) into training packs, inspect songs and packs, generate samples and\n"
      "measure them.\n"
      "Run `tutti <command> --help` for a command's options."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "tutti 0.1.0");
  int exit_code = 0;
  tutti::cli::RegisterDataCommands(app, &exit_code);
  tutti::cli::RegisterInspectCommand(app, &exit_code);
#ifdef TUTTI_CLI_WITH_TORCH
  tutti::cli::RegisterGenerateCommand(app, &exit_code);
  tutti::cli::RegisterMetricsCommand(app, &exit_code);
#endif
  tutti::InstallInterruptHandler();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}
