#include "core/model/norm_act.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/autograd.h>

namespace tutti {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

int64_t FirstChannel(int64_t row, const NormActLayout& layout) {
  return ((row / layout.row_div) % layout.groups) * layout.channels_per_group;
}

// Row reductions with 16 independent partial sums: the loop vectorises without reassociating a single
// floating-point sum (which the compiler may not do), and the partial sums are combined in double.
constexpr int kLanes = 16;

template <typename T>
double Sum(const T* a, int64_t n) {
  T lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) lanes[j] += a[i + j];
  }
  double total = 0;
  for (int j = 0; j < kLanes; ++j) total += lanes[j];
  for (; i < n; ++i) total += a[i];
  return total;
}

template <typename T>
double Dot(const T* a, const T* b, int64_t n) {
  T lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) lanes[j] += a[i + j] * b[i + j];
  }
  double total = 0;
  for (int j = 0; j < kLanes; ++j) total += lanes[j];
  for (; i < n; ++i) total += static_cast<double>(a[i]) * b[i];
  return total;
}

template <typename T>
double SumSquaredDeviation(const T* a, T mean, int64_t n) {
  T lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) {
      const T c = a[i + j] - mean;
      lanes[j] += c * c;
    }
  }
  double total = 0;
  for (int j = 0; j < kLanes; ++j) total += lanes[j];
  for (; i < n; ++i) total += static_cast<double>(a[i] - mean) * (a[i] - mean);
  return total;
}

// acc[ch] += sum over the row's elements of channel ch of a[i] * b[i] (b == nullptr: of a[i]).
template <typename T>
void AddChannelDots(const T* a, const T* b, int64_t n, const NormActLayout& layout, double* acc) {
  const int64_t cg = layout.channels_per_group, inner = layout.inner;
  if (inner == 1) {
    std::vector<T> sums(static_cast<size_t>(cg), T(0));
    T* s = sums.data();
    for (int64_t i0 = 0; i0 < n; i0 += cg) {
      if (b != nullptr) {
        for (int64_t ch = 0; ch < cg; ++ch) s[ch] += a[i0 + ch] * b[i0 + ch];
      } else {
        for (int64_t ch = 0; ch < cg; ++ch) s[ch] += a[i0 + ch];
      }
    }
    for (int64_t ch = 0; ch < cg; ++ch) acc[ch] += s[ch];
  } else {
    for (int64_t i0 = 0; i0 < n; i0 += cg * inner) {
      for (int64_t ch = 0; ch < cg; ++ch) {
        const int64_t start = i0 + ch * inner;
        acc[ch] += b != nullptr ? Dot(a + start, b + start, inner) : Sum(a + start, inner);
      }
    }
  }
}

// gamma-like per-channel values laid out as rows: out[g * n + i] = v[channel of element i in a row of group g].
// Every element loop then reads its channel's value from a contiguous row (cache-resident: groups x n), so
// the loops are plain and vectorise whatever the layout.
template <typename T>
std::vector<T> ExpandPerGroup(const T* v, int64_t n, const NormActLayout& layout) {
  std::vector<T> out(static_cast<size_t>(layout.groups * n));
  const int64_t cg = layout.channels_per_group, inner = layout.inner;
  for (int64_t g = 0; g < layout.groups; ++g) {
    for (int64_t i = 0; i < n; ++i) out[g * n + i] = v[g * cg + (i / inner) % cg];
  }
  return out;
}

// The row index into ExpandPerGroup's output.
inline int64_t GroupOf(int64_t row, const NormActLayout& layout) { return (row / layout.row_div) % layout.groups; }

// noinline keeps each loop a function of its own, where the restrict qualifiers still hold (GCC drops them
// once a loop is inlined into a caller whose pointers may alias) and the loop vectorises.
#define TUTTI_ROW_KERNEL __attribute__((noinline))

