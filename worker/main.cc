// tutti-worker: trains one job from its packs, with no coordinator: alone, or as one rank of a
// data-parallel job (`mpirun -np N tutti-worker ...` or `srun --mpi=pmix tutti-worker ...`: the
// communicator factory recognises the launcher from its environment; protocol in worker/run/distributed.h).
//
// Exit status: 0 when the run completed, hit --max-seconds or was stopped by Ctrl-C / SIGTERM (in every
// case after writing a final checkpoint, whose path is printed); 1 with "error: <message>" on stderr for
// any failure; 2 for command-line usage errors. A second Ctrl-C exits at once (core/base/interrupt.h).
// With several ranks a failure on any rank prints "[rank r] aborting the job: [rank r] step s: <cause>"
// and takes the whole job down (Communicator::Abort; mpirun then exits non-zero).
//
// Fault injection, for tests only (read here and nowhere else):
//   TUTTI_TEST_EXIT_RANK=r TUTTI_TEST_EXIT_STEP=s    rank r calls _exit(3) just before step s, like a crash;
//   TUTTI_TEST_STALL_RANK=r TUTTI_TEST_STALL_STEP=s  rank r sleeps TUTTI_TEST_STALL_SECONDS (default 3600)
//                                                    just before step s, like a hung rank;

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "core/base/interrupt.h"
#include "core/config/job_config_yaml.h"
#include "worker/comm/comm_factory.h"
#include "worker/run/distributed.h"
#include "worker/run/training_run.h"

namespace {

int Fail(const tutti::Status& status) {
  std::fprintf(stderr, "error: %s\n", std::string(status.message()).c_str());
  return 1;
}

// -1 when `name` is unset.
long EnvNumber(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? -1 : std::atol(value);
}

// The TUTTI_TEST_* hooks of the file comment for this rank; empty when none applies.
std::function<void(int64_t)> FaultInjection(int rank) {
  const long exit_step = EnvNumber("TUTTI_TEST_EXIT_RANK") == rank ? EnvNumber("TUTTI_TEST_EXIT_STEP") : -1;
  const long stall_step = EnvNumber("TUTTI_TEST_STALL_RANK") == rank ? EnvNumber("TUTTI_TEST_STALL_STEP") : -1;
  if (exit_step < 0 && stall_step < 0) return {};
  const long stall_s = EnvNumber("TUTTI_TEST_STALL_SECONDS") < 0 ? 3600 : EnvNumber("TUTTI_TEST_STALL_SECONDS");
  return [exit_step, stall_step, stall_s](int64_t step) {
    if (step == exit_step) _exit(3);  // no clean-up, no message: what a crashed rank leaves behind
    if (step == stall_step) std::this_thread::sleep_for(std::chrono::seconds(stall_s));
  };
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "tutti-worker: train one MuseGAN-style multi-track music GAN from packs, in this process.\n"
      "\n"
      "Reads a job config (YAML, see configs/quickstart.yaml and core/config/job_config.h), opens the packs\n"
      "data.packs_dir/<genre> written by `tutti pack`, and trains for train.steps generator steps (WGAN-GP).\n"
      "Outputs, all under output_dir:\n"
      "  config.yaml               the resolved config (file + --set)\n"
      "  <train.metrics_file>      JSON lines: losses every train.log_every steps, metrics every eval.every\n"
      "  <checkpoint.dir>/ckpt-<step>.tutti   every checkpoint.every steps and at the end (newest\n"
      "                            checkpoint.keep kept); continue a run with --resume latest\n"
      "Ctrl-C stops after the current step and writes a final checkpoint (exit 0); a second Ctrl-C exits at\n"
      "once. Relative data.packs_dir and output_dir resolve against the current directory.\n"
      "\n"
      "Data-parallel: `mpirun -np N tutti-worker ...` or, under Slurm, `srun --mpi=pmix tutti-worker ...`\n"
      "(distributed.* in the config). Each rank trains on its own train.batch_size rows of every global batch\n"
      "of N x train.batch_size; gradients are averaged, so the result equals one process with the global\n"
      "batch. Rank 0 alone logs, evaluates and checkpoints (output_dir must be on a shared filesystem for\n"
      "--resume). A failing or stalled rank brings the job down with a message naming the rank and step.",
      "tutti-worker"};
  std::string config_path, resume;
  std::vector<std::string> overrides;
  double max_seconds = 0;
  bool quiet = false;
  app.add_option("--config", config_path, "Job config file (YAML)")->required();
  app.add_option("--set", overrides,
                 "Override one config key, e.g. --set train.steps=2000 --set data.genres=[rock,pop] (repeatable; "
                 "applied after the file, in order)")
      ->take_last()
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--resume", resume,
                 "Continue from a checkpoint: a .tutti file, or 'latest' for the newest one in the job's checkpoint "
                 "directory (starts from scratch when there is none)");
  app.add_option("--max-seconds", max_seconds,
                 "Stop after this many seconds of training (0 = no limit) and write a final checkpoint")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--quiet,-q", quiet, "No progress line, eval or checkpoint messages (errors still go to stderr)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints the message and the usage hint
    return 2;
  }

  tutti::InstallInterruptHandler();
  tutti::StatusOr<tutti::JobConfig> config = tutti::LoadJobConfig(config_path, overrides);
  if (!config.ok()) return Fail(config.status());

  // The communicator: LocalCommunicator without a launcher, MPI (CPU tensors) or NCCL (CUDA tensors)
  // under mpirun / srun, per distributed.backend.
  auto comm = tutti::comm::CreateCommunicator(tutti::CommOptionsFromConfig(*config));
  if (!comm.ok()) return Fail(tutti::Annotate(comm.status(), "creating the communicator"));
  tutti::comm::Communicator& c = **comm;
  const bool distributed = c.size() > 1;
  if (!quiet) {
    std::fprintf(stderr, "rank %d/%d (local %d/%d), backend %s\n", c.rank(), c.size(), c.local_rank(),
                 c.local_size(), c.backend().c_str());
  }
  tutti::RunOptions options;
  options.resume = resume;
  options.max_seconds = max_seconds;
  options.show_progress = !quiet;
  options.rank = c.rank();
  options.world_size = c.size();
  options.local_ranks = c.local_size();
  options.communicator = &c;
  options.before_step = FaultInjection(c.rank());
  auto run = tutti::TrainingRun::Create(*std::move(config), options);
  if (!run.ok()) {
    // A rank that cannot start must not leave the others waiting in the start-up collectives.
    if (distributed) c.Abort(tutti::AtRankStep(run.status(), c.rank(), -1));
    return Fail(run.status());
  }
  tutti::Status status = (*run)->Run();
  if (!status.ok()) {
    const std::string& last = (*run)->last_checkpoint();
    if (!last.empty()) std::fprintf(stderr, "the last good checkpoint is %s\n", last.c_str());
    if (distributed) c.Abort(status);  // already "[rank r] step s: <cause>"
    return Fail(status);
  }
  const tutti::TrainingRun& r = **run;
  if (c.rank() != 0) return 0;  // rank 0 reports for the job
  std::fprintf(stderr, "%s at step %lld; checkpoint: %s\n",
               r.stop_reason() == tutti::StopReason::kCompleted ? "done"
                                                                : tutti::StopReasonName(r.stop_reason()),
               static_cast<long long>(r.step()), r.last_checkpoint().c_str());
  return 0;
}
