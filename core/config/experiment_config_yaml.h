#pragma once
// ExperimentConfig <-> YAML (the same parser as job files: core/config/internal/schema.h), --set
// overrides, validation with every error listed, and the mapping to the searcher's own config.
//
// File format: a job file's keys, plus
//
//   description: "learning-rate sweep"
//   labels: [lr, asha]
//   resources:
//     ranks: 2
//   hyperparameters:                      # job key path -> how it varies
//     train.g_lr: {type: log_uniform, min: 1.0e-4, max: 1.0e-2, count: 3}   # count: grid points
//     train.critic_steps: {type: int, min: 1, max: 3}
//     data.genres: {type: categorical, values: [[rock], [pop]]}
//     train.batch_size: 16                # shorthand: a constant
//   searcher: {name: asha, metric: eval.realism.score, max_trials: 8, max_length: 300, divisor: 3, max_rungs: 3}
//   early_stopping: {patience: 4}
//   max_restarts: 3
//
// Types: const (key `value`), int and double (`min`, `max`), log_uniform (`min` > 0, `max`), categorical
// (`values`, a list); grid searches also take `count` for double and log_uniform (int: every integer unless
// `count` is given). Every value must be valid for its job key ("hyperparameters.train.g_lr.min: -1 is not a
// valid train.g_lr: expected a positive number").
//
// Errors are InvalidArgument, one per line, each "<file>:<line>:<col>: <key.path>: ...", first found first;
// the cross-field checks (the searcher against the hyperparameters, rung lengths, ...) have no position and
// name their keys.

#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/config/experiment_config.h"
#include "core/sweep/early_stopping.h"
#include "core/sweep/searcher.h"

namespace tutti {

// Reads and validates an experiment file (or a plain job file) with `overrides` ("key.path=value" on
// experiment or job keys) applied after the file.
StatusOr<ExperimentConfig> ParseExperimentConfig(const std::string& yaml_text, const std::string& source_name,
                                                 const std::vector<std::string>& overrides = {});
StatusOr<ExperimentConfig> LoadExperimentConfig(const std::string& path, const std::vector<std::string>& overrides = {});

// Every cross-field rule, all errors listed: the job's own rules, max_restarts, early stopping, and the
// searcher built over the hyperparameters (sweep::CreateSearcher's checks).
Status ValidateExperimentConfig(const ExperimentConfig& config);

// Whether the experiment's trials fit workers that give `available_ranks` ranks (`tutti agent --ranks`, a
// Slurm allocation): InvalidArgument "<source>: resources.ranks: ..." when a trial needs more — it would
// wait in the queue for a bigger worker. resources.ranks 0 (the agent's --np) always fits.
Status CheckFitsRanks(const ExperimentConfig& config, int available_ranks, const std::string& source_name);

// The resolved experiment as YAML (every key), parsing back to an equal config.
std::string ExperimentConfigToYaml(const ExperimentConfig& config);

// Applies one "key.path=value" to an experiment (experiment keys and job keys).
Status ApplyExperimentOverride(const std::string& assignment, ExperimentConfig* config);

// The searcher's config: name -> kind, max_length 0 -> job.train.steps.
sweep::SearcherConfig ToSearcherConfig(const ExperimentConfig& config);
sweep::EarlyStoppingConfig ToEarlyStoppingConfig(const ExperimentConfig& config);

// The job a trial runs: the experiment's job with `hparams` applied (each "path=value") and train.steps =
// `length`. Errors name the hyperparameter.
StatusOr<JobConfig> TrialJobConfig(const ExperimentConfig& config, const sweep::Assignment& hparams, int64_t length);

// Every settable experiment key path (job keys included), in file order.
std::vector<std::string> ExperimentConfigKeyPaths();

}  // namespace tutti
