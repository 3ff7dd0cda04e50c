#include "core/model/rest_plans.h"

#include <cmath>

namespace tutti {

RestPlansImpl::RestPlansImpl(int64_t tracks_, int64_t measures_) : tracks(tracks_), measures(measures_) {
  TORCH_CHECK(tracks > 0 && measures > 0, "RestPlans: expected positive sizes, got tracks ", tracks, ", measures ",
              measures);
  plans = register_buffer("plans", torch::ones({kPlans, tracks, measures}));
}

void RestPlansImpl::Set(const torch::Tensor& plays) {
  TORCH_CHECK(plays.defined() && plays.dim() == 3 && plays.size(0) == kPlans && plays.size(1) == tracks &&
                  plays.size(2) == measures,
              "RestPlans: expected plans (", kPlans, ", ", tracks, ", ", measures, "), got ",
              plays.defined() ? plays.sizes() : torch::IntArrayRef{});
  const torch::Tensor as_float = plays.to(plans.device(), torch::kFloat);
  const torch::Tensor bad = ((as_float != 0) & (as_float != 1)).flatten().nonzero();
  TORCH_CHECK(bad.numel() == 0, "RestPlans: plan values must be 0 or 1; flat index ",
              bad.numel() > 0 ? bad[0].item<int64_t>() : -1, " is not");
  torch::NoGradGuard no_grad;
  plans.copy_(as_float);
}

torch::Tensor RestPlansImpl::Pick(const torch::Tensor& z) const {
  TORCH_CHECK(z.dim() == 2 && z.size(1) >= 1, "RestPlans: expected z (B, latent), got ", z.sizes());
  // Phi(z0) is uniform on (0, 1) for z0 ~ N(0, 1); the clamp keeps Phi = 1 (z0 = +inf in float) in range.
  const torch::Tensor uniform = 0.5 * torch::erfc(z.select(1, 0).detach().to(torch::kFloat) * (-1.0 / std::sqrt(2.0)));
  const torch::Tensor rows = (uniform * static_cast<double>(kPlans)).floor().clamp(0, kPlans - 1).to(torch::kLong);
  return plans.index_select(0, rows.to(plans.device()));
}

torch::Tensor RestPlansImpl::Apply(const torch::Tensor& out, const torch::Tensor& z) const {
  TORCH_CHECK(out.dim() == 4 && out.size(0) == z.size(0) && out.size(1) == tracks && out.size(2) % measures == 0,
              "RestPlans: expected out (", z.size(0), ", ", tracks, ", measures * steps, pitches), got ", out.sizes());
  const int64_t batch = out.size(0), steps = out.size(2) / measures;
  const torch::Tensor mask = Pick(z).to(out.device(), out.scalar_type()).view({batch, tracks, measures, 1, 1});
  return (out.reshape({batch, tracks, measures, steps, out.size(3)}) * mask).reshape(out.sizes());
}

void RestPlansImpl::pretty_print(std::ostream& stream) const {
  stream << "tutti::RestPlans(plans=" << kPlans << ", tracks=" << tracks << ", measures=" << measures << ")";
}

}  // namespace tutti
