// Fuzz target: PackManifest::FromJson on whatever nlohmann::json parses (exceptions off, as a manifest
// reader that must not throw would parse). Beyond "no crash", an accepted manifest must keep the
// header's promises, checked here in exact arithmetic: every shard's bytes equal 64 + samples x
// packed_bytes (a wrapped product would let a reader index past the end of a shard), and ToJson parses back.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "core/data/pack_manifest.h"
#include "core/data/shard_format.h"

namespace {

void Fail(const char* what) {
  std::fprintf(stderr, "accepted manifest breaks its contract: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json root = nlohmann::json::parse(data, data + size, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return 0;
  tutti::StatusOr<tutti::PackManifest> manifest = tutti::PackManifest::FromJson(root, "fuzz.json");
  if (!manifest.ok()) return 0;
  for (tutti::Split split : tutti::kAllSplits) {
    for (const tutti::ShardInfo& shard : manifest->shards(split)) {
      unsigned __int128 exact = tutti::kShardHeaderBytes + static_cast<unsigned __int128>(shard.samples) *
                                                               static_cast<unsigned __int128>(manifest->shape.packed_bytes());
      if (exact != shard.bytes) Fail("shard bytes != 64 + samples x packed_bytes");
    }
  }
  if (!tutti::PackManifest::FromJson(manifest->ToJson(), "again.json").ok()) Fail("ToJson does not parse back");
  return 0;
}
