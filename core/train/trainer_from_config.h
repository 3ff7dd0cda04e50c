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
// `rank` / `world_size`: this process's data-parallel position (TrainOptions::rank / world_size: the
// trainer draws latents for the global batch of batch_size x world_size and uses its rank's rows);
// distributed.sync_batchnorm becomes TrainOptions::sync_batchnorm.
StatusOr<std::unique_ptr<GanTrainer>> CreateTrainerFromConfig(const JobConfig& config, int local_ranks = 1,
                                                              int rank = 0, int world_size = 1);

GeneratorOptions GeneratorOptionsFromConfig(const JobConfig& config);
DiscriminatorOptions DiscriminatorOptionsFromConfig(const JobConfig& config);
TrainOptions TrainOptionsFromConfig(const JobConfig& config, int local_ranks = 1, int rank = 0,
                                    int world_size = 1);

}  // namespace tutti
