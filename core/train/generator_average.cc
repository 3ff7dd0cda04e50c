#include "core/train/generator_average.h"

#include <algorithm>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/utils.h>

namespace tutti {

GeneratorAverage::GeneratorAverage(const GeneratorOptions& options, double decay, const torch::Tensor& live_params,
                                   uint64_t seed, bool warmup)
    : options_(options), decay_(decay), warmup_(warmup), seed_(seed), average_(live_params.detach().clone()) {}

double GeneratorAverage::DecayAt(int64_t update) const {
  if (!warmup_) return decay_;
  const double t = static_cast<double>(std::max<int64_t>(update, 0));
  return std::min(decay_, (1.0 + t) / (10.0 + t));
}

void GeneratorAverage::Update(const torch::Tensor& live_params, int64_t update) {
  torch::NoGradGuard no_grad;
  average_.lerp_(live_params.detach(), 1.0 - DecayAt(update));
  model_current_ = false;
}

void GeneratorAverage::ResetFrom(const Generator& weights) {
  torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> params = weights->parameters();
  int64_t total = 0;
  for (const torch::Tensor& p : params) total += p.numel();
  // Checked before the first copy: a refused generator leaves the average as it was.
  TORCH_CHECK(total == average_.numel(), "GeneratorAverage: ", average_.numel(), " averaged weights, a generator of ",
              total);
  int64_t offset = 0;
  for (const torch::Tensor& p : params) {
    average_.narrow(0, offset, p.numel()).copy_(p.reshape({-1}));
    offset += p.numel();
  }
  model_current_ = false;
}

Generator& GeneratorAverage::Model(const Generator& live, const torch::Tensor& given_parts) {
  if (model_current_) return model_;
  torch::NoGradGuard no_grad;
  if (!model_) {
    model_ = Generator(options_);
    model_->to(average_.device());
  }
  int64_t offset = 0;
  for (torch::Tensor& p : model_->parameters()) {
    p.copy_(average_.narrow(0, offset, p.numel()).view(p.sizes()));
    offset += p.numel();
  }
  TORCH_CHECK(offset == average_.numel(), "GeneratorAverage: ", average_.numel(), " averaged weights for a generator of ",
              offset);
  const std::vector<torch::Tensor> from = live->buffers();
  std::vector<torch::Tensor> to = model_->buffers();
  for (size_t i = 0; i < to.size(); ++i) to[i].copy_(from[i]);
  Calibrate(given_parts);
  model_->eval();
  model_current_ = true;
  return model_;
}

void GeneratorAverage::Calibrate(const torch::Tensor& given_parts) {
  std::vector<torch::nn::BatchNorm3dImpl*> norms;
  for (const auto& module : model_->modules(/*include_self=*/false)) {
    if (auto* bn = dynamic_cast<torch::nn::BatchNorm3dImpl*>(module.get())) norms.push_back(bn);
  }
  std::vector<double> momentum;
  for (auto* bn : norms) {
    momentum.push_back(bn->options.momentum().value());
    bn->reset_running_stats();
  }
  model_->train();
  at::Generator rng = at::detail::createCPUGenerator(seed_);
  const torch::Device device = average_.device();
  const int64_t n = kCalibrationBatch, time = options_.measures() * options_.steps_per_measure();
  for (int64_t k = 0; k < kCalibrationBatches; ++k) {
    // Momentum 1 / (k + 1): after batch k each running statistic is the plain mean over batches 0..k.
    for (auto* bn : norms) bn->options.momentum(1.0 / static_cast<double>(k + 1));
    const torch::Tensor z = torch::randn({n, options_.latent_dim()}, rng).to(device);
    const torch::Tensor genres = options_.num_genres() > 0
                                     ? torch::arange(k * n, (k + 1) * n, torch::kLong).remainder(options_.num_genres()).to(device)
                                     : torch::Tensor();
    torch::Tensor given;
    if (options_.condition_track() >= 0) {
      given = given_parts.defined() && given_parts.size(0) > 0
                  ? given_parts.index_select(0, torch::arange(n, torch::kLong).remainder(given_parts.size(0)).to(given_parts.device()))
                        .to(device, torch::kFloat)
                  : torch::zeros({n, time, options_.pitches()}, torch::TensorOptions(device));
    }
    model_(z, genres, torch::Tensor(), given);
  }
  for (size_t i = 0; i < norms.size(); ++i) norms[i]->options.momentum(momentum[i]);
}

}  // namespace tutti
