// TorchSampleBackend with real checkpoints (written the way tutti-worker writes them): concurrent requests
// are batched and still get exactly the bytes they get alone; a blob that fails its sha256 is refused and
// not cached; Preload swaps models without failing requests in flight; the cache keeps to its byte bound.

#include "coordinator/sample/torch_sample_backend.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "core/base/file_util.h"
#include "core/base/sha256.h"
#include "core/data/data_test_util.h"
#include "core/sample/sample_test_util.h"

namespace tutti::coord {
namespace {

using ::tutti::testing::MakeCheckpoint;
using ::tutti::testing::SmallSampleConfig;
using ::tutti::testing::TempDir;
using SteadyClock = std::chrono::steady_clock;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::vector<std::string> Names(const std::vector<SampleFile>& files) {
  std::vector<std::string> names;
  for (const SampleFile& file : files) names.push_back(file.name);
  return names;
}

bool SameFiles(const std::vector<SampleFile>& a, const std::vector<SampleFile>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].bytes != b[i].bytes) return false;
  }
  return true;
}

struct StoredCheckpoint {
  int64_t id = 0;
  std::string path;
  std::string sha256;
};

class TorchSampleBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = Store(1, MakeCheckpoint(tmp_ / "a", SmallSampleConfig(false), 1));
    b_ = Store(2, MakeCheckpoint(tmp_ / "b", SmallSampleConfig(false), 2));
  }

  StoredCheckpoint Store(int64_t id, const std::string& path) {
    EXPECT_FALSE(path.empty());
    StatusOr<std::string> bytes = ReadFileToString(path);
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    return StoredCheckpoint{id, path, bytes.ok() ? Sha256Hex(*bytes) : ""};
  }

  static SampleJob Job(const StoredCheckpoint& checkpoint, uint64_t seed, int64_t n = 1,
                       std::vector<std::string> formats = {"midi", "png"}) {
    SampleJob job;
    job.checkpoint_id = checkpoint.id;
    job.checkpoint_path = checkpoint.path;
    job.checkpoint_sha256 = checkpoint.sha256;
    job.n = n;
    job.seed = seed;
    // A few steps of training leave the raw outputs below 0.15: this threshold keeps a few per cent of the
    // cells active, about as dense as real music (so the files are neither empty nor huge).
    job.threshold = 0.125;
    job.formats = std::move(formats);
    return job;
  }

  static SampleServingOptions Unbatched() {
    SampleServingOptions options;
    options.batching = false;
    return options;
  }

  TempDir tmp_;
  StoredCheckpoint a_, b_;
};

