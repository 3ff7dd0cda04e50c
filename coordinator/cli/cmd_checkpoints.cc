// checkpoints TRIAL | checkpoints download ID --out FILE | checkpoints delete ID, and
// generate --checkpoint-id ID / --trial ID (samples made by the coordinator).

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>

#include "coordinator/cli/cli_status.h"
#include "coordinator/cli/commands.h"
#include "coordinator/cli/remote.h"
#include "coordinator/cli/sample_fetch.h"
#include "coordinator/cli/table.h"
#include "core/base/file_util.h"
#include "core/base/sha256.h"
#include "tutti/v1/checkpoint_service.grpc.pb.h"
#include "tutti/v1/experiment_service.grpc.pb.h"
#include "tutti/v1/sample_service.grpc.pb.h"

namespace tutti::cli {
namespace {

struct CheckpointArgs {
  RemoteFlags remote;
  int64_t trial = 0;
  int64_t experiment = 0;
  int64_t id = 0;
  std::string out;
};

int RunList(const CheckpointArgs& a) {
  if ((a.trial != 0) == (a.experiment != 0)) {
    std::fprintf(stderr, "error: give a trial id (tutti checkpoints TRIAL) or --experiment ID\n");
    return 2;
  }
  auto connection = Connect(a.remote);
  if (!connection.ok()) return ReportFailure(connection.status());
  auto stub = v1::CheckpointService::NewStub((*connection)->channel());
  v1::ListCheckpointsRequest request;
  request.set_trial_id(a.trial);
  request.set_experiment_id(a.experiment);
  v1::ListCheckpointsResponse response;
  std::unique_ptr<grpc::ClientContext> context = (*connection)->NewContext(CallTimeout(a.remote));
  Status s = (*connection)->FromGrpc(stub->ListCheckpoints(context.get(), request, &response),
                                     a.trial != 0 ? absl::StrCat("listing the checkpoints of trial ", a.trial)
                                                  : absl::StrCat("listing the checkpoints of experiment ", a.experiment));
  if (!s.ok()) return ReportFailure(s);
  if (a.remote.json) {
    std::cout << ToJson(response) << "\n";
    return 0;
  }
  if (response.checkpoints_size() == 0) {
    std::cout << "no checkpoints yet\n";
    return 0;
  }
  TextTable table({"ID", "TRIAL", "STEP", "SIZE", "SHA256", "STORED", "WASSERSTEIN"});
  for (const v1::Checkpoint& c : response.checkpoints()) {
    auto w = c.metrics().find("wasserstein");
    table.AddRow({std::to_string(c.id()), std::to_string(c.trial_id()), std::to_string(c.step()),
                  FormatBytes(c.size_bytes()), c.sha256().substr(0, 16), FormatTime(c.created_ms()),
                  w == c.metrics().end() ? "-" : FormatValue(w->second)});
  }
  std::cout << table.ToString();
  return 0;
}

int RunDownload(CheckpointArgs a) {
  auto connection = Connect(a.remote);
  if (!connection.ok()) return ReportFailure(connection.status());
  if (a.trial != 0) {
    // The trial's best checkpoint, as the coordinator ranks them (checkpoint.best_metric, else the newest).
    auto experiments = v1::ExperimentService::NewStub((*connection)->channel());
    v1::GetTrialRequest get;
    get.set_trial_id(a.trial);
    v1::GetTrialResponse trial;
    std::unique_ptr<grpc::ClientContext> context = (*connection)->NewContext(CallTimeout(a.remote));
    Status s = (*connection)->FromGrpc(experiments->GetTrial(context.get(), get, &trial),
                                       absl::StrCat("looking up trial ", a.trial));
    if (!s.ok()) return ReportFailure(s);
    if (trial.trial().best_checkpoint_id() == 0) {
      return ReportFailure(absl::FailedPreconditionError(absl::StrCat("trial ", a.trial, " has no checkpoint yet")));
    }
    a.id = trial.trial().best_checkpoint_id();
  }
  auto stub = v1::CheckpointService::NewStub((*connection)->channel());
  v1::DownloadCheckpointRequest request;
  request.set_checkpoint_id(a.id);
  // A large checkpoint on a slow link: allow ten minutes beyond --timeout.
  std::unique_ptr<grpc::ClientContext> context =
      (*connection)->NewContext(CallTimeout(a.remote) + std::chrono::minutes(10));
  auto reader = stub->DownloadCheckpoint(context.get(), request);
  v1::DownloadCheckpointResponse message;
  v1::Checkpoint header;
  std::string bytes;
  while (reader->Read(&message)) {
    if (message.has_header()) {
      header = message.header();
    } else {
      bytes += message.data();
    }
  }
  Status s = (*connection)->FromGrpc(reader->Finish(), absl::StrCat("downloading checkpoint ", a.id));
  if (!s.ok()) return ReportFailure(s);
  const std::string sha = Sha256Hex(bytes);
  if (sha != header.sha256() || static_cast<int64_t>(bytes.size()) != header.size_bytes()) {
    return ReportFailure(absl::DataLossError(absl::StrCat(
        "checkpoint ", a.id, ": received ", bytes.size(), " bytes with sha256 ", sha, ", the coordinator's record says ",
        header.size_bytes(), " bytes with sha256 ", header.sha256(), "; nothing was written")));
  }
  const std::string out = a.out.empty() ? absl::StrCat("ckpt-", header.step(), ".tutti") : a.out;
  s = WriteFileAtomically(out, bytes);
  if (s.ok()) s = WriteFileAtomically(out + ".sha256", absl::StrCat(sha, "  ", std::filesystem::path(out).filename().string(), "\n"));
  if (!s.ok()) return ReportFailure(s);
  if (a.remote.json) {
    std::cout << "{\"path\": \"" << out << "\", \"sha256\": \"" << sha << "\", \"bytes\": " << bytes.size()
              << ", \"checkpoint\": " << ToJson(header) << "}\n";
  } else {
    std::cout << "checkpoint " << a.id << " (trial " << header.trial_id() << ", step " << header.step() << ") -> " << out
              << " (" << FormatBytes(static_cast<int64_t>(bytes.size())) << ", sha256 " << sha << " verified)\n";
  }
  return 0;
}

int RunDelete(const CheckpointArgs& a) {
  auto connection = Connect(a.remote);
  if (!connection.ok()) return ReportFailure(connection.status());
  auto stub = v1::CheckpointService::NewStub((*connection)->channel());
  v1::DeleteCheckpointRequest request;
  request.set_checkpoint_id(a.id);
  v1::DeleteCheckpointResponse response;
  std::unique_ptr<grpc::ClientContext> context = (*connection)->NewContext(CallTimeout(a.remote));
  Status s = (*connection)->FromGrpc(stub->DeleteCheckpoint(context.get(), request, &response),
                                     absl::StrCat("deleting checkpoint ", a.id));
  if (!s.ok()) return ReportFailure(s);
  if (!a.remote.json) std::cout << "checkpoint " << a.id << " deleted\n";
  else std::cout << "{\"deleted\": " << a.id << "}\n";
  return 0;
}

}  // namespace

void RegisterCheckpointCommands(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<CheckpointArgs>();
  CLI::App* checkpoints = app.add_subcommand(
      "checkpoints", "A trial's stored checkpoints; `checkpoints download ID --out FILE`, `checkpoints delete ID`");
  checkpoints->add_option("trial", args->trial, "Trial id");
  checkpoints->add_option("--experiment", args->experiment, "List every trial's checkpoints of this experiment");
  AddRemoteFlags(checkpoints, &args->remote);
  checkpoints->require_subcommand(0, 1);
  checkpoints->callback([checkpoints, args, exit_code] {
    if (checkpoints->get_subcommands().empty()) *exit_code = RunList(*args);
  });

  auto download_args = std::make_shared<CheckpointArgs>();
  CLI::App* download = checkpoints->add_subcommand(
      "download", "Download a checkpoint, check its sha256 and write it (and FILE.sha256) atomically");
  auto* which = download->add_option_group("which");
  which->add_option("id", download_args->id, "Checkpoint id");
  which->add_option("--trial", download_args->trial,
                    "Instead of an id: this trial's best checkpoint (checkpoint.best_metric, else its newest)");
  which->require_option(1);
  download->add_option("--out,-o", download_args->out, "File to write (default ckpt-<step>.tutti)");
  AddRemoteFlags(download, &download_args->remote);
  download->callback([download_args, exit_code] { *exit_code = RunDownload(*download_args); });

  auto delete_args = std::make_shared<CheckpointArgs>();
  CLI::App* remove = checkpoints->add_subcommand("delete", "Delete a stored checkpoint (idempotent)");
  remove->add_option("id", delete_args->id, "Checkpoint id")->required();
  AddRemoteFlags(remove, &delete_args->remote);
  remove->callback([delete_args, exit_code] { *exit_code = RunDelete(*delete_args); });
}

bool IsRemoteGenerate(int argc, char** argv) {
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--checkpoint-id" || a.rfind("--checkpoint-id=", 0) == 0 || a == "--trial" || a.rfind("--trial=", 0) == 0) {
      return true;
    }
  }
  return false;
}