// Element loops, one per pass, over restrict-qualified rows (the compiler may then vectorise them).
// LeakyReLU with 0 < slope < 1 is max(z, slope z); its mask is 1 where the output is positive, else slope.
template <typename T>
TUTTI_ROW_KERNEL void ForwardElements(const T* __restrict x, T mean, T inv_s, const T* __restrict gamma, const T* __restrict beta,
                     T slope, int64_t n, T* __restrict xhat, T* __restrict out) {
  for (int64_t i = 0; i < n; ++i) {
    const T v = (x[i] - mean) * inv_s;
    xhat[i] = v;
    const T z = gamma[i] * v + beta[i];
    out[i] = std::max(z, z * slope);
  }
}

template <typename T>
TUTTI_ROW_KERNEL void MaskedGradients(const T* __restrict gy, const T* __restrict out, const T* __restrict gamma, T slope, int64_t n,
                     T* __restrict gz, T* __restrict g) {
  for (int64_t i = 0; i < n; ++i) {
    // The mask as arithmetic (1 where out > 0, else slope): a select GCC leaves as a branch.
    const T v = gy[i] * (slope + (T(1) - slope) * static_cast<T>(out[i] > T(0)));
    gz[i] = v;
    g[i] = v * gamma[i];
  }
}

template <typename T>
TUTTI_ROW_KERNEL void InputGradient(const T* __restrict g, const T* __restrict xhat, T mean_g, T k, T inv_s, int64_t n,
                   T* __restrict gx) {
  for (int64_t i = 0; i < n; ++i) gx[i] = (g[i] - mean_g - k * xhat[i]) * inv_s;
}

template <typename T>
TUTTI_ROW_KERNEL void DoubleBackwardElements(const T* __restrict gz, const T* __restrict g, const T* __restrict h,
                            const T* __restrict u, const T* __restrict xhat, const T* __restrict out,
                            const T* __restrict gamma, const T* __restrict vg, const T* __restrict vb, T slope,
                            T inv_s, T w_mean, T w_xh, T dx_xh, T dx_g, T dx_u, T dx_const, int64_t n,
                            T* __restrict d_gy, T* __restrict d_x, T* __restrict w) {
  for (int64_t i = 0; i < n; ++i) {
    const T wi = u[i] * inv_s - w_mean - w_xh * xhat[i];
    const T d_gz = wi * gamma[i] + vg[i] * xhat[i] + vb[i];
    d_gy[i] = d_gz * (slope + (T(1) - slope) * static_cast<T>(out[i] > T(0)));
    d_x[i] = xhat[i] * dx_xh + dx_g * g[i] + dx_u * u[i] + h[i] * inv_s + dx_const;
    w[i] = wi;
  }
  (void)gz;
}

template <typename T>
TUTTI_ROW_KERNEL void Multiply(const T* __restrict a, const T* __restrict b, int64_t n, T* __restrict out) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
}

// Sums per-row partial sums (R, cg) into per-channel totals (groups * cg): rows of one group add up.
template <typename T>
void ReduceRowsIntoChannels(const std::vector<double>& partial, int64_t rows, const NormActLayout& layout, T* out) {
  const int64_t cg = layout.channels_per_group;
  std::vector<double> total(static_cast<size_t>(layout.groups * cg), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t first = FirstChannel(r, layout);
    for (int64_t ch = 0; ch < cg; ++ch) total[first + ch] += partial[r * cg + ch];
  }
  for (size_t i = 0; i < total.size(); ++i) out[i] = static_cast<T>(total[i]);
}

// Grain: rows are long (hundreds to thousands of elements), so a handful per task.
constexpr int64_t kRowGrain = 4;

