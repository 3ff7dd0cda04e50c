#include "core/model/networks.h"

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/utils.h>

#include "core/model/norm_act.h"

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
  if (options.refiner() != RefinerKind::kNone) {
    refiner = register_module(
        "refiner", Refiner(t, options.pitches(), options.refiner_units(), options.refiner()));
    refiner_active_flag = register_buffer("refiner_active", torch::zeros({1}));
  }
  if (options.condition_track() >= 0) {
    condition_encoder = register_module(
        "condition_encoder", ConditionEncoder(options.measures(), options.steps_per_measure(), options.pitches()));
  }
  if (!options.held_tracks().empty()) {
    held_steps = register_module("held_steps",
                                 HeldSteps(32, 16, static_cast<int64_t>(options.held_tracks().size()),
                                           options.held_on_eighths()));
  }
  if (!options.harmony_tracks().empty()) {
    shared_harmony = register_module("shared_harmony", SharedHarmony(32, t, options.harmony_tracks(), options.harmony_gain()));
  }
  if (options.bar_levels()) {
    bar_levels = register_module("bar_levels", BarLevels(256, t, options.bar_level_scale()));
  }
  // A parameter of the generator itself: LibTorch lists it before every submodule's (own parameters first). The
  // order only has to hold within one model (flat buffers); checkpoints load by name.
  if (options.held_detail()) {
    held_detail_gain =
        register_parameter("held_detail_gain", torch::zeros({static_cast<int64_t>(options.held_tracks().size())}));
  }
  if (options.held_release()) {
    held_release = register_module("held_release",
                                   HeldRelease(16, ReleasedTracks(options), options.held_release_late_tracks()));
  }
  // No parameters and no random draws: the other layers start as they did without it.
  if (options.rest_plans()) rest_plans = register_module("rest_plans", RestPlans(t, options.measures()));
  reset_parameters(at::detail::getDefaultCPUGenerator());
}

void GeneratorImpl::set_refiner_active(bool active) {
  if (!refiner) return;
  torch::NoGradGuard no_grad;
  refiner_active_flag.fill_(active ? 1 : 0);
}

bool GeneratorImpl::refiner_active() const {
  return refiner && refiner_active_flag.item<float>() > 0.5f;
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
  // Last, so the other layers draw what they drew before refiners existed.
  if (refiner) refiner->reset_parameters(gen);
  if (condition_encoder) condition_encoder->reset_parameters(gen);
  if (held_steps) held_steps->reset_parameters(gen);
  if (shared_harmony) shared_harmony->reset_parameters(gen);
  if (bar_levels) bar_levels->reset_parameters();
  if (held_detail_gain.defined()) {
    torch::NoGradGuard no_grad;
    held_detail_gain.zero_();
  }
  if (held_release) held_release->reset_parameters(gen);
}

torch::Tensor GeneratorImpl::forward(const torch::Tensor& z, const torch::Tensor& genre_ids,
                                     const torch::Tensor& refiner_noise, const torch::Tensor& given_in) {
  const int64_t time = options.measures() * options.steps_per_measure();
  torch::Tensor given;
  if (condition_encoder) {
    TORCH_CHECK(given_in.defined(), "Generator: an accompaniment model (condition_track ", options.condition_track(),
                ") needs the given part of every sample, (B, ", time, ", ", options.pitches(), ")");
    TORCH_CHECK(given_in.dim() == 3 && given_in.size(0) == z.size(0) && given_in.size(1) == time &&
                    given_in.size(2) == options.pitches(),
                "Generator: expected the given part as (", z.size(0), ", ", time, ", ", options.pitches(), "), got ",
                given_in.sizes());
    given = given_in.to(z.device(), torch::kFloat);
  } else {
    TORCH_CHECK(!given_in.defined(), "Generator: got a given part but the model has no condition track");
  }
  if (!refiner_active()) return WithGivenPart(WithRests(Base(z, genre_ids, given), z), given);
  torch::Tensor base;
  {
    // A frozen generator runs without autograd; otherwise the caller's mode stands.
    torch::AutoGradMode grad_mode(torch::GradMode::is_enabled() && !base_frozen_);
    base = Base(z, genre_ids, given);
  }
  // After the refiner, so its residual cannot write notes into a resting bar.
  return WithGivenPart(WithRests(refiner(base, refiner_noise), z), given);
}