// generate --checkpoint-id ID | --trial ID: samples made by the coordinator, written into --out.
int RunRemoteGenerate(int argc, char** argv) {
  CLI::App app{"tutti generate (from a checkpoint the coordinator stores): MIDI, npz, PNG and WAV files per sample",
               "tutti generate"};
  RemoteFlags remote;
  int64_t checkpoint_id = 0, trial_id = 0;
  int n = 4;
  uint64_t seed = 0;
  std::string genre, out = "samples", formats = "midi,npz,png";
  double threshold = -1;
  auto* source = app.add_option_group("source");
  source->add_option("--checkpoint-id", checkpoint_id, "A stored checkpoint's id");
  source->add_option("--trial", trial_id, "A trial: its best checkpoint (checkpoint.best_metric), else its newest");
  source->require_option(1);
  app.add_option("-n,--samples", n, "Samples to generate")->default_val(4)->check(CLI::PositiveNumber);
  app.add_option("--seed", seed, "Seed of the latents (same seed, same bytes)")->default_val(0);
  app.add_option("--genre", genre, "Genre of a genre-conditional model");
  app.add_option("--threshold", threshold, "Active-cell threshold (default: the checkpoint config's)");
  app.add_option("--format", formats, "Comma-separated: midi, npz, png, wav")->default_val("midi,npz,png");
  app.add_option("--out,-o", out, "Directory to write the files into")->default_val("samples");
  AddRemoteFlags(&app, &remote);
  try {
    app.parse(argc - 1, argv + 1);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  v1::GenerateRequest request;
  if (checkpoint_id != 0) request.set_checkpoint_id(checkpoint_id);
  else request.set_trial_id(trial_id);
  request.set_n(n);
  request.set_seed(seed);
  request.set_genre(genre);
  if (threshold >= 0) request.set_threshold(threshold);
  for (const std::string& f : SplitFormats(formats)) request.add_formats(f);
  return FetchSamples(remote, request, out);
}

}  // namespace tutti::cli
