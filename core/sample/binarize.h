#pragma once
// Generator output -> thresholded 0/1 samples, chunk by chunk: the one path shared by GeneratorModel
// (checkpoint_sampler.h) and TrainingRun::Evaluate, so `tutti generate`, the sample service and the
// worker's evaluation binarise alike. A LibTorch header (ATen tensor types): include it from LibTorch
// translation units only; torch-free callers use checkpoint_sampler.h.
//
// Thread-safety: reentrant; `generate` is called on the calling thread.

#include <cstdint>
#include <functional>
#include <string>

#include <ATen/core/Tensor.h>

#include "core/base/status.h"

namespace tutti {

// Rows per generator call: bounds activation memory for large requests. With BatchNorm in eval mode the
// chunk size does not change any sample.
inline constexpr int64_t kGenerateChunk = 64;

// The generator: raw outputs (count, tracks, steps, pitches) for `latents` (count, latent_dim) and, for
// conditional models, `genre_ids` (count) int64 (undefined otherwise), and for accompaniment models (model.
// condition_track) `given` (count, steps, pitches), the given part of each sample (undefined otherwise). Any
// device; the result is copied to the CPU.
using GenerateFn = std::function<StatusOr<at::Tensor>(const at::Tensor& latents, const at::Tensor& genre_ids,
                                                      const at::Tensor& given)>;

struct BinarizeStats {
  double max_value = 0;  // largest raw output (0 when every output is <= 0)
  int64_t active = 0;    // cells above the threshold
};

// Thresholds `raw` (any shape, float32 on the CPU, contiguous): out[i] = raw[i] > threshold (compared in
// float32, as the MuseGAN tutorial does), returning the largest value (at least 0) and the active count.
// `out` must hold raw.numel() bytes. Throws c10::Error on a LibTorch failure (callers convert).
BinarizeStats BinarizeRaw(const at::Tensor& raw, double threshold, uint8_t* out);

// Runs `generate` on rows [start, start + kGenerateChunk) of `latents` (and of `genre_ids` and `given` when defined)
// and writes each chunk's cells, 1 where the raw output is > `threshold` and 0 elsewhere, to
// out[start * cells_per_sample ...] (row-major (sample, track, step, pitch)). `out` must hold
// latents.size(0) * cells_per_sample bytes. Errors: `generate`'s; Internal "<what>: generator returned N
// values, expected M" on a shape surprise, and for LibTorch exceptions (prefixed with `what`).
StatusOr<BinarizeStats> GenerateBinary(const GenerateFn& generate, const at::Tensor& latents,
                                       const at::Tensor& genre_ids, const at::Tensor& given,
                                       int64_t cells_per_sample, double threshold, uint8_t* out,
                                       const std::string& what);

}  // namespace tutti
