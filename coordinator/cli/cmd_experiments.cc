// submit, experiments, trials, describe, logs, kill: the experiment commands against a coordinator.
// Tables for people; --json prints the API's response message in the proto3 JSON mapping (field names as
// in proto/tutti/v1, 64-bit integers as strings, as that mapping says).

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "coordinator/cli/cli_status.h"
#include "coordinator/cli/commands.h"
#include "coordinator/cli/pack_upload.h"
#include "coordinator/cli/remote.h"
#include "coordinator/cli/table.h"
#include "core/base/file_util.h"
#include "core/base/interrupt.h"
#include "core/config/experiment_config_yaml.h"
#include "tutti/v1/checkpoint_service.grpc.pb.h"
#include "tutti/v1/experiment_service.grpc.pb.h"

namespace tutti::cli {

std::string ToJson(const google::protobuf::Message& message) {  // declared in remote.h
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

std::string StateName(v1::TrialState state) {
  std::string name = v1::TrialState_Name(state);
  return name.rfind("TRIAL_", 0) == 0 ? name.substr(6) : name;
}

std::string StateName(v1::ExperimentState state) {
  std::string name = v1::ExperimentState_Name(state);
  return name.rfind("EXPERIMENT_", 0) == 0 ? name.substr(11) : name;
}

namespace {

std::string Counts(const v1::Experiment& e) {
  std::string out;
  for (const char* state : {"QUEUED", "RUNNING", "COMPLETED", "FAILED", "KILLED"}) {
    auto it = e.trial_counts().find(state);
    if (it == e.trial_counts().end() || it->second == 0) continue;
    out += absl::StrCat(out.empty() ? "" : " ", it->second, " ", absl::AsciiStrToLower(state));
  }
  return out.empty() ? "-" : out;
}

std::string Truncate(const std::string& s, size_t n) { return s.size() <= n ? s : s.substr(0, n - 3) + "..."; }

struct SubmitArgs {
  RemoteFlags remote;
  std::string file;
  std::vector<std::string> overrides;
  bool no_pack_upload = false;
};

// The packs step of submit: when every pack the experiment can train is here (data.packs_dir/<genre>,
// relative to this directory), upload what the coordinator lacks and pin them with a data.pack_pins
// override; otherwise leave the job as it is (the workers read data.packs_dir themselves). A file the
// coordinator will refuse anyway (config errors) is left for the coordinator to report, with its
// file:line:col, so nothing is uploaded for it.
Status PinPacks(const SubmitArgs& a, const rpc::Connection& connection, std::vector<std::string>* overrides) {
  StatusOr<ExperimentConfig> experiment = LoadExperimentConfig(a.file, a.overrides);
  if (!experiment.ok() || !experiment->job.data.pack_pins.empty()) return absl::OkStatus();
  TUTTI_ASSIGN_OR_RETURN(std::vector<std::string> genres, GenresOfExperiment(*experiment));
  const std::string& packs_dir = experiment->job.data.packs_dir;
  std::vector<std::string> absent;
  for (const std::string& genre : genres) {
    if (!std::filesystem::exists(std::filesystem::path(packs_dir) / genre / "manifest.json")) absent.push_back(genre);
  }
  if (!absent.empty()) {
    // stderr, also with --json: stdout stays machine-readable.
    std::cerr << "note: no pack for " << absl::StrJoin(absent, ", ") << " under " << packs_dir
              << " here: packs are not uploaded; workers read data.packs_dir themselves\n";
    return absl::OkStatus();
  }
  TUTTI_ASSIGN_OR_RETURN(std::vector<PackUpload> uploads,
                         UploadPacks(connection, packs_dir, genres, a.remote.timeout_s, /*progress=*/true));
  std::vector<std::string> pins;
  for (const PackUpload& u : uploads) {
    pins.push_back(u.pin());
    std::cerr << "pack " << u.genre << ": " << u.manifest_sha256.substr(0, 12) << " ("
              << (u.files_sent == 0 ? std::string("already at the coordinator")
                                    : absl::StrCat(u.files_sent, " of ", u.files, " files sent, ",
                                                   FormatBytes(u.bytes_sent)))
              << ")\n";
  }
  overrides->push_back("data.pack_pins=[" + absl::StrJoin(pins, ", ") + "]");
  return absl::OkStatus();
}

int RunSubmit(const SubmitArgs& a) {
  StatusOr<std::string> yaml = ReadFileToString(a.file);
  if (!yaml.ok()) return ReportFailure(yaml.status());
  auto connection = Connect(a.remote);
  if (!connection.ok()) return ReportFailure(connection.status());
  auto stub = v1::ExperimentService::NewStub((*connection)->channel());
  std::vector<std::string> overrides = a.overrides;
  if (!a.no_pack_upload) {
    if (Status pinned = PinPacks(a, **connection, &overrides); !pinned.ok()) return ReportFailure(pinned);
  }
  v1::SubmitExperimentRequest request;
  request.set_config_yaml(*yaml);
  request.set_source_name(a.file);
  for (const std::string& o : overrides) request.add_overrides(o);
  std::error_code ec;
  request.set_working_directory(std::filesystem::current_path(ec).string());
  v1::SubmitExperimentResponse response;
  Status s = Unary(**connection, a.remote, "submitting " + a.file,
                   [&](grpc::ClientContext* c) { return stub->SubmitExperiment(c, request, &response); });
  if (!s.ok()) {
    // Config errors already read "<file>:<line>:<col>: ..." (the coordinator parsed it as the worker would).
    if (s.code() == absl::StatusCode::kInvalidArgument) {
      std::fprintf(stderr, "error: %s\n", std::string(s.message()).c_str());
      return 1;
    }
    return ReportFailure(s);
  }
  if (a.remote.json) {
    std::cout << ToJson(response) << "\n";
    return 0;
  }
  std::string trials;
  for (const v1::Trial& t : response.trials()) trials += absl::StrCat(trials.empty() ? "" : ", ", t.id());
  std::cout << "experiment " << response.experiment().id() << " (" << response.experiment().name()
            << ") submitted to " << (*connection)->address() << ": trial" << (response.trials_size() > 1 ? "s " : " ")
            << trials << " queued\n"
            << "follow it with: tutti logs " << (response.trials_size() > 0 ? response.trials(0).id() : 0) << " -f\n";
  return 0;
}

int RunExperiments(const RemoteFlags& flags) {
  auto connection = Connect(flags);
  if (!connection.ok()) return ReportFailure(connection.status());
  auto stub = v1::ExperimentService::NewStub((*connection)->channel());
  v1::ListExperimentsResponse response;
  Status s = Unary(**connection, flags, "listing experiments", [&](grpc::ClientContext* c) {
    return stub->ListExperiments(c, v1::ListExperimentsRequest(), &response);
  });
  if (!s.ok()) return ReportFailure(s);
  if (flags.json) {
    std::cout << ToJson(response) << "\n";
    return 0;
  }
  if (response.experiments_size() == 0) {
    std::cout << "no experiments yet (tutti submit JOB.yaml)\n";
    return 0;
  }
  TextTable table({"ID", "NAME", "STATE", "SEARCHER", "PROGRESS", "TRIALS", "SUBMITTED", "DURATION", "MESSAGE"});
  for (const v1::Experiment& e : response.experiments()) {
    table.AddRow({std::to_string(e.id()), e.name(), StateName(e.state()), e.searcher().empty() ? "-" : e.searcher(),
                  absl::StrCat(static_cast<int>(std::lround(e.progress() * 100)), "%"), Counts(e),
                  FormatTime(e.created_ms()), FormatDuration(e.created_ms(), e.ended_ms() > 0 ? e.ended_ms() : 0),
                  Truncate(e.message(), 60)});
  }
  std::cout << table.ToString();
  return 0;
}

struct IdArgs {
  RemoteFlags remote;
  int64_t id = 0;
  bool trial = false;    // kill: --trial
  bool follow = false;   // logs: -f
  int64_t after = -1;    // logs: --after-step
  std::string sort = "id";  // trials: id or objective
};

// "g_lr=0.0012 genres=[pop]": the hyperparameters by their last key component, sorted.
std::string Hparams(const v1::Trial& t) {
  std::map<std::string, std::string> sorted(t.hparams().begin(), t.hparams().end());
  std::string out;
  for (const auto& [path, value] : sorted) {
    std::string shown = value;
    char* end = nullptr;
    const double number = std::strtod(value.c_str(), &end);
    if (end != value.c_str() && *end == '\0' && value.find('.') != std::string::npos) shown = FormatValue(number);
    out += absl::StrCat(out.empty() ? "" : " ", path.substr(path.rfind('.') + 1), "=", shown);
  }
  return out.empty() ? "-" : out;
}

std::string TrialRow(const v1::Trial& t) { return std::to_string(t.id()); }

int RunTrials(const IdArgs& a) {
  auto connection = Connect(a.remote);
  if (!connection.ok()) return ReportFailure(connection.status());
  auto stub = v1::ExperimentService::NewStub((*connection)->channel());
  v1::ListTrialsRequest request;
  request.set_experiment_id(a.id);
  v1::ListTrialsResponse response;
  Status s = Unary(**connection, a.remote, absl::StrCat("listing the trials of experiment ", a.id),
                   [&](grpc::ClientContext* c) { return stub->ListTrials(c, request, &response); });
  if (!s.ok()) return ReportFailure(s);
  if (a.remote.json) {
    std::cout << ToJson(response) << "\n";
    return 0;
  }
  std::vector<v1::Trial> trials(response.trials().begin(), response.trials().end());
  if (a.sort == "objective") {
    // The leaderboard: best objective first (the experiment says which direction is better), trials
    // without one last.
    v1::GetExperimentRequest get;
    get.set_experiment_id(a.id);
    v1::GetExperimentResponse experiment;
    Status e = Unary(**connection, a.remote, absl::StrCat("reading experiment ", a.id),
                     [&](grpc::ClientContext* c) { return stub->GetExperiment(c, get, &experiment); });
    if (!e.ok()) return ReportFailure(e);
    const bool smaller = experiment.experiment().smaller_is_better();
    std::stable_sort(trials.begin(), trials.end(), [&](const v1::Trial& x, const v1::Trial& y) {
      if (x.has_objective() != y.has_objective()) return x.has_objective();
      if (!x.has_objective()) return false;
      return smaller ? x.objective() < y.objective() : x.objective() > y.objective();
    });
    std::cout << "experiment " << a.id << " (" << experiment.experiment().name() << "): trials by "
              << experiment.experiment().metric() << " (" << (smaller ? "smaller" : "larger") << " is better)\n";
  }
  TextTable table({"TRIAL", "STATE", "STEP", "OBJECTIVE", "HYPERPARAMETERS", "RESTARTS", "PARENT", "BEST CKPT",
                   "STOP REASON", "MESSAGE"});
  for (const v1::Trial& t : trials) {
    table.AddRow({TrialRow(t), StateName(t.state()), absl::StrCat(t.step(), "/", t.target_steps()),
                  t.has_objective() ? FormatValue(t.objective()) : "-", Hparams(t), std::to_string(t.restarts()),
                  t.parent_trial_id() == 0 ? "-" : std::to_string(t.parent_trial_id()),
                  t.best_checkpoint_id() == 0 ? "-" : std::to_string(t.best_checkpoint_id()),
                  t.stop_reason().empty() ? "-" : t.stop_reason(), Truncate(t.message(), 60)});
  }
  std::cout << table.ToString();
  return 0;
}

int RunDescribe(const IdArgs& a) {
  auto connection = Connect(a.remote);
  if (!connection.ok()) return ReportFailure(connection.status());
  auto experiments = v1::ExperimentService::NewStub((*connection)->channel());
  auto checkpoints = v1::CheckpointService::NewStub((*connection)->channel());
  v1::GetTrialRequest request;
  request.set_trial_id(a.id);
  v1::GetTrialResponse trial;
  Status s = Unary(**connection, a.remote, absl::StrCat("describing trial ", a.id),
                   [&](grpc::ClientContext* c) { return experiments->GetTrial(c, request, &trial); });
  if (!s.ok()) return ReportFailure(s);
  v1::ListCheckpointsRequest list;
  list.set_trial_id(a.id);
  v1::ListCheckpointsResponse stored;
  s = Unary(**connection, a.remote, absl::StrCat("listing the checkpoints of trial ", a.id),
            [&](grpc::ClientContext* c) { return checkpoints->ListCheckpoints(c, list, &stored); });
  if (!s.ok()) return ReportFailure(s);
  if (a.remote.json) {
    std::cout << "{\"trial\": " << ToJson(trial.trial()) << ",\n \"checkpoints\": " << ToJson(stored) << "}\n";
    return 0;
  }
  const v1::Trial& t = trial.trial();
  // The lineage: parent, grandparent, ... (forks).
  std::string lineage;
  for (int64_t parent = t.parent_trial_id(), hops = 0; parent != 0 && hops < 32; ++hops) {
    v1::GetTrialRequest up;
    up.set_trial_id(parent);
    v1::GetTrialResponse got;
    std::unique_ptr<grpc::ClientContext> c = (*connection)->NewContext(CallTimeout(a.remote));
    if (!experiments->GetTrial(c.get(), up, &got).ok()) {
      lineage += absl::StrCat(" <- ", parent, " (gone)");
      break;
    }
    lineage += absl::StrCat(" <- ", parent, " (", Hparams(got.trial()), ")");
    parent = got.trial().parent_trial_id();
  }
  std::cout << "trial " << t.id() << " of experiment " << t.experiment_id() << "\n"
            << "  state        " << StateName(t.state()) << (t.stop_reason().empty() ? "" : " (" + t.stop_reason() + ")")
            << "\n"
            << "  lineage      " << (lineage.empty() ? "-" : absl::StrCat(t.id(), lineage)) << "\n"
            << "  hparams      " << Hparams(t) << "\n"
            << "  objective    " << (t.has_objective() ? FormatValue(t.objective()) : "-") << "\n"
            << "  ranks        " << (t.ranks() == 0 ? std::string("(the agent's default)") : std::to_string(t.ranks()))
            << "\n"
            << "  step         " << t.step() << " of " << t.target_steps() << "\n"
            << "  restarts     " << t.restarts() << "\n"
            << "  worker       " << (t.worker().empty() ? "-" : t.worker()) << "\n"
            << "  created      " << FormatTime(t.created_ms()) << "\n"
            << "  started      " << FormatTime(t.started_ms()) << "\n"
            << "  ended        " << FormatTime(t.ended_ms()) << "  (ran " << FormatDuration(t.started_ms(), t.ended_ms())
            << ")\n"
            << "  message      " << (t.message().empty() ? "-" : t.message()) << "\n";
  if (t.last_metrics_size() > 0) {
    std::cout << "  last metrics\n";
    std::map<std::string, double> sorted(t.last_metrics().begin(), t.last_metrics().end());
    for (const auto& [name, value] : sorted) {
      if (name.find("definitions") != std::string::npos) continue;
      std::cout << "    " << name << " = " << FormatValue(value) << "\n";
    }
  }
  std::cout << "  checkpoints  " << (stored.checkpoints_size() == 0 ? "none" : "") << "\n";
  if (stored.checkpoints_size() > 0) {
    TextTable table({"ID", "STEP", "SIZE", "SHA256", "STORED"});
    for (const v1::Checkpoint& c : stored.checkpoints()) {
      table.AddRow({std::to_string(c.id()), std::to_string(c.step()), FormatBytes(c.size_bytes()),
                    c.sha256().substr(0, 16), FormatTime(c.created_ms())});
    }
    std::cout << table.ToString();
  }
  std::cout << "  config\n";
  std::istringstream config(t.config_yaml());
  for (std::string line; std::getline(config, line);) std::cout << "    " << line << "\n";
  return 0;
}

// One line per metric point: "step 100  train  d_loss -1.23  g_loss 0.456 ...".
void PrintPoint(const v1::MetricPoint& p) {
  std::cout << "step " << p.step() << "  " << p.kind();
  std::map<std::string, double> sorted(p.values().begin(), p.values().end());
  if (p.kind() == "eval") {
    // Evaluations carry dozens of values: show the per-track ones people look at first, one group each
    // ("tracks.<Track>.<metric>" -> "<metric> Drums 0.1 Piano 0.2 ...").
    for (const char* metric : {"empty_bars", "used_pitch_classes_true_pc", "qualified_notes_8th"}) {
      std::string group;
      for (const auto& [name, value] : sorted) {
        const std::string suffix = std::string(".") + metric;
        if (name.rfind("tracks.", 0) != 0 || name.size() <= suffix.size() ||
            name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
          continue;
        }
        const std::string track = name.substr(7, name.size() - suffix.size() - 7);
        group += absl::StrCat(" ", track, " ", FormatValue(value));
      }
      if (!group.empty()) std::cout << "  " << metric << group;
    }
  } else {
    for (const char* key : {"d_loss", "g_loss", "wasserstein", "gradient_penalty", "steps_per_s"}) {
      auto it = sorted.find(key);
      if (it != sorted.end()) std::cout << "  " << key << " " << FormatValue(it->second);
    }
  }
  std::cout << "\n";
}

int RunLogs(const IdArgs& a) {
  auto connection = Connect(a.remote);
  if (!connection.ok()) return ReportFailure(connection.status());
  auto stub = v1::ExperimentService::NewStub((*connection)->channel());
  v1::StreamTrialMetricsRequest request;
  request.set_trial_id(a.id);
  request.set_follow(a.follow);
  request.set_after_step(a.after);
  // Following has no deadline (the trial may run for days); Ctrl-C cancels the call.
  std::unique_ptr<grpc::ClientContext> context =
      (*connection)->NewContext(a.follow ? std::chrono::milliseconds(0) : CallTimeout(a.remote));
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    while (!done) {
      if (InterruptRequested()) {
        context->TryCancel();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  auto reader = stub->StreamTrialMetrics(context.get(), request);
  v1::StreamTrialMetricsResponse batch;
  v1::TrialState state = v1::TRIAL_STATE_UNSPECIFIED;
  while (reader->Read(&batch)) {
    state = batch.trial_state();
    for (const v1::MetricPoint& p : batch.points()) {
      if (a.remote.json) {
        google::protobuf::util::JsonPrintOptions options;
        options.preserve_proto_field_names = true;
        std::string line;
        (void)google::protobuf::util::MessageToJsonString(p, &line, options);
        std::cout << line << "\n";
      } else {
        PrintPoint(p);
      }
    }
    std::cout.flush();
  }
  grpc::Status finished = reader->Finish();
  done = true;
  watcher.join();
  if (InterruptRequested()) return 130;
  Status s = (*connection)->FromGrpc(finished, absl::StrCat("reading the metrics of trial ", a.id));
  if (!s.ok()) return ReportFailure(s);
  if (a.follow && !a.remote.json) std::cerr << "trial " << a.id << " is " << StateName(state) << "\n";
  return 0;
}

int RunKill(const IdArgs& a) {
  auto connection = Connect(a.remote);
  if (!connection.ok()) return ReportFailure(connection.status());
  auto stub = v1::ExperimentService::NewStub((*connection)->channel());
  if (a.trial) {
    v1::KillTrialRequest request;
    request.set_trial_id(a.id);
    v1::KillTrialResponse response;
    Status s = Unary(**connection, a.remote, absl::StrCat("killing trial ", a.id),
                     [&](grpc::ClientContext* c) { return stub->KillTrial(c, request, &response); });
    if (!s.ok()) return ReportFailure(s);
    if (a.remote.json) {
      std::cout << ToJson(response) << "\n";
    } else {
      std::cout << "trial " << a.id << ": " << StateName(response.trial().state())
                << (response.trial().state() == v1::TRIAL_RUNNING ? " (stops after its current step)" : "") << "\n";
    }
    return 0;
  }
  v1::KillExperimentRequest request;
  request.set_experiment_id(a.id);
  v1::KillExperimentResponse response;
  Status s = Unary(**connection, a.remote, absl::StrCat("killing experiment ", a.id),
                   [&](grpc::ClientContext* c) { return stub->KillExperiment(c, request, &response); });
  if (!s.ok()) return ReportFailure(s);
  if (a.remote.json) {
    std::cout << ToJson(response) << "\n";
  } else {
    std::cout << "experiment " << a.id << ": " << StateName(response.experiment().state()) << " ("
              << Counts(response.experiment()) << "; running trials stop after their current step)\n";
  }
  return 0;
}

}  // namespace

void RegisterExperimentCommands(CLI::App& app, int* exit_code) {
  auto submit_args = std::make_shared<SubmitArgs>();
  CLI::App* submit = app.add_subcommand(
      "submit", "Submit an experiment or job YAML to the coordinator (its trials are queued for agents)");
  submit->add_option("file", submit_args->file, "Job file (YAML; see configs/)")->required();
  submit->add_option("--set", submit_args->overrides, "Override one key, e.g. --set train.steps=2000 (repeatable)")
      ->take_all();
  submit->add_flag("--no-pack-upload", submit_args->no_pack_upload,
                   "Do not upload the job's packs (by default, when data.packs_dir/<genre> exists here for every "
                   "genre, the packs the coordinator lacks are uploaded and pinned by sha256, so workers without "
                   "a shared filesystem fetch them)");
  AddRemoteFlags(submit, &submit_args->remote);
  submit->callback([submit_args, exit_code] { *exit_code = RunSubmit(*submit_args); });

  auto list_flags = std::make_shared<RemoteFlags>();
  CLI::App* experiments = app.add_subcommand("experiments", "List the coordinator's experiments");
  AddRemoteFlags(experiments, list_flags.get());
  experiments->callback([list_flags, exit_code] { *exit_code = RunExperiments(*list_flags); });

  auto trials_args = std::make_shared<IdArgs>();
  CLI::App* trials = app.add_subcommand(
      "trials", "An experiment's trials: state, step, objective, hyperparameters, parent, stop reason");
  trials->add_option("experiment", trials_args->id, "Experiment id")->required();
  trials->add_option("--sort", trials_args->sort, "id, or objective: the leaderboard, best first")
      ->check(CLI::IsMember({"id", "objective"}))
      ->default_val("id");
  AddRemoteFlags(trials, &trials_args->remote);
  trials->callback([trials_args, exit_code] { *exit_code = RunTrials(*trials_args); });

  auto describe_args = std::make_shared<IdArgs>();
  CLI::App* describe =
      app.add_subcommand("describe", "One trial: state, times, last metrics, checkpoints and its resolved config");
  describe->add_option("trial", describe_args->id, "Trial id")->required();
  AddRemoteFlags(describe, &describe_args->remote);
  describe->callback([describe_args, exit_code] { *exit_code = RunDescribe(*describe_args); });

  auto logs_args = std::make_shared<IdArgs>();
  CLI::App* logs = app.add_subcommand("logs", "A trial's metrics (losses and evaluations) as they were reported");
  logs->add_option("trial", logs_args->id, "Trial id")->required();
  logs->add_flag("-f,--follow", logs_args->follow, "Keep printing new metrics until the trial ends (Ctrl-C stops)");
  logs->add_option("--after-step", logs_args->after, "Only points after this step");
  AddRemoteFlags(logs, &logs_args->remote);
  logs->callback([logs_args, exit_code] { *exit_code = RunLogs(*logs_args); });

  auto kill_args = std::make_shared<IdArgs>();
  CLI::App* kill = app.add_subcommand(
      "kill", "Kill an experiment (every trial), or one trial with --trial; running trials checkpoint and stop");
  kill->add_option("id", kill_args->id, "Experiment id (or trial id with --trial)")->required();
  kill->add_flag("--trial", kill_args->trial, "The id is a trial's");
  AddRemoteFlags(kill, &kill_args->remote);
  kill->callback([kill_args, exit_code] { *exit_code = RunKill(*kill_args); });
}

}  // namespace tutti::cli
