// VerifyPack (declared in pack_reader.h): the full, byte-reading integrity check of a pack directory.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <vector>

#include "core/base/progress.h"
#include "core/base/sha256.h"
#include "core/data/pack_reader.h"
#include "core/data/shard_format.h"

namespace tutti {
namespace {

namespace fs = std::filesystem;

constexpr size_t kReadChunk = 1 << 20;

// Collects problems; the first one's code becomes the result's code.
class Problems {
 public:
  void Add(const Status& status) {
    if (status.ok()) return;
    if (first_code_ == absl::StatusCode::kOk) first_code_ = status.code();
    lines_.push_back(std::string(status.message()));
  }
  Status ToStatus(const std::string& pack_dir) const {
    if (lines_.empty()) return absl::OkStatus();
    if (lines_.size() == 1) return Status(first_code_, lines_[0]);
    std::string message = absl::StrCat(pack_dir, ": ", lines_.size(), " problems:");
    for (const std::string& line : lines_) absl::StrAppend(&message, "\n  ", line);
    return Status(first_code_, message);
  }

 private:
  absl::StatusCode first_code_ = absl::StatusCode::kOk;
  std::vector<std::string> lines_;
};

// Size, header and SHA-256 of one shard; returns the first problem (annotated with `path`).
Status VerifyShard(const std::string& path, const PackManifest& manifest, Split split, uint32_t index,
                   Progress* progress) {
  const ShardInfo& info = manifest.shards(split)[index];
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    std::string message = absl::StrCat(path, ": cannot open shard listed in the manifest: ", std::strerror(err));
    return err == ENOENT ? absl::NotFoundError(message) : absl::InternalError(message);
  }
  Sha256 hash;
  std::vector<uint8_t> buffer(kReadChunk);
  uint8_t header[kShardHeaderBytes] = {};
  uint64_t total = 0;
  Status status;
  while (true) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      status = absl::InternalError(absl::StrCat(path, ": read failed: ", std::strerror(errno)));
      break;
    }
    if (n == 0) break;
    if (total < kShardHeaderBytes) {
      size_t take = std::min<size_t>(kShardHeaderBytes - total, static_cast<size_t>(n));
      std::memcpy(header + total, buffer.data(), take);
    }
    hash.Update(buffer.data(), static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
    if (progress != nullptr) progress->Advance(n);
  }
  ::close(fd);
  TUTTI_RETURN_IF_ERROR(status);
  TUTTI_RETURN_IF_ERROR(Annotate(CheckShardAgainstManifest(header, total, manifest, split, index), path));
  std::string actual = hash.FinishHex();
  if (actual != info.sha256) {
    return absl::DataLossError(absl::StrCat(path, ": sha256 mismatch: manifest says ", info.sha256,
                                            ", file has ", actual));
  }
  return absl::OkStatus();
}

}  // namespace

Status VerifyPack(const std::string& pack_dir, bool show_progress) {
  const std::string manifest_path = (fs::path(pack_dir) / kManifestFileName).string();
  TUTTI_ASSIGN_OR_RETURN(PackManifest manifest, ReadManifest(manifest_path));
  Problems problems;

  // Every file the manifest lists must exist; no other shard file may sit beside them.
  std::set<std::string> listed;
  uint64_t total_bytes = 0;
  for (Split split : kAllSplits) {
    for (const ShardInfo& shard : manifest.shards(split)) {
      listed.insert(shard.file);
      total_bytes += shard.bytes;
    }
  }
  std::error_code ec;
  std::vector<std::string> extra;
  for (fs::directory_iterator it(pack_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (it->path().extension() == kShardSuffix && listed.count(name) == 0) extra.push_back(name);
  }
  if (ec) problems.Add(absl::InternalError(absl::StrCat(pack_dir, ": cannot list directory: ", ec.message())));
  std::sort(extra.begin(), extra.end());
  for (const std::string& name : extra) {
    problems.Add(absl::DataLossError(absl::StrCat((fs::path(pack_dir) / name).string(),
                                                  ": shard file not listed in ", manifest_path)));
  }

  Progress progress(absl::StrCat("verify ", manifest.genre), static_cast<int64_t>(total_bytes), "bytes",
                    show_progress);
  for (Split split : kAllSplits) {
    const std::vector<ShardInfo>& shards = manifest.shards(split);
    for (uint32_t i = 0; i < shards.size(); ++i) {
      problems.Add(VerifyShard((fs::path(pack_dir) / shards[i].file).string(), manifest, split, i, &progress));
    }
  }
  progress.Finish();
  return problems.ToStatus(pack_dir);
}

}  // namespace tutti
