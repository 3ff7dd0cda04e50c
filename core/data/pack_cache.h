#pragma once
// PackCache: a node-local, verified, size-bounded cache of packs fetched by content address.
//
// Why: on clusters without a shared filesystem, `tutti submit` uploads every pack file (manifest.json and
// each shard) to the coordinator's content-addressed blob store, and the job pins each genre's pack by the
// sha256 of its manifest.json bytes. Before training, every rank calls Ensure with those pins and a
// BlobFetcher that downloads one blob from the coordinator; Ensure returns a packs directory laid out as
// the trainer expects (D/<genre>/manifest.json + shards). Ranks of one node share one cache root.
//
// Layout under the root (format of the packs themselves: docs/pack_format.md):
//   packs/<manifest sha256>/         manifest.json + the shard files, named as in the manifest
//   views/<key>/<genre>              symlink -> ../../packs/<manifest sha256>; key = sha256 of the sorted
//                                    "<genre>=<manifest sha256>\n" lines, so the same pins give the same D
//   incoming/                        temporaries of files being written (leftovers are removed by Ensure)
//   lock                             flock(2) file serialising Ensure across processes
//
// Ensure, step by step (all under an exclusive flock on root/lock):
//   1. Remove leftovers in incoming/ (every writer holds the lock, so anything there is from a dead process).
//   2. For each pin: keep packs/<sha>/manifest.json when it hashes to <sha>, else fetch it and check its
//      sha256. Parse it and check its genre against the pin. Then every listed shard is re-hashed; one that
//      is missing, has the wrong size or the wrong sha256 is fetched, checked (size and sha256) and written
//      through incoming/ (temp file, fsync, rename). When anything in a pack must be fetched, its
//      manifest.json is removed first and written back last, so a pack directory that holds manifest.json
//      is complete and verified — the same rule PackWriter follows.
//   3. Touch the mtime of each used pack directory (the LRU clock), then evict least recently used pack
//      directories not used by this call while packs/ holds more than max_bytes.
//   4. Create or repair views/<key>/<genre> symlinks and return views/<key>.
//
// Locking: one Ensure at a time per root, node-wide. The first rank fetches while the others wait on the
// lock and then find everything verified (re-hashing costs ~0.6-1.4 s per GB at the 0.7-1.6 GB/s measured by
// pack_cache_test's hash speed line, far less than fetching it again).
// A fetch can hold the lock for minutes; that is acceptable because every waiting rank needs the very same
// packs before it can train, and letting them fetch in parallel would only download the same bytes N
// times. The lock is taken on a file opened per Ensure, so it also serialises threads of one process and
// is not shared across fork(). flock is released by the kernel when a process dies, so a crashed rank
// never wedges the node. (flock on NFS is emulated or absent: the root should be node-local disk.)
//
// Eviction and live readers: a pack evicted while another trial on the node still trains on it keeps
// working, because PackReader maps the shards and mapped/open files survive unlink on Linux; the space
// comes back when that trial exits. Eviction first renames the pack directory into incoming/, so an
// interrupted removal never leaves a half pack under packs/. Views that point at evicted packs dangle and
// are repaired by the next Ensure that needs them; view directories themselves are never removed (a few
// symlinks per distinct pin set). The bound is soft: packs used by the current call are never evicted, so
// a single call whose packs exceed max_bytes leaves the cache above it. A trial should open its packs right
// after Ensure returns; max_bytes should hold the packs of every trial a node runs at once.
//
// Errors: the fetcher's error comes back annotated with the blob's sha256, the genre and the manifest
// sha256; bytes that do not hash to what was asked are DataLoss naming both hashes; I/O errors name the
// path. Thread-safety: a PackCache holds only constant options; Ensure may be called from any thread and
// any process (the flock serialises them).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/base/status.h"

namespace tutti {

struct PackCacheOptions {
  // Cache directory, created (with its layout) when missing. Should be node-local disk (see flock above).
  std::string root;
  // Bound on the bytes of packs/ (sum of file sizes) kept after an Ensure; least recently used packs go
  // first. 10 GiB holds a handful of genre packs of a few hundred thousand default-shape samples each.
  int64_t max_bytes = int64_t{10} << 30;
};

struct PackPin {
  std::string genre;            // directory name in the returned view; must match the manifest's genre
  std::string manifest_sha256;  // sha256 of the pack's manifest.json bytes, 64 lower-case hex digits
};

// Bytes of one blob by its sha256 (the caller's transport). The cache verifies the bytes itself, so a
// fetcher need not; it may return any error status, which Ensure passes on with context.
using BlobFetcher = std::function<StatusOr<std::string>(const std::string& sha256)>;

// What one Ensure did, for logs and tests. Filled as Ensure goes, so a failed Ensure reports what it did
// before the error.
struct PackCacheReport {
  int packs_hit = 0;      // pins whose pack was complete and verified: nothing fetched
  int packs_fetched = 0;  // pins for which at least one file (manifest or shard) was fetched
  int files_fetched = 0;  // blobs fetched and written (manifest.json files included)
  int files_damaged = 0;  // files present in the cache but failing their size or sha256 (then refetched)
  int64_t bytes_fetched = 0;
  int packs_evicted = 0;
};

class PackCache {
 public:
  // Creates root/{packs,views,incoming} and root/lock when missing. root becomes absolute, so returned
  // views stay valid after a chdir. InvalidArgument for an empty root or max_bytes < 0; I/O errors name
  // the path. Returns a unique_ptr (style habit 2) although the object is only its options: callers keep
  // one cache per process and pass it around.
  static StatusOr<std::unique_ptr<PackCache>> Open(PackCacheOptions options);

  // Makes every pinned pack complete and verified under the cache and returns a directory D such that
  // D/<genre>/manifest.json (+ its shards) is the pinned pack for every pin. Same pins (in any order)
  // -> same D. `report` (optional) is reset and then filled.
  // Pins: InvalidArgument for a sha256 that is not 64 lower-case hex digits, a genre that cannot be a
  // directory name (empty, ".", "..", containing '/'), or one genre pinned to two different manifests;
  // an identical pin given twice counts once. FailedPrecondition when a manifest's genre is not the
  // pin's. InvalidArgument (naming the sha256) for a manifest that does not parse or names a shard
  // file outside the pack directory.
  StatusOr<std::string> Ensure(const std::vector<PackPin>& pins, const BlobFetcher& fetch,
                               PackCacheReport* report = nullptr) const;

  const PackCacheOptions& options() const { return options_; }
  // root/packs/<manifest_sha256> (whether or not it exists).
  std::string PackDir(const std::string& manifest_sha256) const;

 private:
  explicit PackCache(PackCacheOptions options) : options_(std::move(options)) {}

  // Constant after Open.
  const PackCacheOptions options_;
};

}  // namespace tutti
