#include "core/data/pack_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/base/file_system.h"
#include "core/base/file_util.h"
#include "core/base/sha256.h"
#include "core/data/shard_format.h"

namespace tutti {
namespace {

namespace fs = std::filesystem;

constexpr size_t kWriteBufferBytes = 1 << 20;

int SplitSlot(Split split) { return split == Split::kTrain ? 0 : 1; }

Status IoError(const std::string& path, const char* what, int err) {
  std::string message = absl::StrCat(path, ": ", what, ": ", std::strerror(err));
  return err == ENOSPC ? absl::ResourceExhaustedError(message) : absl::InternalError(message);
}

Status WriteAll(int fd, const uint8_t* data, size_t size, const std::string& path) {
  while (size > 0) {
    size_t n = 0;
    if (int err = CurrentFileSystem().Write(fd, data, size, &n); err != 0) return IoError(path, "write failed", err);
    data += n;
    size -= n;
  }
  return absl::OkStatus();
}

StatusOr<std::string> HashFile(int fd, const std::string& path) {
  Sha256 hash;
  std::vector<uint8_t> buffer(kWriteBufferBytes);
  off_t offset = 0;
  while (true) {
    ssize_t n = ::pread(fd, buffer.data(), buffer.size(), offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError(path, "read-back for sha256 failed", errno);
    }
    if (n == 0) break;
    hash.Update(buffer.data(), static_cast<size_t>(n));
    offset += n;
  }
  return hash.FinishHex();
}

}  // namespace

struct PackWriter::OpenShard {
  std::string path;
  std::string file;
  uint32_t index = 0;
  int fd = -1;
  int64_t samples = 0;
  std::vector<uint8_t> buffer;  // pending bytes, flushed at kWriteBufferBytes

  ~OpenShard() {
    if (fd >= 0) (void)CurrentFileSystem().Close(fd);  // an error here only ends a shard that is discarded or synced
  }
  Status Flush() {
    Status status = WriteAll(fd, buffer.data(), buffer.size(), path);
    buffer.clear();
    return status;
  }
};

StatusOr<std::unique_ptr<PackWriter>> PackWriter::Create(const std::string& pack_dir, PackWriterOptions options) {
  if (options.genre.empty()) return absl::InvalidArgumentError("PackWriterOptions.genre must not be empty");
  TUTTI_RETURN_IF_ERROR(Annotate(ValidateShape(options.shape), "PackWriterOptions.shape"));
  if (options.samples_per_shard < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("PackWriterOptions.samples_per_shard must be >= 1, got ", options.samples_per_shard));
  }
  // Normalise "packs/rock/" to "packs/rock" so the staging directory lands beside it, not inside.
  fs::path target = fs::path(pack_dir).lexically_normal();
  if (!target.has_filename() && target.has_parent_path()) target = target.parent_path();
  if (target.filename().empty() || target.filename() == "." || target.filename() == "..") {
    return absl::InvalidArgumentError(absl::StrCat("pack directory '", pack_dir, "' has no final name"));
  }
  std::string parent = target.has_parent_path() ? target.parent_path().string() : std::string(".");
  TUTTI_ASSIGN_OR_RETURN(std::string staging, MakeTempDirectoryIn(parent, target.filename().string()));
  return std::unique_ptr<PackWriter>(new PackWriter(target.string(), std::move(staging), std::move(options)));
}

PackWriter::PackWriter(std::string pack_dir, std::string staging_dir, PackWriterOptions options)
    : pack_dir_(std::move(pack_dir)),
      staging_dir_(std::move(staging_dir)),
      options_(std::move(options)),
      packed_(static_cast<size_t>(options_.shape.packed_bytes())) {}

PackWriter::~PackWriter() {
  open_[0].reset();
  open_[1].reset();
  if (!published_) RemoveAllQuietly(staging_dir_);
}

Status PackWriter::Fail(Status status) {
  if (error_.ok()) error_ = status;
  open_[0].reset();
  open_[1].reset();
  if (!published_) RemoveAllQuietly(staging_dir_);
  return status;
}

Status PackWriter::Add(Split split, const uint8_t* dense_cells) {
  if (!error_.ok()) return error_;
  if (done_) return absl::FailedPreconditionError(absl::StrCat(pack_dir_, ": Add after Finish"));
  const SampleShape& shape = options_.shape;
  int64_t bad = FirstNonBinaryCell(dense_cells, shape.cells());
  if (bad >= 0) {
    // Not sticky: the caller's data is wrong, the pack so far is fine.
    return absl::InvalidArgumentError(
        absl::StrCat(pack_dir_, ": sample ", count_[SplitSlot(split)], " of ", SplitName(split), ": cell (track ",
                     bad / (int64_t{shape.steps} * shape.pitches), ", step ", (bad / shape.pitches) % shape.steps,
                     ", pitch ", bad % shape.pitches, ") is ", int{dense_cells[bad]}, ", expected 0 or 1"));
  }
  PackCells(dense_cells, shape.cells(), packed_.data());
  Status status = AppendPacked(split, packed_.data());
  if (!status.ok()) return Fail(status);
  return status;
}

