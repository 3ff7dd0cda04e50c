#include "coordinator/service/sample_handler.h"

#include <algorithm>

namespace tutti::coord {

Status SampleHandler::Generate(const v1::GenerateRequest& request,
                               const std::function<bool(const v1::GenerateResponse&)>& write) {
  if (backend_ == nullptr) {
    return absl::UnimplementedError("this tutti-coordinator was built without LibTorch: it cannot generate samples");
  }
  if (request.n() < 1 || request.n() > options_.max_samples) {
    return absl::InvalidArgumentError(
        absl::StrCat("n: expected 1..", options_.max_samples, " samples per request, got ", request.n()));
  }
  SampleJob job;
  job.n = request.n();
  job.seed = request.seed();
  job.genre = request.genre();
  if (request.has_threshold()) job.threshold = request.threshold();
  static const std::vector<std::string> kFormats = {"midi", "npz", "png", "wav"};
  for (const std::string& f : request.formats()) {
    if (std::find(kFormats.begin(), kFormats.end(), f) == kFormats.end()) {
      return absl::InvalidArgumentError(absl::StrCat("formats: expected any of midi, npz, png, wav, got \"", f, "\""));
    }
    job.formats.push_back(f);
  }
  if (job.formats.empty()) job.formats = {"midi", "npz", "png"};

  CheckpointRow checkpoint;
  switch (request.source_case()) {
    case v1::GenerateRequest::kCheckpointId: {
      TUTTI_ASSIGN_OR_RETURN(checkpoint, checkpoints_->Get(request.checkpoint_id()));
      break;
    }
    case v1::GenerateRequest::kTrialId: {
      TUTTI_ASSIGN_OR_RETURN(std::optional<CheckpointRow> best, checkpoints_->Best(request.trial_id()));
      if (!best) {
        return absl::FailedPreconditionError(
            absl::StrCat("trial ", request.trial_id(), " has no checkpoint yet: nothing to generate from"));
      }
      checkpoint = *best;
      break;
    }
    default:
      return absl::InvalidArgumentError("Generate: give a checkpoint_id or a trial_id");
  }
  job.checkpoint_id = checkpoint.id;
  job.checkpoint_path = checkpoints_->BlobPath(checkpoint);
  job.checkpoint_sha256 = checkpoint.sha256;
  StatusOr<std::vector<SampleFile>> files = backend_->Generate(job);
  if (!files.ok()) return Annotate(files.status(), absl::StrCat("checkpoint ", checkpoint.id));
  int64_t total = 0;
  for (const SampleFile& file : *files) total += static_cast<int64_t>(file.bytes.size());
  if (total > options_.max_response_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("the samples come to ", total, " bytes, over the limit of ",
                                                     options_.max_response_bytes, "; ask for fewer or drop wav"));
  }
  bool first = true;
  for (const SampleFile& file : *files) {
    size_t offset = 0;
    do {
      const size_t size = std::min<size_t>(static_cast<size_t>(options_.chunk_bytes), file.bytes.size() - offset);
      v1::GenerateResponse message;
      message.set_name(file.name);
      message.set_data(file.bytes.substr(offset, size));
      offset += size;
      message.set_last_chunk(offset == file.bytes.size());
      if (first) {
        message.set_checkpoint_id(checkpoint.id);
        message.set_step(checkpoint.step);
        first = false;
      }
      if (!write(message)) return absl::OkStatus();
    } while (offset < file.bytes.size());
  }
  return absl::OkStatus();
}

}  // namespace tutti::coord
