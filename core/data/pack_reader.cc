#include "core/data/pack_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/data/shard_format.h"

namespace tutti {
namespace {

namespace fs = std::filesystem;

int SplitSlot(Split split) { return split == Split::kTrain ? 0 : 1; }

Status OpenError(const std::string& path, const char* what, int err) {
  std::string message = absl::StrCat(path, ": ", what, ": ", std::strerror(err));
  return err == ENOENT ? absl::NotFoundError(message) : absl::InternalError(message);
}

[[noreturn]] void IndexOutOfRange(const std::string& pack_dir, Split split, int64_t index, int64_t size) {
  std::fprintf(stderr, "PackReader(%s): %s sample index %lld out of range [0, %lld)\n", pack_dir.c_str(),
               SplitName(split), static_cast<long long>(index), static_cast<long long>(size));
  std::abort();
}

}  // namespace

StatusOr<std::unique_ptr<PackReader>> PackReader::Open(const std::string& pack_dir) {
  const std::string manifest_path = (fs::path(pack_dir) / kManifestFileName).string();
  TUTTI_ASSIGN_OR_RETURN(PackManifest manifest, ReadManifest(manifest_path));
  std::unique_ptr<PackReader> reader(new PackReader(pack_dir, std::move(manifest)));
  const PackManifest& m = reader->manifest_;
  for (Split split : kAllSplits) {
    SplitIndex& index = reader->splits_[SplitSlot(split)];
    int64_t start = 0;
    const std::vector<ShardInfo>& shards = m.shards(split);
    for (uint32_t i = 0; i < shards.size(); ++i) {
      const std::string path = (fs::path(pack_dir) / shards[i].file).string();
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return OpenError(path, "cannot open shard listed in the manifest", errno);
      struct stat st {};
      if (::fstat(fd, &st) != 0) {
        int err = errno;
        ::close(fd);
        return OpenError(path, "cannot stat shard", err);
      }
      if (!S_ISREG(st.st_mode)) {  // a directory would read as "Is a directory" (Internal): it is bad data
        ::close(fd);
        return absl::DataLossError(absl::StrCat(path, ": expected a shard file, got ",
                                                S_ISDIR(st.st_mode) ? "a directory" : "a special file"));
      }
      const uint64_t file_size = static_cast<uint64_t>(st.st_size);
      uint8_t header[kShardHeaderBytes] = {};
      ssize_t got = file_size >= kShardHeaderBytes ? ::pread(fd, header, sizeof header, 0) : 0;
      if (got < 0) {
        int err = errno;
        ::close(fd);
        return OpenError(path, "cannot read shard header", err);
      }
      Status check = CheckShardAgainstManifest(header, file_size, m, split, i);
      if (!check.ok()) {
        ::close(fd);
        return Annotate(check, path);
      }
      Mapping mapping;
      mapping.bytes = static_cast<size_t>(file_size);
      void* data = ::mmap(nullptr, mapping.bytes, PROT_READ, MAP_PRIVATE, fd, 0);
      int err = errno;
      ::close(fd);  // the mapping keeps the file referenced
      if (data == MAP_FAILED) return OpenError(path, "mmap failed", err);
      mapping.data = static_cast<const uint8_t*>(data);
      // A per-epoch shuffle touches samples in random order, but across an epoch every sample of the
      // pack is read by some rank, and packs are small next to RAM (2,880 bytes a sample): ask the
      // kernel to read the file in the background so the first epoch does not fault page by page.
      (void)::madvise(data, mapping.bytes, MADV_WILLNEED);  // advisory; failure is harmless
      index.shards.push_back(mapping);
      index.starts.push_back(start);
      start += shards[i].samples;
    }
    index.starts.push_back(start);
  }
  return reader;
}

PackReader::PackReader(std::string pack_dir, PackManifest manifest)
    : pack_dir_(std::move(pack_dir)), manifest_(std::move(manifest)) {}

PackReader::~PackReader() {
  for (SplitIndex& index : splits_) {
    for (Mapping& m : index.shards) ::munmap(const_cast<uint8_t*>(m.data), m.bytes);
  }
}

int64_t PackReader::size(Split split) const { return splits_[SplitSlot(split)].starts.back(); }

const uint8_t* PackReader::PackedSample(Split split, int64_t index) const {
  const SplitIndex& s = splits_[SplitSlot(split)];
  if (index < 0 || index >= s.starts.back()) IndexOutOfRange(pack_dir_, split, index, s.starts.back());
  // Shard whose range holds `index`: the last start <= index (empty shards are skipped by upper_bound).
  size_t shard = static_cast<size_t>(std::upper_bound(s.starts.begin(), s.starts.end(), index) - s.starts.begin()) - 1;
  return s.shards[shard].data + ShardSampleOffset(manifest_.shape, index - s.starts[shard]);
}

void PackReader::CopySample(Split split, int64_t index, uint8_t* dense_out) const {
  UnpackCells(PackedSample(split, index), manifest_.shape.cells(), dense_out);
}

}  // namespace tutti