Status PackWriter::AddPacked(Split split, const uint8_t* packed_sample) {
  if (!error_.ok()) return error_;
  if (done_) return absl::FailedPreconditionError(absl::StrCat(pack_dir_, ": AddPacked after Finish"));
  const int64_t used_bits = options_.shape.cells() % 8;
  if (used_bits != 0 && (packed_sample[options_.shape.packed_bytes() - 1] >> used_bits) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(pack_dir_, ": sample ", count_[SplitSlot(split)], " of ",
                                                   SplitName(split),
                                                   ": padding bits of the last packed byte are not zero"));
  }
  Status status = AppendPacked(split, packed_sample);
  if (!status.ok()) return Fail(status);
  return status;
}

Status PackWriter::AppendPacked(Split split, const uint8_t* packed) {
  const int slot = SplitSlot(split);
  if (open_[slot] == nullptr) TUTTI_RETURN_IF_ERROR(StartShard(split));
  OpenShard& shard = *open_[slot];
  shard.buffer.insert(shard.buffer.end(), packed, packed + options_.shape.packed_bytes());
  if (shard.buffer.size() >= kWriteBufferBytes) TUTTI_RETURN_IF_ERROR(shard.Flush());
  ++shard.samples;
  ++count_[slot];
  if (shard.samples == options_.samples_per_shard) TUTTI_RETURN_IF_ERROR(CloseShard(split));
  return absl::OkStatus();
}

Status PackWriter::StartShard(Split split) {
  const int slot = SplitSlot(split);
  auto shard = std::make_unique<OpenShard>();
  shard->index = static_cast<uint32_t>(closed_[slot].size());
  shard->file = ShardFileName(split, shard->index);
  shard->path = (fs::path(staging_dir_) / shard->file).string();
  if (int err = CurrentFileSystem().Open(shard->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644, &shard->fd);
      err != 0) {
    return IoError(shard->path, "cannot create shard", err);
  }
  shard->buffer.reserve(kWriteBufferBytes + packed_.size());
  // Placeholder header; the real one (with the final count) is written at close.
  shard->buffer.assign(kShardHeaderBytes, 0);
  open_[slot] = std::move(shard);
  return absl::OkStatus();
}

Status PackWriter::CloseShard(Split split) {
  const int slot = SplitSlot(split);
  OpenShard& shard = *open_[slot];
  TUTTI_RETURN_IF_ERROR(shard.Flush());
  ShardHeader header;
  header.shape = options_.shape;
  header.sample_count = static_cast<uint64_t>(shard.samples);
  header.split = split;
  header.shard_index = shard.index;
  std::array<uint8_t, kShardHeaderBytes> bytes = EncodeShardHeader(header);
  size_t written = 0;
  int err = CurrentFileSystem().PWrite(shard.fd, bytes.data(), bytes.size(), 0, &written);
  // A short write of the header over its own placeholder cannot be for lack of space and sets no errno:
  // report EIO rather than whatever errno happened to hold.
  if (err == 0 && written != bytes.size()) err = EIO;
  if (err != 0) return IoError(shard.path, "writing the shard header failed", err);
  if (int sync_err = CurrentFileSystem().Fsync(shard.fd); sync_err != 0) {
    return IoError(shard.path, "fsync failed", sync_err);
  }
  ShardInfo info;
  info.file = shard.file;
  info.samples = shard.samples;
  info.bytes = header.file_bytes();
  // Hash what is on disk (read back from the page cache): the checksum covers the bytes a reader gets.
  TUTTI_ASSIGN_OR_RETURN(info.sha256, HashFile(shard.fd, shard.path));
  closed_[slot].push_back(std::move(info));
  open_[slot].reset();
  return absl::OkStatus();
}

Status PackWriter::Finish(std::vector<PackSong> songs, nlohmann::json packing, nlohmann::json summary) {
  if (!error_.ok()) return error_;
  if (done_) return absl::FailedPreconditionError(absl::StrCat(pack_dir_, ": Finish called twice"));
  done_ = true;
  for (Split split : kAllSplits) {
    if (open_[SplitSlot(split)] != nullptr) {
      Status status = CloseShard(split);
      if (!status.ok()) return Fail(status);
    }
  }
  PackManifest manifest;
  manifest.genre = options_.genre;
  manifest.shape = options_.shape;
  manifest.train_shards = closed_[0];
  manifest.heldout_shards = closed_[1];
  manifest.songs = std::move(songs);
  manifest.packing = packing.is_null() ? nlohmann::json::object() : std::move(packing);
  manifest.summary = summary.is_null() ? nlohmann::json::object() : std::move(summary);
  manifest.created_by = options_.created_by;
  nlohmann::json json = manifest.ToJson();
  const std::string manifest_path = (fs::path(staging_dir_) / kManifestFileName).string();
  // The reader's own checks, applied before anything is published (catches songs that do not add up).
  StatusOr<PackManifest> check = PackManifest::FromJson(json, (fs::path(pack_dir_) / kManifestFileName).string());
  if (!check.ok()) return Fail(check.status());
  // WriteFileAtomically fsyncs the manifest and the staging directory (so every shard entry is durable).
  Status status = WriteFileAtomically(manifest_path, json.dump(2) + "\n");
  // mkdtemp made the staging directory 0700; a published pack is read by other users (Slurm, containers).
  if (status.ok()) {
    int err = CurrentFileSystem().Chmod(staging_dir_, 0755);
    if (err != 0) status = IoError(staging_dir_, "chmod failed", err);
  }
  if (status.ok()) status = PublishDirectory(staging_dir_, pack_dir_);
  if (!status.ok()) return Fail(status);
  published_ = true;
  return absl::OkStatus();
}

}  // namespace tutti
