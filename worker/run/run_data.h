#pragma once
// The data side of a TrainingRun: a job's packs -> a rank-aware BatchLoader, and a Batch -> the float
// tensors GanTrainer::Step takes. Torch appears only in BatchTensors.
//
// Thread-safety: the functions are reentrant; the loader they return is single-consumer (batch_loader.h).

#include <memory>
#include <string>

#include <ATen/core/Tensor.h>

#include "core/base/status.h"
#include "core/config/job_config.h"
#include "core/data/batch_loader.h"

namespace tutti {

// The sample shape the model in `config` trains on: (tracks, measures * steps_per_measure, pitches).
SampleShape ModelSampleShape(const ModelConfig& model);

// Opens data.packs_dir/<genre> for every genre in data.genres (in that order, so Batch::pack_index is the
// genre index) and builds a loader over their training splits with batch_size, seed = train.seed,
// prefetch_batches and the given rank / world_size. Errors:
//   NotFound "<packs_dir>/<genre>: no pack for genre \"<genre>\" (...manifest.json missing); create it with
//     `tutti pack ...`"
//   FailedPrecondition "<pack>: pack samples have shape (5, 48, 72) but the model expects (5, 64, 72) ..."
//   the PackReader / BatchLoader error otherwise (e.g. fewer samples than one global batch), prefixed with
//   the packs directory.
StatusOr<std::unique_ptr<BatchLoader>> OpenTrainingLoader(const JobConfig& config, int rank, int world_size);

// A batch as Step's inputs: `real` (B, tracks, steps, pitches) float 0/1 on the CPU, and `genre_ids` (B)
// int64 from Batch::pack_index when `conditional`, undefined otherwise.
struct BatchTensors {
  at::Tensor real;
  at::Tensor genre_ids;
};
BatchTensors ToTensors(const Batch& batch, const SampleShape& shape, bool conditional);

}  // namespace tutti
