#pragma once
// DynamicBatcher: jobs submitted from many threads, grouped per lane (one lane per model) into batches that
// a "run batch" function executes at once. The policy is Triton's dynamic batcher; the batcher knows
// nothing about models or LibTorch (the sample backend supplies the run function), so the policy is tested
// with a fake one (dynamic_batcher_test.cc).
//
// How a batch forms, step by step (one batching thread; `threads` of them share all lanes):
//   1. Wait until some lane has queued jobs and no other batching thread is collecting from it; take the
//      lane whose first job has waited longest, and claim it.
//   2. The batch is a prefix of the lane's queue, in arrival order: the first job always (a job larger than
//      max_batch_size samples is a batch of its own: it is never split), then each following job while the
//      samples still fit in max_batch_size. Collection stops as soon as the batch is full or the next job
//      does not fit (it would have to jump the queue to be skipped, so it starts the next batch), or
//      max_queue_delay after the FIRST job arrived (jobs arriving meanwhile join), or at Shutdown.
//   3. The prefix leaves the queue and the lane is released, so another batching thread may already collect
//      the next batch of the same lane while this one runs.
//   4. Jobs whose deadline has passed are failed with DeadlineExceeded ("waited N ms in the queue for
//      <lane>, past its deadline") and not run; the rest run in one call of the run function, on the
//      batching thread, and each job's future gets its own result.
// Shutdown(): jobs still queued (including a batch still collecting) fail with Unavailable ("the
// coordinator is shutting down"), later Submits too; batches already running finish; threads are joined.
//
// Thread-safety: Submit and stats may be called from any thread at any time; Shutdown from any thread
// (idempotent; it blocks until running batches have finished). The run function is called from the
// batching threads, one batch per call, possibly concurrently for different lanes (or consecutive batches
// of one lane) when threads > 1.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "core/base/status.h"

namespace tutti::coord {

struct BatcherOptions {
  // Most samples in one batch (see step 2); at least 1.
  int64_t max_batch_size = 32;
  // How long a batch's first job waits for company (see step 2).
  std::chrono::nanoseconds max_queue_delay = std::chrono::milliseconds(2);
  // Batching threads shared by all lanes; at least 1.
  int threads = 1;
};

struct BatcherStats {
  int64_t batches = 0;        // run-function calls
  int64_t jobs = 0;           // jobs run in them
  int64_t samples = 0;        // samples of those jobs
  int64_t largest_batch = 0;  // most jobs in one call
  int64_t expired = 0;        // jobs failed with DeadlineExceeded, not run
  int64_t refused = 0;        // jobs failed with Unavailable by Shutdown (queued, or submitted after)
};

template <typename Job, typename Result>
class DynamicBatcher {
 public:
  using Clock = std::chrono::steady_clock;
  // Runs the jobs of one batch (all from `lane`, in arrival order) and returns one result per job, in the
  // same order. Another count fails every job of the batch with Internal; so does an exception.
  using RunBatchFn = std::function<std::vector<StatusOr<Result>>(const std::string& lane, std::vector<Job>& jobs)>;

  // Starts the batching threads.
  DynamicBatcher(BatcherOptions options, RunBatchFn run) : options_(Sanitize(options)), run_(std::move(run)) {
    for (int i = 0; i < options_.threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  }
  ~DynamicBatcher() { Shutdown(); }

  DynamicBatcher(const DynamicBatcher&) = delete;
  DynamicBatcher& operator=(const DynamicBatcher&) = delete;

  // Queues `job` in `lane` (a model's name: jobs of one lane are batched together; it also names the lane in
  // errors). `samples` (>= 1) is the job's share of max_batch_size. The future gets the run function's
  // result for the job, DeadlineExceeded when `deadline` passed before its batch started, or Unavailable
  // after Shutdown.
  std::future<StatusOr<Result>> Submit(const std::string& lane, Job job, int64_t samples,
                                       Clock::time_point deadline = Clock::time_point::max()) {
    std::promise<StatusOr<Result>> promise;
    std::future<StatusOr<Result>> future = promise.get_future();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!stopping_) {
        lanes_[lane].queue.push_back(
            Pending{std::move(job), std::max<int64_t>(1, samples), Clock::now(), deadline, std::move(promise)});
        cv_.notify_all();
        return future;
      }
      ++stats_.refused;
    }
    promise.set_value(ShuttingDown());
    return future;
  }

