#pragma once
// How the coordinator serves samples (coordinator/sample/torch_sample_backend.h): the dynamic batcher's
// limits, the model cache's memory bound and the device. Torch-free, so tutti-coordinator's flag parsing and
// settings file can fill it without LibTorch.
//
// The batcher follows Triton's dynamic batcher: a request waits at most max_queue_delay_ms for others to the
// same model, a batch holds at most max_batch_size samples, and a request that has waited past its deadline
// is failed instead of run.

#include <cstdint>
#include <string>

#include "core/base/status.h"

namespace tutti::coord {

struct SampleServingOptions {
  // Most samples in one batch (summed over its requests). A request asking for more runs alone, whole.
  // Larger batches use the hardware better but make each request in them wait for the others' samples.
  int max_batch_size = 32;
  // How long the first request of a batch waits for more (milliseconds). A full batch starts at once. The
  // price of batching for a lone request; 0 = batch only what is already queued.
  double max_queue_delay_ms = 2;
  // Deadline of a request whose caller gave none (seconds): a request still queued then fails with
  // DeadlineExceeded instead of running.
  double default_deadline_s = 30;
  // Memory bound of the loaded generators (their parameter and buffer bytes). The least recently used idle
  // model goes first; a model in use is never dropped, so the bound can be exceeded while every model is
  // busy (and always by a single model larger than it).
  int64_t cache_bytes = int64_t{512} << 20;
  // Where generators run: "cpu", "cuda", "cuda:N", or "auto" (CUDA when this build has it and a GPU is
  // visible, else the CPU). Bytes are reproducible per device, not across devices.
  std::string device = "cpu";
  // false: every request runs alone (batches of one, no queue delay), one after another on the batching
  // thread; its files are still encoded on its own thread. The benchmark's unbatched side.
  bool batching = true;
  // Batching threads, shared by every model: each forms and runs one batch at a time. One keeps the
  // forward passes from competing for the cores (each already uses LibTorch's intra-op threads); more let
  // batches of different models run side by side.
  int batch_threads = 1;
};

// InvalidArgument naming the field for a value out of range (sizes and threads < 1, negative delays or
// deadlines, cache_bytes < 1, a device string that is none of the forms above). Whether CUDA is actually
// there is found when the first model loads.
Status ValidateSampleServingOptions(const SampleServingOptions& options);

}  // namespace tutti::coord
