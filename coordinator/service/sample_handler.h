#pragma once
// SampleHandler: SampleService (Generate, ListGenres) as a plain class. Which checkpoint to use (by id, a
// trial's or an experiment's best, or the best for a genre across experiments: GenreCatalog) and the limits
// are decided here; making the files (LibTorch) is a SampleBackend's job, so this library stays torch-free and
// a coordinator built without LibTorch answers UNIMPLEMENTED instead of failing to link.
//
// Thread-safety: Generate may be called concurrently when the backend allows it (TorchSampleBackend does).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/service/checkpoint_registry.h"
#include "coordinator/service/genre_catalog.h"
#include "core/base/status.h"
#include "tutti/v1/sample_service.pb.h"

namespace tutti::coord {

struct SampleFile {
  std::string name;   // "sample-0.mid", "overview.png", ...
  std::string bytes;
};

struct SampleJob {
  int64_t checkpoint_id = 0;    // the stored checkpoint (the model cache's key)
  std::string checkpoint_path;  // its blob: a ckpt-<step>.tutti file
  std::string checkpoint_sha256;  // what the blob must hash to; a backend refuses a model whose file does not
  int64_t n = 1;
  uint64_t seed = 0;
  std::string genre;
  std::optional<double> threshold;
  std::vector<std::string> formats;  // subset of midi, npz, png, wav (never empty here)
  // A job not started by then fails with DeadlineExceeded (it waited in a batch queue too long).
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

class SampleBackend {
 public:
  virtual ~SampleBackend() = default;
  // The files for `job`, in a stable order: per sample i "sample-<i>.mid", ".npz", ".png", ".wav" (those
  // asked for), then "overview.png" when png was asked for and n > 1. Errors name the checkpoint; DataLoss for a blob
  // that fails its sha256 (never served).
  virtual StatusOr<std::vector<SampleFile>> Generate(const SampleJob& job) = 0;
  // A checkpoint became the one served for a genre (a better one landed), replacing `replaced_id` (0 =
  // none): a backend may load it ahead of requests and let the replaced model go once its requests in
  // flight are done. Never fails (a load error surfaces on the next Generate).
  virtual void Preload(int64_t /*checkpoint_id*/, const std::string& /*path*/, const std::string& /*sha256*/,
                       int64_t /*replaced_id*/) {}
};

struct SampleHandlerOptions {
  // Largest n per request.
  int max_samples = 64;
  // Largest total bytes of one response (the files together).
  int64_t max_response_bytes = int64_t{256} << 20;
  // Bytes per streamed message.
  int64_t chunk_bytes = 1 << 20;
  // How long a request may wait for a batch slot before it fails (DeadlineExceeded), unless the caller's
  // own deadline is sooner.
  double default_deadline_s = 30;
  // Where refused checkpoints (failed sha256) and model swaps are reported; empty = nowhere.
  std::function<void(const std::string&)> log;
};

// What Generate resolved a request to (also what the HTTP mirror reports).
struct SampleSource {
  CheckpointRow checkpoint;
  int64_t trial_id = 0;
  int64_t experiment_id = 0;
  std::string genre;  // the genre asked for ("" when the request named none)
};

class SampleHandler {
 public:
  // `backend` may be null: Generate then answers Unimplemented. `catalog` resolves genre-only requests.
  SampleHandler(TrialLifecycle* lifecycle, CheckpointRegistry* checkpoints, GenreCatalog* catalog,
                SampleBackend* backend, SampleHandlerOptions options = {});

  // Streams the files through `write` (false = the client left: stop quietly). `deadline`: the caller's
  // (gRPC's) deadline; the sooner of it and default_deadline_s applies.
  Status Generate(const v1::GenerateRequest& request, const std::function<bool(const v1::GenerateResponse&)>& write,
                  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max());

  // The same, whole: the source and every file (for ListenService and the HTTP mirror).
  StatusOr<std::vector<SampleFile>> GenerateFiles(const v1::GenerateRequest& request, SampleSource* source,
                                                  std::chrono::steady_clock::time_point deadline =
                                                      std::chrono::steady_clock::time_point::max());

  Status ListGenres(const v1::ListGenresRequest& request, v1::ListGenresResponse* response);

  // Which checkpoint a request stands for (no generation): checkpoint, trial's best, experiment's or genre's
  // best. Errors: InvalidArgument (no source and no genre), NotFound (unknown ids or genre, listing the known
  // genres), FailedPrecondition (no checkpoint yet).
  StatusOr<SampleSource> Resolve(const v1::GenerateRequest& request);

  // Called when a checkpoint was recorded: when it became the one served for a genre, the backend is told
  // to load it ahead of requests (SampleBackend::Preload).
  void OnCheckpointRecorded(const CheckpointRow& row);

 private:
  TrialLifecycle* const lifecycle_;
  CheckpointRegistry* const checkpoints_;
  GenreCatalog* const catalog_;
  SampleBackend* const backend_;
  const SampleHandlerOptions options_;

  std::mutex mu_;
  std::map<std::string, int64_t> served_;  // genre -> checkpoint id last known to be served for it
};

}  // namespace tutti::coord