  // See the file comment.
  void Shutdown() {
    std::lock_guard<std::mutex> shutdown_lock(shutdown_mu_);
    std::vector<Pending> dropped;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      for (auto& [name, lane] : lanes_) {
        for (Pending& pending : lane.queue) dropped.push_back(std::move(pending));
        lane.queue.clear();
      }
      stats_.refused += static_cast<int64_t>(dropped.size());
      cv_.notify_all();
    }
    for (Pending& pending : dropped) pending.promise.set_value(ShuttingDown());
    for (std::thread& worker : workers_) {
      if (worker.joinable()) worker.join();
    }
  }

  BatcherStats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

 private:
  struct Pending {
    Job job;
    int64_t samples = 1;
    Clock::time_point arrived;
    Clock::time_point deadline;
    std::promise<StatusOr<Result>> promise;
  };
  struct Lane {
    std::deque<Pending> queue;  // arrival order
    bool claimed = false;       // a batching thread is collecting from it (step 1)
  };
  using LaneMap = std::map<std::string, Lane>;

  static BatcherOptions Sanitize(BatcherOptions options) {
    options.max_batch_size = std::max<int64_t>(1, options.max_batch_size);
    options.threads = std::max(1, options.threads);
    options.max_queue_delay = std::max(options.max_queue_delay, std::chrono::nanoseconds(0));
    return options;
  }

  static Status ShuttingDown() { return absl::UnavailableError("the coordinator is shutting down"); }

  // Step 1: the unclaimed lane with queued jobs whose first job has waited longest; end() when none.
  typename LaneMap::iterator OldestReadyLaneLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto oldest = lanes_.end();
    for (auto it = lanes_.begin(); it != lanes_.end(); ++it) {
      if (it->second.claimed || it->second.queue.empty()) continue;
      if (oldest == lanes_.end() || it->second.queue.front().arrived < oldest->second.queue.front().arrived) {
        oldest = it;
      }
    }
    return oldest;
  }

  // Step 2: how many jobs from the front of `queue` make the batch; `complete` when it cannot grow.
  size_t BatchPrefix(const std::deque<Pending>& queue, bool* complete) const {
    *complete = false;
    int64_t total = 0;
    size_t count = 0;
    for (const Pending& pending : queue) {
      if (count > 0 && total + pending.samples > options_.max_batch_size) {
        *complete = true;  // the next job does not fit
        break;
      }
      total += pending.samples;
      ++count;
      if (total >= options_.max_batch_size) {
        *complete = true;  // full (or one oversized job alone)
        break;
      }
    }
    return count;
  }

  void WorkerLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      auto it = lanes_.end();
      cv_.wait(lock, [&] {
        return stopping_ || (it = OldestReadyLaneLocked()) != lanes_.end();
      });
      if (stopping_) return;
      // A claimed lane is erased only by the thread that claimed it (Shutdown empties queues, never erases),
      // so `it` stays valid while the lock is released in wait_until.
      Lane& lane = it->second;
      lane.claimed = true;
      const Clock::time_point close_at = lane.queue.front().arrived + options_.max_queue_delay;
      size_t take = 0;
      while (true) {
        bool complete = false;
        take = BatchPrefix(lane.queue, &complete);
        if (complete || stopping_ || Clock::now() >= close_at) break;
        cv_.wait_until(lock, close_at);
      }
      lane.claimed = false;
      if (stopping_) return;  // Shutdown fails the jobs that were queued
      std::vector<Pending> batch;
      batch.reserve(take);
      for (size_t i = 0; i < take; ++i) {
        batch.push_back(std::move(lane.queue.front()));
        lane.queue.pop_front();
      }
      const std::string name = it->first;
      if (lane.queue.empty()) {
        lanes_.erase(it);
      } else {
        cv_.notify_all();  // step 3: another batching thread may take the rest
      }
      lock.unlock();
      RunBatch(name, batch);
      lock.lock();
    }
  }

  // Step 4, without the lock.
  void RunBatch(const std::string& lane, std::vector<Pending>& batch) {
    const Clock::time_point start = Clock::now();
    std::vector<Job> jobs;
    std::vector<std::promise<StatusOr<Result>>> promises;
    // Expired jobs' answers wait with the others until the stats count them (below).
    std::vector<std::promise<StatusOr<Result>>> expired_promises;
    std::vector<Status> expired_errors;
    int64_t samples = 0;
    for (Pending& pending : batch) {
      if (start > pending.deadline) {
        const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(start - pending.arrived).count();
        expired_errors.push_back(absl::DeadlineExceededError(
            absl::StrCat("waited ", waited, " ms in the queue for ", lane, ", past its deadline")));
        expired_promises.push_back(std::move(pending.promise));
        continue;
      }
      jobs.push_back(std::move(pending.job));
      promises.push_back(std::move(pending.promise));
      samples += pending.samples;
    }
    std::vector<StatusOr<Result>> results;
    if (!jobs.empty()) {
      try {
        results = run_(lane, jobs);
        if (results.size() != jobs.size()) {
          const Status wrong = absl::InternalError(absl::StrCat(
              lane, ": the batch runner returned ", results.size(), " results for ", jobs.size(), " jobs"));
          results.assign(jobs.size(), wrong);
        }
      } catch (const std::exception& e) {
        results.assign(jobs.size(), absl::InternalError(absl::StrCat(lane, ": running a batch: ", e.what())));
      }
    }
    {
      // Counted before any future is ready, so a caller that got its result sees its batch in stats().
      std::lock_guard<std::mutex> lock(mu_);
      stats_.expired += static_cast<int64_t>(expired_promises.size());
      if (!jobs.empty()) {
        ++stats_.batches;
        stats_.jobs += static_cast<int64_t>(jobs.size());
        stats_.samples += samples;
        stats_.largest_batch = std::max<int64_t>(stats_.largest_batch, static_cast<int64_t>(jobs.size()));
      }
    }
    for (size_t i = 0; i < expired_promises.size(); ++i) expired_promises[i].set_value(expired_errors[i]);
    for (size_t i = 0; i < promises.size(); ++i) promises[i].set_value(std::move(results[i]));
  }

  // Constant after construction.
  const BatcherOptions options_;
  const RunBatchFn run_;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // a job was queued, a lane was released, or Shutdown began
  LaneMap lanes_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  BatcherStats stats_ ABSL_GUARDED_BY(mu_);

  std::mutex shutdown_mu_;  // one Shutdown at a time joins the workers
  std::vector<std::thread> workers_;  // started by the constructor, joined by Shutdown
};

}  // namespace tutti::coord