torch::Tensor GeneratorImpl::WithRests(const torch::Tensor& out, const torch::Tensor& z) const {
  return rest_plans ? rest_plans->Apply(out, z) : out;
}

torch::Tensor GeneratorImpl::WithGivenPart(const torch::Tensor& out, const torch::Tensor& given) const {
  if (!given.defined()) return out;
  // A concatenation rather than an in-place copy: autograd keeps the written tracks' graph, and the given
  // track (data, not a function of the weights) passes no gradient back into its own branch.
  const int64_t c = options.condition_track(), t = options.tracks();
  return torch::cat({out.narrow(1, 0, c), given.unsqueeze(1), out.narrow(1, c + 1, t - c - 1)}, 1);
}

torch::Tensor GeneratorImpl::Base(const torch::Tensor& z, const torch::Tensor& genre_ids, const torch::Tensor& given) {
  TORCH_CHECK(z.dim() == 2 && z.size(1) == options.latent_dim(), "Generator: expected z (B, ",
              options.latent_dim(), "), got ", z.sizes());
  const int64_t batch = z.size(0), t = options.tracks();
  CheckGenres(options.num_genres(), batch, genre_ids, "Generator");
  torch::Tensor x = genre_embedding ? z + genre_embedding->forward(genre_ids) : z;
  x = x.view({batch, options.latent_dim(), 1, 1, 1});
  torch::Tensor bars;  // transconv0's output: per-bar features
  if (condition_encoder) {
    // The given part enters at the scales where bars and beats are made (condition_encoder.h).
    const ConditionEncoderImpl::Features features = condition_encoder(given);
    bars = transconv0(x) + features.per_bar;
    x = transconv1(bars) + features.per_beat;
  } else {
    bars = transconv0(x);
    x = transconv1(bars);
  }
  x = transconv3(transconv2(x));
  if (options.grouped_tracks()) {
    x = PerTrackOutputs(x, bars);
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

// transconv4 and transconv5 have kernel == stride: each output patch is one matrix product of
// its input position, so they run as an addmm and a baddbmm instead of the CPU's slow transposed
// 3-D convolution. Rows are ordered (b, m, s4, p6, k4), so each layer's output is already the
// next one's input and BatchNorm sees (rows, channels). Same weights, same result as
// transconv5(transconv4(h)) viewed (B, T, M * S, P).
torch::Tensor GeneratorImpl::PerTrackOutputs(const torch::Tensor& h, const torch::Tensor& bars) {
  const int64_t t = options.tracks(), b = h.size(0), m = options.measures(),
                s4 = options.steps_per_measure() / 4, kp = options.pitches() / 6, c = 16,
                cin = h.size(1);
  const int64_t rows = b * m * s4 * 6;
  // h (B, 32, M, S4, 6) -> (rows, 32); weight (32, T*c, 1, 4, 1) -> (32, [k4, T*c]).
  const torch::Tensor in4 = h.permute({0, 2, 3, 4, 1}).reshape({rows, cin});
  const torch::nn::ConvTranspose3d& tc4 = transconv4->transconv;
  const torch::Tensor w4 = tc4->weight.view({cin, t * c, 4}).permute({0, 2, 1}).reshape({cin, 4 * t * c});
  torch::Tensor x4 = torch::addmm(tc4->bias.repeat({4}), in4, w4).view({rows * 4, t * c});
  // The per-step product as transconv4 made it, before held tracks swap theirs in: held_release reads it.
  const torch::Tensor per_step = x4;
  if (held_steps) {
    // Held tracks take their steps from HeldSteps instead (held_steps.h), in the same rows and channels, so
    // transconv4's BatchNorm normalises them as before. Their slices of transconv4's weight stay unused (zero
    // gradient) unless held_detail adds them back, scaled by a learned gain: the parameter shapes are the
    // tutorial's whichever tracks hold notes.
    const std::vector<int64_t>& held = options.held_tracks();
    const int64_t th = static_cast<int64_t>(held.size());
    const torch::Tensor steps = held_steps(h)
                                    .view({b, th * c, m, s4, 4, 6})
                                    .permute({0, 2, 3, 5, 4, 1})
                                    .reshape({rows * 4, th * c});
    const std::vector<int64_t> slots = ListedSlots(held, t);
    std::vector<torch::Tensor> columns;
    columns.reserve(t);
    for (int64_t track = 0; track < t; ++track) {
      const int64_t slot = slots[static_cast<size_t>(track)];
      if (slot < 0) {
        columns.push_back(x4.narrow(1, track * c, c));
        continue;
      }
      torch::Tensor held_track = steps.narrow(1, slot * c, c);
      if (held_detail_gain.defined()) held_track = held_track + held_detail_gain[slot] * x4.narrow(1, track * c, c);
      columns.push_back(held_track);
    }
    x4 = torch::cat(columns, 1);
  }
  x4 = torch::relu(
      ApplyBatchNorm(transconv4->batchnorm, x4, is_training(), transconv4->batchnorm_sync));
  // (rows * 4, [t, c]) -> (T, rows * 4, c); weight (T*c, 1, 1, 1, kp) -> (T, c, kp).
  const torch::Tensor in5 = x4.view({rows * 4, t, c}).transpose(0, 1).contiguous();
  const torch::nn::ConvTranspose3d& tc5 = transconv5->transconv;
  torch::Tensor x5 = torch::baddbmm(tc5->bias.view({t, 1, 1}), in5, tc5->weight.view({t, c, kp}));
  // The shared chroma of each beat, at every octave (kp == 12 pitch classes) and step of that beat.
  const torch::Tensor harmony =
      shared_harmony ? shared_harmony(h).view({t, b, m, s4, 1, 1, kp}) : torch::Tensor();
  const bool harmony_after_norm = harmony.defined() && options.harmony_after_norm();
  const bool harmony_before_norm = harmony.defined() && !harmony_after_norm;
  // Each track's level for the bar (T, B, M): added to every cell of it here, or a factor after the activation.
  const torch::Tensor levels = bar_levels ? bar_levels(bars).view({t, b, m, 1, 1, 1, 1}) : torch::Tensor();
  const bool level_added = levels.defined() && !options.bar_gate();
  if (harmony_before_norm || level_added) {
    torch::Tensor cells = x5.view({t, b, m, s4, 6, 4, kp});
    if (harmony_before_norm) cells = cells + harmony;
    if (level_added) cells = cells + levels;
    x5 = cells.view({t, rows * 4, kp});
  }
  x5 = ApplyBatchNorm(transconv5->batchnorm, x5.view({1, t, -1}), is_training(), transconv5->batchnorm_sync);
  // After the norm the chord's weight against the track's own pitches is the gain's alone: before it, the track's
  // product grows as it trains and the norm's division shrinks the shared term with it.
  if (harmony_after_norm) x5 = (x5.view({t, b, m, s4, 6, 4, kp}) + harmony).view({1, t, -1});
  switch (options.output()) {
    case OutputActivation::kRelu: x5 = torch::relu(x5); break;
    case OutputActivation::kSigmoid: x5 = torch::sigmoid(x5); break;
    case OutputActivation::kBinary: x5 = BinaryNeurons(x5, RefinerKind::kDeterministic, is_training()); break;
  }
  if (options.harmony_gate()) {
    x5 = (x5.view({t, b, m, s4, 6, 4, kp}) * SharedHarmonyImpl::Gate(harmony, options.harmony_gate_lower_only(),
                                                                          options.harmony_root_tracks()))
             .view({1, t, -1});
  }
  if (options.bar_gate()) {
    x5 = (x5.view({t, b, m, s4, 6, 4, kp}) * BarLevelsImpl::Gate(levels, options.bar_gate_hard())).view({1, t, -1});
  }
  if (held_release) x5 = held_release(x5.view({t, rows * 4, kp}), per_step).view({1, t, -1});
  return x5.view({t, b, m, s4, 6, 4, kp})
      .permute({1, 0, 2, 3, 5, 4, 6})
      .reshape({b, t, m * options.steps_per_measure(), options.pitches()});
}

void GeneratorImpl::set_batchnorm_sync(const BatchStatsAllreduce& allreduce) {
  for (auto* block : {&transconv0, &transconv1, &transconv2, &transconv3, &transconv4, &transconv5}) {
    if (*block) (*block)->batchnorm_sync = allreduce;
  }
  for (auto* list : {&transconv4_tracks, &transconv5_tracks}) {
    if (!*list) continue;
    for (const auto& m : **list) m->as<GeneratorBlockImpl>()->batchnorm_sync = allreduce;
  }
}

// ---------------------------------------------------------------------------------------------
DiscriminatorImpl::DiscriminatorImpl(DiscriminatorOptions options_) : options(std::move(options_)) {
  CheckOrThrow(ValidateDiscriminatorOptions(options));
  const int64_t t = options.tracks(), pitch6 = options.pitches() / 6;
  const auto Opts = [&](int64_t in, int64_t out, torch::ExpandingArray<3> kernel, torch::ExpandingArray<3> stride) {
    return DiscriminatorBlockOptions(in, out, kernel, stride).fused_norm_act(options.fused_norm_act());
  };
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
  int64_t features = 256;
  if (options.onset_stream()) {
    onset_stream = register_module("onset_stream", NoteStream(StreamKind::kOnset, t, options.measures(),
                                                              options.steps_per_measure(), options.pitches()));
    features += NoteStreamImpl::kFeatures;
  }
  if (options.chroma_stream()) {
    chroma_stream = register_module("chroma_stream", NoteStream(StreamKind::kChroma, t, options.measures(),
                                                                options.steps_per_measure(), options.pitches()));
    features += NoteStreamImpl::kFeatures;
  }
  if (options.minibatch_stddev()) features += 1;
  if (options.bar_silence()) features += t;
  dense = register_module("dense", torch::nn::Linear(features, 1));
  if (options.num_genres() > 0) {
    genre_embedding =
        register_module("genre_embedding", torch::nn::Embedding(options.num_genres(), features));
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
  // PyTorch's default Linear init (1/sqrt(256) for the tutorial's critic).
  const double bound = 1.0 / std::sqrt(static_cast<double>(dense->weight.size(1)));
  dense->weight.uniform_(-bound, bound, gen);
  dense->bias.uniform_(-bound, bound, gen);
  if (genre_embedding) genre_embedding->weight.zero_();
  // Last, so the main stream draws what it drew before streams existed.
  if (onset_stream) onset_stream->reset_parameters(gen);
  if (chroma_stream) chroma_stream->reset_parameters(gen);
}

torch::Tensor DiscriminatorImpl::forward(const torch::Tensor& x, const torch::Tensor& genre_ids,
                                         int64_t spread_groups) {
  const int64_t t = options.tracks(), m = options.measures(), s = options.steps_per_measure(),
                p = options.pitches();
  TORCH_CHECK(x.dim() == 4 && x.size(1) == t && x.size(2) == m * s && x.size(3) == p,
              "Discriminator: expected x (B, ", t, ", ", m * s, ", ", p, "), got ", x.sizes());
  const int64_t batch = x.size(0);
  CheckGenres(options.num_genres(), batch, genre_ids, "Discriminator");
  torch::Tensor h = x.reshape({batch, t, m, s, p});
  if (options.grouped_tracks()) {
    h = PerTrackFeatures(h);
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
  if (onset_stream || chroma_stream) {
    std::vector<torch::Tensor> features{h};
    if (onset_stream) features.push_back(onset_stream->forward(x));
    if (chroma_stream) features.push_back(chroma_stream->forward(x));
    h = torch::cat(features, 1);
  }
  if (options.minibatch_stddev() || options.bar_silence()) {
    TORCH_CHECK(spread_groups >= 1 && batch % spread_groups == 0, "Discriminator: ", batch,
                " samples do not split into ", spread_groups, " spread groups");
  }
  const int64_t group_rows = batch / spread_groups;
  if (options.minibatch_stddev()) {
    // How much the batch's samples differ, the same for every sample of the batch: a collapsed generator's
    // batch scores near zero where real batches do not. Population variance (defined for a batch of one) and
    // an epsilon inside the root keep it finite and twice differentiable for the gradient penalty.
    const torch::Tensor spread =
        (h.view({spread_groups, group_rows, -1}).var(1, /*unbiased=*/false) + 1e-8).sqrt().mean(1, /*keepdim=*/true);
    h = torch::cat({h, spread.repeat_interleave(group_rows, 0)}, 1);
  }
  if (options.bar_silence()) {
    // Per track, the share of the group's bars that are silent: 1 for an empty real bar, 0 for one with a note,
    // in between for a generated bar whose loudest cell is under 1. min and max pass the gradient to one cell.
    const torch::Tensor loudest = x.reshape({spread_groups, group_rows, t, m, s * p}).amax(4).clamp_max(1.0);
    const torch::Tensor silence = (1 - loudest).mean({1, 3});  // (groups, T)
    h = torch::cat({h, silence.repeat_interleave(group_rows, 0)}, 1);
  }
  torch::Tensor out = dense(h);
  if (genre_embedding) {
    out = out + (genre_embedding->forward(genre_ids) * h).sum(1, /*keepdim=*/true);
  }
  return out;
}

// conv0 and conv1 have kernel == stride, so per track each is one matrix product over
// non-overlapping patches. With activations laid out as (track, batch * positions, channels) both
// products are a single contiguous baddbmm, and the grouped 3-D convolution (whose CPU backward
// and double backward are several times slower than a matmul's) is avoided. Positions are
// ordered (measure, step / 4, pitch / kp, step % 4) so conv1's patches (4 consecutive steps x 16
// channels) are contiguous rows of conv0's output. Result: (B, 16 * tracks, M, S / 4, 6) like
// conv1(conv0(x)), channel = track * 16 + c.
torch::Tensor DiscriminatorImpl::PerTrackFeatures(const torch::Tensor& x) {
  const int64_t t = options.tracks(), b = x.size(0), m = options.measures(),
                s4 = options.steps_per_measure() / 4, kp = options.pitches() / 6, c = 16;
  auto norm_act = [&](const torch::Tensor& h, const LayerNorm& ln) {  // h (T, B * pos, c)
    if (options.fused_norm_act() && h.device().is_cpu()) {
      // Rows (T * B, pos * c), channels last: row t * B + b uses track t's c gammas (norm_act.h).
      NormActLayout layout;
      layout.row_div = b;
      layout.groups = t;
      layout.channels_per_group = c;
      return LayerNormLeakyRelu(h.reshape({t * b, -1}), ln->gamma, ln->beta, layout, ln->options.eps(),
                                kDiscriminatorLeakySlope)
          .view({t, -1, c});
    }
    const CenteredRows rows = CenterAndScaleRows(h.view({t, b, -1}), ln->options.eps());
    const torch::Tensor scale = rows.inv_std.view({t, b, 1, 1}) * ln->gamma.view({t, 1, 1, c});
    const torch::Tensor y =
        torch::addcmul(ln->beta.view({t, 1, 1, c}), rows.centered.view({t, b, -1, c}), scale);
    return torch::leaky_relu(y, kDiscriminatorLeakySlope).view({t, -1, c});
  };
  // (B, T, M, S4, 4, 6, kp) -> rows (T, [b, m, s4, p6, k4], kp)
  const torch::Tensor patches0 = x.reshape({b, t, m, s4, 4, 6, kp})
                                     .permute({1, 0, 2, 3, 5, 4, 6})
                                     .reshape({t, b * m * s4 * 6 * 4, kp});
  const torch::nn::Conv3d& conv0_ = conv0->conv;
  torch::Tensor h = torch::baddbmm(conv0_->bias.view({t, 1, c}), patches0,
                                   conv0_->weight.view({t, c, kp}).transpose(1, 2));
  h = norm_act(h, conv0->layernorm);
  // weight (T * c_out, c_in, 1, 4, 1) -> (T, [k4, c_in], c_out), matching rows' column order.
  const torch::nn::Conv3d& conv1_ = conv1->conv;
  const torch::Tensor w1 =
      conv1_->weight.view({t, c, c, 4}).permute({0, 3, 2, 1}).reshape({t, 4 * c, c});
  h = torch::baddbmm(conv1_->bias.view({t, 1, c}), h.view({t, -1, 4 * c}), w1);
  h = norm_act(h, conv1->layernorm);
  return h.view({t, b, m, s4, 6, c}).permute({1, 0, 5, 2, 3, 4}).reshape({b, t * c, m, s4, 6});
}

}  // namespace tutti
