// ModelCache's policy with a fake model (the real generator is exercised by torch_sample_backend_test.cc):
// one load per id however many ask at once, failed loads not kept, least recently used idle models evicted
// by bytes, models in use never evicted, preloads that replace a model.

#include "coordinator/sample/model_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace tutti::coord {
namespace {

struct FakeModel {
  int64_t id = 0;
};

using Cache = ModelCache<FakeModel>;

// A loader for `id` of `bytes` that counts its calls.
Cache::LoadFn Loader(int64_t id, int64_t bytes, std::atomic<int>* calls) {
  return [id, bytes, calls]() -> StatusOr<Cache::Loaded> {
    if (calls != nullptr) ++*calls;
    return Cache::Loaded{std::make_shared<const FakeModel>(FakeModel{id}), bytes};
  };
}

// Blocks every load until Open().
class Gate {
 public:
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    waiting_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  void WaitUntilSomeoneWaits() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return waiting_; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false, waiting_ = false;
};

TEST(ModelCacheTest, ConcurrentRequestsShareOneLoad) {
  Cache cache(1 << 20);
  std::atomic<int> calls{0};
  Gate gate;
  auto slow = [&]() -> StatusOr<Cache::Loaded> {
    ++calls;
    gate.Wait();
    return Cache::Loaded{std::make_shared<const FakeModel>(FakeModel{5}), 100};
  };
  std::vector<std::shared_ptr<const FakeModel>> got(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i) {
    threads.emplace_back([&, i] { got[i] = cache.Get(5, slow).value(); });
  }
  gate.WaitUntilSomeoneWaits();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let the others find the load in progress
  gate.Open();
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(calls.load(), 1);
  for (const auto& model : got) EXPECT_EQ(model, got[0]);
  const ModelCacheStats stats = cache.stats();
  EXPECT_EQ(stats.loads, 1);
  EXPECT_EQ(stats.joined + stats.hits, 7);
  EXPECT_EQ(stats.models, 1);
  EXPECT_EQ(stats.bytes, 100);
}

TEST(ModelCacheTest, AFailedLoadReachesEveryWaiterAndIsNotKept) {
  Cache cache(1 << 20);
  std::atomic<int> calls{0};
  Gate gate;
  auto failing = [&]() -> StatusOr<Cache::Loaded> {
    ++calls;
    gate.Wait();
    return absl::DataLossError("checkpoint 3: the stored file fails its sha256");
  };
  std::vector<Status> statuses(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < statuses.size(); ++i) {
    threads.emplace_back([&, i] { statuses[i] = cache.Get(3, failing).status(); });
  }
  gate.WaitUntilSomeoneWaits();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  gate.Open();
  for (std::thread& t : threads) t.join();
  for (const Status& status : statuses) EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_FALSE(cache.Holds(3));
  EXPECT_EQ(cache.stats().failed_loads, 1);
  // The next request tries again.
  EXPECT_TRUE(cache.Get(3, Loader(3, 10, &calls)).ok());
  EXPECT_EQ(calls.load(), 2);
  EXPECT_TRUE(cache.Holds(3));
  // An exception from a loader is an error too, not a crash.
  StatusOr<std::shared_ptr<const FakeModel>> thrown =
      cache.Get(4, []() -> StatusOr<Cache::Loaded> { throw std::runtime_error("boom"); });
  EXPECT_EQ(thrown.status().code(), absl::StatusCode::kInternal);
}

TEST(ModelCacheTest, EvictsTheLeastRecentlyUsedIdleModelByBytes) {
  Cache cache(250);
  ASSERT_TRUE(cache.Get(1, Loader(1, 100, nullptr)).ok());
  ASSERT_TRUE(cache.Get(2, Loader(2, 100, nullptr)).ok());
  ASSERT_TRUE(cache.Get(1, Loader(1, 100, nullptr)).ok());  // 1 is now more recent than 2
  ASSERT_TRUE(cache.Get(3, Loader(3, 100, nullptr)).ok());  // 300 > 250: 2 goes
  EXPECT_TRUE(cache.Holds(1));
  EXPECT_FALSE(cache.Holds(2));
  EXPECT_TRUE(cache.Holds(3));
  ModelCacheStats stats = cache.stats();
  EXPECT_EQ(stats.evictions, 1);
  EXPECT_EQ(stats.bytes, 200);
  EXPECT_EQ(stats.models, 2);
  // A single model larger than the bound is still kept (alone).
  ASSERT_TRUE(cache.Get(4, Loader(4, 1000, nullptr)).ok());
  EXPECT_TRUE(cache.Holds(4));
  EXPECT_FALSE(cache.Holds(1));
  EXPECT_FALSE(cache.Holds(3));
  EXPECT_EQ(cache.stats().bytes, 1000);
}

TEST(ModelCacheTest, AModelInUseIsNeverEvicted) {
  Cache cache(150);
  std::shared_ptr<const FakeModel> held = cache.Get(1, Loader(1, 100, nullptr)).value();
  ASSERT_TRUE(cache.Get(2, Loader(2, 100, nullptr)).ok());
  EXPECT_TRUE(cache.Holds(1));  // over the bound while 1 is in use
  EXPECT_TRUE(cache.Holds(2));
  EXPECT_EQ(cache.stats().bytes, 200);
  EXPECT_EQ(held->id, 1);
  held.reset();
  ASSERT_TRUE(cache.Get(2, Loader(2, 100, nullptr)).ok());  // the next request restores the bound
  EXPECT_FALSE(cache.Holds(1));
  EXPECT_EQ(cache.stats().bytes, 100);
}

TEST(ModelCacheTest, PreloadLoadsInTheBackgroundThenDropsTheReplacedModel) {
  Cache cache(1 << 20);
  std::atomic<int> calls{0};
  std::shared_ptr<const FakeModel> old_model = cache.Get(1, Loader(1, 100, &calls)).value();
  Gate gate;
  cache.Preload(
      2,
      [&]() -> StatusOr<Cache::Loaded> {
        ++calls;
        gate.Wait();
        return Cache::Loaded{std::make_shared<const FakeModel>(FakeModel{2}), 100};
      },
      /*replaced_id=*/1);
  gate.WaitUntilSomeoneWaits();
  EXPECT_TRUE(cache.Holds(1));  // until the new one is ready
  // A request arriving during the preload waits for that same load.
  std::shared_ptr<const FakeModel> new_model;
  std::thread request([&] { new_model = cache.Get(2, Loader(2, 100, &calls)).value(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  gate.Open();
  request.join();
  cache.WaitForPreloads();
  EXPECT_EQ(new_model->id, 2);
  EXPECT_EQ(calls.load(), 2);  // model 1 once, model 2 once
  EXPECT_TRUE(cache.Holds(2));
  EXPECT_FALSE(cache.Holds(1));
  EXPECT_EQ(old_model->id, 1);  // a request in flight keeps its model
  EXPECT_EQ(cache.stats().dropped, 1);

  // A failed preload drops nothing.
  cache.Preload(3, []() -> StatusOr<Cache::Loaded> { return absl::DataLossError("bad"); }, /*replaced_id=*/2);
  cache.WaitForPreloads();
  EXPECT_TRUE(cache.Holds(2));
  EXPECT_FALSE(cache.Holds(3));
}

TEST(ModelCacheTest, DropDuringALoadLetsItsWaitersHaveTheModelButKeepsNothing) {
  Cache cache(1 << 20);
  Gate gate;
  std::shared_ptr<const FakeModel> got;
  std::thread request([&] {
    got = cache
              .Get(7,
                   [&]() -> StatusOr<Cache::Loaded> {
                     gate.Wait();
                     return Cache::Loaded{std::make_shared<const FakeModel>(FakeModel{7}), 10};
                   })
              .value();
  });
  gate.WaitUntilSomeoneWaits();
  cache.Drop(7);
  gate.Open();
  request.join();
  EXPECT_EQ(got->id, 7);
  EXPECT_FALSE(cache.Holds(7));
  EXPECT_EQ(cache.stats().bytes, 0);
}

TEST(ModelCacheTest, DestructionFinishesTheRunningPreloadAndSkipsQueuedOnes) {
  std::atomic<int> calls{0};
  Gate gate;
  std::thread opener;
  {
    Cache cache(1 << 20);
    cache.Preload(
        1,
        [&]() -> StatusOr<Cache::Loaded> {
          ++calls;
          gate.Wait();
          return Cache::Loaded{std::make_shared<const FakeModel>(FakeModel{1}), 10};
        },
        0);
    for (int64_t id = 2; id < 10; ++id) cache.Preload(id, Loader(id, 10, &calls), 0);
    gate.WaitUntilSomeoneWaits();
    opener = std::thread([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      gate.Open();
    });
  }  // the destructor waits for the running preload, which the opener releases
  opener.join();
  EXPECT_EQ(calls.load(), 1);
}

}  // namespace
}  // namespace tutti::coord
