// The local-directory BlobStore (blob_store.h states the layout and the upload protocol).

#include "coordinator/blob/blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"
#include "core/base/file_system.h"
#include "core/base/file_util.h"
#include "core/base/sha256.h"

namespace tutti::coord {
namespace {

namespace fs = std::filesystem;

// Reads and hashes go through buffers of this size: large enough that syscalls do not dominate, small
// enough that several concurrent verifications do not add up to much memory.
constexpr size_t kChunkBytes = size_t{1} << 20;

// 16 random bytes as hex: upload names must not collide between concurrent uploads or with a previous
// run's leftovers. std::random_device reads the kernel's CSPRNG (getrandom or /dev/urandom) in libstdc++.
std::string RandomName() {
  static constexpr char kHex[] = "0123456789abcdef";
  std::random_device device;
  std::string name;
  name.reserve(32);
  for (int i = 0; i < 4; ++i) {
    uint32_t word = device();
    for (int nibble = 0; nibble < 8; ++nibble) {
      name.push_back(kHex[word & 0xf]);
      word >>= 4;
    }
  }
  return name;
}

Status CheckSha(const std::string& sha256) {
  // Also what keeps a caller-supplied name from reaching outside the root ("../..").
  if (!IsSha256Hex(sha256)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", sha256, "\" is not a sha256 (expected 64 lower-case hex digits)"));
  }
  return absl::OkStatus();
}

// sha256/<first two hex digits> and sha256/<xx>/<sha256> under `blobs_dir`.
std::string ShardDirOf(const std::string& blobs_dir, const std::string& sha256) {
  return absl::StrCat(blobs_dir, "/", sha256.substr(0, 2));
}
std::string BlobPathOf(const std::string& blobs_dir, const std::string& sha256) {
  return absl::StrCat(blobs_dir, "/", sha256.substr(0, 2), "/", sha256);
}

// Closes `fd`, retrying nothing: on Linux the descriptor is released even when close reports an error.
// Through the file-system seam like every upload call, so a fault injector's descriptor table stays true.
void CloseQuietly(int fd) {
  if (fd >= 0) (void)CurrentFileSystem().Close(fd);
}

class LocalReader : public BlobStore::Reader {
 public:
  LocalReader(int fd, std::string path, int64_t size) : fd_(fd), path_(std::move(path)), size_(size) {}
  ~LocalReader() override { CloseQuietly(fd_); }
  LocalReader(const LocalReader&) = delete;
  LocalReader& operator=(const LocalReader&) = delete;

  Status Read(size_t max, std::string* out) override {
    if (max == 0) {
      // An empty result means "end of blob", so a zero-byte read would be indistinguishable from it.
      return absl::InvalidArgumentError(absl::StrCat(path_, ": Read needs max > 0"));
    }
    out->resize(max);
    size_t filled = 0;
    // read(2) may return less than asked before the end; keep going so that only the end is short.
    while (filled < max) {
      ssize_t n = ::read(fd_, out->data() + filled, max - filled);
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        out->clear();
        return ErrnoStatus(err, "read failed", path_);
      }
      if (n == 0) break;
      filled += static_cast<size_t>(n);
    }
    out->resize(filled);
    return absl::OkStatus();
  }

  int64_t size() const override { return size_; }

 private:
  const int fd_;  // owned
  const std::string path_;
  const int64_t size_;
};

class LocalWriter : public BlobStore::Writer {
 public:
  // Copies what it needs from the store, so a writer does not depend on the store's lifetime.
  LocalWriter(std::string blobs_dir, int64_t max_blob_bytes, int fd, std::string path)
      : blobs_dir_(std::move(blobs_dir)), max_blob_bytes_(max_blob_bytes), fd_(fd), path_(std::move(path)) {}
  ~LocalWriter() override { Abandon(); }
  LocalWriter(const LocalWriter&) = delete;
  LocalWriter& operator=(const LocalWriter&) = delete;

  Status Append(const void* data, size_t size) override;
  Status Commit(const std::string& expected_sha256, int64_t expected_size) override;
  int64_t size() const override { return size_; }

 private:
  // Closes and removes the upload file (nothing is published) and marks the upload dead. Idempotent.
  void Abandon() {
    if (state_ != State::kOpen) return;
    CloseQuietly(fd_);
    fd_ = -1;
    // Best effort: if unlink fails the file stays in incoming/, and the next Open removes it.
    (void)CurrentFileSystem().Unlink(path_);
    state_ = State::kDead;
  }
  // Abandon(), then `status`: every error path of Append and Commit ends the upload this way.
  Status Fail(Status status) {
    Abandon();
    return status;
  }

  enum class State { kOpen, kDead, kCommitted };

  const std::string blobs_dir_;  // <root>/sha256
  const int64_t max_blob_bytes_;
  int fd_;                  // owned while kOpen
  const std::string path_;  // <root>/incoming/upload-<random>
  Sha256 hash_;             // of every byte appended so far
  int64_t size_ = 0;
  State state_ = State::kOpen;
};

