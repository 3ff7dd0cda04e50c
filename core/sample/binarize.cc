#include "core/sample/binarize.h"

#include <algorithm>
#include <cstring>

#include <torch/types.h>

namespace tutti {

BinarizeStats BinarizeRaw(const at::Tensor& raw, double threshold, uint8_t* out) {
  BinarizeStats stats;
  if (raw.numel() == 0) return stats;
  stats.max_value = std::max(0.0f, raw.max().item<float>());
  // The comparison is on the raw float32 output, as the MuseGAN tutorial does (`> threshold`).
  const at::Tensor on = raw.gt(threshold).to(torch::kUInt8).contiguous();
  stats.active = on.sum().item<int64_t>();
  std::memcpy(out, on.data_ptr<uint8_t>(), static_cast<size_t>(on.numel()));
  return stats;
}

StatusOr<BinarizeStats> GenerateBinary(const GenerateFn& generate, const at::Tensor& latents,
                                       const at::Tensor& genre_ids, const at::Tensor& given,
                                       int64_t cells_per_sample, double threshold, uint8_t* out,
                                       const std::string& what) {
  BinarizeStats stats;
  const int64_t n = latents.size(0);
  try {
    for (int64_t start = 0; start < n; start += kGenerateChunk) {
      const int64_t count = std::min(kGenerateChunk, n - start);
      TUTTI_ASSIGN_OR_RETURN(at::Tensor raw,
                             generate(latents.narrow(0, start, count),
                                      genre_ids.defined() ? genre_ids.narrow(0, start, count) : at::Tensor(),
                                      given.defined() ? given.narrow(0, start, count) : at::Tensor()));
      raw = raw.to(torch::kCPU, torch::kFloat).contiguous();
      if (raw.numel() != count * cells_per_sample) {
        return absl::InternalError(absl::StrCat(what, ": generator returned ", raw.numel(), " values, expected ",
                                                count * cells_per_sample, " for ", count, " samples of ",
                                                cells_per_sample, " cells"));
      }
      const BinarizeStats chunk = BinarizeRaw(raw, threshold, out + start * cells_per_sample);
      stats.max_value = std::max(stats.max_value, chunk.max_value);
      stats.active += chunk.active;
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(what, ": generating samples: ", std::string(e.what_without_backtrace())));
  }
  return stats;
}

}  // namespace tutti
