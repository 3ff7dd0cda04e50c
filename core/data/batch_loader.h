#pragma once
// A prefetching, deterministic, rank-aware batch loader over one or more packs.
//
// Index space. The packs' samples of `options.split` are concatenated in the order the packs are given:
// pack 0's samples are global indices [0, n0), pack 1's [n0, n0 + n1), and so on (T in total). Several
// packs = several genres in one run; Batch::pack_index says which pack each row came from.
//
// Order and rank assignment (the contract, identical on every rank):
//   1. Epoch e visits the samples in the order EpochPermutation(seed, e, T, shuffle): a Fisher-Yates
//      shuffle driven by a SplitMix64 stream seeded from (seed, e). It depends on nothing else: not on
//      the rank, the world size or the batch size; our own generator, so it is the same on every
//      platform and standard library.
//   2. That order is cut into global batches of G = batch_size x world_size consecutive entries.
//   3. Rank r's batch k is the slice RankSlice(len_k, r, world_size, equal_rank_sizes) of global batch k,
//      i.e. rows [r*B, (r+1)*B) when the global batch is full.
// Why rows of each global batch rather than a contiguous slice of the epoch per rank: (a) the ranks'
// rows are disjoint and together cover the epoch (minus the dropped tail); (b) N ranks with batch B see
// in step k exactly the samples, in the same order, that 1 rank with batch N*B sees in step k, so a
// run's data does not change with the world size (with equal seeds, N-rank training consumes the same
// data stream as one big-batch process). Each rank still reads only its own rows from the shards.
//
// Epoch length (the same on every rank, so all ranks run the same number of steps):
//   drop_last = true (default): floor(T / G) batches, all of exactly batch_size rows; the last T mod G
//     samples of each epoch's order are skipped (a different set every epoch when shuffling).
//   drop_last = false: one more batch holding the remaining T mod G samples, sliced as in step 3:
//     with equal_rank_sizes every rank gets floor((T mod G) / world_size) rows (the batch is omitted when
//     that is 0); without it the sizes differ by at most one and may be 0 on some ranks.
// Epochs roll over forever: after the last batch of epoch e comes batch 0 of epoch e + 1.
//
// Determinism and resume: the batch at Position (e, k) depends only on the packs, the options and
// (e, k). position() is where the next Next() will be; store it in a checkpoint and Seek() to it to
// resume exactly.
//
// Threading: one background thread builds up to prefetch_batches batches ahead (unpacking bits into the
// dense layout). Next/position/Seek must be called from one consumer thread at a time. The destructor
// stops and joins the thread. The loader shares ownership of the readers; memory is bounded by
// prefetch_batches batches plus one epoch permutation (8 bytes x T).

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "core/base/status.h"
#include "core/data/pack_reader.h"

namespace tutti {

struct LoaderOptions {
  int64_t batch_size = 16;  // rows per batch on this rank (>= 1)
  uint64_t seed = 0;        // must be equal on all ranks
  int rank = 0;             // this rank, in [0, world_size)
  int world_size = 1;       // number of data-parallel ranks (>= 1)
  bool shuffle = true;      // false: every epoch in index order (pack 0 first)
  bool drop_last = true;    // never yield a partial batch unless false (see above)
  int prefetch_batches = 4; // batches built ahead by the background thread (>= 1)
  Split split = Split::kTrain;
  bool equal_rank_sizes = true;  // with drop_last = false: trim the last batch so all ranks get equal rows
};

struct Batch {
  int64_t size = 0;                  // rows in this batch
  std::vector<uint8_t> cells;        // size x shape.cells() dense 0/1, row-major (sample_shape.h layout)
  std::vector<int32_t> pack_index;   // per row: which pack (position in the Create vector)
  std::vector<int64_t> sample_index; // per row: index within that pack's split
  int64_t epoch = 0;
  int64_t batch_in_epoch = 0;
};

// The order in which epoch `epoch` visits [0, total): a permutation when `shuffle`, else 0, 1, 2, ...
// Deterministic across platforms (part of the loader's contract above).
std::vector<int64_t> EpochPermutation(uint64_t seed, int64_t epoch, int64_t total, bool shuffle);

class BatchLoader {
 public:
  struct Position {
    int64_t epoch = 0;
    int64_t batch_in_epoch = 0;
    friend bool operator==(const Position& a, const Position& b) {
      return a.epoch == b.epoch && a.batch_in_epoch == b.batch_in_epoch;
    }
  };

  // InvalidArgument for bad options, no packs, a null pack, packs whose shapes differ, or fewer samples
  // than one batch per epoch (the message gives T, batch_size and world_size). Starts the prefetch thread
  // at Position{0, 0}.
  static StatusOr<std::unique_ptr<BatchLoader>> Create(std::vector<std::shared_ptr<const PackReader>> packs,
                                                       LoaderOptions options);

  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;
  ~BatchLoader();

  // The batch at position(), then advances. Blocks until the background thread has it ready.
  Batch Next();

  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  int64_t total_samples() const { return total_; }  // T
  const SampleShape& shape() const { return shape_; }
  // The packs, in the order given to Create (both splits readable: a rank reads its slice of `split` only in
  // batches, and callers may read the rest, e.g. held-out samples for an evaluation).
  const std::vector<std::shared_ptr<const PackReader>>& packs() const { return packs_; }

  // Optional: hands a consumed batch's buffers back so the background thread reuses them instead of
  // allocating and zero-filling a fresh one (saves ~30% of the loader's CPU). Any thread.
  void Recycle(Batch&& batch);

  // Position of the batch the next Next() returns (for checkpoints).
  Position position() const;
  // Makes `position` the next batch; drops prefetched batches. InvalidArgument unless epoch >= 0 and
  // 0 <= batch_in_epoch < batches_per_epoch() (e.g. a checkpoint from a run with another batch size).
  Status Seek(Position position);

 private:
  BatchLoader(std::vector<std::shared_ptr<const PackReader>> packs, LoaderOptions options, SampleShape shape,
              std::vector<int64_t> offsets, int64_t batches_per_epoch);
  void ProducerLoop();
  void Build(Position position, Batch* batch);  // producer thread only
  Position Advance(Position position) const;

  // Constant after construction.
  const std::vector<std::shared_ptr<const PackReader>> packs_;
  const LoaderOptions options_;
  const SampleShape shape_;
  const std::vector<int64_t> offsets_;  // offsets_[p] = first global index of pack p; back() = T
  const int64_t total_;
  const int64_t batches_per_epoch_;

  mutable std::mutex mu_;
  std::condition_variable ready_cv_;  // consumer waits: a batch was queued
  std::condition_variable space_cv_;  // producer waits: room in the queue, a Seek, or stop
  std::deque<Batch> queue_ ABSL_GUARDED_BY(mu_);  // batches from next_ on, in order
  Position next_ ABSL_GUARDED_BY(mu_);            // position of queue_.front() / of the next Next()
  Position produce_ ABSL_GUARDED_BY(mu_);         // next position the producer builds
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;  // bumped by Seek; stale batches are discarded
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<Batch> spare_ ABSL_GUARDED_BY(mu_);  // recycled buffers, at most prefetch_batches + 1

  // Producer thread only.
  int64_t order_epoch_ = -1;
  std::vector<int64_t> order_;  // EpochPermutation for order_epoch_

  std::thread producer_;  // last: started after everything above is initialised
};

}  // namespace tutti