// 8 threads, 3 requests each (1..3 samples), released together: each gets exactly the files of the same
// request run alone, and the batcher did put requests together. (MIDI and npz: together they carry every
// cell of the samples, and they encode in well under a millisecond where PNG takes ~10 ms.)
TEST_F(TorchSampleBackendTest, ConcurrentRequestsAreBatchedAndGetTheirAloneBytes) {
  constexpr int kThreads = 8, kRounds = 3;
  std::vector<std::vector<SampleFile>> alone(kThreads * kRounds);
  {
    TorchSampleBackend reference(Unbatched());
    for (int i = 0; i < kThreads * kRounds; ++i) {
      StatusOr<std::vector<SampleFile>> files = reference.Generate(Job(a_, 100 + i, 1 + i % 3, {"midi", "npz"}));
      ASSERT_TRUE(files.ok()) << files.status();
      alone[static_cast<size_t>(i)] = *std::move(files);
    }
    EXPECT_EQ(reference.stats().batcher.jobs, kThreads * kRounds);
    EXPECT_EQ(reference.stats().batcher.batches, kThreads * kRounds);
  }
  SampleServingOptions options;
  options.max_queue_delay_ms = 50;  // wide enough that released-together requests meet in a batch
  TorchSampleBackend backend(options);
  std::atomic<int> ready{0}, mismatches{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        ++ready;
        while (ready.load() < kThreads * (round + 1)) std::this_thread::yield();
        const int i = round * kThreads + t;
        StatusOr<std::vector<SampleFile>> files = backend.Generate(Job(a_, 100 + i, 1 + i % 3, {"midi", "npz"}));
        if (!files.ok()) {
          ++failures;
          ADD_FAILURE() << files.status();
        } else if (!SameFiles(*files, alone[static_cast<size_t>(i)])) {
          ++mismatches;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
  const SampleServingStats stats = backend.stats();
  EXPECT_EQ(stats.batcher.jobs, kThreads * kRounds);
  EXPECT_LT(stats.batcher.batches, stats.batcher.jobs) << "no two requests shared a batch";
  EXPECT_GT(stats.batcher.largest_batch, 1);
  EXPECT_EQ(stats.cache.loads, 1);  // eight threads asked at once; one load
  std::printf("%lld requests in %lld batches (largest %lld)\n", static_cast<long long>(stats.batcher.jobs),
              static_cast<long long>(stats.batcher.batches), static_cast<long long>(stats.batcher.largest_batch));
}

TEST_F(TorchSampleBackendTest, FilesComeInTheDocumentedOrder) {
  TorchSampleBackend backend;
  StatusOr<std::vector<SampleFile>> files = backend.Generate(Job(a_, 1, 2, {"wav", "png", "npz", "midi"}));
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(Names(*files), (std::vector<std::string>{"sample-0.mid", "sample-0.npz", "sample-0.png", "sample-0.wav",
                                                      "sample-1.mid", "sample-1.npz", "sample-1.png", "sample-1.wav",
                                                      "overview.png"}));
  for (const SampleFile& file : *files) EXPECT_FALSE(file.bytes.empty()) << file.name;
  EXPECT_EQ(files->front().bytes.substr(0, 4), "MThd");
  files = backend.Generate(Job(a_, 1, 1, {"png"}));
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(Names(*files), std::vector<std::string>{"sample-0.png"}) << "one sample: no overview repeating it";
  files = backend.Generate(Job(a_, 1, 1, {"midi"}));
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(Names(*files), (std::vector<std::string>{"sample-0.mid"}));
}

TEST_F(TorchSampleBackendTest, ABlobThatFailsItsSha256IsRefusedAndNotCached) {
  StatusOr<std::string> good = ReadFileToString(a_.path);
  ASSERT_TRUE(good.ok());
  std::string bad = *good;
  bad[bad.size() / 2] ^= 0x01;
  const std::string copy = tmp_ / "blob.tutti";
  ASSERT_TRUE(WriteFileAtomically(copy, bad).ok());
  StoredCheckpoint stored{5, copy, a_.sha256};

  TorchSampleBackend backend;
  StatusOr<std::vector<SampleFile>> refused = backend.Generate(Job(stored, 1));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss) << refused.status();
  const std::string message(refused.status().message());
  EXPECT_TRUE(Contains(message, "checkpoint 5: the stored file fails its sha256 (expected " + a_.sha256 + ", got " +
                                    Sha256Hex(bad) + "); it is not served"))
      << message;
  EXPECT_EQ(backend.stats().cache.models, 0);
  EXPECT_EQ(backend.stats().cache.failed_loads, 1);

  // Repaired on disk: the next request loads it (nothing of the failure was kept).
  ASSERT_TRUE(WriteFileAtomically(copy, *good).ok());
  StatusOr<std::vector<SampleFile>> served = backend.Generate(Job(stored, 1));
  ASSERT_TRUE(served.ok()) << served.status();
  StatusOr<std::vector<SampleFile>> original = backend.Generate(Job(a_, 1));
  ASSERT_TRUE(original.ok()) << original.status();
  EXPECT_TRUE(SameFiles(*served, *original));
  EXPECT_EQ(backend.stats().cache.loads, 2);
}

// A request waiting in the old model's lane when the swap happens finishes with the old model's bytes; the
// old model has left the cache; new requests use the preloaded model without loading it again.
TEST_F(TorchSampleBackendTest, PreloadSwapsModelsWithoutFailingRequestsInFlight) {
  std::vector<SampleFile> old_bytes, new_bytes;
  {
    TorchSampleBackend reference(Unbatched());
    old_bytes = reference.Generate(Job(a_, 7)).value();
    new_bytes = reference.Generate(Job(b_, 7)).value();
    ASSERT_FALSE(SameFiles(old_bytes, new_bytes));
  }
  SampleServingOptions options;
  options.max_batch_size = 2;
  options.max_queue_delay_ms = 1500;  // a lone 1-sample request waits this long in its lane
  TorchSampleBackend backend(options);
  ASSERT_TRUE(backend.Generate(Job(a_, 1, 2)).ok());  // loads A; 2 samples fill a batch: no wait
  std::future<StatusOr<std::vector<SampleFile>>> in_flight =
      std::async(std::launch::async, [&] { return backend.Generate(Job(a_, 7)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // queued in A's lane
  backend.Preload(b_.id, b_.path, b_.sha256, /*replaced_id=*/a_.id);
  backend.WaitForPreloads();
  SampleServingStats stats = backend.stats();
  EXPECT_EQ(stats.cache.loads, 2);
  EXPECT_EQ(stats.cache.dropped, 1);  // A left the cache...
  EXPECT_EQ(stats.cache.models, 1);
  EXPECT_EQ(in_flight.wait_for(std::chrono::seconds(0)), std::future_status::timeout)  // ...while in use
      << "the request was no longer in flight: the test proves nothing";
  StatusOr<std::vector<SampleFile>> finished = in_flight.get();
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_TRUE(SameFiles(*finished, old_bytes));

  StatusOr<std::vector<SampleFile>> next = backend.Generate(Job(b_, 7, 2));
  ASSERT_TRUE(next.ok()) << next.status();
  stats = backend.stats();
  EXPECT_EQ(stats.cache.loads, 2);  // B was already there
  EXPECT_GE(stats.cache.hits, 1);
}

TEST_F(TorchSampleBackendTest, TheCacheKeepsToItsByteBound) {
  SampleServingOptions options = Unbatched();
  options.cache_bytes = 1;  // smaller than any model: only the newest stays
  TorchSampleBackend backend(options);
  ASSERT_TRUE(backend.Generate(Job(a_, 1)).ok());
  SampleServingStats stats = backend.stats();
  EXPECT_EQ(stats.cache.models, 1);
  EXPECT_GT(stats.cache.bytes, 1 << 20);  // the generator's parameters and buffers
  const int64_t model_bytes = stats.cache.bytes;
  ASSERT_TRUE(backend.Generate(Job(b_, 1)).ok());
  stats = backend.stats();
  EXPECT_EQ(stats.cache.evictions, 1);
  EXPECT_EQ(stats.cache.models, 1);
  EXPECT_EQ(stats.cache.bytes, model_bytes);
  ASSERT_TRUE(backend.Generate(Job(a_, 1)).ok());  // evicted, so loaded again
  EXPECT_EQ(backend.stats().cache.loads, 3);

  // With room for both, both stay.
  options.cache_bytes = 3 * model_bytes;
  TorchSampleBackend roomy(options);
  ASSERT_TRUE(roomy.Generate(Job(a_, 1)).ok());
  ASSERT_TRUE(roomy.Generate(Job(b_, 1)).ok());
  ASSERT_TRUE(roomy.Generate(Job(a_, 2)).ok());
  EXPECT_EQ(roomy.stats().cache.loads, 2);
  EXPECT_EQ(roomy.stats().cache.evictions, 0);
}

TEST_F(TorchSampleBackendTest, ErrorsNameTheCheckpoint) {
  TorchSampleBackend backend;
  SampleJob jazz = Job(a_, 1);
  jazz.genre = "jazz";
  StatusOr<std::vector<SampleFile>> files = backend.Generate(jazz);
  EXPECT_EQ(files.status().code(), absl::StatusCode::kInvalidArgument) << files.status();
  EXPECT_TRUE(Contains(std::string(files.status().message()), "checkpoint 1: ")) << files.status();

  StoredCheckpoint missing{9, tmp_ / "missing.tutti", a_.sha256};
  files = backend.Generate(Job(missing, 1));
  EXPECT_EQ(files.status().code(), absl::StatusCode::kNotFound) << files.status();
  EXPECT_TRUE(Contains(std::string(files.status().message()), "checkpoint 9: ")) << files.status();

  SampleJob late = Job(a_, 1);
  late.deadline = SteadyClock::now() - std::chrono::milliseconds(1);
  files = backend.Generate(late);
  EXPECT_EQ(files.status().code(), absl::StatusCode::kDeadlineExceeded) << files.status();
  EXPECT_TRUE(Contains(std::string(files.status().message()), "in the queue for checkpoint 1, past its deadline"))
      << files.status();
  EXPECT_EQ(backend.stats().batcher.expired, 1);

  backend.Shutdown();
  files = backend.Generate(Job(a_, 1));
  EXPECT_EQ(files.status().code(), absl::StatusCode::kUnavailable) << files.status();

  SampleServingOptions bad;
  bad.device = "tpu";
  TorchSampleBackend misconfigured(bad);
  EXPECT_EQ(misconfigured.Generate(Job(a_, 1)).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tutti::coord
