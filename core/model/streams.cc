#include "core/model/streams.h"

#include <cmath>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/functional/normalization.h>

#include "core/model/layers.h"  // kDiscriminatorLeakySlope

namespace tutti {
namespace {

constexpr int64_t kOnsetChannels0 = 8, kOnsetChannels1 = 16, kChromaChannels = 16;

torch::Tensor NormAct(const torch::Tensor& h, const torch::Tensor& gamma, const torch::Tensor& beta) {
  const torch::Tensor y = torch::layer_norm(h, {h.size(-1)}, gamma, beta, 1e-5);
  return torch::leaky_relu(y, kDiscriminatorLeakySlope);
}

}  // namespace

NoteStreamImpl::NoteStreamImpl(StreamKind kind_, int64_t tracks_, int64_t measures_, int64_t steps_per_measure_,
                               int64_t pitches_)
    : kind(kind_), tracks(tracks_), measures(measures_), steps_per_measure(steps_per_measure_), pitches(pitches_) {
  TORCH_CHECK(steps_per_measure % 4 == 0 && pitches % (kind == StreamKind::kChroma ? 12 : 6) == 0,
              "NoteStream: steps_per_measure must be a multiple of 4 and pitches a multiple of ",
              kind == StreamKind::kChroma ? 12 : 6);
  const int64_t s4 = steps_per_measure / 4;
  auto per_track = [&](const char* w, const char* b, int64_t in, int64_t out, torch::Tensor& wt,
                       torch::Tensor& bt) {
    wt = register_parameter(w, torch::empty({tracks, in, out}));
    bt = register_parameter(b, torch::empty({tracks, 1, out}));
  };
  auto norm = [&](const char* g, const char* b, int64_t c, torch::Tensor& gt, torch::Tensor& bt) {
    gt = register_parameter(g, torch::ones({c}));
    bt = register_parameter(b, torch::zeros({c}));
  };
  int64_t bar_in = 0;
  if (kind == StreamKind::kOnset) {
    per_track("w0", "b0", pitches / 6, kOnsetChannels0, w0, b0);
    norm("gamma0", "beta0", kOnsetChannels0, g0, beta0);
    per_track("w1", "b1", 4 * kOnsetChannels0, kOnsetChannels1, w1, b1);
    norm("gamma1", "beta1", kOnsetChannels1, g1, beta1);
    bar_in = s4 * 6 * tracks * kOnsetChannels1;
  } else {
    per_track("w0", "b0", 12, kChromaChannels, w0, b0);
    norm("gamma0", "beta0", kChromaChannels, g0, beta0);
    bar_in = s4 * tracks * kChromaChannels;
  }
  bar = register_module("bar", torch::nn::Linear(bar_in, kFeatures));
  norm("bar_gamma", "bar_beta", kFeatures, bar_gamma, bar_beta);
  piece = register_module("piece", torch::nn::Linear(measures * kFeatures, kFeatures));
  norm("piece_gamma", "piece_beta", kFeatures, piece_gamma, piece_beta);
  reset_parameters(at::detail::getDefaultCPUGenerator());
}

void NoteStreamImpl::reset_parameters(const at::Generator& gen) {
  torch::NoGradGuard no_grad;
  // PyTorch's default bound 1/sqrt(fan_in) for weights and biases; LayerNorm 1 and 0.
  auto uniform = [&](torch::Tensor& t, int64_t fan_in) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    t.uniform_(-bound, bound, gen);
  };
  uniform(w0, w0.size(1));
  uniform(b0, w0.size(1));
  if (w1.defined()) {
    uniform(w1, w1.size(1));
    uniform(b1, w1.size(1));
  }
  for (torch::nn::Linear* layer : {&bar, &piece}) {
    uniform((*layer)->weight, (*layer)->weight.size(1));
    uniform((*layer)->bias, (*layer)->weight.size(1));
  }
  for (torch::Tensor* g : {&g0, &g1, &bar_gamma, &piece_gamma}) {
    if (g->defined()) g->fill_(1);
  }
  for (torch::Tensor* b : {&beta0, &beta1, &bar_beta, &piece_beta}) {
    if (b->defined()) b->zero_();
  }
}

torch::Tensor NoteStreamImpl::forward(const torch::Tensor& x) {
  const int64_t b = x.size(0), t = tracks, m = measures, s4 = steps_per_measure / 4;
  TORCH_CHECK(x.dim() == 4 && x.size(1) == t && x.size(2) == m * steps_per_measure && x.size(3) == pitches,
              "NoteStream: expected x (B, ", t, ", ", m * steps_per_measure, ", ", pitches, "), got ", x.sizes());
  torch::Tensor h;
  if (kind == StreamKind::kOnset) {
    const int64_t kp = pitches / 6;
    // x[t] - x[t-1] with x[-1] = 0: the first step's notes are onsets.
    const torch::Tensor onset = x - torch::constant_pad_nd(x.narrow(2, 0, x.size(2) - 1), {0, 0, 1, 0});
    // rows (T, [b, m, s4, p6, k4], kp): a beat's 4 steps of one octave group are consecutive rows.
    const torch::Tensor rows = onset.reshape({b, t, m, s4, 4, 6, kp})
                                   .permute({1, 0, 2, 3, 5, 4, 6})
                                   .reshape({t, b * m * s4 * 6 * 4, kp});
    h = NormAct(torch::baddbmm(b0, rows, w0), g0, beta0);
    h = NormAct(torch::baddbmm(b1, h.reshape({t, b * m * s4 * 6, 4 * kOnsetChannels0}), w1), g1, beta1);
    // (T, [b, m, s4, p6], c) -> (B * M, [T, s4, p6, c])
    h = h.view({t, b, m, s4 * 6 * kOnsetChannels1}).permute({1, 2, 0, 3}).reshape({b * m, -1});
  } else {
    // Pitch rows start at a C (MIDI 24 in LPD-5 as trimmed), so row % 12 is the pitch class.
    const torch::Tensor chroma =
        x.reshape({b, t, m, s4, 4, pitches / 12, 12}).sum({4, 5}).div(4.0);  // (B, T, M, S4, 12)
    const torch::Tensor rows = chroma.permute({1, 0, 2, 3, 4}).reshape({t, b * m * s4, 12});
    h = NormAct(torch::baddbmm(b0, rows, w0), g0, beta0);
    h = h.view({t, b, m, s4 * kChromaChannels}).permute({1, 2, 0, 3}).reshape({b * m, -1});
  }
  h = NormAct(bar->forward(h), bar_gamma, bar_beta).view({b, m * kFeatures});
  return NormAct(piece->forward(h), piece_gamma, piece_beta);
}

void NoteStreamImpl::pretty_print(std::ostream& stream) const {
  stream << "tutti::NoteStream(" << (kind == StreamKind::kOnset ? "onset" : "chroma") << ", tracks=" << tracks
         << ", measures=" << measures << ", steps_per_measure=" << steps_per_measure << ", pitches=" << pitches
         << ")";
}

}  // namespace tutti
