#include "core/model/networks.h"

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>

namespace tutti {
namespace {

// Validates with the Status-returning checks and throws, since constructors cannot return one.
void CheckOrThrow(const Status& status) { TORCH_CHECK(status.ok(), status.ToString()); }

void CheckGenres(int64_t num_genres, int64_t batch, const torch::Tensor& genre_ids,
                 const char* who) {
  if (num_genres == 0) {
    TORCH_CHECK(!genre_ids.defined(), who,
                ": unconditional model (num_genres = 0) got genre_ids; pass an undefined tensor");
    return;
  }
  TORCH_CHECK(genre_ids.defined(), who, ": conditional model (num_genres = ", num_genres,
              ") needs genre_ids of shape (", batch, ")");
  TORCH_CHECK(genre_ids.dim() == 1 && genre_ids.size(0) == batch &&
                  genre_ids.scalar_type() == torch::kLong,
              who, ": expected genre_ids int64 (", batch, "), got ", genre_ids.scalar_type(), " ",
              genre_ids.sizes());
}

}  // namespace

// ---------------------------------------------------------------------------------------------
GeneratorImpl::GeneratorImpl(GeneratorOptions options_) : options(std::move(options_)) {
  CheckOrThrow(ValidateGeneratorOptions(options));
  const int64_t t = options.tracks();
  transconv0 = register_module(
      "transconv0", GeneratorBlock(GeneratorBlockOptions(options.latent_dim(), 256,
                                                         {options.measures(), 1, 1},
                                                         {options.measures(), 1, 1})));
  const int64_t steps4 = options.steps_per_measure() / 4;
  transconv1 = register_module(
      "transconv1", GeneratorBlock(GeneratorBlockOptions(256, 128, {1, steps4, 1}, {1, steps4, 1})));
  transconv2 = register_module(
      "transconv2", GeneratorBlock(GeneratorBlockOptions(128, 64, {1, 1, 4}, {1, 1, 4})));
  transconv3 = register_module(
      "transconv3", GeneratorBlock(GeneratorBlockOptions(64, 32, {1, 1, 3}, {1, 1, 1})));
  const int64_t pitch6 = options.pitches() / 6;
  if (options.grouped_tracks()) {
    transconv4 = register_module(
        "transconv4", GeneratorBlock(GeneratorBlockOptions(32, 16 * t, {1, 4, 1}, {1, 4, 1})
                                         .tracks(t)
                                         .broadcast_input(true)));
    transconv5 = register_module(
        "transconv5",
        GeneratorBlock(GeneratorBlockOptions(16 * t, t, {1, 1, pitch6}, {1, 1, pitch6}).tracks(t)));
  } else {
    transconv4_tracks = register_module("transconv4", torch::nn::ModuleList());
    transconv5_tracks = register_module("transconv5", torch::nn::ModuleList());
    for (int64_t i = 0; i < t; ++i) {
      transconv4_tracks->push_back(GeneratorBlock(GeneratorBlockOptions(32, 16, {1, 4, 1}, {1, 4, 1})));
      transconv5_tracks->push_back(
          GeneratorBlock(GeneratorBlockOptions(16, 1, {1, 1, pitch6}, {1, 1, pitch6})));
    }
  }
  if (options.num_genres() > 0) {
    genre_embedding = register_module(
        "genre_embedding", torch::nn::Embedding(options.num_genres(), options.latent_dim()));
  }
  reset_parameters(at::detail::getDefaultCPUGenerator());
}

void GeneratorImpl::reset_parameters(const at::Generator& gen) {
  for (auto* block : {&transconv0, &transconv1, &transconv2, &transconv3}) {
    (*block)->reset_parameters(gen);
  }
  if (options.grouped_tracks()) {
    transconv4->reset_parameters(gen);
    transconv5->reset_parameters(gen);
  } else {
    for (auto* list : {&transconv4_tracks, &transconv5_tracks}) {
      for (const auto& m : **list) m->as<GeneratorBlockImpl>()->reset_parameters(gen);
    }
  }
  if (genre_embedding) {
    torch::NoGradGuard no_grad;
    genre_embedding->weight.zero_();
  }
}

torch::Tensor GeneratorImpl::forward(const torch::Tensor& z, const torch::Tensor& genre_ids) {
  TORCH_CHECK(z.dim() == 2 && z.size(1) == options.latent_dim(), "Generator: expected z (B, ",
              options.latent_dim(), "), got ", z.sizes());
  const int64_t batch = z.size(0), t = options.tracks();
  CheckGenres(options.num_genres(), batch, genre_ids, "Generator");
  torch::Tensor x = genre_embedding ? z + genre_embedding->forward(genre_ids) : z;
  x = x.view({batch, options.latent_dim(), 1, 1, 1});
  x = transconv3(transconv2(transconv1(transconv0(x))));
  if (options.grouped_tracks()) {
    x = transconv5(transconv4(x));
  } else {
    std::vector<torch::Tensor> per_track;
    per_track.reserve(t);
    for (int64_t i = 0; i < t; ++i) {
      per_track.push_back(transconv5_tracks[i]->as<GeneratorBlockImpl>()->forward(
          transconv4_tracks[i]->as<GeneratorBlockImpl>()->forward(x)));
    }
    x = torch::cat(per_track, 1);
  }
  return x.view({batch, t, options.measures() * options.steps_per_measure(), options.pitches()});
}

void GeneratorImpl::pretty_print(std::ostream& stream) const {
  stream << "tutti::Generator(latent_dim=" << options.latent_dim() << ", tracks=" << options.tracks()
         << ", measures=" << options.measures() << ", steps_per_measure="
         << options.steps_per_measure() << ", pitches=" << options.pitches()
         << ", num_genres=" << options.num_genres()
         << ", grouped_tracks=" << (options.grouped_tracks() ? "true" : "false") << ")";
}

// ---------------------------------------------------------------------------------------------
DiscriminatorImpl::DiscriminatorImpl(DiscriminatorOptions options_) : options(std::move(options_)) {
  CheckOrThrow(ValidateDiscriminatorOptions(options));
  const int64_t t = options.tracks(), pitch6 = options.pitches() / 6;
  using Opts = DiscriminatorBlockOptions;
  if (options.grouped_tracks()) {
    conv0 = register_module(
        "conv0", DiscriminatorBlock(Opts(t, 16 * t, {1, 1, pitch6}, {1, 1, pitch6}).tracks(t)));
    conv1 = register_module("conv1",
                            DiscriminatorBlock(Opts(16 * t, 16 * t, {1, 4, 1}, {1, 4, 1}).tracks(t)));
  } else {
    conv0_tracks = register_module("conv0", torch::nn::ModuleList());
    conv1_tracks = register_module("conv1", torch::nn::ModuleList());
    for (int64_t i = 0; i < t; ++i) {
      conv0_tracks->push_back(DiscriminatorBlock(Opts(1, 16, {1, 1, pitch6}, {1, 1, pitch6})));
      conv1_tracks->push_back(DiscriminatorBlock(Opts(16, 16, {1, 4, 1}, {1, 4, 1})));
    }
  }
  const int64_t steps4 = options.steps_per_measure() / 4, m1 = options.measures() - 1;
  conv2 = register_module("conv2", DiscriminatorBlock(Opts(16 * t, 64, {1, 1, 3}, {1, 1, 1})));
  conv3 = register_module("conv3", DiscriminatorBlock(Opts(64, 64, {1, 1, 4}, {1, 1, 4})));
  conv4 = register_module("conv4",
                          DiscriminatorBlock(Opts(64, 128, {1, steps4, 1}, {1, steps4, 1})));
  conv5 = register_module("conv5", DiscriminatorBlock(Opts(128, 128, {2, 1, 1}, {1, 1, 1})));
  conv6 = register_module("conv6", DiscriminatorBlock(Opts(128, 256, {m1, 1, 1}, {m1, 1, 1})));
  dense = register_module("dense", torch::nn::Linear(256, 1));
  if (options.num_genres() > 0) {
    genre_embedding =
        register_module("genre_embedding", torch::nn::Embedding(options.num_genres(), 256));
  }
  reset_parameters(at::detail::getDefaultCPUGenerator());
}

void DiscriminatorImpl::reset_parameters(const at::Generator& gen) {
  if (options.grouped_tracks()) {
    conv0->reset_parameters(gen);
    conv1->reset_parameters(gen);
  } else {
    for (auto* list : {&conv0_tracks, &conv1_tracks}) {
      for (const auto& m : **list) m->as<DiscriminatorBlockImpl>()->reset_parameters(gen);
    }
  }
  for (auto* block : {&conv2, &conv3, &conv4, &conv5, &conv6}) (*block)->reset_parameters(gen);
  torch::NoGradGuard no_grad;
  const double bound = 1.0 / std::sqrt(256.0);  // PyTorch's default Linear init
  dense->weight.uniform_(-bound, bound, gen);
  dense->bias.uniform_(-bound, bound, gen);
  if (genre_embedding) genre_embedding->weight.zero_();
}

torch::Tensor DiscriminatorImpl::forward(const torch::Tensor& x, const torch::Tensor& genre_ids) {
  const int64_t t = options.tracks(), m = options.measures(), s = options.steps_per_measure(),
                p = options.pitches();
  TORCH_CHECK(x.dim() == 4 && x.size(1) == t && x.size(2) == m * s && x.size(3) == p,
              "Discriminator: expected x (B, ", t, ", ", m * s, ", ", p, "), got ", x.sizes());
  const int64_t batch = x.size(0);
  CheckGenres(options.num_genres(), batch, genre_ids, "Discriminator");
  torch::Tensor h = x.reshape({batch, t, m, s, p});
  if (options.grouped_tracks()) {
    h = conv1(conv0(h));
  } else {
    std::vector<torch::Tensor> per_track;
    per_track.reserve(t);
    for (int64_t i = 0; i < t; ++i) {
      per_track.push_back(conv1_tracks[i]->as<DiscriminatorBlockImpl>()->forward(
          conv0_tracks[i]->as<DiscriminatorBlockImpl>()->forward(h.narrow(1, i, 1))));
    }
    h = torch::cat(per_track, 1);
  }
  h = conv6(conv5(conv4(conv3(conv2(h))))).view({batch, 256});
  torch::Tensor out = dense(h);
  if (genre_embedding) {
    out = out + (genre_embedding->forward(genre_ids) * h).sum(1, /*keepdim=*/true);
  }
  return out;
}

void DiscriminatorImpl::pretty_print(std::ostream& stream) const {
  stream << "tutti::Discriminator(tracks=" << options.tracks() << ", measures=" << options.measures()
         << ", steps_per_measure=" << options.steps_per_measure() << ", pitches="
         << options.pitches() << ", num_genres=" << options.num_genres()
         << ", grouped_tracks=" << (options.grouped_tracks() ? "true" : "false") << ")";
}

}  // namespace tutti
