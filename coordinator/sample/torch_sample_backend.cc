#include "coordinator/sample/torch_sample_backend.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <utility>

#include "core/base/file_util.h"
#include "core/base/sha256.h"
#include "core/sample/checkpoint_sampler.h"
#include "core/sample/sample_writer.h"

namespace tutti::coord {
namespace {

using SteadyClock = std::chrono::steady_clock;
using Cache = ModelCache<GeneratorModel>;

// One request in a model's lane: the model it was checked against and what to generate.
struct BatchJob {
  std::shared_ptr<const GeneratorModel> model;
  BatchItem item;
};
using Batcher = DynamicBatcher<BatchJob, GeneratedSamples>;

std::string CheckpointName(int64_t id) { return absl::StrCat("checkpoint ", id); }

bool Wants(const std::vector<std::string>& formats, const std::string& format) {
  return std::find(formats.begin(), formats.end(), format) != formats.end();
}

// Step 1 of the header comment: blob -> sha256 check -> generator on `device`.
Cache::LoadFn LoaderFor(int64_t id, std::string path, std::string sha256, std::string device) {
  return [id, path = std::move(path), sha256 = std::move(sha256), device = std::move(device)]() -> StatusOr<Cache::Loaded> {
    const std::string name = CheckpointName(id);
    StatusOr<std::string> bytes = ReadFileToString(path);
    if (!bytes.ok()) return Annotate(bytes.status(), name);
    // The whole file, against what the registry recorded when it was uploaded: a blob damaged on disk since
    // is never served (its own payload checksum, checked by LoadFromBytes, would not see a swapped file).
    if (!sha256.empty()) {
      const std::string got = Sha256Hex(*bytes);
      if (got != sha256) {
        return absl::DataLossError(absl::StrCat(name, ": the stored file fails its sha256 (expected ", sha256,
                                                ", got ", got, "); it is not served"));
      }
    }
    TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<GeneratorModel> model, GeneratorModel::LoadFromBytes(*bytes, name, device));
    const int64_t size = model->memory_bytes();
    return Cache::Loaded{std::shared_ptr<const GeneratorModel>(std::move(model)), size};
  };
}

// Runs one batch on a batching thread: every job of a lane is for the same checkpoint, and each was checked
// against it (CheckItem) before it was queued, so GenerateBatch fails only on a LibTorch error.
std::vector<StatusOr<GeneratedSamples>> RunBatch(const std::string&, std::vector<BatchJob>& jobs) {
  std::vector<BatchItem> items;
  items.reserve(jobs.size());
  for (const BatchJob& job : jobs) items.push_back(job.item);
  StatusOr<std::vector<GeneratedSamples>> out = jobs.front().model->GenerateBatch(items);
  std::vector<StatusOr<GeneratedSamples>> results;
  results.reserve(jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (out.ok()) results.push_back(std::move((*out)[i]));
    else results.push_back(out.status());
  }
  return results;
}

// Step 4: the files sample_handler.h documents, in its order (per sample .mid, .npz, .png, .wav as asked,
// then overview.png with png when there are two samples or more).
StatusOr<std::vector<SampleFile>> EncodeFiles(const GeneratedSamples& samples, const std::vector<std::string>& formats,
                                              const std::string& name) {
  SampleFormats which;
  which.midi = Wants(formats, "midi");
  which.npz = Wants(formats, "npz");
  which.png = Wants(formats, "png");
  which.wav = Wants(formats, "wav");
  // A one-sample overview would repeat sample-0.png and cost a second PNG encode on every such request.
  which.overview = samples.n > 1;
  const JobConfig& config = samples.config;
  SampleFileOptions options = WithTrackSet({}, samples.track_set);
  options.steps_per_bar = config.model.steps_per_measure;
  options.steps_per_beat = std::max(1, config.model.steps_per_measure / 4);  // 4/4
  options.tempo_qpm = config.sample.tempo_qpm;
  StatusOr<std::vector<EncodedSampleFile>> encoded =
      EncodeSampleFiles(samples.binary.data(), samples.n, samples.shape, which, options);
  if (!encoded.ok()) return Annotate(encoded.status(), name);
  std::vector<SampleFile> files;
  files.reserve(encoded->size());
  for (EncodedSampleFile& file : *encoded) files.push_back({std::move(file.name), std::move(file.bytes)});
  return files;
}

}  // namespace

