// tutti-ml: the LibTorch half of the `tutti` CLI (generate, metrics, accompany). Users call it through `tutti generate`
// and `tutti metrics`, which re-execute this binary with the same arguments (torch_commands.h).

#include "CLI/CLI.hpp"
#include "coordinator/cli/commands.h"
#include "core/base/interrupt.h"

int main(int argc, char** argv) {
  CLI::App app{"tutti — samples and metrics from checkpoints (LibTorch commands of the tutti CLI)."};
  app.name("tutti");
  app.require_subcommand(1);
  app.set_version_flag("--version", "tutti 0.1.0");
  int exit_code = 0;
  tutti::cli::RegisterGenerateCommand(app, &exit_code);
  tutti::cli::RegisterMetricsCommand(app, &exit_code);
  tutti::cli::RegisterAccompanyCommand(app, &exit_code);
  tutti::InstallInterruptHandler();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}
