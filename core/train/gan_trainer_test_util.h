#pragma once
// Helpers shared by GanTrainer's tests (gan_trainer_test.cc, generator_average_test.cc): a small trainer and
// fixed pseudo-data, so two tests that train the same way see the same batches.

#include <memory>
#include <utility>

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/train/gan_trainer.h"

namespace tutti {

inline TrainOptions SmallOptions() {
  TrainOptions o;
  o.batch_size = 4;
  o.seed = 123;
  o.intra_op_threads = 2;
  return o;
}

// Fixed pseudo-data: batch i is the same in every call.
inline torch::Tensor RealBatch(int64_t i, int64_t batch = 4) {
  auto gen = at::detail::createCPUGenerator(1000 + i);
  return (torch::rand({batch, 5, 64, 72}, gen) < 0.1).to(torch::kFloat);
}

inline std::unique_ptr<GanTrainer> MakeTrainer(TrainOptions o = SmallOptions(),
                                               GeneratorOptions g = {}, DiscriminatorOptions d = {}) {
  auto t = GanTrainer::Create(g, d, o);
  EXPECT_TRUE(t.ok()) << t.status();
  return std::move(t).value();
}

inline void RunSteps(GanTrainer& t, int64_t from, int64_t to) {
  for (int64_t i = from; i < to; ++i) {
    auto m = t.Step(RealBatch(i % 3));
    ASSERT_TRUE(m.ok()) << m.status();
  }
}

}  // namespace tutti
