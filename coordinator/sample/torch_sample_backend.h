#pragma once
// TorchSampleBackend: the coordinator's SampleBackend over core/sample — a generator-only load of the
// checkpoint (kept in a small cache, so repeated requests for one checkpoint skip the load), samples
// from (n, seed, genre, threshold), and the files core/sample/sample_writer.h writes (MIDI, npz, PNG and,
// when FluidSynth and a soundfont are installed, WAV), read back in a stable order.
//
// Same request, same bytes: the latents come from the seed alone and the files carry no time stamps.
//
// Thread-safety: Generate may be called concurrently; the cache has its own mutex and a loaded generator
// is used by one request at a time.

#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "coordinator/service/sample_handler.h"
#include "core/sample/checkpoint_sampler.h"

namespace tutti::coord {

class TorchSampleBackend final : public SampleBackend {
 public:
  // `cached_models`: generators kept loaded (least recently used ones go first).
  explicit TorchSampleBackend(size_t cached_models = 4) : capacity_(cached_models) {}

  StatusOr<std::vector<SampleFile>> Generate(const SampleJob& job) override;

 private:
  struct Entry {
    std::string path;
    std::shared_ptr<GeneratorModel> model;
    std::shared_ptr<std::mutex> in_use;  // one request at a time per model
  };
  StatusOr<Entry> Model(const std::string& path);

  const size_t capacity_;
  std::mutex mu_;
  std::list<Entry> cache_;  // guarded by mu_; most recently used first
};

}  // namespace tutti::coord
