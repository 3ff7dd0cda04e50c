// tutti-worker: trains one job in this process from its packs, with no coordinator.
//
// Exit status: 0 when the run completed, hit --max-seconds or was stopped by Ctrl-C / SIGTERM (in every
// case after writing a final checkpoint, whose path is printed); 1 with "error: <message>" on stderr for
// any failure; 2 for command-line usage errors. A second Ctrl-C exits at once (core/base/interrupt.h).

#include <cstdio>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "core/base/interrupt.h"
#include "core/config/job_config_yaml.h"
#include "worker/run/training_run.h"

namespace {

int Fail(const tutti::Status& status) {
  std::fprintf(stderr, "error: %s\n", std::string(status.message()).c_str());
  return 1;
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
      "once. Relative data.packs_dir and output_dir resolve against the current directory.",
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
  tutti::RunOptions options;
  options.resume = resume;
  options.max_seconds = max_seconds;
  options.show_progress = !quiet;
  auto run = tutti::TrainingRun::Create(*std::move(config), options);
  if (!run.ok()) return Fail(run.status());
  tutti::Status status = (*run)->Run();
  if (!status.ok()) {
    const std::string& last = (*run)->last_checkpoint();
    if (!last.empty()) std::fprintf(stderr, "the last good checkpoint is %s\n", last.c_str());
    return Fail(status);
  }
  const tutti::TrainingRun& r = **run;
  std::fprintf(stderr, "%s at step %lld; checkpoint: %s\n",
               r.stop_reason() == tutti::StopReason::kCompleted ? "done"
                                                                : tutti::StopReasonName(r.stop_reason()),
               static_cast<long long>(r.step()), r.last_checkpoint().c_str());
  return 0;
}
