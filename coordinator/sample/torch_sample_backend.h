#pragma once
// TorchSampleBackend: the coordinator's SampleBackend. Generator-only models (core/sample/checkpoint_sampler.h)
// in a memory-bounded cache keyed by checkpoint id (model_cache.h), concurrent requests for one model
// batched into shared forward passes (dynamic_batcher.h), files encoded in memory (core/sample/sample_writer.h).
// LibTorch stays in the .cc: this header can be included from torch-free code.
//
// One request (Generate), step by step:
//   1. The model: from the cache, or loaded on this thread (requests for a model being loaded wait for that
//      one load). Loading reads the blob, checks its whole-file sha256 against the job's (a mismatch is
//      DataLoss "checkpoint <id>: the stored file fails its sha256 (expected ..., got ...); it is not
//      served", and nothing is cached, so a later request tries again), then loads the generator alone onto
//      the device.
//   2. The request is checked against the model (n, genre) and queued in the model's lane of the batcher.
//   3. A batching thread runs the batch: GeneratorModel::GenerateBatch, one set of fixed-size forward passes
//      for every request in it. A request still queued at its deadline (job.deadline, else now +
//      default_deadline_s) fails with DeadlineExceeded instead. With batching off every batch is one
//      request, started as soon as the batching thread is free (requests run alone, one after another).
//   4. Back on the caller's thread, its samples are encoded (MIDI, npz, PNG, WAV), so rendering one request's
//      files never holds up a batch.
// Same request, same bytes: a sample's bits do not depend on what it was batched with (see
// checkpoint_sampler.h for why and for the limits: same machine, build and intra-op thread count); the
// files carry no time stamps.
// Preload (a better checkpoint is now served for a genre): the new model loads on the cache's background
// thread, then the replaced one leaves the cache; requests in flight on it (and batches queued for it) keep
// their reference and finish normally.
//
// Thread-safety: Generate, Preload and stats may be called from any number of threads. Shutdown (or the
// destructor) fails queued requests with Unavailable and joins the batching threads; the destructor also
// waits for a preload in progress. No Generate may be running when the destructor starts.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "coordinator/sample/dynamic_batcher.h"
#include "coordinator/sample/model_cache.h"
#include "coordinator/sample/sample_serving_options.h"
#include "coordinator/service/sample_handler.h"

namespace tutti::coord {

struct SampleServingStats {
  BatcherStats batcher;   // batches run and the jobs in them (one job per batch with batching off)
  ModelCacheStats cache;  // loads, hits, evictions, bytes held
};

class TorchSampleBackend final : public SampleBackend {
 public:
  // `options` should pass ValidateSampleServingOptions; when it does not, every Generate returns that error.
  explicit TorchSampleBackend(SampleServingOptions options = {});
  ~TorchSampleBackend() override;

  TorchSampleBackend(const TorchSampleBackend&) = delete;
  TorchSampleBackend& operator=(const TorchSampleBackend&) = delete;

  // See the file comment. Errors name the checkpoint: the blob's read error, DataLoss for a failed sha256 or
  // a damaged file, InvalidArgument for a genre the model does not know, DeadlineExceeded, Unavailable after
  // Shutdown, FailedPrecondition for "cuda" without a GPU, the encoders' errors (e.g. no SoundFont for WAV).
  StatusOr<std::vector<SampleFile>> Generate(const SampleJob& job) override;
  // See the file comment. Never fails; a load error surfaces on the next Generate of that checkpoint.
  void Preload(int64_t checkpoint_id, const std::string& path, const std::string& sha256,
               int64_t replaced_id) override;

  // Fails queued and later requests with Unavailable; requests whose batch is running finish. Idempotent.
  void Shutdown();
  // Blocks until every Preload so far has finished (tests, tools).
  void WaitForPreloads();

  SampleServingStats stats() const;
  const SampleServingOptions& options() const;

 private:
  struct Impl;  // LibTorch types live behind it
  const std::unique_ptr<Impl> impl_;
};

}  // namespace tutti::coord
