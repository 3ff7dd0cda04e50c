#pragma once
// Test helper (core/sample and the CLI's generate / metrics tests): a real checkpoint written the way
// tutti-worker writes one (CreateTrainerFromConfig, a few Steps on random 0/1 batches, SaveCheckpoint with
// the resolved config inside). Small and CPU-only.

#include <string>

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/checkpoint/checkpoint.h"
#include "core/config/job_config_yaml.h"
#include "core/train/trainer_from_config.h"

namespace tutti::testing {

inline JobConfig SmallSampleConfig(bool conditional) {
  JobConfig config;
  config.name = "cli-test";
  config.train.batch_size = 4;
  config.train.seed = 11;
  config.train.intra_op_threads = 2;
  config.model.genre_conditional = conditional;
  if (conditional) config.data.genres = {"rock", "pop"};
  return config;
}

// Writes "<dir>/ckpt-<step>.tutti" after `steps` training steps and returns its path ("" on failure, with a
// test failure recorded).
inline std::string MakeCheckpoint(const std::string& dir, const JobConfig& config, int steps) {
  StatusOr<std::unique_ptr<GanTrainer>> trainer = CreateTrainerFromConfig(config);
  EXPECT_TRUE(trainer.ok()) << trainer.status();
  if (!trainer.ok()) return "";
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(99);
  for (int i = 0; i < steps; ++i) {
    torch::Tensor real = (torch::rand({4, 5, 64, 72}, gen) < 0.05).to(torch::kFloat);
    torch::Tensor genres;
    if (config.model.genre_conditional) genres = torch::tensor({0, 1, 0, 1}, torch::kInt64);
    StatusOr<StepMetrics> m = (*trainer)->Step(real, genres);
    EXPECT_TRUE(m.ok()) << m.status();
    if (!m.ok()) return "";
  }
  CheckpointMeta meta;
  meta.step = (*trainer)->step();
  meta.config_yaml = JobConfigToYaml(config);
  const std::string path = CheckpointPath(dir, meta.step);
  StatusOr<std::string> saved = SaveCheckpoint(path, **trainer, meta);
  EXPECT_TRUE(saved.ok()) << saved.status();
  return saved.ok() ? path : "";
}

}  // namespace tutti::testing
