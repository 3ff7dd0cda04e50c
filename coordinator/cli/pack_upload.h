#pragma once
// `tutti submit`'s pack upload: the packs a job names travel with it to the coordinator, so workers on
// nodes without a shared filesystem can fetch them (proto/tutti/v1/pack_service.proto; the worker side is
// core/data/pack_cache.h).
//
// For each genre: read packs_dir/<genre>/manifest.json, ask the coordinator which of its blobs (the
// manifest and every shard, by sha256) it lacks, stream only those (1 MiB chunks; the coordinator verifies
// each against its sha256), then RegisterPack. The result pins the pack: "<genre>=<manifest sha256>" for
// data.pack_pins. A pack stored before costs one MissingBlobs and one RegisterPack call.

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/config/experiment_config.h"
#include "proto/client/channel.h"

namespace tutti::cli {

// Every genre an experiment can train: its job's data.genres and every value a data.genres hyperparameter
// takes (a list like [rock] or a bare name), sorted and distinct. InvalidArgument for a value that is not
// YAML naming genres.
StatusOr<std::vector<std::string>> GenresOfExperiment(const ExperimentConfig& experiment);

struct PackUpload {
  std::string genre;
  std::string manifest_sha256;
  int files = 0;             // manifest + shards
  int files_sent = 0;        // those the coordinator did not hold
  int64_t bytes = 0;         // all of them
  int64_t bytes_sent = 0;
  bool registered_now = false;  // false: the coordinator had the pack registered already
  std::string pin() const { return genre + "=" + manifest_sha256; }
};

// Uploads packs_dir/<genre> for each genre as described above; `progress` shows bytes sent on stderr.
// Errors name the genre and the file (a local read error, a shard the coordinator refuses because its
// bytes do not match the manifest's sha256: DataLoss).
StatusOr<std::vector<PackUpload>> UploadPacks(const rpc::Connection& connection, const std::string& packs_dir,
                                              const std::vector<std::string>& genres, double timeout_s,
                                              bool progress);

}  // namespace tutti::cli
