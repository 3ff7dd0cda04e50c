// tutti-worker: trains one job from its packs — a job file given with --config, or a trial leased from a
// coordinator with --coordinator ADDR (worker/coord/coordinated_run.h: lease, download the newest checkpoint,
// train with heartbeats, metrics and checkpoint uploads, then complete / hand back / fail) — alone, or as one
// rank of a data-parallel job (`mpirun -np N tutti-worker ...` or `srun --mpi=pmix tutti-worker ...`: the
// communicator factory recognises the launcher from its environment; protocol in worker/run/distributed.h).
//
// Output: rank 0 installs a ConsoleObserver (worker/run/console_observer.h) on the TrainingRun: progress
// line, eval and checkpoint lines, "resuming from ..."; with --quiet only the resume line and notes. The
// outcome line is printed here: "<done|time limit|interrupted|stopped by the coordinator|pruned> at step
// N; checkpoint: <path>".
//
// SIGUSR1 (what mpirun forwards to every rank, and what Slurm's --signal=USR1@SECONDS sends before a time
// limit) stops cleanly like Ctrl-C: checkpoint, then stop; under a coordinator the trial is handed back.
//
// Exit status: 0 when the run completed, hit --max-seconds, was stopped by Ctrl-C / SIGTERM or by its
// control (in every case after writing a final checkpoint, whose path is printed); 1 with "error:
// <message>" on stderr for any failure; 2 for command-line usage errors. A second Ctrl-C exits at once
// (core/base/interrupt.h). With several ranks a failure on any rank prints "[rank r] aborting the job:
// [rank r] step s: <cause>" and takes the whole job down (Communicator::Abort; mpirun then exits non-zero).
//
// Fault injection, for tests only (read here and nowhere else):
//   TUTTI_TEST_EXIT_RANK=r TUTTI_TEST_EXIT_STEP=s    rank r calls _exit(3) just before step s, like a crash;
//   TUTTI_TEST_STALL_RANK=r TUTTI_TEST_STALL_STEP=s  rank r sleeps TUTTI_TEST_STALL_SECONDS (default 3600)
//                                                    just before step s, like a hung rank;
//   TUTTI_TEST_CONTROL_STOP_STEP=s                   rank 0 installs a RunControl that asks to stop once s
//                                                    steps are done (Poll(s)): every rank stops at step s;
//                                                    TUTTI_TEST_CONTROL_REASON=pruned makes it kPruned
//                                                    (default kByCoordinator), message "test control";
//   TUTTI_TEST_CONTROL_CHECKPOINT_STEP=c             that control asks for a checkpoint at Poll(c), i.e.
//                                                    of step c + 1 (rank 0 writes it; the run goes on).

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <csignal>

#include "CLI/CLI.hpp"
#include "core/base/allocator_tuning.h"
#include "core/base/interrupt.h"
#include "proto/client/channel.h"
#include "worker/coord/coordinated_run.h"
#include "core/config/job_config_yaml.h"
#include "worker/comm/comm_factory.h"
#include "worker/run/console_observer.h"
#include "worker/run/distributed.h"
#include "worker/run/run_observer.h"
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

// The TUTTI_TEST_CONTROL_* control of the file comment (rank 0); null when neither variable is set.
class TestControl final : public tutti::RunControl {
 public:
  static std::unique_ptr<TestControl> FromEnvironment() {
    const long stop = EnvNumber("TUTTI_TEST_CONTROL_STOP_STEP");
    const long checkpoint = EnvNumber("TUTTI_TEST_CONTROL_CHECKPOINT_STEP");
    if (stop < 0 && checkpoint < 0) return nullptr;
    const char* reason = std::getenv("TUTTI_TEST_CONTROL_REASON");
    const bool pruned = reason != nullptr && std::string(reason) == "pruned";
    return std::unique_ptr<TestControl>(new TestControl(stop, checkpoint, pruned));
  }
  tutti::ControlDecision Poll(int64_t step) override {
    if (step == stop_) {
      return tutti::ControlDecision::Stop(pruned_ ? tutti::StopReason::kPruned : tutti::StopReason::kByCoordinator,
                                          "test control");
    }
    if (step == checkpoint_) return tutti::ControlDecision::CheckpointNow();
    return tutti::ControlDecision::Continue();
  }

