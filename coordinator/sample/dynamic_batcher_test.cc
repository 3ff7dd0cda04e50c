// DynamicBatcher's policy with a fake batch runner (the real model is exercised by
// torch_sample_backend_test.cc): batches close when full, when the next job does not fit, or after the
// queue delay; oversized jobs run alone and whole; expired jobs are failed, not run; Shutdown fails what is
// queued; many submitting threads lose no job and run none twice.

#include "coordinator/sample/dynamic_batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace tutti::coord {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct FakeJob {
  int id = 0;
  int64_t samples = 1;
};

// Records every batch; a batch whose first job is `block_id` waits until Release().
class Recorder {
 public:
  std::vector<StatusOr<int>> Run(const std::string& lane, std::vector<FakeJob>& jobs) {
    std::unique_lock<std::mutex> lock(mu_);
    std::vector<int> ids;
    for (const FakeJob& job : jobs) ids.push_back(job.id);
    batches_.push_back(ids);
    lanes_.push_back(lane);
    if (!jobs.empty() && jobs[0].id == block_id_) {
      blocked_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_; });
    }
    std::vector<StatusOr<int>> out;
    for (const FakeJob& job : jobs) out.push_back(job.id * 10);
    return out;
  }
  void BlockOn(int id) { block_id_ = id; }
  void WaitUntilBlocked() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return blocked_; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  std::vector<std::vector<int>> batches() {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int block_id_ = -1;
  bool blocked_ = false, released_ = false;
  std::vector<std::vector<int>> batches_;
  std::vector<std::string> lanes_;
};

using Batcher = DynamicBatcher<FakeJob, int>;

Batcher::RunBatchFn RunWith(Recorder* recorder) {
  return [recorder](const std::string& lane, std::vector<FakeJob>& jobs) { return recorder->Run(lane, jobs); };
}

BatcherOptions Options(int64_t max_batch_size, milliseconds delay, int threads = 1) {
  BatcherOptions options;
  options.max_batch_size = max_batch_size;
  options.max_queue_delay = delay;
  options.threads = threads;
  return options;
}