class LocalBlobStore : public BlobStore {
 public:
  LocalBlobStore(std::string root, BlobStoreOptions options, int removed_at_open)
      : root_(std::move(root)),
        blobs_dir_(root_ + "/sha256"),
        incoming_dir_(root_ + "/incoming"),
        options_(options),
        removed_at_open_(removed_at_open) {}

  StatusOr<std::unique_ptr<Writer>> StartUpload() override {
    // O_EXCL: a name collision (astronomically unlikely with 128 random bits) fails instead of sharing a
    // file with another upload; retry with a fresh name.
    for (int attempt = 0; attempt < 4; ++attempt) {
      std::string path = absl::StrCat(incoming_dir_, "/upload-", RandomName());
      int fd = -1;
      int err = CurrentFileSystem().Open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644, &fd);
      if (err == 0) {
        return std::unique_ptr<Writer>(new LocalWriter(blobs_dir_, options_.max_blob_bytes, fd, std::move(path)));
      }
      if (err != EEXIST) return ErrnoStatus(err, "cannot create upload file", path);
    }
    return absl::InternalError(absl::StrCat(incoming_dir_, ": cannot find a free upload name"));
  }

  StatusOr<std::unique_ptr<Reader>> OpenBlob(const std::string& sha256) override {
    TUTTI_RETURN_IF_ERROR(CheckSha(sha256));
    std::string path = PathOf(sha256);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("blob ", sha256, " not found (", path, ")"));
      return ErrnoStatus(errno, absl::StrCat("cannot open blob ", sha256), path);
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      CloseQuietly(fd);
      return ErrnoStatus(err, absl::StrCat("cannot stat blob ", sha256), path);
    }
    return std::unique_ptr<Reader>(new LocalReader(fd, std::move(path), static_cast<int64_t>(st.st_size)));
  }

  bool Contains(const std::string& sha256) override {
    if (!IsSha256Hex(sha256)) return false;
    struct stat st {};
    return ::stat(PathOf(sha256).c_str(), &st) == 0 && S_ISREG(st.st_mode);
  }

  Status Verify(const std::string& sha256) override {
    TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<Reader> reader, OpenBlob(sha256));
    Sha256 hash;
    std::string chunk;
    while (true) {
      TUTTI_RETURN_IF_ERROR(reader->Read(kChunkBytes, &chunk));
      if (chunk.empty()) break;
      hash.Update(chunk);
    }
    std::string actual = hash.FinishHex();
    if (actual != sha256) {
      return absl::DataLossError(absl::StrCat("blob ", sha256, " is corrupt: its ", reader->size(),
                                              " bytes hash to ", actual, " (", PathOf(sha256), ")"));
    }
    return absl::OkStatus();
  }

  Status Remove(const std::string& sha256) override {
    TUTTI_RETURN_IF_ERROR(CheckSha(sha256));
    std::string path = PathOf(sha256);
    if (::unlink(path.c_str()) != 0) {
      if (errno == ENOENT) return absl::OkStatus();
      return ErrnoStatus(errno, absl::StrCat("cannot remove blob ", sha256), path);
    }
    // Without it the removal may not survive a crash: the blob would come back, which is harmless (an
    // orphan removed at start-up), but Remove promises the directory sync.
    return SyncDirectory(ShardDirOf(blobs_dir_, sha256));
  }

  StatusOr<std::vector<std::string>> List() override {
    std::vector<std::string> shas;
    std::error_code ec;
    for (fs::directory_iterator shard(blobs_dir_, ec), end; !ec && shard != end; shard.increment(ec)) {
      std::string prefix = shard->path().filename().string();
      if (prefix.size() != 2 || !shard->is_directory()) continue;
      std::error_code inner_ec;
      for (fs::directory_iterator blob(shard->path(), inner_ec); !inner_ec && blob != end;
           blob.increment(inner_ec)) {
        std::string name = blob->path().filename().string();
        // Only files at their content address count; anything else is not ours to report.
        if (IsSha256Hex(name) && name.compare(0, 2, prefix) == 0) shas.push_back(std::move(name));
      }
      if (inner_ec) {
        return absl::InternalError(absl::StrCat(shard->path().string(), ": cannot list: ", inner_ec.message()));
      }
    }
    if (ec) return absl::InternalError(absl::StrCat(blobs_dir_, ": cannot list: ", ec.message()));
    std::sort(shas.begin(), shas.end());
    return shas;
  }

  std::string PathOf(const std::string& sha256) const override { return BlobPathOf(blobs_dir_, sha256); }
  const std::string& root() const override { return root_; }
  int removed_at_open() const override { return removed_at_open_; }

 private:
  // All constant after construction: the store itself has no mutable state, which is why its methods are
  // safe from any thread (the file system serialises what needs serialising).
  const std::string root_;
  const std::string blobs_dir_;
  const std::string incoming_dir_;
  const BlobStoreOptions options_;
  const int removed_at_open_;
};

