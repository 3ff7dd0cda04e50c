#include "core/train/trainer_from_config.h"

#include <torch/cuda.h>

namespace tutti {
namespace {

int64_t GenreCount(const JobConfig& config) {
  return config.model.genre_conditional ? static_cast<int64_t>(config.data.genres.size()) : 0;
}

}  // namespace

GeneratorOptions GeneratorOptionsFromConfig(const JobConfig& config) {
  GeneratorOptions g;
  g.latent_dim(config.model.latent_dim)
      .tracks(config.model.tracks)
      .measures(config.model.measures)
      .steps_per_measure(config.model.steps_per_measure)
      .pitches(config.model.pitches)
      .num_genres(GenreCount(config))
      .refiner_units(config.model.refiner_units)
      .condition_track(ConditionTrackIndex(config.model));
  // ValidateJobConfig has refused any entry this would drop.
  const StatusOr<std::vector<int64_t>> held = HeldTrackIndices(config.model);
  if (held.ok()) g.held_tracks(*held);
  g.held_on_eighths(config.model.held_on_eighths);
  g.held_detail(config.model.held_detail);
  g.held_release(config.model.held_release);
  const StatusOr<std::vector<int64_t>> released = HeldReleaseTrackIndices(config.model);
  if (released.ok()) g.held_release_tracks(*released);
  const StatusOr<std::vector<int64_t>> late = HeldReleaseLateTrackIndices(config.model);
  if (late.ok()) g.held_release_late_tracks(*late);
  const StatusOr<std::vector<int64_t>> harmony = HarmonyTrackIndices(config.model);
  if (harmony.ok()) g.harmony_tracks(*harmony);
  g.harmony_gain(config.model.harmony_gain);
  g.harmony_after_norm(config.model.harmony_after_norm);
  g.harmony_gate(config.model.harmony_gate);
  g.harmony_gate_lower_only(config.model.harmony_gate_lower_only);
  const StatusOr<std::vector<int64_t>> root = HarmonyRootTrackIndices(config.model);
  if (root.ok()) g.harmony_root_tracks(*root);
  g.bar_levels(config.model.bar_levels);
  g.bar_gate(config.model.bar_gate);
  g.bar_gate_hard(config.model.bar_gate_hard);
  g.bar_level_scale(config.model.bar_level_scale);
  g.rest_plans(config.model.rest_plans);
  OutputActivation output = OutputActivation::kRelu;
  ParseOutputActivation(config.model.output, &output);  // the schema admits only the three names
  g.output(output);
  RefinerKind refiner = RefinerKind::kNone;
  ParseRefinerKind(config.model.refiner, &refiner);  // the config schema admits only the three names
  g.refiner(refiner);
  return g;
}

DiscriminatorOptions DiscriminatorOptionsFromConfig(const JobConfig& config) {
  DiscriminatorOptions d;
  d.tracks(config.model.tracks)
      .measures(config.model.measures)
      .steps_per_measure(config.model.steps_per_measure)
      .pitches(config.model.pitches)
      .num_genres(GenreCount(config))
      .onset_stream(config.model.onset_stream)
      .chroma_stream(config.model.chroma_stream)
      .minibatch_stddev(config.model.critic_minibatch_stddev)
      .bar_silence(config.model.critic_bar_silence);
  return d;
}

TrainOptions TrainOptionsFromConfig(const JobConfig& config, int local_ranks, int rank, int world_size) {
  TrainOptions t;
  t.batch_size = config.train.batch_size;
  t.g_lr = config.train.g_lr;
  t.d_lr = config.train.d_lr;
  t.beta1 = config.train.beta1;
  t.beta2 = config.train.beta2;
  t.adam_eps = config.train.adam_eps;
  t.critic_steps = config.train.critic_steps;
  t.gp_weight = config.train.gp_weight;
  t.generator_ema = config.train.generator_ema;
  t.generator_ema_warmup = config.train.generator_ema_warmup;
  t.seed = config.train.seed;
  t.intra_op_threads = config.train.intra_op_threads;
  t.local_ranks = local_ranks;
  t.rank = rank;
  t.world_size = world_size;
  t.sync_batchnorm = config.distributed.sync_batchnorm;
  t.refiner_pretrain_steps = config.model.refiner_pretrain_steps;
  t.refiner_freeze_generator = config.model.refiner_generator == "frozen";
  // "auto": CUDA when a device is visible, else the CPU.
  t.device = config.train.device == "auto" ? (torch::cuda::is_available() ? "cuda" : "cpu") : config.train.device;
  return t;
}

StatusOr<std::unique_ptr<GanTrainer>> CreateTrainerFromConfig(const JobConfig& config, int local_ranks, int rank,
                                                              int world_size) {
  return GanTrainer::Create(GeneratorOptionsFromConfig(config), DiscriminatorOptionsFromConfig(config),
                            TrainOptionsFromConfig(config, local_ranks, rank, world_size));
}

}  // namespace tutti
