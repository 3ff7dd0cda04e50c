#pragma once
// Builds a GanTrainer from a job's typed config: the one place that maps ModelConfig / TrainConfig onto
// the model's and the trainer's option structs, shared by tutti-worker and `tutti generate`.

#include <memory>

#include "core/base/status.h"
#include "core/config/job_config.h"
#include "core/train/gan_trainer.h"

namespace tutti {

// `num_genres` is data.genres.size() for genre-conditional models (ignored otherwise). `local_ranks` is
// the number of training processes sharing this machine's cores (for the default thread count).
StatusOr<std::unique_ptr<GanTrainer>> CreateTrainerFromConfig(const JobConfig& config, int local_ranks = 1);

GeneratorOptions GeneratorOptionsFromConfig(const JobConfig& config);
DiscriminatorOptions DiscriminatorOptionsFromConfig(const JobConfig& config);
TrainOptions TrainOptionsFromConfig(const JobConfig& config, int local_ranks = 1);

}  // namespace tutti
