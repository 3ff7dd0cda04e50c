#include "core/data/batch_loader.h"

#include <algorithm>
#include <numeric>

#include "core/data/shard_assignment.h"

namespace tutti {
namespace {

// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and fully specified, unlike std::shuffle and
// std::uniform_int_distribution whose results differ between standard libraries.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t state) : state_(state) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, range), range >= 1, without modulo bias (Lemire's multiply-and-reject).
  uint64_t Below(uint64_t range) {
    unsigned __int128 m = static_cast<unsigned __int128>(Next()) * range;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < range) {
      const uint64_t threshold = (0 - range) % range;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(Next()) * range;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

 private:
  uint64_t state_;
};

}  // namespace

std::vector<int64_t> EpochPermutation(uint64_t seed, int64_t epoch, int64_t total, bool shuffle) {
  std::vector<int64_t> order(static_cast<size_t>(total));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (!shuffle) return order;
  // Stream seed: the first output of a generator seeded with `seed`, mixed with the epoch, then mixed again.
  SplitMix64 mix(seed);
  SplitMix64 rng(SplitMix64(mix.Next() ^ (static_cast<uint64_t>(epoch) * 0xD1B54A32D192ED03ull)).Next());
  for (int64_t i = total - 1; i > 0; --i) {
    int64_t j = static_cast<int64_t>(rng.Below(static_cast<uint64_t>(i) + 1));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  return order;
}

StatusOr<std::unique_ptr<BatchLoader>> BatchLoader::Create(std::vector<std::shared_ptr<const PackReader>> packs,
                                                           LoaderOptions options) {
  if (options.batch_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("LoaderOptions.batch_size must be >= 1, got ", options.batch_size));
  }
  if (options.world_size < 1 || options.rank < 0 || options.rank >= options.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("LoaderOptions: rank ", options.rank, " is not in [0, world_size = ",
                                                   options.world_size, ")"));
  }
  if (options.prefetch_batches < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("LoaderOptions.prefetch_batches must be >= 1, got ", options.prefetch_batches));
  }
  if (packs.empty()) return absl::InvalidArgumentError("BatchLoader needs at least one pack");
  std::vector<int64_t> offsets = {0};
  for (size_t p = 0; p < packs.size(); ++p) {
    if (packs[p] == nullptr) return absl::InvalidArgumentError(absl::StrCat("BatchLoader: pack ", p, " is null"));
    if (packs[p]->shape() != packs[0]->shape()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "BatchLoader: ", packs[p]->pack_dir(), " has sample shape ", packs[p]->shape().ToString(), ", but ",
          packs[0]->pack_dir(), " has ", packs[0]->shape().ToString(), "; all packs must share one shape"));
    }
    offsets.push_back(offsets.back() + packs[p]->size(options.split));
  }
  const int64_t total = offsets.back();
  const int64_t global_batch = options.batch_size * options.world_size;
  int64_t batches = total / global_batch;
  const int64_t rest = total % global_batch;
  if (!options.drop_last && rest > 0 && (!options.equal_rank_sizes || rest / options.world_size > 0)) ++batches;
  if (batches == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "BatchLoader: the packs hold ", total, " ", SplitName(options.split), " samples, not enough for one batch of ",
        options.batch_size, " on each of ", options.world_size, " ranks (", global_batch, " samples)"));
  }
  SampleShape shape = packs[0]->shape();
  std::unique_ptr<BatchLoader> loader(
      new BatchLoader(std::move(packs), options, shape, std::move(offsets), batches));
  return loader;
}

BatchLoader::BatchLoader(std::vector<std::shared_ptr<const PackReader>> packs, LoaderOptions options,
                         SampleShape shape, std::vector<int64_t> offsets, int64_t batches_per_epoch)
    : packs_(std::move(packs)),
      options_(options),
      shape_(shape),
      offsets_(std::move(offsets)),
      total_(offsets_.back()),
      batches_per_epoch_(batches_per_epoch),
      producer_([this] { ProducerLoop(); }) {}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  space_cv_.notify_all();
  producer_.join();
}

