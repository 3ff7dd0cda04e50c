#pragma once
// The data side of a TrainingRun: a job's packs -> a rank-aware BatchLoader, and a Batch -> the float
// tensors GanTrainer::Step takes; and the rest plans a model.rest_plans generator holds. Torch appears only in
// BatchTensors and the plans.
//
// Thread-safety: the functions are reentrant; the loader they return is single-consumer (batch_loader.h).

#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/base/status.h"
#include "core/config/job_config.h"
#include "core/data/batch_loader.h"
#include "core/data/pack_reader.h"

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

// With model.rest_plans: the arrangements the generator's rest plans hold (core/model/rest_plans.h), spread evenly
// over the packs' training samples (core/data/bar_activity.h): (RestPlansImpl::kPlans, tracks, measures) float,
// 1 where the track plays in that bar. The same on every rank (all ranks read all packs' indices), so no broadcast.
// Errors as SpreadBarActivity's, prefixed "model.rest_plans: ".
StatusOr<at::Tensor> RestPlansFromPacks(const ModelConfig& model,
                                        const std::vector<std::shared_ptr<const PackReader>>& packs);

// One line for people: each track's share of resting bars in `plans` ("rest plans: 1024 arrangements from the
// training samples; bars resting: drums 1.2 %, piano 6.0 %, ...").
std::string DescribeRestPlans(const at::Tensor& plans, const std::vector<std::string>& track_names);

}  // namespace tutti
