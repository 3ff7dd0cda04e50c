#pragma once
// Samples from a training checkpoint: the torch-using half of `tutti generate` and `tutti metrics
// --checkpoint`, behind a torch-free interface (the callers and this header include no LibTorch).
//
// Steps: ReadCheckpointMeta (verifies the file: a truncated or corrupted one is DataLoss naming it) ->
// ParseJobConfig of the config YAML inside -> CreateTrainerFromConfig (train.device replaced by
// SampleRequest::device) -> LoadCheckpoint -> latents -> GanTrainer::Generate in eval mode -> threshold.
//
// Latents: one CPU generator seeded with `seed` draws all n latents at once, (n, latent_dim) standard
// normal, so the same checkpoint, seed and n give the same samples (bit-identical on CPU). Generation runs in
// chunks of 64 samples; BatchNorm is in eval mode, so chunking does not change a sample.
// Threshold: the generator's last block ends in ReLU (shared/lpd5.md §4), so its output is >= 0 and not a
// probability; as in the MuseGAN tutorial a cell is active when its raw value is > threshold
// (config sample.threshold, 0.5 by default).
// Genre: conditional models (model.genre_conditional) generate data.genres[index]; unconditional models
// ignore it, and asking one for a genre it was not trained on (alone) is an error.
//
// Thread-compatible: creating the trainer sets LibTorch's process-wide intra-op thread count.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/config/job_config.h"
#include "core/data/sample_shape.h"

namespace tutti::cli {

struct SampleRequest {
  // Checkpoint file (ckpt-<step>.tutti).
  std::string checkpoint;
  // Samples to generate, >= 1.
  int64_t n = 8;
  // Seed of the latents.
  uint64_t seed = 0;
  // Genre name from the config's data.genres; "" = the first one (the only one of unconditional models).
  std::string genre;
  // Used instead of the first genre when `genre` is "" and the model is conditional and knows it (e.g. the
  // genre of the pack the samples are compared with); ignored otherwise.
  std::string default_genre;
  // Active-cell threshold on the generator's raw output; nullopt = the config's sample.threshold.
  std::optional<double> threshold;
  // LibTorch device to run on ("cpu", "cuda", "auto"), replacing the config's train.device (a checkpoint
  // written on a GPU machine then samples on a laptop). Only "cpu" is bit-reproducible across machines.
  std::string device = "cpu";
};

struct GeneratedSamples {
  JobConfig config;        // the resolved config stored in the checkpoint
  int64_t step = 0;        // training step of the checkpoint
  SampleShape shape;       // (tracks, measures * steps_per_measure, pitches)
  std::string genre;       // genre generated (data.genres[genre_index]); for unconditional models the
                           // single trained genre, or "" when it was trained on a mix
  int64_t genre_index = -1;  // -1 for unconditional models
  double threshold = 0.5;
  int64_t n = 0;
  std::vector<uint8_t> binary;  // n * shape.cells() bytes, 0/1, row-major (sample, track, step, pitch)
  double max_value = 0;         // largest raw generator output (to explain an all-empty result)
  double active_fraction = 0;   // share of cells above the threshold
};

// Errors: InvalidArgument for n < 1, an unknown genre (the message lists the known ones) or a genre an
// unconditional model was not trained on alone; the checkpoint's errors (NotFound, DataLoss naming the
// file, FailedPrecondition when the model does not match the config); Internal for LibTorch failures.
StatusOr<GeneratedSamples> GenerateFromCheckpoint(const SampleRequest& request);

// The genre index `genre` selects under `config` (see the header comment); exposed for tests.
// -1 for unconditional models.
StatusOr<int64_t> ResolveGenre(const JobConfig& config, const std::string& genre,
                               const std::string& default_genre = "");

}  // namespace tutti::cli