struct TorchSampleBackend::Impl {
  explicit Impl(SampleServingOptions o)
      : options(std::move(o)),
        options_status(ValidateSampleServingOptions(options)),
        cache(options.cache_bytes),
        batcher(BatcherOptionsFor(options), &RunBatch) {}

  // Batching off is the same queue with batches of one job that start at once: every job runs alone, one
  // after another, and its files are still encoded on its own thread. (Running the unbatched jobs
  // concurrently instead would put one LibTorch forward per request on the cores at once: measured, 16 of
  // them on 2 cores thrash OpenMP's spinning workers down to ~3 samples/s.)
  static BatcherOptions BatcherOptionsFor(const SampleServingOptions& options) {
    BatcherOptions batcher;
    batcher.max_batch_size = options.batching ? options.max_batch_size : 1;
    batcher.max_queue_delay =
        options.batching ? std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double, std::milli>(
                               std::max(0.0, options.max_queue_delay_ms)))
                         : std::chrono::nanoseconds(0);
    batcher.threads = options.batch_threads;
    return batcher;
  }

  // Constant after construction.
  const SampleServingOptions options;
  const Status options_status;
  // Declared before the batcher, so the batcher (whose queued jobs hold models) goes first.
  Cache cache;
  Batcher batcher;
  std::atomic<bool> shut_down{false};
};

TorchSampleBackend::TorchSampleBackend(SampleServingOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

TorchSampleBackend::~TorchSampleBackend() { Shutdown(); }

const SampleServingOptions& TorchSampleBackend::options() const { return impl_->options; }

void TorchSampleBackend::Shutdown() {
  impl_->shut_down = true;
  impl_->batcher.Shutdown();
}

void TorchSampleBackend::WaitForPreloads() { impl_->cache.WaitForPreloads(); }

SampleServingStats TorchSampleBackend::stats() const {
  SampleServingStats stats;
  stats.batcher = impl_->batcher.stats();
  stats.cache = impl_->cache.stats();
  return stats;
}

void TorchSampleBackend::Preload(int64_t checkpoint_id, const std::string& path, const std::string& sha256,
                                 int64_t replaced_id) {
  if (!impl_->options_status.ok() || impl_->shut_down) return;
  impl_->cache.Preload(checkpoint_id, LoaderFor(checkpoint_id, path, sha256, impl_->options.device), replaced_id);
}

StatusOr<std::vector<SampleFile>> TorchSampleBackend::Generate(const SampleJob& job) {
  TUTTI_RETURN_IF_ERROR(impl_->options_status);
  if (impl_->shut_down) return absl::UnavailableError("the coordinator is shutting down");
  const std::string name = CheckpointName(job.checkpoint_id);
  const SteadyClock::time_point deadline =
      job.deadline != SteadyClock::time_point::max()
          ? job.deadline
          : SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                               std::chrono::duration<double>(impl_->options.default_deadline_s));

  TUTTI_ASSIGN_OR_RETURN(
      std::shared_ptr<const GeneratorModel> model,
      impl_->cache.Get(job.checkpoint_id,
                       LoaderFor(job.checkpoint_id, job.checkpoint_path, job.checkpoint_sha256, impl_->options.device)));
  BatchItem item;
  item.n = job.n;
  item.seed = job.seed;
  item.genre = job.genre;
  item.threshold = job.threshold;
  TUTTI_RETURN_IF_ERROR(Annotate(model->CheckItem(item), name));

  // The model reference moves into the job: while the files are encoded below, the model is not in use.
  StatusOr<GeneratedSamples> samples =
      impl_->batcher.Submit(name, BatchJob{std::move(model), std::move(item)}, job.n, deadline).get();
  if (!samples.ok()) return samples.status();
  return EncodeFiles(*samples, job.formats, name);
}

}  // namespace tutti::coord
