#pragma once
// Test-only helpers for core/data tests: a self-removing temp directory and deterministic packs whose
// every cell can be recomputed from (seed, split, index), so readers and loaders can be checked exactly.

#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/base/file_util.h"
#include "core/data/pack_writer.h"

namespace tutti::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/tutti_data_test.XXXXXX";
    path_ = ::mkdtemp(pattern.data()) != nullptr ? pattern : "";
    EXPECT_FALSE(path_.empty());
  }
  ~TempDir() { RemoveAllQuietly(path_); }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Sample `index` of `split` in a test pack made with `seed`: ~1/8 of the cells set, plus cell 0..31 holding
// the index's bits so a mixed-up sample is obvious.
inline std::vector<uint8_t> TestSample(const SampleShape& shape, uint64_t seed, Split split, int64_t index) {
  std::vector<uint8_t> cells(static_cast<size_t>(shape.cells()));
  uint64_t state = Mix64(seed * 1000003 + static_cast<uint64_t>(index) * 2 + (split == Split::kTrain ? 0 : 1));
  for (size_t i = 0; i < cells.size(); ++i) {
    if (i % 21 == 0) state = Mix64(state + i);
    cells[i] = ((state >> (3 * (i % 21))) & 7) == 0 ? 1 : 0;
  }
  for (size_t bit = 0; bit < 32 && bit < cells.size(); ++bit) cells[bit] = (index >> bit) & 1;
  return cells;
}

inline PackSong TestSong(int i, int32_t samples, Split split) {
  return PackSong{"md5-" + std::to_string(i), {"TRMSD" + std::to_string(i)}, samples, split};
}

// Writes a pack with `train` + `heldout` TestSample()s; songs: one per split holding all its samples.
inline Status WriteTestPack(const std::string& dir, const std::string& genre, uint64_t seed, int64_t train,
                            int64_t heldout, int64_t samples_per_shard, SampleShape shape = SampleShape{}) {
  PackWriterOptions options;
  options.genre = genre;
  options.shape = shape;
  options.samples_per_shard = samples_per_shard;
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<PackWriter> writer, PackWriter::Create(dir, options));
  for (int64_t i = 0; i < train; ++i) {
    TUTTI_RETURN_IF_ERROR(writer->Add(Split::kTrain, TestSample(shape, seed, Split::kTrain, i).data()));
  }
  for (int64_t i = 0; i < heldout; ++i) {
    TUTTI_RETURN_IF_ERROR(writer->Add(Split::kHeldout, TestSample(shape, seed, Split::kHeldout, i).data()));
  }
  std::vector<PackSong> songs;
  if (train > 0) songs.push_back(TestSong(0, static_cast<int32_t>(train), Split::kTrain));
  if (heldout > 0) songs.push_back(TestSong(1, static_cast<int32_t>(heldout), Split::kHeldout));
  const size_t song_count = songs.size();
  return writer->Finish(std::move(songs), {{"seed", seed}}, {{"songs", song_count}});
}

// Names of the entries directly inside `dir`, sorted.
inline std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace tutti::testing
