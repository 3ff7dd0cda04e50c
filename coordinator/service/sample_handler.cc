#include "coordinator/service/sample_handler.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace tutti::coord {
namespace {

const std::vector<std::string>& KnownFormats() {
  static const std::vector<std::string> formats = {"midi", "npz", "png", "wav"};
  return formats;
}

}  // namespace

SampleHandler::SampleHandler(TrialLifecycle* lifecycle, CheckpointRegistry* checkpoints, GenreCatalog* catalog,
                             SampleBackend* backend, SampleHandlerOptions options)
    : lifecycle_(lifecycle),
      checkpoints_(checkpoints),
      catalog_(catalog),
      backend_(backend),
      options_(std::move(options)) {}

StatusOr<SampleSource> SampleHandler::Resolve(const v1::GenerateRequest& request) {
  SampleSource source;
  source.genre = request.genre();
  switch (request.source_case()) {
    case v1::GenerateRequest::kCheckpointId: {
      TUTTI_ASSIGN_OR_RETURN(source.checkpoint, checkpoints_->Get(request.checkpoint_id()));
      break;
    }
    case v1::GenerateRequest::kTrialId: {
      TUTTI_ASSIGN_OR_RETURN(std::optional<CheckpointRow> best, checkpoints_->Best(request.trial_id()));
      if (!best) {
        return absl::FailedPreconditionError(
            absl::StrCat("trial ", request.trial_id(), " has no checkpoint yet: nothing to generate from"));
      }
      source.checkpoint = *best;
      break;
    }
    case v1::GenerateRequest::kExperimentId: {
      TUTTI_ASSIGN_OR_RETURN(RankedCheckpoint best,
                             catalog_->BestForExperiment(request.experiment_id(), request.genre()));
      source.checkpoint = best.checkpoint;
      break;
    }
    default: {
      if (request.genre().empty()) {
        return absl::InvalidArgumentError(
            "Generate: name a genre, or a checkpoint_id, trial_id or experiment_id to generate from");
      }
      TUTTI_ASSIGN_OR_RETURN(RankedCheckpoint best, catalog_->BestForGenre(request.genre()));
      source.checkpoint = best.checkpoint;
      break;
    }
  }
  TUTTI_ASSIGN_OR_RETURN(TrialRow trial, lifecycle_->GetTrial(source.checkpoint.trial_id));
  source.trial_id = trial.id;
  source.experiment_id = trial.experiment_id;
  return source;
}

StatusOr<std::vector<SampleFile>> SampleHandler::GenerateFiles(const v1::GenerateRequest& request,
                                                               SampleSource* source,
                                                               std::chrono::steady_clock::time_point deadline) {
  if (backend_ == nullptr) {
    return absl::UnimplementedError("this tutti-coordinator was built without LibTorch: it cannot generate samples");
  }
  if (request.n() < 1 || request.n() > options_.max_samples) {
    return absl::InvalidArgumentError(
        absl::StrCat("n: expected 1..", options_.max_samples, " samples per request, got ", request.n()));
  }
  if (request.has_threshold() && !(request.threshold() >= 0 && request.threshold() < 1e6)) {
    return absl::InvalidArgumentError(absl::StrCat("threshold: expected a number >= 0, got ", request.threshold()));
  }
  SampleJob job;
  job.n = request.n();
  job.seed = request.seed();
  job.genre = request.genre();
  if (request.has_threshold()) job.threshold = request.threshold();
  for (const std::string& f : request.formats()) {
    if (std::find(KnownFormats().begin(), KnownFormats().end(), f) == KnownFormats().end()) {
      return absl::InvalidArgumentError(absl::StrCat("formats: expected any of midi, npz, png, wav, got \"", f, "\""));
    }
    if (std::find(job.formats.begin(), job.formats.end(), f) == job.formats.end()) job.formats.push_back(f);
  }
  if (job.formats.empty()) job.formats = {"midi", "npz", "png"};

  TUTTI_ASSIGN_OR_RETURN(*source, Resolve(request));
  const CheckpointRow& checkpoint = source->checkpoint;
  job.checkpoint_id = checkpoint.id;
  job.checkpoint_path = checkpoints_->BlobPath(checkpoint);
  job.checkpoint_sha256 = checkpoint.sha256;
  const auto own_deadline = std::chrono::steady_clock::now() +
                            std::chrono::milliseconds(static_cast<int64_t>(options_.default_deadline_s * 1000));
  job.deadline = std::min(deadline, own_deadline);

  StatusOr<std::vector<SampleFile>> files = backend_->Generate(job);
  if (!files.ok()) {
    if (files.status().code() == absl::StatusCode::kDataLoss && options_.log) {
      options_.log(absl::StrCat("sample service: refused checkpoint ", checkpoint.id, " of trial ", checkpoint.trial_id,
                                ": ", files.status().message()));
    }
    return Annotate(files.status(), absl::StrCat("checkpoint ", checkpoint.id));
  }
  int64_t total = 0;
  for (const SampleFile& file : *files) total += static_cast<int64_t>(file.bytes.size());
  if (total > options_.max_response_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("the samples come to ", total, " bytes, over the limit of ",
                                                     options_.max_response_bytes, "; ask for fewer or drop wav"));
  }
  return files;
}