 private:
  TestControl(long stop, long checkpoint, bool pruned) : stop_(stop), checkpoint_(checkpoint), pruned_(pruned) {}
  const long stop_, checkpoint_;  // -1: never
  const bool pruned_;
};

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
      "batch. Rank 0 alone logs, evaluates and checkpoints; on --resume it reads the checkpoint and sends it\n"
      "to the other ranks, so only rank 0 needs output_dir. A failing or stalled rank brings the job down\n"
      "with a message naming the rank and step.\n"
      "\n"
      "With a coordinator: `tutti-worker --coordinator HOST:PORT` (or started by `tutti agent`) leases a\n"
      "queued trial, resumes it from its newest stored checkpoint, trains, and sends metrics and every\n"
      "checkpoint to the coordinator; Ctrl-C or SIGUSR1 hands the trial back after a final checkpoint.\n"
      "Exit code 4: no trial was queued within --wait seconds.",
      "tutti-worker"};
  std::string config_path, resume;
  std::vector<std::string> overrides;
  double max_seconds = 0;
  bool quiet = false;
  std::string coordinator, token_file, tls_ca, lease_id, work_dir, pack_cache;
  double wait_s = 0;
  double pack_cache_mb = 10240;
  int threads_per_rank = 0;
  auto* source = app.add_option_group("job", "What to train (exactly one)");
  source->add_option("--config", config_path, "Job config file (YAML)");
  source->add_option("--coordinator", coordinator,
                     "Lease a trial from this coordinator (host:port; default $TUTTI_COORDINATOR) instead of --config");
  source->require_option(1);
  app.add_option("--token-file", token_file, "With --coordinator: file holding its token (default $TUTTI_TOKEN)");
  app.add_option("--tls-ca", tls_ca, "With --coordinator: PEM roots to verify a TLS coordinator");
  app.add_option("--lease", lease_id, "With --coordinator: adopt this lease (set by `tutti agent`)");
  app.add_option("--wait", wait_s, "With --coordinator: seconds to wait for a queued trial (default 0: ask once)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--work-dir", work_dir,
                 "With --coordinator: local files of the trial go to WORK_DIR/trial-<id> (default "
                 "$TMPDIR/tutti-worker-<pid>)");
  app.add_option("--pack-cache", pack_cache,
                 "With --coordinator: node-local cache of packs fetched from the coordinator when a trial's pinned "
                 "packs are not in its packs_dir here (default $TMPDIR/tutti-pack-cache; shared by the node's ranks)");
  app.add_option("--pack-cache-mb", pack_cache_mb,
                 "With --coordinator: bound on the pack cache in MiB; least recently used packs go first [10240]")
      ->check(CLI::PositiveNumber);
  app.add_option("--threads-per-rank", threads_per_rank,
                 "LibTorch threads per rank when the config says 0 (0 = cores / ranks on this node)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--set", overrides,
                 "Override one config key, e.g. --set train.steps=2000 --set data.genres=[rock,pop] (repeatable; "
                 "applied after the file, in order)")
      ->take_last()
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--resume", resume,
                 "Continue from a checkpoint: a .tutti file, or 'latest' for the newest one in the job's checkpoint "
                 "directory (starts from scratch when there is none; fails when the directory cannot be read)");
  app.add_option("--max-seconds", max_seconds,
                 "Stop after this many seconds of training (0 = no limit) and write a final checkpoint")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--quiet,-q", quiet,
               "No progress line, eval or checkpoint messages (errors, the resume line and the outcome still go to "
               "stderr)");
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

  tutti::KeepFreedMemoryForReuse();  // before any thread starts
  tutti::InstallInterruptHandler("checkpoint, then stop");
  tutti::InstallGracefulStopSignal(SIGUSR1);
  if (!coordinator.empty()) {
    tutti::StatusOr<tutti::rpc::ConnectionOptions> connection =
        tutti::rpc::ResolveConnectionOptions(coordinator, token_file, tls_ca);
    if (!connection.ok()) return Fail(connection.status());
    tutti::worker::CoordinatedOptions o;
    o.connection = *connection;
    o.lease_id = lease_id;
    o.wait_seconds = wait_s;
    if (work_dir.empty()) {
      const char* tmp = std::getenv("TMPDIR");
      work_dir = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/tutti-worker-" + std::to_string(::getpid());
    }
    o.work_dir = work_dir;
    if (pack_cache.empty()) {
      const char* tmp = std::getenv("TMPDIR");
      pack_cache = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/tutti-pack-cache";
    }
    o.pack_cache_dir = pack_cache;
    o.pack_cache_bytes = static_cast<int64_t>(pack_cache_mb * (1 << 20));
    o.threads_per_rank = threads_per_rank;
    o.overrides = overrides;
    o.max_seconds = max_seconds;
    // Built before the rank is known: only rank 0's TrainingRun reports to it.
    tutti::ConsoleObserver console(tutti::ConsoleObserverOptions{/*progress=*/!quiet});
    o.console = &console;
    const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
    const int my_rank = rank == nullptr ? 0 : std::atoi(rank);
    o.before_step = FaultInjection(my_rank);
    o.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
    return tutti::worker::RunCoordinatedTrial(o);
  }
  if (!lease_id.empty() || wait_s > 0 || !work_dir.empty() || !pack_cache.empty()) {
    std::fprintf(stderr, "error: --lease, --wait, --work-dir and --pack-cache need --coordinator\n");
    return 2;
  }
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
  // Rank 0 reports for the job (the library ignores observers and controls on other ranks anyway).
  tutti::ConsoleObserver console(tutti::ConsoleObserverOptions{/*progress=*/!quiet});
  std::unique_ptr<TestControl> test_control = c.rank() == 0 ? TestControl::FromEnvironment() : nullptr;
  tutti::RunOptions options;
  if (threads_per_rank > 0 && config->train.intra_op_threads == 0) config->train.intra_op_threads = threads_per_rank;
  options.resume = resume;
  options.max_seconds = max_seconds;
  options.observer = c.rank() == 0 ? &console : nullptr;
  options.control = test_control.get();
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
  // The control's reason says why a coordinator stopped the run; the local stops explain themselves.
  const bool controlled =
      r.stop_reason() == tutti::StopReason::kByCoordinator || r.stop_reason() == tutti::StopReason::kPruned;
  const std::string why = controlled && !r.stop_message().empty() ? " (" + r.stop_message() + ")" : "";
  std::fprintf(stderr, "%s at step %lld%s; checkpoint: %s\n",
               r.stop_reason() == tutti::StopReason::kCompleted ? "done"
                                                                : tutti::StopReasonName(r.stop_reason()),
               static_cast<long long>(r.step()), why.c_str(), r.last_checkpoint().c_str());
  return 0;
}