// ---------------------------------------------------------------------------------------------
// The first derivative as its own autograd node, so that the gradient penalty (which differentiates the
// gradient) gets a hand-written second derivative too.
//   inputs:  gy (R, n), x (R, n; only wired into the graph: its values are in xhat/stats), gamma
//   saved:   xhat (R, n), out (R, n; its sign is LeakyReLU's mask), stats (R, 2) = (1 / s, sigma)
//   outputs: gx, ggamma, gbeta
struct NormActBackward : public torch::autograd::Function<NormActBackward> {
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& gy_in, const torch::Tensor& x,
                               const torch::Tensor& gamma_in, const torch::Tensor& xhat, const torch::Tensor& out,
                               const torch::Tensor& stats, NormActLayout layout, double slope) {
    const torch::Tensor gy = gy_in.contiguous(), gamma = gamma_in.contiguous();
    const int64_t rows = xhat.size(0), n = xhat.size(1), cg = layout.channels_per_group;
    torch::Tensor gx = torch::empty_like(xhat);
    torch::Tensor ggamma = torch::empty_like(gamma);
    torch::Tensor gbeta = torch::empty_like(gamma);
    AT_DISPATCH_FLOATING_TYPES(xhat.scalar_type(), "NormActBackward", [&] {
      const scalar_t* gy_p = gy.data_ptr<scalar_t>();
      const scalar_t* xh_p = xhat.data_ptr<scalar_t>();
      const scalar_t* out_p = out.data_ptr<scalar_t>();
      const scalar_t* st_p = stats.data_ptr<scalar_t>();
      const std::vector<scalar_t> gamma_rows = ExpandPerGroup(gamma.data_ptr<scalar_t>(), n, layout);
      scalar_t* gx_p = gx.data_ptr<scalar_t>();
      std::vector<double> pg(static_cast<size_t>(rows * cg), 0.0), pb(pg.size(), 0.0);
      const scalar_t s_slope = static_cast<scalar_t>(slope);
      at::parallel_for(0, rows, kRowGrain, [&](int64_t begin, int64_t end) {
        std::vector<scalar_t> scratch(static_cast<size_t>(2 * n));
        scalar_t *gz = scratch.data(), *g = gz + n;
        for (int64_t r = begin; r < end; ++r) {
          const int64_t off = r * n;
          const scalar_t* xh = xh_p + off;
          // gz = gy * LeakyReLU's mask, g = dL/dxhat = gz * gamma.
          MaskedGradients(gy_p + off, out_p + off, gamma_rows.data() + GroupOf(r, layout) * n, s_slope, n, gz, g);
          AddChannelDots(gz, xh, n, layout, pg.data() + r * cg);                                     // dL/dgamma
          AddChannelDots(gz, static_cast<const scalar_t*>(nullptr), n, layout, pb.data() + r * cg);  // dL/dbeta
          const double inv_s = st_p[2 * r], sigma = st_p[2 * r + 1];
          const double rho = sigma > 0 ? 1 / (inv_s * (n - 1) * sigma) : 0;
          // gx = (g - mean(g) - rho * xhat * sum(g xhat)) / s.
          InputGradient(g, xh, static_cast<scalar_t>(Sum(g, n) / n), static_cast<scalar_t>(rho * Dot(g, xh, n)),
                        static_cast<scalar_t>(inv_s), n, gx_p + off);
        }
      });
      ReduceRowsIntoChannels(pg, rows, layout, ggamma.data_ptr<scalar_t>());
      ReduceRowsIntoChannels(pb, rows, layout, gbeta.data_ptr<scalar_t>());
    });
    ctx->save_for_backward({gy, gamma_in, xhat, out, stats});
    ctx->saved_data["row_div"] = layout.row_div;
    ctx->saved_data["groups"] = layout.groups;
    ctx->saved_data["channels_per_group"] = layout.channels_per_group;
    ctx->saved_data["inner"] = layout.inner;
    ctx->saved_data["slope"] = slope;
    (void)x;
    return {gx, ggamma, gbeta};
  }

  // The second derivative. Incoming: u = dL/dgx, vg = dL/dggamma, vb = dL/dgbeta (any may be undefined =
  // zero). With gz = gy * mask, g = gz * gamma, c = xhat * s, Q = 1 / ((n - 1) sigma), rho = s Q and the row
  // sums U = sum(u (g - mean g)), B = sum(g c), C = sum(u c):
  //   w      = (u - mean(u) - rho xhat sum(u xhat)) / s            (the backward's operator applied to u)
  //   h      = vg[ch] * gz                                          (gamma's gradient sum(gz xhat) depends on x)
  //   d_gy   = mask * (w gamma + vg[ch] xhat + vb[ch])
  //   d_gamma[ch] = sum over the channel of gz w
  //   d_x    = c (-U Q / s^2 + Q^2 B C (1 / (sigma s^2) + 2 / s^3)) - Q / s^2 (C (g - mean g) + B (u - mean u))
  //            + (h - mean(h) - rho xhat sum(h xhat)) / s
  // The mask is piecewise constant: it contributes nothing (as in LibTorch's own LeakyReLU double backward).
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    TORCH_CHECK(!torch::GradMode::is_enabled(),
                "LayerNormLeakyRelu: a third derivative is not implemented (create_graph through the "
                "gradient of a gradient)");
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &gy = saved[0], &xhat = saved[2], &out = saved[3], &stats = saved[4];
    const torch::Tensor gamma = saved[1].contiguous();
    NormActLayout layout;
    layout.row_div = ctx->saved_data["row_div"].toInt();
    layout.groups = ctx->saved_data["groups"].toInt();
    layout.channels_per_group = ctx->saved_data["channels_per_group"].toInt();
    layout.inner = ctx->saved_data["inner"].toInt();
    const double slope = ctx->saved_data["slope"].toDouble();
    const int64_t rows = xhat.size(0), n = xhat.size(1), cg = layout.channels_per_group;
    const torch::Tensor u = grads[0].defined() ? grads[0].contiguous() : torch::zeros_like(xhat);
    const torch::Tensor vg = grads[1].defined() ? grads[1].contiguous() : torch::zeros_like(gamma);
    const torch::Tensor vb = grads[2].defined() ? grads[2].contiguous() : torch::zeros_like(gamma);
    torch::Tensor d_gy = torch::empty_like(xhat);
    torch::Tensor d_x = torch::empty_like(xhat);
    torch::Tensor d_gamma = torch::empty_like(gamma);
    AT_DISPATCH_FLOATING_TYPES(xhat.scalar_type(), "NormActDoubleBackward", [&] {
      const scalar_t* gy_p = gy.data_ptr<scalar_t>();
      const scalar_t* xh_p = xhat.data_ptr<scalar_t>();
      const scalar_t* out_p = out.data_ptr<scalar_t>();
      const scalar_t* st_p = stats.data_ptr<scalar_t>();
      const scalar_t* u_p = u.data_ptr<scalar_t>();
      const std::vector<scalar_t> gamma_rows = ExpandPerGroup(gamma.data_ptr<scalar_t>(), n, layout);
      const std::vector<scalar_t> vg_rows = ExpandPerGroup(vg.data_ptr<scalar_t>(), n, layout);
      const std::vector<scalar_t> vb_rows = ExpandPerGroup(vb.data_ptr<scalar_t>(), n, layout);
      scalar_t* dgy_p = d_gy.data_ptr<scalar_t>();
      scalar_t* dx_p = d_x.data_ptr<scalar_t>();
      std::vector<double> pgamma(static_cast<size_t>(rows * cg), 0.0);
      const scalar_t s_slope = static_cast<scalar_t>(slope);
      at::parallel_for(0, rows, kRowGrain, [&](int64_t begin, int64_t end) {
        std::vector<scalar_t> scratch(static_cast<size_t>(4 * n));
        scalar_t *gz = scratch.data(), *g = gz + n, *h = g + n, *w = h + n;
        for (int64_t r = begin; r < end; ++r) {
          const int64_t off = r * n, group_off = GroupOf(r, layout) * n;
          const scalar_t *xh = xh_p + off, *o = out_p + off, *ur = u_p + off;
          const scalar_t *gam = gamma_rows.data() + group_off, *vgr = vg_rows.data() + group_off,
                         *vbr = vb_rows.data() + group_off;
          // Pass 1: gz, g = gz gamma and h = gz vg, then the row sums.
          MaskedGradients(gy_p + off, o, gam, s_slope, n, gz, g);
          Multiply(gz, vgr, n, h);
          const double sum_g = Sum(g, n), sum_u = Sum(ur, n), sum_h = Sum(h, n);
          const double dot_gxh = Dot(g, xh, n), dot_uxh = Dot(ur, xh, n), dot_hxh = Dot(h, xh, n);
          const double dot_ug = Dot(ur, g, n);
          const double inv_s = st_p[2 * r], sigma = st_p[2 * r + 1], s = 1 / inv_s;
          const double q = sigma > 0 ? 1 / ((n - 1) * sigma) : 0;
          const double rho = s * q;
          const double mean_g = sum_g / n, mean_u = sum_u / n, mean_h = sum_h / n;
          const double big_u = dot_ug - mean_g * sum_u;  // sum(u (g - mean g))
          const double big_b = s * dot_gxh, big_c = s * dot_uxh;
          const double coef =
              sigma > 0 ? -big_u * q * inv_s * inv_s +
                              q * q * big_b * big_c * (inv_s * inv_s / sigma + 2 * inv_s * inv_s * inv_s)
                        : 0;
          const double q_s2 = q * inv_s * inv_s;
          // Pass 2: element-wise results with the row constants folded:
          //   w  = u / s - mean_u / s - rho sum(u xhat) / s * xhat
          //   dx = xhat (coef s - rho sum(h xhat) / s) - q_s2 C g - q_s2 B u + h / s + constant
          DoubleBackwardElements(gz, g, h, ur, xh, o, gam, vgr, vbr, s_slope, static_cast<scalar_t>(inv_s),
                                 static_cast<scalar_t>(mean_u * inv_s), static_cast<scalar_t>(rho * dot_uxh * inv_s),
                                 static_cast<scalar_t>(coef * s - rho * dot_hxh * inv_s),
                                 static_cast<scalar_t>(-q_s2 * big_c), static_cast<scalar_t>(-q_s2 * big_b),
                                 static_cast<scalar_t>(q_s2 * (big_c * mean_g + big_b * mean_u) - mean_h * inv_s), n,
                                 dgy_p + off, dx_p + off, w);
          AddChannelDots(gz, w, n, layout, pgamma.data() + r * cg);  // dL/dgamma = sum gz w
        }
      });
      ReduceRowsIntoChannels(pgamma, rows, layout, d_gamma.data_ptr<scalar_t>());
    });
    return {d_gy, d_x, d_gamma, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

// ---------------------------------------------------------------------------------------------
struct NormAct : public torch::autograd::Function<NormAct> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x_in, const torch::Tensor& gamma_in,
                               const torch::Tensor& beta_in, NormActLayout layout, double eps, double slope) {
    const torch::Tensor x = x_in.contiguous(), gamma = gamma_in.contiguous(), beta = beta_in.contiguous();
    const int64_t rows = x.size(0), n = x.size(1);
    torch::Tensor out = torch::empty_like(x);
    torch::Tensor xhat = torch::empty_like(x);
    torch::Tensor stats = torch::empty({rows, 2}, x.options());
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "NormAct", [&] {
      const scalar_t* x_p = x.data_ptr<scalar_t>();
      const std::vector<scalar_t> gamma_rows = ExpandPerGroup(gamma.data_ptr<scalar_t>(), n, layout);
      const std::vector<scalar_t> beta_rows = ExpandPerGroup(beta.data_ptr<scalar_t>(), n, layout);
      scalar_t* out_p = out.data_ptr<scalar_t>();
      scalar_t* xh_p = xhat.data_ptr<scalar_t>();
      scalar_t* st_p = stats.data_ptr<scalar_t>();
      const scalar_t s_slope = static_cast<scalar_t>(slope);
      at::parallel_for(0, rows, kRowGrain, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          const int64_t off = r * n, group_off = GroupOf(r, layout) * n;
          const scalar_t* xr = x_p + off;
          const double mean = Sum(xr, n) / n;
          const double sigma = std::sqrt(SumSquaredDeviation(xr, static_cast<scalar_t>(mean), n) / (n - 1));
          const double inv_s = 1 / (sigma + eps);
          st_p[2 * r] = static_cast<scalar_t>(inv_s);
          st_p[2 * r + 1] = static_cast<scalar_t>(sigma);
          ForwardElements(xr, static_cast<scalar_t>(mean), static_cast<scalar_t>(inv_s), gamma_rows.data() + group_off,
                          beta_rows.data() + group_off, s_slope, n, xh_p + off, out_p + off);
        }
      });
    });
    // The inputs themselves (not contiguous copies) so that the backward node is wired to them.
    ctx->save_for_backward({x_in, gamma_in, xhat, out, stats});
    ctx->saved_data["row_div"] = layout.row_div;
    ctx->saved_data["groups"] = layout.groups;
    ctx->saved_data["channels_per_group"] = layout.channels_per_group;
    ctx->saved_data["inner"] = layout.inner;
    ctx->saved_data["slope"] = slope;
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    NormActLayout layout;
    layout.row_div = ctx->saved_data["row_div"].toInt();
    layout.groups = ctx->saved_data["groups"].toInt();
    layout.channels_per_group = ctx->saved_data["channels_per_group"].toInt();
    layout.inner = ctx->saved_data["inner"].toInt();
    const double slope = ctx->saved_data["slope"].toDouble();
    variable_list g = NormActBackward::apply(grads[0], saved[0], saved[1], saved[2], saved[3], saved[4], layout,
                                             slope);
    return {g[0], g[1], g[2], torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

void CheckArguments(const torch::Tensor& rows, const torch::Tensor& gamma, const torch::Tensor& beta,
                    const NormActLayout& layout, double slope) {
  TORCH_CHECK(slope >= 0 && slope <= 1, "LayerNormLeakyRelu: slope must be in [0, 1], got ", slope);
  TORCH_CHECK(rows.dim() == 2 && rows.size(1) > 1, "LayerNormLeakyRelu: expected rows (R, n > 1), got ",
              rows.sizes());
  TORCH_CHECK(layout.row_div > 0 && layout.groups > 0 && layout.channels_per_group > 0 && layout.inner > 0,
              "LayerNormLeakyRelu: layout values must be positive");
  TORCH_CHECK(rows.size(1) % (layout.channels_per_group * layout.inner) == 0, "LayerNormLeakyRelu: row length ",
              rows.size(1), " is not a multiple of channels_per_group x inner = ",
              layout.channels_per_group * layout.inner);
  const int64_t channels = layout.groups * layout.channels_per_group;
  TORCH_CHECK(gamma.dim() == 1 && gamma.size(0) == channels && beta.dim() == 1 && beta.size(0) == channels,
              "LayerNormLeakyRelu: gamma and beta must have ", channels, " entries, got ", gamma.sizes(), " and ",
              beta.sizes());
  TORCH_CHECK(rows.scalar_type() == gamma.scalar_type() && rows.scalar_type() == beta.scalar_type(),
              "LayerNormLeakyRelu: rows, gamma and beta must have one dtype");
  TORCH_CHECK(rows.device().is_cpu(), "LayerNormLeakyRelu: the fused kernel runs on CPU only");
}

}  // namespace

