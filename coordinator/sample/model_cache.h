#pragma once
// ModelCache: loaded models by id (the coordinator keys generators by checkpoint id), bounded by bytes.
// A template over the model type with the loading supplied by the caller, so the policy is tested without
// LibTorch (model_cache_test.cc); the sample backend instantiates it with GeneratorModel.
//
// Rules:
//   - Get(id, load) returns the cached model, or loads it with `load` on the calling thread. Requests for an
//     id whose load is in progress wait for that load: one load per id at a time, never a duplicate.
//   - A failed load is never cached: every waiter gets its error, and the next Get tries again.
//   - Bound: after each load (and each Get), the least recently used models are dropped while the models
//     held exceed capacity_bytes, but only idle ones: a model someone holds (a request in flight, a queued
//     batch job) is skipped, since dropping it would free nothing and a reload would hold it twice. So the
//     bound can be exceeded while the models over it are busy, and a single model larger than the bound is
//     still kept (the newest load is never its own victim).
//   - Dropping only drops the cache's reference (std::shared_ptr): holders keep using theirs.
//   - Preload(id, load, replaced) loads `id` on the cache's background thread (as Get does, so a request
//     arriving meanwhile waits for that same load) and, once it succeeded, drops `replaced`. A failed
//     preload changes nothing (the error surfaces on the next Get).
//
// Thread-safety: every method may be called from any thread. One mutex guards the table; loads run outside
// it. The destructor lets a preload in progress finish, skips queued ones and joins the background thread;
// no Get may be running then.

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "core/base/status.h"

namespace tutti::coord {

struct ModelCacheStats {
  int64_t hits = 0;          // Get found the model loaded
  int64_t joined = 0;        // Get waited for a load already in progress instead of loading again
  int64_t loads = 0;         // successful loads
  int64_t failed_loads = 0;  // loads that returned an error (not cached)
  int64_t evictions = 0;     // models dropped to stay within the bound
  int64_t dropped = 0;       // models dropped by Drop or by a Preload's replacement
  int64_t models = 0;        // models held now
  int64_t bytes = 0;         // their bytes
};

template <typename Model>
class ModelCache {
 public:
  struct Loaded {
    std::shared_ptr<const Model> model;  // non-null on success
    int64_t bytes = 0;                   // what holding it costs (counted against the bound)
  };
  // Loads one model. Errors are returned to every request waiting for this load.
  using LoadFn = std::function<StatusOr<Loaded>()>;

  explicit ModelCache(int64_t capacity_bytes) : capacity_bytes_(capacity_bytes) {}

