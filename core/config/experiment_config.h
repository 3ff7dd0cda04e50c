#pragma once
// ExperimentConfig: what `tutti submit` sends and `tutti validate` checks — a job (every JobConfig key, at
// the top level, as in a job file) plus how to run it as an experiment: a description and labels, the
// ranks each trial trains with, the hyperparameters a sweep varies, the searcher, GAN-aware early stopping
// and how often a failed trial is retried. A plain job file is an experiment with one trial (searcher
// "single", no hyperparameters). configs/reference.yaml documents every key with its default.
//
// Thread-safety: plain values; copy freely.

#include <cstdint>
#include <string>
#include <vector>

#include "core/config/job_config.h"
#include "core/sweep/search_space.h"

namespace tutti {

// What each trial of the experiment is given.
struct ResourcesConfig {
  // Ranks (processes: `mpirun -np`) per trial; 0 = what the agent is started with (`tutti agent --np`).
  int ranks = 0;
};

// Which trials run and for how long (core/sweep/searcher.h).
struct SearcherSection {
  // single (one trial), grid (every point of the hyperparameters' grids), random (max_trials draws) or
  // asha (asynchronous successive halving: many trials start short, the best 1/divisor go on).
  std::string name = "single";
  // The metric trials are ranked by: "eval.realism.score" (the realism measure of the worker's
  // evaluations; smaller is better) or any metric a trial logs ("wasserstein", "eval.tracks.Piano...").
  std::string metric = "eval.realism.score";
  bool smaller_is_better = true;
  // Trials to create; 0 = the searcher's default: 1 for single, the whole grid for grid (random and asha
  // need a number).
  int max_trials = 0;
  // Trials training at once (0 = as many as agents take).
  int max_concurrent_trials = 0;
  // Steps a trial trains at most; 0 = train.steps. ASHA's top rung.
  int64_t max_length = 0;
  // ASHA: promote the best 1/divisor of each rung; number of rungs (rung k trains max_length /
  // divisor^(max_rungs - 1 - k) steps).
  int divisor = 4;
  int max_rungs = 3;
  // Seed of the searcher's random choices.
  uint64_t seed = 0;
};

// GAN-aware early stopping (core/sweep/early_stopping.h has the exact rules and reason codes).
struct EarlyStoppingSection {
  bool enabled = true;
  // "critic diverged": mean |wasserstein| over the last divergence_window training lines above this.
  double divergence_threshold = 100;
  int divergence_window = 5;
  // "generator collapsed": the evaluation's diversity (mean Jaccard distance between probe samples) below
  // this at collapse_evaluations consecutive evaluations.
  double collapse_threshold = 0.05;
  int collapse_evaluations = 2;
  // "no improvement": the searcher's metric did not improve by more than min_delta for this many
  // evaluations (0 = off).
  int patience = 0;
  double min_delta = 0;
};

struct ExperimentConfig {
  // The job every trial runs (its hyperparameters and train.steps set per trial).
  JobConfig job;
  // Free text shown by `tutti experiments` / `describe`.
  std::string description;
  // Free-form tags ("baseline", "lr-sweep").
  std::vector<std::string> labels;
  ResourcesConfig resources;
  // What varies between trials: job key path -> how (search_space.h). Empty for a plain job.
  std::vector<sweep::HyperparameterSpec> hyperparameters;
  SearcherSection searcher;
  EarlyStoppingSection early_stopping;
  // Times a trial that failed with a retryable error (a dead rank, a lost node or lease) is run again
  // from its newest checkpoint before it fails for good.
  int max_restarts = 3;
};

}  // namespace tutti
