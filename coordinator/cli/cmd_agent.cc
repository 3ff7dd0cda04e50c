// agent: lease trials from the coordinator and run each with mpirun + tutti-worker (coordinator/agent).

#include <cstdio>
#include <ctime>
#include <iostream>

#include "coordinator/agent/agent.h"
#include "coordinator/cli/cli_status.h"
#include "coordinator/cli/commands.h"
#include "coordinator/cli/remote.h"

namespace tutti::cli {
namespace {

struct AgentArgs {
  RemoteFlags remote;
  coord::AgentOptions options;
};

int RunAgent(AgentArgs& a) {
  StatusOr<rpc::ConnectionOptions> connection =
      rpc::ResolveConnectionOptions(a.remote.coordinator, a.remote.token_file, a.remote.tls_ca);
  if (!connection.ok()) return ReportFailure(connection.status());
  a.options.connection = *connection;
  a.options.token_file = a.remote.token_file;
  auto agent = coord::Agent::Create(a.options, [](const std::string& line) {
    std::time_t now = std::time(nullptr);
    char stamp[16];
    std::strftime(stamp, sizeof stamp, "%H:%M:%S", std::localtime(&now));
    std::fprintf(stderr, "%s %s\n", stamp, line.c_str());
  });
  if (!agent.ok()) return ReportFailure(agent.status());
  Status s = (*agent)->Run();
  if (s.code() == absl::StatusCode::kCancelled) return 130;
  if (!s.ok()) return ReportFailure(s);
  return 0;
}

}  // namespace

void RegisterAgentCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<AgentArgs>();
  CLI::App* agent = app.add_subcommand(
      "agent",
      "Run trials on this machine: lease them from the coordinator and start each with\n"
      "`mpirun -np R tutti-worker --coordinator ...`, R = the trial's resources.ranks (or --np), packing\n"
      "trials onto --ranks ranks (default: the cores) and dividing the cores between the ranks.\n"
      "Ctrl-C: the workers checkpoint, upload and hand their trials back; a second Ctrl-C terminates them.");
  agent->add_option("--np", args->options.np, "Ranks for trials whose experiment names none (resources.ranks 0)")
      ->default_val(1)
      ->check(CLI::PositiveNumber);
  agent->add_option("--ranks", args->options.ranks,
                    "Ranks this agent gives out at once; trials are packed onto them (0 = the machine's cores)")
      ->default_val(0)
      ->check(CLI::NonNegativeNumber);
  agent->add_option("--slots", args->options.slots, "Trials run at once at most (0 = as many as the ranks allow)")
      ->default_val(0)
      ->check(CLI::NonNegativeNumber);
  agent->add_option("--threads-per-rank", args->options.threads_per_rank,
                    "LibTorch threads per rank (0 = cores / (slots x np))")
      ->default_val(0);
  agent->add_option("--work-dir", args->options.work_dir, "Where trials keep local files (default $TMPDIR/tutti-agent-PID)");
  agent->add_flag("--keep-work-dirs", args->options.keep_work_dirs, "Keep a trial's local files after it ended");
  agent->add_option("--worker", args->options.worker_binary, "tutti-worker binary (default: beside tutti)");
  agent->add_option("--mpirun", args->options.mpirun, "MPI launcher")->default_val("mpirun");
  agent->add_option("--mpirun-arg", args->options.mpirun_args, "Extra argument for mpirun (repeatable)")->take_all();
  agent->add_option("--poll", args->options.poll_seconds, "Seconds between looks for queued trials")
      ->default_val(2)
      ->check(CLI::PositiveNumber);
  agent->add_flag("--exit-when-idle", args->options.exit_when_idle,
                  "Exit once no trial is queued and none runs (scripts, CI)");
  AddRemoteFlags(agent, &args->remote, /*with_json=*/false);
  agent->callback([args, exit_code] { *exit_code = RunAgent(*args); });
}

}  // namespace tutti::cli
