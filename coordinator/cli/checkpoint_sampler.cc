#include "coordinator/cli/checkpoint_sampler.h"

#include <algorithm>
#include <cstring>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/types.h>

#include "absl/strings/str_join.h"
#include "core/checkpoint/checkpoint.h"
#include "core/config/job_config_yaml.h"
#include "core/train/trainer_from_config.h"

namespace tutti::cli {
namespace {

constexpr int64_t kChunk = 64;

std::string KnownGenres(const JobConfig& config) { return absl::StrJoin(config.data.genres, ", "); }

}  // namespace

StatusOr<int64_t> ResolveGenre(const JobConfig& config, const std::string& genre,
                               const std::string& default_genre) {
  const std::vector<std::string>& genres = config.data.genres;
  if (config.model.genre_conditional) {
    if (genre.empty()) {
      auto it = std::find(genres.begin(), genres.end(), default_genre);
      return it == genres.end() ? 0 : static_cast<int64_t>(it - genres.begin());
    }
    auto it = std::find(genres.begin(), genres.end(), genre);
    if (it == genres.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown genre '", genre, "': this model generates ",
                                                     KnownGenres(config)));
    }
    return static_cast<int64_t>(it - genres.begin());
  }
  if (!genre.empty() && (genres.size() != 1 || genres[0] != genre)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--genre ", genre, ": the model is unconditional (model.genre_conditional is false) and was trained on ",
        genres.size() == 1 ? "" : "a mix of ", KnownGenres(config), "; it cannot be asked for a genre"));
  }
  return -1;
}

StatusOr<GeneratedSamples> GenerateFromCheckpoint(const SampleRequest& request) {
  if (request.n < 1) {
    return absl::InvalidArgumentError(absl::StrCat("expected at least 1 sample, got ", request.n));
  }
  TUTTI_ASSIGN_OR_RETURN(CheckpointMeta meta, ReadCheckpointMeta(request.checkpoint));
  GeneratedSamples out;
  {
    StatusOr<JobConfig> config = ParseJobConfig(meta.config_yaml, request.checkpoint + " (config inside)");
    if (!config.ok()) return config.status();
    out.config = *std::move(config);
  }
  JobConfig run_config = out.config;
  run_config.train.device = request.device;
  TUTTI_ASSIGN_OR_RETURN(out.genre_index, ResolveGenre(out.config, request.genre, request.default_genre));
  if (out.genre_index >= 0) {
    out.genre = out.config.data.genres[static_cast<size_t>(out.genre_index)];
  } else if (out.config.data.genres.size() == 1) {
    out.genre = out.config.data.genres[0];
  }
  out.threshold = request.threshold.value_or(out.config.sample.threshold);
  out.n = request.n;
  const ModelConfig& m = out.config.model;
  out.shape = SampleShape{m.tracks, m.measures * m.steps_per_measure, m.pitches};

  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<GanTrainer> trainer, CreateTrainerFromConfig(run_config));
  TUTTI_ASSIGN_OR_RETURN(CheckpointMeta loaded, LoadCheckpoint(request.checkpoint, trainer.get()));
  out.step = loaded.step;

  const int64_t cells = out.shape.cells();
  out.binary.resize(static_cast<size_t>(request.n * cells));
  int64_t active = 0;
  try {
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(request.seed);
    torch::Tensor latents = torch::randn({request.n, static_cast<int64_t>(m.latent_dim)}, gen, torch::kFloat);
    float max_value = 0;
    for (int64_t start = 0; start < request.n; start += kChunk) {
      const int64_t count = std::min(kChunk, request.n - start);
      torch::Tensor genre_ids;
      if (out.genre_index >= 0) genre_ids = torch::full({count}, out.genre_index, torch::kInt64);
      TUTTI_ASSIGN_OR_RETURN(torch::Tensor raw, trainer->Generate(latents.slice(0, start, start + count), genre_ids));
      raw = raw.to(torch::kCPU, torch::kFloat).contiguous();
      if (raw.numel() != count * cells) {
        return absl::InternalError(absl::StrCat("generator returned ", raw.numel(), " values, expected ",
                                                count * cells, " for ", count, " samples of ",
                                                out.shape.ToString()));
      }
      max_value = std::max(max_value, raw.max().item<float>());
      torch::Tensor on = raw.gt(out.threshold).to(torch::kUInt8).contiguous();
      active += on.sum().item<int64_t>();
      std::memcpy(out.binary.data() + start * cells, on.data_ptr<uint8_t>(), static_cast<size_t>(count * cells));
    }
    out.max_value = max_value;
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat(request.checkpoint, ": generating samples: ", std::string(e.what_without_backtrace())));
  }
  out.active_fraction = static_cast<double>(active) / static_cast<double>(request.n * cells);
  return out;
}

}  // namespace tutti::cli