Status LocalWriter::Append(const void* data, size_t size) {
  if (state_ != State::kOpen) {
    return absl::FailedPreconditionError(absl::StrCat(path_, ": upload already ended (committed or failed)"));
  }
  const int64_t max = max_blob_bytes_;
  if (static_cast<uint64_t>(size) > static_cast<uint64_t>(max - size_)) {
    return Fail(absl::ResourceExhaustedError(absl::StrCat(
        path_, ": upload exceeds max_blob_bytes (", max, " bytes): ", size_, " + ", size, " bytes")));
  }
  const char* p = static_cast<const char*>(data);
  size_t left = size;
  while (left > 0) {
    size_t n = 0;
    if (int err = CurrentFileSystem().Write(fd_, p, left, &n); err != 0) {
      return Fail(ErrnoStatus(err, "cannot write upload", path_));
    }
    // A short write (the disk filled up part-way) is followed by another write that reports the errno.
    p += n;
    left -= n;
  }
  hash_.Update(data, size);
  size_ += static_cast<int64_t>(size);
  return absl::OkStatus();
}

// Step by step (blob_store.h describes why in this order):
//   1. compare size and sha256 with what the uploader announced (DataLoss, nothing published);
//   2. fsync the file, so its bytes are on disk before any name points at them;
//   3. create sha256/<xx>/ if needed (and fsync sha256/ so the new directory survives a crash);
//   4. rename over the content address (atomic; an identical blob already there is replaced);
//   5. fsync sha256/<xx>/ so the rename itself is durable before the caller records a row naming it.
// Any failure removes the upload file.
Status LocalWriter::Commit(const std::string& expected_sha256, int64_t expected_size) {
  if (state_ != State::kOpen) {
    return absl::FailedPreconditionError(absl::StrCat(path_, ": upload already ended (committed or failed)"));
  }
  Status valid = CheckSha(expected_sha256);
  if (!valid.ok()) return Fail(Annotate(valid, path_));
  const std::string actual = hash_.FinishHex();
  if (size_ != expected_size || actual != expected_sha256) {
    return Fail(absl::DataLossError(absl::StrCat(
        "upload does not match what was announced: expected ", expected_size, " bytes with sha256 ",
        expected_sha256, ", got ", size_, " bytes with sha256 ", actual, " (", path_, ", not published)")));
  }
  FileSystem& fs = CurrentFileSystem();
  if (int err = fs.Fsync(fd_); err != 0) return Fail(ErrnoStatus(err, "fsync failed", path_));
  int fd = fd_;
  fd_ = -1;
  if (int err = fs.Close(fd); err != 0) {
    // Some filesystems report delayed write errors only at close; the bytes cannot be trusted.
    return Fail(ErrnoStatus(err, "close failed", path_));
  }

  const std::string shard = ShardDirOf(blobs_dir_, expected_sha256);
  struct stat st {};
  if (::stat(shard.c_str(), &st) != 0) {
    if (int err = fs.MakeDirectory(shard, 0755); err != 0 && err != EEXIST) {
      return Fail(ErrnoStatus(err, "cannot create blob directory", shard));
    }
    Status synced = SyncDirectory(blobs_dir_);
    if (!synced.ok()) return Fail(synced);
  }
  const std::string target = BlobPathOf(blobs_dir_, expected_sha256);
  if (int err = fs.Rename(path_, target); err != 0) {
    return Fail(ErrnoStatus(err, absl::StrCat("cannot publish blob ", expected_sha256, " from ", path_), target));
  }
  // The bytes are published under their name from here on: the upload file no longer exists, so the
  // writer must not unlink anything, even if the directory sync fails.
  state_ = State::kCommitted;
  Status synced = SyncDirectory(shard);
  if (!synced.ok()) return Annotate(synced, absl::StrCat("blob ", expected_sha256, " published but not synced"));
  return absl::OkStatus();
}

}  // namespace

StatusOr<std::unique_ptr<BlobStore>> BlobStore::Open(const std::string& root, BlobStoreOptions options) {
  if (options.max_blob_bytes <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(root, ": max_blob_bytes must be > 0, got ", options.max_blob_bytes));
  }
  const std::string blobs = root + "/sha256";
  const std::string incoming = root + "/incoming";
  TUTTI_RETURN_IF_ERROR(CreateDirectories(blobs));
  TUTTI_RETURN_IF_ERROR(CreateDirectories(incoming));

  // Whatever is in incoming/ belongs to uploads that died with an earlier process (or a still-running one
  // sharing the root, which is not supported: one coordinator per home).
  int removed = 0;
  std::error_code ec;
  for (fs::directory_iterator it(incoming, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code remove_ec;
    fs::remove_all(it->path(), remove_ec);
    if (remove_ec) {
      return absl::InternalError(
          absl::StrCat(it->path().string(), ": cannot remove a leftover upload: ", remove_ec.message()));
    }
    ++removed;
  }
  if (ec) return absl::InternalError(absl::StrCat(incoming, ": cannot list leftover uploads: ", ec.message()));
  // The directories we may have just created, and the removals, made durable.
  TUTTI_RETURN_IF_ERROR(SyncDirectory(incoming));
  TUTTI_RETURN_IF_ERROR(SyncDirectory(root));
  return std::unique_ptr<BlobStore>(new LocalBlobStore(root, options, removed));
}

}  // namespace tutti::coord
