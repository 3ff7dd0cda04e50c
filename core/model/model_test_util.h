#pragma once
// Test helpers shared by the model's tests.

#include <cstdint>

#include <ATen/CPUGeneratorImpl.h>

#include "core/model/networks.h"

namespace tutti {

// Draws both generators' weights from CPU generators seeded alike. An option whose weights are drawn last leaves
// every other layer as the plain model's, which the option tests compare against.
inline void DrawAlike(Generator& a, Generator& b, uint64_t seed) {
  at::Generator gen_a = at::detail::createCPUGenerator(seed), gen_b = at::detail::createCPUGenerator(seed);
  a->reset_parameters(gen_a);
  b->reset_parameters(gen_b);
}

}  // namespace tutti