  ~ModelCache() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      preloads_.clear();
    }
    preload_cv_.notify_all();
    if (preloader_.joinable()) preloader_.join();
  }

  ModelCache(const ModelCache&) = delete;
  ModelCache& operator=(const ModelCache&) = delete;

  // See the file comment. Errors: `load`'s (an exception from it becomes Internal).
  StatusOr<std::shared_ptr<const Model>> Get(int64_t id, const LoadFn& load) {
    std::shared_future<StatusOr<std::shared_ptr<const Model>>> in_progress;
    std::promise<StatusOr<std::shared_ptr<const Model>>> mine;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = entries_.find(id);
      if (it != entries_.end() && it->second.model != nullptr) {
        it->second.last_use = ++tick_;
        ++stats_.hits;
        std::shared_ptr<const Model> model = it->second.model;  // held before eviction runs: it is in use
        EvictLocked(id);
        return model;
      }
      if (it != entries_.end()) {
        in_progress = it->second.loading;
        ++stats_.joined;
      } else {
        entries_[id].loading = mine.get_future().share();
      }
    }
    if (in_progress.valid()) return in_progress.get();

    StatusOr<Loaded> loaded = CallLoad(load);
    StatusOr<std::shared_ptr<const Model>> result =
        loaded.ok() ? StatusOr<std::shared_ptr<const Model>>(loaded->model) : loaded.status();
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = entries_.find(id);  // still there: only the loading thread erases a loading entry
      if (!loaded.ok()) {
        entries_.erase(it);
        ++stats_.failed_loads;
      } else if (it->second.drop_when_loaded) {
        entries_.erase(it);
        ++stats_.loads;
        ++stats_.dropped;
      } else {
        Entry& entry = it->second;
        entry.model = loaded->model;
        entry.bytes = std::max<int64_t>(0, loaded->bytes);
        entry.loading = {};
        entry.last_use = ++tick_;
        bytes_ += entry.bytes;
        ++stats_.loads;
        EvictLocked(id);
      }
    }
    mine.set_value(result);
    return result;
  }

  // See the file comment. `replaced_id` 0 (or `id` itself): nothing is dropped.
  void Preload(int64_t id, LoadFn load, int64_t replaced_id) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    preloads_.push_back(PreloadRequest{id, std::move(load), replaced_id});
    if (!preloader_.joinable()) preloader_ = std::thread([this] { PreloadLoop(); });
    preload_cv_.notify_all();
  }

  // Drops the cache's reference to `id` (holders keep theirs). A load in progress still completes for its
  // waiters but is not kept.
  void Drop(int64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    DropLocked(id);
  }

  // Blocks until every Preload queued so far has finished (tests and tools).
  void WaitForPreloads() {
    std::unique_lock<std::mutex> lock(mu_);
    preload_done_cv_.wait(lock, [&] { return stopping_ || (preloads_.empty() && !preloading_); });
  }

  // Whether `id` is loaded and held now.
  bool Holds(int64_t id) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(id);
    return it != entries_.end() && it->second.model != nullptr;
  }

  ModelCacheStats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    ModelCacheStats out = stats_;
    out.bytes = bytes_;
    out.models = 0;
    for (const auto& [id, entry] : entries_) out.models += entry.model != nullptr ? 1 : 0;
    return out;
  }

 private:
  struct Entry {
    std::shared_ptr<const Model> model;  // null while loading
    int64_t bytes = 0;
    uint64_t last_use = 0;  // tick_ at the last Get
    std::shared_future<StatusOr<std::shared_ptr<const Model>>> loading;  // valid while loading
    bool drop_when_loaded = false;  // Drop came during the load
  };
  struct PreloadRequest {
    int64_t id = 0;
    LoadFn load;
    int64_t replaced_id = 0;
  };

  static StatusOr<Loaded> CallLoad(const LoadFn& load) {
    try {
      StatusOr<Loaded> loaded = load();
      if (loaded.ok() && loaded->model == nullptr) return absl::InternalError("model cache: the loader returned no model");
      return loaded;
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("model cache: loading: ", e.what()));
    }
  }

  void DropLocked(int64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    if (it->second.model == nullptr) {
      it->second.drop_when_loaded = true;
      return;
    }
    bytes_ -= it->second.bytes;
    entries_.erase(it);
    ++stats_.dropped;
  }

  // The bound (see the file comment); `keep` is the model just loaded or asked for.
  void EvictLocked(int64_t keep) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (bytes_ > capacity_bytes_) {
      auto victim = entries_.end();
      for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        const Entry& entry = it->second;
        // use_count() == 1: only this table holds it. (A holder that lets go concurrently only makes a model
        // look busy for one more round.)
        if (it->first == keep || entry.model == nullptr || entry.model.use_count() > 1) continue;
        if (victim == entries_.end() || entry.last_use < victim->second.last_use) victim = it;
      }
      if (victim == entries_.end()) return;
      bytes_ -= victim->second.bytes;
      entries_.erase(victim);
      ++stats_.evictions;
    }
  }

  void PreloadLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      preload_cv_.wait(lock, [&] { return stopping_ || !preloads_.empty(); });
      if (stopping_) break;
      PreloadRequest request = std::move(preloads_.front());
      preloads_.pop_front();
      preloading_ = true;
      lock.unlock();
      const bool loaded = Get(request.id, request.load).ok();  // the returned reference is let go at once
      lock.lock();
      if (loaded && request.replaced_id != 0 && request.replaced_id != request.id) DropLocked(request.replaced_id);
      preloading_ = false;
      preload_done_cv_.notify_all();
    }
    preload_done_cv_.notify_all();
  }

  // Constant after construction.
  const int64_t capacity_bytes_;

  mutable std::mutex mu_;
  std::map<int64_t, Entry> entries_ ABSL_GUARDED_BY(mu_);
  int64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;  // of the loaded entries
  uint64_t tick_ ABSL_GUARDED_BY(mu_) = 0;
  ModelCacheStats stats_ ABSL_GUARDED_BY(mu_);
  std::deque<PreloadRequest> preloads_ ABSL_GUARDED_BY(mu_);
  bool preloading_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::condition_variable preload_cv_;       // a preload was queued, or stopping_
  std::condition_variable preload_done_cv_;  // a preload finished
  std::thread preloader_;                    // started by the first Preload (under mu_), joined by the destructor
};

}  // namespace tutti::coord
