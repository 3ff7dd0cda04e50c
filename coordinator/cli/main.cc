// tutti: the command-line tool. Data commands (synth-lpd, pack, pack-info, pack-verify, inspect) and the
// coordinator's client commands (submit, experiments, trials, describe, logs, kill, checkpoints, agent,
// generate --checkpoint-id) run here; generate --checkpoint FILE and metrics run in the sibling binary
// tutti-ml (see torch_commands.h), so this one starts instantly without LibTorch.

#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "coordinator/cli/commands.h"
#include "coordinator/cli/torch_commands.h"
#include "core/base/interrupt.h"

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "generate" && tutti::cli::IsRemoteGenerate(argc, argv)) {
    tutti::InstallInterruptHandler();
    return tutti::cli::RunRemoteGenerate(argc, argv);
  }
  if (argc > 1 && tutti::cli::IsTorchCommand(argv[1])) return tutti::cli::ExecTorchCommands(argc, argv);
  CLI::App app{
      "tutti — distributed training of multi-track music GANs.\n"
      "Turn LPD-5 (or your own MIDI) into training packs, inspect songs and packs, generate samples and\n"
      "measure them; submit jobs to a coordinator, run them with `tutti agent`, follow their trials and pull\n"
      "their checkpoints and samples (address: --coordinator or TUTTI_COORDINATOR, token: --token-file or\n"
      "TUTTI_TOKEN).\n"
      "Run `tutti <command> --help` for a command's options."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "tutti 0.1.0");
  int exit_code = 0;
  tutti::cli::RegisterDataCommands(app, &exit_code);
  tutti::cli::RegisterInspectCommand(app, &exit_code);
  tutti::cli::RegisterExperimentCommands(app, &exit_code);
  tutti::cli::RegisterCheckpointCommands(app, &exit_code);
  tutti::cli::RegisterSweepCommands(app, &exit_code);
  tutti::cli::RegisterListenCommands(app, &exit_code);
  tutti::cli::RegisterAgentCommand(app, &exit_code);
  tutti::cli::RegisterTorchCommandStubs(app);
  tutti::InstallInterruptHandler();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}
