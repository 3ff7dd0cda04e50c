#pragma once
// manifest.json of a pack: what a pack directory holds and how it was made.
//
// A pack is one genre's training data: `<pack_dir>/manifest.json` plus shard files (see shard_format.h
// and docs/pack_format.md for the bytes). The manifest is written last, so a directory with a valid
// manifest is a complete pack. FromJson checks everything that can be checked without opening the
// shards: types, shape, unique plain file names, hex checksums, bytes == header + samples x sample bytes,
// and that the songs' sample counts add up to the shards' counts of each split.
//
// Plain value types; no I/O except ReadManifest. Thread-compatible.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/status.h"
#include "core/data/sample_shape.h"

namespace tutti {

inline constexpr int kPackFormatVersion = 1;
inline constexpr char kManifestFileName[] = "manifest.json";

enum class Split { kTrain, kHeldout };
inline constexpr Split kAllSplits[] = {Split::kTrain, Split::kHeldout};

// "train" / "heldout": the names used in the manifest and in shard file names.
const char* SplitName(Split split);
// Inverse of SplitName; InvalidArgument for anything else.
StatusOr<Split> ParseSplit(const std::string& name);

struct ShardInfo {
  std::string file;    // name inside the pack directory, e.g. "train-00000.shard" (no '/')
  int64_t samples = 0; // samples in the shard (equals the shard header's count)
  uint64_t bytes = 0;  // whole file size: kShardHeaderBytes + samples * shape.packed_bytes()
  std::string sha256;  // of the whole file, 64 lower-case hex digits
};

// One source song. Convention (not enforced): songs are listed in the order their samples were added,
// so within a split, song k owns the samples after those of the earlier songs of that split.
struct PackSong {
  std::string md5;                   // LPD / MIDI md5 of the source file
  std::vector<std::string> msd_ids;  // Million Song Dataset ids it maps to (may be empty for own MIDI)
  int32_t samples = 0;               // samples taken from this song
  Split split = Split::kTrain;
};

struct PackManifest {
  int format_version = kPackFormatVersion;
  std::string genre;
  SampleShape shape;
  std::vector<ShardInfo> train_shards;
  std::vector<ShardInfo> heldout_shards;
  std::vector<PackSong> songs;
  nlohmann::json packing = nlohmann::json::object();  // parameters the ingest used, stored verbatim
  nlohmann::json summary = nlohmann::json::object();  // counts the ingest reports, stored verbatim
  std::string created_by;                              // tool and version, e.g. "tutti 0.1.0"

  const std::vector<ShardInfo>& shards(Split split) const {
    return split == Split::kTrain ? train_shards : heldout_shards;
  }
  std::vector<ShardInfo>& shards(Split split) { return split == Split::kTrain ? train_shards : heldout_shards; }
  // Sum of the shard counts of `split`.
  int64_t samples(Split split) const;

  // The JSON written to manifest.json. Also stores derived "samples": {"train": n, "heldout": m} for
  // people reading the file; FromJson checks it when present.
  nlohmann::json ToJson() const;
  // `path` is only used in error messages, which read
  //   "<path>: key 'shape': expected an array of 3 positive integers, got \"x\"".
  // InvalidArgument for any malformed or inconsistent field; FailedPrecondition for an unknown
  // format_version.
  static StatusOr<PackManifest> FromJson(const nlohmann::json& json, const std::string& path);
};

// Reads and parses `path` (usually "<pack_dir>/manifest.json"). NotFound when absent; InvalidArgument
// naming the path for bad JSON (with the parser's byte position) or bad content.
StatusOr<PackManifest> ReadManifest(const std::string& path);

}  // namespace tutti