TEST(DynamicBatcherTest, AFullBatchStartsWithoutWaitingForTheDelay) {
  Recorder recorder;
  Batcher batcher(Options(4, milliseconds(10'000)), RunWith(&recorder));
  const auto start = Clock::now();
  std::vector<std::future<StatusOr<int>>> futures;
  for (int i = 0; i < 8; ++i) futures.push_back(batcher.Submit("m", FakeJob{i, 1}, 1));
  for (int i = 0; i < 8; ++i) EXPECT_EQ(futures[static_cast<size_t>(i)].get().value(), i * 10);
  EXPECT_LT(Clock::now() - start, milliseconds(5'000));
  EXPECT_EQ(recorder.batches(), (std::vector<std::vector<int>>{{0, 1, 2, 3}, {4, 5, 6, 7}}));
  const BatcherStats stats = batcher.stats();
  EXPECT_EQ(stats.batches, 2);
  EXPECT_EQ(stats.jobs, 8);
  EXPECT_EQ(stats.samples, 8);
  EXPECT_EQ(stats.largest_batch, 4);
}

TEST(DynamicBatcherTest, AnUnfilledBatchStartsAfterTheQueueDelay) {
  Recorder recorder;
  Batcher batcher(Options(100, milliseconds(80)), RunWith(&recorder));
  const auto start = Clock::now();
  std::future<StatusOr<int>> a = batcher.Submit("m", FakeJob{1, 2}, 2);
  std::future<StatusOr<int>> b = batcher.Submit("m", FakeJob{2, 3}, 3);
  std::future<StatusOr<int>> c = batcher.Submit("m", FakeJob{3, 1}, 1);
  EXPECT_EQ(a.get().value(), 10);
  const auto waited = Clock::now() - start;
  EXPECT_EQ(b.get().value(), 20);
  EXPECT_EQ(c.get().value(), 30);
  EXPECT_GE(waited, milliseconds(75));  // the delay counts from the first job's arrival
  EXPECT_LT(waited, milliseconds(3'000));
  EXPECT_EQ(recorder.batches(), (std::vector<std::vector<int>>{{1, 2, 3}}));
  EXPECT_EQ(batcher.stats().samples, 6);
}

// A job that does not fit closes the batch before it (no queue jumping); a job larger than max_batch_size
// runs alone and whole, without waiting for the delay.
TEST(DynamicBatcherTest, OversizedJobsRunAloneAndTheQueueKeepsItsOrder) {
  Recorder recorder;
  recorder.BlockOn(0);
  Batcher batcher(Options(4, milliseconds(0)), RunWith(&recorder));
  std::future<StatusOr<int>> first = batcher.Submit("m", FakeJob{0, 1}, 1);
  recorder.WaitUntilBlocked();
  std::vector<std::future<StatusOr<int>>> rest;
  rest.push_back(batcher.Submit("m", FakeJob{1, 1}, 1));
  rest.push_back(batcher.Submit("m", FakeJob{2, 10}, 10));
  rest.push_back(batcher.Submit("m", FakeJob{3, 1}, 1));
  rest.push_back(batcher.Submit("m", FakeJob{4, 2}, 2));
  rest.push_back(batcher.Submit("m", FakeJob{5, 3}, 3));
  recorder.Release();
  EXPECT_EQ(first.get().value(), 0);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(rest[static_cast<size_t>(i)].get().value(), (i + 1) * 10);
  EXPECT_EQ(recorder.batches(), (std::vector<std::vector<int>>{{0}, {1}, {2}, {3, 4}, {5}}));

  // Alone and idle: an oversized job does not wait out a long delay either.
  Recorder idle;
  Batcher patient(Options(4, milliseconds(10'000)), RunWith(&idle));
  const auto start = Clock::now();
  EXPECT_EQ(patient.Submit("m", FakeJob{7, 9}, 9).get().value(), 70);
  EXPECT_LT(Clock::now() - start, milliseconds(5'000));
}

TEST(DynamicBatcherTest, JobsPastTheirDeadlineFailAndAreNotRun) {
  Recorder recorder;
  recorder.BlockOn(0);
  Batcher batcher(Options(8, milliseconds(0)), RunWith(&recorder));
  std::future<StatusOr<int>> blocker = batcher.Submit("checkpoint 7", FakeJob{0, 1}, 1);
  recorder.WaitUntilBlocked();
  std::future<StatusOr<int>> late = batcher.Submit("checkpoint 7", FakeJob{1, 1}, 1, Clock::now() + milliseconds(30));
  std::future<StatusOr<int>> patient =
      batcher.Submit("checkpoint 7", FakeJob{2, 1}, 1, Clock::now() + milliseconds(60'000));
  std::this_thread::sleep_for(milliseconds(100));
  recorder.Release();
  EXPECT_EQ(blocker.get().value(), 0);
  const StatusOr<int> expired = late.get();
  EXPECT_EQ(expired.status().code(), absl::StatusCode::kDeadlineExceeded) << expired.status();
  const std::string message(expired.status().message());
  EXPECT_EQ(message.rfind("waited ", 0), 0u) << message;
  EXPECT_NE(message.find(" ms in the queue for checkpoint 7, past its deadline"), std::string::npos) << message;
  EXPECT_EQ(patient.get().value(), 20);
  EXPECT_EQ(recorder.batches(), (std::vector<std::vector<int>>{{0}, {2}}));
  EXPECT_EQ(batcher.stats().expired, 1);
  EXPECT_EQ(batcher.stats().jobs, 2);
}

TEST(DynamicBatcherTest, ShutdownFailsQueuedJobsAndLetsTheRunningBatchFinish) {
  Recorder recorder;
  recorder.BlockOn(0);
  auto batcher = std::make_unique<Batcher>(Options(2, milliseconds(0)), RunWith(&recorder));
  std::future<StatusOr<int>> running = batcher->Submit("m", FakeJob{0, 1}, 1);
  recorder.WaitUntilBlocked();
  std::vector<std::future<StatusOr<int>>> queued;
  for (int i = 1; i <= 5; ++i) queued.push_back(batcher->Submit(i % 2 == 0 ? "m" : "other", FakeJob{i, 1}, 1));
  std::thread stopper([&] { batcher->Shutdown(); });
  for (std::future<StatusOr<int>>& f : queued) {
    const StatusOr<int> result = f.get();  // before the running batch ends: Shutdown fails them first
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable) << result.status();
    EXPECT_EQ(result.status().message(), "the coordinator is shutting down");
  }
  recorder.Release();
  stopper.join();
  EXPECT_EQ(running.get().value(), 0);
  EXPECT_EQ(batcher->Submit("m", FakeJob{9, 1}, 1).get().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(batcher->stats().refused, 6);
  batcher->Shutdown();  // idempotent
  batcher.reset();
  EXPECT_EQ(recorder.batches(), (std::vector<std::vector<int>>{{0}}));
}

TEST(DynamicBatcherTest, AWrongResultCountFailsTheBatch) {
  Batcher batcher(Options(4, milliseconds(0)),
                  [](const std::string&, std::vector<FakeJob>&) { return std::vector<StatusOr<int>>{}; });
  const StatusOr<int> result = batcher.Submit("m", FakeJob{1, 1}, 1).get();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal) << result.status();
  EXPECT_NE(std::string(result.status().message()).find("returned 0 results for 1 jobs"), std::string::npos);
}

// 16 threads x 150 jobs over 3 lanes and 2 batching threads: every job runs exactly once, in a batch of its
// own lane that respects the size rule, and gets its own result.
TEST(DynamicBatcherTest, ManySubmittersLoseNoJobAndRunNoneTwice) {
  constexpr int kThreads = 16, kJobsPerThread = 150, kMax = 8;
  std::mutex mu;
  std::map<int, int> runs;  // job id -> times run
  std::atomic<int> bad_batches{0};
  const std::vector<std::string> lanes = {"a", "b", "c"};
  Batcher batcher(Options(kMax, milliseconds(1), /*threads=*/2),
                  [&](const std::string& lane, std::vector<FakeJob>& jobs) {
                    int64_t samples = 0;
                    std::vector<StatusOr<int>> out;
                    for (const FakeJob& job : jobs) {
                      samples += job.samples;
                      if (lanes[static_cast<size_t>(job.id % 3)] != lane) ++bad_batches;
                      out.push_back(job.id * 10);
                    }
                    if (jobs.size() > 1 && samples > kMax) ++bad_batches;
                    std::lock_guard<std::mutex> lock(mu);
                    for (const FakeJob& job : jobs) ++runs[job.id];
                    return out;
                  });
  std::atomic<int> wrong_results{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      for (int i = 0; i < kJobsPerThread; ++i) {
        const int id = t * kJobsPerThread + i;
        const int64_t samples = 1 + static_cast<int64_t>(rng() % 5) + (i % 50 == 0 ? kMax : 0);  // some oversized
        const StatusOr<int> result =
            batcher.Submit(lanes[static_cast<size_t>(id % 3)], FakeJob{id, samples}, samples).get();
        if (!result.ok() || *result != id * 10) ++wrong_results;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong_results.load(), 0);
  EXPECT_EQ(bad_batches.load(), 0);
  ASSERT_EQ(runs.size(), static_cast<size_t>(kThreads * kJobsPerThread));
  for (const auto& [id, count] : runs) EXPECT_EQ(count, 1) << "job " << id;
  const BatcherStats stats = batcher.stats();
  EXPECT_EQ(stats.jobs, kThreads * kJobsPerThread);
  EXPECT_LT(stats.batches, stats.jobs);  // 16 concurrent submitters: batches did form
  EXPECT_GT(stats.largest_batch, 1);
}

}  // namespace
}  // namespace tutti::coord
