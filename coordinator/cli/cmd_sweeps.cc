// validate, pause, resume, extend, fork, best: the sweep commands. `validate` needs no coordinator.

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "coordinator/cli/cli_status.h"
#include "coordinator/cli/commands.h"
#include "coordinator/cli/remote.h"
#include "coordinator/cli/table.h"
#include "core/base/interrupt.h"
#include "core/config/experiment_config_yaml.h"
#include "core/sweep/searcher.h"
#include "tutti/v1/checkpoint_service.grpc.pb.h"
#include "tutti/v1/experiment_service.grpc.pb.h"

namespace tutti::cli {

std::string StateName(v1::TrialState state);
std::string StateName(v1::ExperimentState state);

namespace {

struct ValidateArgs {
  std::string file;
  std::vector<std::string> overrides;
  int ranks = 0;  // the ranks the workers will give; 0 = not checked
  bool json = false;
};

const char* TypeName(sweep::HyperparameterSpec::Type t) {
  switch (t) {
    case sweep::HyperparameterSpec::Type::kConst: return "const";
    case sweep::HyperparameterSpec::Type::kInt: return "int";
    case sweep::HyperparameterSpec::Type::kDouble: return "double";
    case sweep::HyperparameterSpec::Type::kLogUniform: return "log_uniform";
    case sweep::HyperparameterSpec::Type::kCategorical: return "categorical";
  }
  return "?";
}

int RunValidate(const ValidateArgs& a) {
  StatusOr<ExperimentConfig> config = LoadExperimentConfig(a.file, a.overrides);
  if (config.ok()) {
    if (Status fits = CheckFitsRanks(*config, a.ranks, a.file); !fits.ok()) config = fits;
  }
  if (!config.ok()) {
    if (a.json) {
      std::cout << nlohmann::json{{"file", a.file}, {"valid", false}, {"errors", [&] {
                                    std::vector<std::string> lines;
                                    std::string m(config.status().message());
                                    size_t start = 0;
                                    while (start <= m.size()) {
                                      size_t nl = m.find('\n', start);
                                      if (nl == std::string::npos) nl = m.size();
                                      lines.push_back(m.substr(start, nl - start));
                                      start = nl + 1;
                                    }
                                    return lines;
                                  }()}}
                       .dump(1)
                << "\n";
    } else {
      std::string m(config.status().message());
      size_t count = 1;
      for (char c : m) count += c == '\n';
      std::fprintf(stderr, "%s\n%s: %zu error%s\n", m.c_str(), a.file.c_str(), count, count == 1 ? "" : "s");
    }
    return 1;
  }
  const sweep::SearcherConfig searcher = ToSearcherConfig(*config);
  nlohmann::json plan = {{"file", a.file},
                         {"valid", true},
                         {"name", config->job.name},
                         {"searcher", config->searcher.name},
                         {"metric", searcher.metric},
                         {"max_length", searcher.max_length},
                         {"ranks", config->resources.ranks}};
  std::string trials;
  if (searcher.kind == sweep::SearcherConfig::Kind::kGrid) {
    StatusOr<std::vector<sweep::Assignment>> points = sweep::GridPoints(config->hyperparameters);
    trials = absl::StrCat(points.ok() ? points->size() : 0, " (every grid point)");
    plan["trials"] = points.ok() ? points->size() : 0;
  } else {
    trials = std::to_string(searcher.max_trials);
    plan["trials"] = searcher.max_trials;
  }
  if (searcher.kind == sweep::SearcherConfig::Kind::kAsha) plan["rungs"] = sweep::AshaRungLengths(searcher);
  if (a.json) {
    std::cout << plan.dump(1) << "\n";
    return 0;
  }
  std::cout << a.file << ": valid\n"
            << "  experiment   " << config->job.name << (config->description.empty() ? "" : " — " + config->description)
            << "\n"
            << "  searcher     " << config->searcher.name << ", " << trials << " trial(s), ranked by " << searcher.metric
            << " (" << (searcher.smaller_is_better ? "smaller" : "larger") << " is better)\n";
  if (searcher.kind == sweep::SearcherConfig::Kind::kAsha) {
    std::string rungs;
    for (int64_t r : sweep::AshaRungLengths(searcher)) rungs += (rungs.empty() ? "" : ", ") + std::to_string(r);
    std::cout << "  rungs        " << rungs << " steps (the best 1/" << searcher.divisor << " go on)\n";
  } else {
    std::cout << "  length       " << searcher.max_length << " steps per trial\n";
  }
  std::cout << "  ranks        "
            << (config->resources.ranks == 0 ? std::string("the agent's --np") : std::to_string(config->resources.ranks))
            << " per trial\n";
  for (const sweep::HyperparameterSpec& h : config->hyperparameters) {
    std::string range;
    if (!h.values.empty()) {
      for (const std::string& v : h.values) range += (range.empty() ? "" : " | ") + v;
    } else {
      range = absl::StrCat("[", FormatValue(h.min), ", ", FormatValue(h.max), "]");
    }
    std::cout << "  " << h.path << "  " << TypeName(h.type) << " " << range
              << (h.grid_count > 0 ? absl::StrCat(" (", h.grid_count, " grid points)") : "") << "\n";
  }
  return 0;
}

struct ExperimentArgs {
  RemoteFlags remote;
  int64_t id = 0;
  int max_trials = 0;
  int64_t checkpoint = 0;
  std::vector<std::string> overrides;
  std::string genre;
  std::string metric;
  bool larger = false;
};

// pause / resume / extend: one call returning the experiment.
template <typename Request, typename Response, typename Method>
int RunExperimentCall(const ExperimentArgs& a, const std::string& what, Request request, Method method,
                      const std::string& done) {
  auto connection = Connect(a.remote);
  if (!connection.ok()) return ReportFailure(connection.status());
  auto stub = v1::ExperimentService::NewStub((*connection)->channel());
  Response response;
  Status s = Unary(**connection, a.remote, what,
                   [&](grpc::ClientContext* c) { return ((*stub).*method)(c, request, &response); });
  if (!s.ok()) return ReportFailure(s);
  if (a.remote.json) {
    std::cout << ToJson(response) << "\n";
  } else {
    std::cout << "experiment " << a.id << ": " << StateName(response.experiment().state()) << done << "\n";
  }
  return 0;
}

int RunFork(const ExperimentArgs& a) {
  auto connection = Connect(a.remote);
  if (!connection.ok()) return ReportFailure(connection.status());
  auto stub = v1::ExperimentService::NewStub((*connection)->channel());
  v1::ForkTrialRequest request;
  request.set_trial_id(a.id);
  request.set_checkpoint_id(a.checkpoint);
  for (const std::string& o : a.overrides) request.add_overrides(o);
  v1::ForkTrialResponse response;
  Status s = Unary(**connection, a.remote, absl::StrCat("forking trial ", a.id),
                   [&](grpc::ClientContext* c) { return stub->ForkTrial(c, request, &response); });
  if (!s.ok()) return ReportFailure(s);
  if (a.remote.json) {
    std::cout << ToJson(response) << "\n";
  } else {
    std::cout << "trial " << response.trial().id() << " forked from trial " << a.id << " ("
              << response.trial().message() << "), " << StateName(response.trial().state()) << "\n";
  }
  return 0;
}

int RunBest(const ExperimentArgs& a) {
  auto connection = Connect(a.remote);
  if (!connection.ok()) return ReportFailure(connection.status());
  auto stub = v1::CheckpointService::NewStub((*connection)->channel());
  v1::BestCheckpointRequest request;
  request.set_genre(a.genre);
  request.set_metric(a.metric);
  request.set_larger_is_better(a.larger);
  v1::BestCheckpointResponse response;
  Status s = Unary(**connection, a.remote, absl::StrCat("finding the best checkpoint of ", a.genre),
                   [&](grpc::ClientContext* c) { return stub->BestCheckpoint(c, request, &response); });
  if (!s.ok()) return ReportFailure(s);
  if (a.remote.json) {
    std::cout << ToJson(response) << "\n";
    return 0;
  }
  const v1::Checkpoint& c = response.checkpoint();
  std::cout << "best " << a.genre << " checkpoint: " << c.id() << " (trial " << c.trial_id() << " of experiment "
            << c.experiment_id() << " '" << response.experiment_name() << "', step " << c.step() << "), "
            << (a.metric.empty() ? "eval.realism.score" : a.metric) << " " << FormatValue(response.value()) << " (best of "
            << response.candidates() << ")\n";
  return 0;
}

// Waits for an experiment to end, printing a line whenever its trial counts change. Exit code 0 when it
// completed, 1 when it failed or was killed (or on error), 130 on Ctrl-C.
int RunWait(const ExperimentArgs& a, double timeout_s) {
  auto connection = Connect(a.remote);
  if (!connection.ok()) return ReportFailure(connection.status());
  auto stub = v1::ExperimentService::NewStub((*connection)->channel());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  std::string last;
  while (true) {
    v1::ListExperimentsResponse list;
    Status s = Unary(**connection, a.remote, "listing experiments",
                     [&](grpc::ClientContext* c) { return stub->ListExperiments(c, v1::ListExperimentsRequest(), &list); });
    if (!s.ok()) return ReportFailure(s);
    const v1::Experiment* found = nullptr;
    for (const v1::Experiment& e : list.experiments()) {
      if (e.id() == a.id) found = &e;
    }
    if (found == nullptr) return ReportFailure(absl::NotFoundError(absl::StrCat("experiment ", a.id, " not found")));
    std::map<std::string, int64_t> counts(found->trial_counts().begin(), found->trial_counts().end());
    std::string line = absl::StrCat(StateName(found->state()), ", ",
                                    static_cast<int>(std::lround(found->progress() * 100)), "%:");
    for (const auto& [state, n] : counts) absl::StrAppend(&line, " ", n, " ", state);
    if (line != last) {
      std::cerr << "experiment " << a.id << " " << line << "\n";
      last = line;
    }
    if (found->state() == v1::EXPERIMENT_COMPLETED) return 0;
    if (found->state() == v1::EXPERIMENT_FAILED || found->state() == v1::EXPERIMENT_KILLED) {
      std::cerr << "experiment " << a.id << ": " << found->message() << "\n";
      return 1;
    }
    if (InterruptRequested()) return 130;
    if (std::chrono::steady_clock::now() >= deadline) {
      std::cerr << "error: experiment " << a.id << " still running after " << timeout_s << " s\n";
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace

void RegisterSweepCommands(CLI::App& app, int* exit_code) {
  auto wait_args = std::make_shared<ExperimentArgs>();
  auto wait_timeout = std::make_shared<double>(86400.0 * 7);
  CLI::App* wait = app.add_subcommand(
      "wait", "Wait until an experiment ends, printing its trial counts as they change (exit 0 = completed)");
  wait->add_option("experiment", wait_args->id, "Experiment id")->required();
  wait->add_option("--limit", *wait_timeout, "Give up after this many seconds (exit 1)");
  AddRemoteFlags(wait, &wait_args->remote, /*with_json=*/false);
  wait->callback([wait_args, wait_timeout, exit_code] { *exit_code = RunWait(*wait_args, *wait_timeout); });

  auto validate_args = std::make_shared<ValidateArgs>();
  CLI::App* validate = app.add_subcommand(
      "validate", "Check an experiment (or job) file without a coordinator: every error listed, exit 1; the plan");
  validate->add_option("file", validate_args->file, "Experiment or job file (YAML; configs/reference.yaml)")->required();
  validate->add_option("--set", validate_args->overrides, "Override one key (repeatable)")->take_all();
  validate->add_option("--ranks", validate_args->ranks,
                       "Also check that each trial fits workers with this many ranks (tutti agent --ranks)")
      ->check(CLI::PositiveNumber);
  validate->add_flag("--json", validate_args->json, "JSON on stdout");
  validate->callback([validate_args, exit_code] { *exit_code = RunValidate(*validate_args); });

  auto pause_args = std::make_shared<ExperimentArgs>();
  CLI::App* pause = app.add_subcommand("pause", "Pause an experiment: running trials checkpoint and wait in the queue");
  pause->add_option("experiment", pause_args->id, "Experiment id")->required();
  AddRemoteFlags(pause, &pause_args->remote);
  pause->callback([pause_args, exit_code] {
    v1::PauseExperimentRequest r;
    r.set_experiment_id(pause_args->id);
    *exit_code = RunExperimentCall<v1::PauseExperimentRequest, v1::PauseExperimentResponse>(
        *pause_args, absl::StrCat("pausing experiment ", pause_args->id), r,
        &v1::ExperimentService::Stub::PauseExperiment, " (running trials stop after a checkpoint)");
  });

  auto resume_args = std::make_shared<ExperimentArgs>();
  CLI::App* resume = app.add_subcommand("resume", "Resume a paused experiment");
  resume->add_option("experiment", resume_args->id, "Experiment id")->required();
  AddRemoteFlags(resume, &resume_args->remote);
  resume->callback([resume_args, exit_code] {
    v1::ResumeExperimentRequest r;
    r.set_experiment_id(resume_args->id);
    *exit_code = RunExperimentCall<v1::ResumeExperimentRequest, v1::ResumeExperimentResponse>(
        *resume_args, absl::StrCat("resuming experiment ", resume_args->id), r,
        &v1::ExperimentService::Stub::ResumeExperiment, "");
  });

  auto extend_args = std::make_shared<ExperimentArgs>();
  CLI::App* extend = app.add_subcommand("extend", "Raise max_trials of a running sweep (random, ASHA)");
  extend->add_option("experiment", extend_args->id, "Experiment id")->required();
  extend->add_option("--max-trials", extend_args->max_trials, "The new max_trials")->required();
  AddRemoteFlags(extend, &extend_args->remote);
  extend->callback([extend_args, exit_code] {
    v1::ExtendExperimentRequest r;
    r.set_experiment_id(extend_args->id);
    r.set_max_trials(extend_args->max_trials);
    *exit_code = RunExperimentCall<v1::ExtendExperimentRequest, v1::ExtendExperimentResponse>(
        *extend_args, absl::StrCat("extending experiment ", extend_args->id), r,
        &v1::ExperimentService::Stub::ExtendExperiment,
        absl::StrCat(", max_trials now ", extend_args->max_trials));
  });

  auto fork_args = std::make_shared<ExperimentArgs>();
  CLI::App* fork = app.add_subcommand(
      "fork", "A new trial from a trial's checkpoint with edited settings (--set train.g_lr=1e-4); lineage recorded");
  fork->add_option("trial", fork_args->id, "Trial to fork")->required();
  fork->add_option("--checkpoint", fork_args->checkpoint, "One of its checkpoints (default: its newest)");
  fork->add_option("--set", fork_args->overrides, "Override one job key (repeatable)")->take_all();
  AddRemoteFlags(fork, &fork_args->remote);
  fork->callback([fork_args, exit_code] { *exit_code = RunFork(*fork_args); });

  auto best_args = std::make_shared<ExperimentArgs>();
  CLI::App* best = app.add_subcommand("best", "The best stored checkpoint for a genre, across experiments");
  best->add_option("--genre", best_args->genre, "Genre (as in data.genres)")->required();
  best->add_option("--metric", best_args->metric, "Rank by this metric (default eval.realism.score, smaller better)");
  best->add_flag("--larger-is-better", best_args->larger, "With --metric: larger values are better");
  AddRemoteFlags(best, &best_args->remote);
  best->callback([best_args, exit_code] { *exit_code = RunBest(*best_args); });
}

}  // namespace tutti::cli
