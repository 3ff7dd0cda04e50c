#pragma once
// BlobStore: checkpoint bytes in a content-addressed directory, published only when complete and verified.
//
// Layout under the root:
//   sha256/<first 2 hex digits>/<64 hex digits>   one immutable file per distinct content
//   incoming/upload-<random>                       uploads in progress (removed on failure and at Open)
//
// Upload protocol (leveldb's SetCurrentFile, for blobs): bytes go to a fresh file in incoming/; Commit
// checks the running sha256 and the size against what the uploader announced, fsyncs the file, renames it
// to its content address and fsyncs that directory. Only then does the caller record a row that names the
// sha256 (ExperimentStore::InsertCheckpoint), so a row never names missing bytes. A crash at any point
// leaves either no blob or a complete, verified one; leftovers in incoming/ are removed by the next Open.
// A blob without a row (a crash between the rename and the row's commit) is harmless; the coordinator
// removes such orphans at start-up.
//
// Thread-safety: BlobStore methods may be called from any thread; a Writer or Reader belongs to one thread.
// Writers and Readers do not refer to their BlobStore and may outlive it. Methods taking a sha256 refuse
// anything but 64 lower-case hex digits with InvalidArgument (Contains answers false), so a name from the
// wire can never reach outside the root.
// Two uploads of the same content may run at once: both verify, the second rename replaces identical
// bytes.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/base/status.h"

namespace tutti::coord {

struct BlobStoreOptions {
  // Largest blob accepted, in bytes; an upload that grows past it fails with ResourceExhausted.
  int64_t max_blob_bytes = int64_t{1} << 32;
};

class BlobStore {
 public:
  // One upload in progress. Destroying a Writer that was not committed removes its file.
  class Writer {
   public:
    virtual ~Writer() = default;
    // Appends bytes. ResourceExhausted when the blob would exceed max_blob_bytes or the disk is full
    // (ENOSPC / EDQUOT; the message says which); Internal for other I/O errors. After an error the
    // upload is dead: only destruction is allowed.
    virtual Status Append(const void* data, size_t size) = 0;
    // Verifies and publishes (see the file comment). DataLoss when the size or sha256 differ from the
    // expected values (the message gives both); the file is removed on any error.
    virtual Status Commit(const std::string& expected_sha256, int64_t expected_size) = 0;
    // Bytes appended so far.
    virtual int64_t size() const = 0;
  };

  // Sequential reads of one blob.
  class Reader {
   public:
    virtual ~Reader() = default;
    // Up to `max` bytes into *out (replacing its content); an empty *out means the end. Only the last
    // chunk is shorter than `max`. max == 0 is InvalidArgument.
    virtual Status Read(size_t max, std::string* out) = 0;
    virtual int64_t size() const = 0;
  };

  // Creates the layout when missing and removes leftovers in incoming/ (their count is in
  // removed_at_open()). Errors name the directory.
  static StatusOr<std::unique_ptr<BlobStore>> Open(const std::string& root, BlobStoreOptions options = {});

  virtual ~BlobStore() = default;

  virtual StatusOr<std::unique_ptr<Writer>> StartUpload() = 0;
  // NotFound naming the sha256 when there is no such blob.
  virtual StatusOr<std::unique_ptr<Reader>> OpenBlob(const std::string& sha256) = 0;
  virtual bool Contains(const std::string& sha256) = 0;
  // Re-hashes the blob: DataLoss when its bytes no longer match its name.
  virtual Status Verify(const std::string& sha256) = 0;
  // Removes the blob and fsyncs its directory. OK when it does not exist (idempotent).
  virtual Status Remove(const std::string& sha256) = 0;
  // Every blob's sha256.
  virtual StatusOr<std::vector<std::string>> List() = 0;
  // Path of the blob's file (whether or not it exists).
  virtual std::string PathOf(const std::string& sha256) const = 0;
  virtual const std::string& root() const = 0;
  virtual int removed_at_open() const = 0;
};

}  // namespace tutti::coord
