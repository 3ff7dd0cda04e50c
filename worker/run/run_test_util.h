#pragma once
// Test-only helpers for worker tests: real packs made the way users make them (a synthetic LPD-5 tree from
// core/synth, packed by core/ingest's PackLpdGenres), built once per test process, and a small job config
// that trains in well under a second per step on one thread.

#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

#include "core/base/sha256.h"
#include "core/config/job_config.h"
#include "core/data/data_test_util.h"
#include "core/ingest/pack_pipeline.h"
#include "core/lpd/lpd_index.h"
#include "core/synth/synth_corpus.h"

namespace tutti::testing {

// "<tmp>/packs" holding packs/rock (a few hundred samples), made on first use and removed at exit.
inline const std::string& SyntheticPacksDir() {
  static TempDir root;
  static const std::string packs = [] {
    SynthCorpusOptions synth;
    synth.out_dir = root / "lpd";
    synth.songs = 24;
    synth.genres = {"rock", "pop"};
    Status status = WriteSyntheticLpd(synth, /*show_progress=*/false).status();
    EXPECT_TRUE(status.ok()) << status;
    LpdIndexOptions index_options;
    index_options.root = synth.out_dir;
    StatusOr<LpdIndex> index = LpdIndex::Open(index_options);
    EXPECT_TRUE(index.ok()) << index.status();
    PackOptions pack;
    pack.threads = 1;
    pack.show_progress = false;
    if (index.ok()) {
      status = PackLpdGenres(*index, {"rock"}, root / "packs", pack).status();
      EXPECT_TRUE(status.ok()) << status;
    }
    return root / "packs";
  }();
  return packs;
}

// A tiny CPU job on SyntheticPacksDir()/rock writing to `output_dir`: batch 4, one thread, 20 steps,
// metrics every 5 steps, checkpoints every 10, evaluation of 8 samples every 10.
inline JobConfig SmallJobConfig(const std::string& output_dir) {
  JobConfig c;
  c.name = "test";
  c.output_dir = output_dir;
  c.data.packs_dir = SyntheticPacksDir();
  c.data.genres = {"rock"};
  c.data.prefetch_batches = 2;
  c.train.steps = 20;
  c.train.batch_size = 4;
  c.train.seed = 7;
  c.train.intra_op_threads = 1;
  c.train.log_every = 5;
  c.train.device = "cpu";
  c.checkpoint.every = 10;
  c.checkpoint.keep = 5;
  c.eval.every = 10;
  c.eval.samples = 8;
  return c;
}

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

inline std::string FileSha256(const std::string& path) { return Sha256Hex(ReadAll(path)); }

}  // namespace tutti::testing