torch::Tensor LayerNormLeakyRelu(const torch::Tensor& rows, const torch::Tensor& gamma, const torch::Tensor& beta,
                                 const NormActLayout& layout, double eps, double slope) {
  CheckArguments(rows, gamma, beta, layout, slope);
  return NormAct::apply(rows, gamma, beta, layout, eps, slope);
}

torch::Tensor LayerNormLeakyReluComposed(const torch::Tensor& rows, const torch::Tensor& gamma,
                                         const torch::Tensor& beta, const NormActLayout& layout, double eps,
                                         double slope) {
  TORCH_CHECK(rows.dim() == 2 && rows.size(1) > 1, "LayerNormLeakyReluComposed: expected rows (R, n > 1)");
  const int64_t r = rows.size(0), n = rows.size(1);
  // The channel of every element, from the layout formula in norm_act.h.
  const auto long_opts = torch::TensorOptions().dtype(torch::kLong);
  const torch::Tensor row = torch::arange(r, long_opts).view({r, 1});
  const torch::Tensor index = torch::arange(n, long_opts).view({1, n});
  const torch::Tensor channel = (row.div(layout.row_div, "floor").remainder(layout.groups)) * layout.channels_per_group +
                                index.div(layout.inner, "floor").remainder(layout.channels_per_group);
  const torch::Tensor flat = channel.reshape({-1});
  const torch::Tensor g = gamma.index_select(0, flat).view({r, n});
  const torch::Tensor b = beta.index_select(0, flat).view({r, n});
  const torch::Tensor centered = rows - rows.mean({1}, /*keepdim=*/true);
  const torch::Tensor std = centered.pow(2).sum({1}, /*keepdim=*/true).div(n - 1).sqrt();
  return torch::leaky_relu(centered / (std + eps) * g + b, slope);
}

}  // namespace tutti
