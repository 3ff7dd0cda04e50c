#pragma once
// CoordinatorSettings: tutti-coordinator's own settings, from `--config FILE` (same parser and errors as
// job and experiment files) and/or flags (flags win). configs/coordinator.yaml documents every key.
//
// Thread-safety: plain values; copy freely.

#include <string>
#include <vector>

#include "core/base/status.h"

namespace tutti {

struct CoordinatorSettings {
  // State directory: tutti.db (SQLite) and blobs/ (checkpoint bytes). Required.
  std::string home;
  // host:port to serve gRPC on; loopback unless told otherwise. Port 0 picks a free one.
  std::string listen = "127.0.0.1:7070";
  // File whose first line is the token every call must carry ("" = no authentication).
  std::string token_file;
  // PEM certificate chain and key: serve TLS instead of plaintext (both or neither).
  std::string tls_cert;
  std::string tls_key;
  // A trial's lease expires this long after its last heartbeat; workers heartbeat every heartbeat_seconds.
  double lease_seconds = 30;
  double heartbeat_seconds = 5;
  // Restarts of a trial after a lost worker or a retryable failure, unless its experiment says
  // (max_restarts in the experiment file wins).
  int max_restarts = 3;
  // Largest checkpoint accepted, MiB.
  double max_checkpoint_mb = 2048;
  // Seconds calls in flight may take to finish at shutdown.
  double grace_seconds = 10;
  // host:port of the HTTP API and web page ("" = none; docs/http_api.md).
  std::string http;

  // The sample service (coordinator/sample): limits, dynamic batching and the model cache.
  struct Samples {
    int max_per_request = 64;       // largest n of one request
    int max_batch_size = 32;        // samples one forward pass serves at most
    double max_queue_delay_ms = 2;  // how long the first request of a batch waits for company
    double deadline_seconds = 30;   // a request not started by then fails (DEADLINE_EXCEEDED)
    double cache_mb = 512;          // generator models kept loaded, least recently used evicted first
    std::string device = "cpu";     // cpu, cuda, or auto (CUDA when the build has it and a GPU is visible)
  };
  Samples samples;
};

// Reads a settings file; `overrides` ("key=value") after it. InvalidArgument with every error, one per line
// ("<file>:<line>:<col>: <key>: ..."), for unknown keys (with "did you mean"), wrong types and ranges.
StatusOr<CoordinatorSettings> LoadCoordinatorSettings(const std::string& path,
                                                      const std::vector<std::string>& overrides = {});
StatusOr<CoordinatorSettings> ParseCoordinatorSettings(const std::string& yaml_text, const std::string& source_name,
                                                       const std::vector<std::string>& overrides = {});
// Range rules and cross-field rules (heartbeat shorter than the lease, TLS both-or-neither, home set).
Status ValidateCoordinatorSettings(const CoordinatorSettings& settings);
std::string CoordinatorSettingsToYaml(const CoordinatorSettings& settings);

}  // namespace tutti