BatchLoader::Position BatchLoader::Advance(Position p) const {
  if (++p.batch_in_epoch == batches_per_epoch_) {
    p.batch_in_epoch = 0;
    ++p.epoch;
  }
  return p;
}

void BatchLoader::ProducerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    space_cv_.wait(lock, [this] {
      return stop_ || queue_.size() < static_cast<size_t>(options_.prefetch_batches);
    });
    if (stop_) return;
    const uint64_t generation = generation_;
    const Position position = produce_;
    Batch batch;
    if (!spare_.empty()) {
      batch = std::move(spare_.back());
      spare_.pop_back();
    }
    lock.unlock();
    Build(position, &batch);  // the slow part, outside the lock
    lock.lock();
    if (generation != generation_) continue;  // a Seek happened meanwhile: this batch is stale
    queue_.push_back(std::move(batch));
    produce_ = Advance(position);
    ready_cv_.notify_one();
  }
}

void BatchLoader::Build(Position position, Batch* out) {
  if (order_epoch_ != position.epoch) {
    order_ = EpochPermutation(options_.seed, position.epoch, total_, options_.shuffle);
    order_epoch_ = position.epoch;
  }
  const int64_t global_batch = options_.batch_size * options_.world_size;
  const int64_t global_begin = position.batch_in_epoch * global_batch;
  const int64_t global_len = std::min(global_batch, total_ - global_begin);
  const IndexRange rows = RankSlice(global_len, options_.rank, options_.world_size,
                                    options_.drop_last || options_.equal_rank_sizes);
  Batch& batch = *out;  // may hold a recycled batch: resizing to the same size keeps the old bytes
  batch.epoch = position.epoch;
  batch.batch_in_epoch = position.batch_in_epoch;
  batch.size = rows.size();
  const int64_t cells = shape_.cells();
  batch.cells.resize(static_cast<size_t>(batch.size * cells));
  batch.pack_index.resize(static_cast<size_t>(batch.size));
  batch.sample_index.resize(static_cast<size_t>(batch.size));
  for (int64_t row = 0; row < batch.size; ++row) {
    const int64_t global = order_[static_cast<size_t>(global_begin + rows.begin + row)];
    const int32_t pack = static_cast<int32_t>(std::upper_bound(offsets_.begin(), offsets_.end(), global) -
                                              offsets_.begin() - 1);
    const int64_t local = global - offsets_[static_cast<size_t>(pack)];
    batch.pack_index[static_cast<size_t>(row)] = pack;
    batch.sample_index[static_cast<size_t>(row)] = local;
    packs_[static_cast<size_t>(pack)]->CopySample(options_.split, local, batch.cells.data() + row * cells);
  }
}

void BatchLoader::Recycle(Batch&& batch) {
  std::lock_guard<std::mutex> lock(mu_);
  if (spare_.size() <= static_cast<size_t>(options_.prefetch_batches)) spare_.push_back(std::move(batch));
}

Batch BatchLoader::Next() {
  std::unique_lock<std::mutex> lock(mu_);
  ready_cv_.wait(lock, [this] { return !queue_.empty(); });
  Batch batch = std::move(queue_.front());
  queue_.pop_front();
  next_ = Advance(next_);
  lock.unlock();
  space_cv_.notify_one();
  return batch;
}

BatchLoader::Position BatchLoader::position() const {
  std::lock_guard<std::mutex> lock(mu_);
  return next_;
}

Status BatchLoader::Seek(Position position) {
  if (position.epoch < 0 || position.batch_in_epoch < 0 || position.batch_in_epoch >= batches_per_epoch_) {
    return absl::InvalidArgumentError(absl::StrCat("BatchLoader::Seek: position (epoch ", position.epoch, ", batch ",
                                                   position.batch_in_epoch, ") is outside [0, ", batches_per_epoch_,
                                                   ") batches per epoch"));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++generation_;
    queue_.clear();
    next_ = position;
    produce_ = position;
  }
  space_cv_.notify_one();
  return absl::OkStatus();
}

}  // namespace tutti