Status SampleHandler::Generate(const v1::GenerateRequest& request,
                               const std::function<bool(const v1::GenerateResponse&)>& write,
                               std::chrono::steady_clock::time_point deadline) {
  SampleSource source;
  TUTTI_ASSIGN_OR_RETURN(std::vector<SampleFile> files, GenerateFiles(request, &source, deadline));
  bool first = true;
  for (const SampleFile& file : files) {
    size_t offset = 0;
    do {
      const size_t size = std::min<size_t>(static_cast<size_t>(options_.chunk_bytes), file.bytes.size() - offset);
      v1::GenerateResponse message;
      message.set_name(file.name);
      message.set_data(file.bytes.substr(offset, size));
      offset += size;
      message.set_last_chunk(offset == file.bytes.size());
      if (first) {
        message.set_checkpoint_id(source.checkpoint.id);
        message.set_step(source.checkpoint.step);
        message.set_trial_id(source.trial_id);
        message.set_experiment_id(source.experiment_id);
        message.set_genre(source.genre);
        first = false;
      }
      if (!write(message)) return absl::OkStatus();
    } while (offset < file.bytes.size());
  }
  return absl::OkStatus();
}

Status SampleHandler::ListGenres(const v1::ListGenresRequest&, v1::ListGenresResponse* response) {
  for (const std::string& genre : catalog_->Genres()) {
    v1::GenreSource* out = response->add_genres();
    out->set_genre(genre);
    StatusOr<RankedCheckpoint> best = catalog_->BestForGenre(genre);
    if (!best.ok()) {
      const Objective objective;
      out->set_metric(objective.metric);
      out->set_smaller_is_better(objective.smaller_is_better);
      continue;
    }
    out->set_checkpoint_id(best->checkpoint.id);
    out->set_trial_id(best->trial.id);
    out->set_experiment_id(best->trial.experiment_id);
    out->set_experiment_name(best->experiment_name);
    out->set_step(best->checkpoint.step);
    out->set_metric(best->objective.metric);
    out->set_value(best->value);
    out->set_smaller_is_better(best->objective.smaller_is_better);
  }
  return absl::OkStatus();
}

void SampleHandler::OnCheckpointRecorded(const CheckpointRow& row) {
  if (backend_ == nullptr) return;
  StatusOr<TrialRow> trial = lifecycle_->GetTrial(row.trial_id);
  if (!trial.ok()) return;
  for (const std::string& genre : catalog_->GenresOf(*trial)) {
    StatusOr<RankedCheckpoint> best = catalog_->BestForGenre(genre);
    if (!best.ok() || best->checkpoint.id != row.id) continue;
    int64_t replaced = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      int64_t& served = served_[genre];
      replaced = served;
      served = row.id;
    }
    if (options_.log) {
      options_.log(absl::StrCat("sample service: genre ", genre, " is now served from checkpoint ", row.id, " (trial ",
                                row.trial_id, ", step ", row.step, ", ", best->objective.metric, " ", best->value,
                                ")"));
    }
    backend_->Preload(row.id, checkpoints_->BlobPath(row), row.sha256, replaced);
  }
}

}  // namespace tutti::coord
