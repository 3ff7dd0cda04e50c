#include "core/data/pack_cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "core/base/file_system.h"
#include "core/base/file_util.h"
#include "core/base/sha256.h"
#include "core/data/pack_manifest.h"

namespace tutti {
namespace {

namespace fs = std::filesystem;

constexpr char kPacksDir[] = "packs";
constexpr char kViewsDir[] = "views";
constexpr char kIncomingDir[] = "incoming";
constexpr char kLockFile[] = "lock";

// Unique temporary names inside incoming/ (and views/<key>/) for this process; the pid keeps processes
// apart even though the lock already does, so a name never collides with a dead process's leftover.
std::string TempName(std::string_view stem) {
  static std::atomic<uint64_t> counter{0};
  return absl::StrCat(".", std::string(stem), ".tmp-", ::getpid(), "-", counter.fetch_add(1));
}

// Holds an exclusive flock(2) on root/lock for its lifetime. The file is opened here, not once per
// PackCache, because flock belongs to the open file description: a shared descriptor (another thread,
// or a child after fork) would "own" the lock too and not be excluded.
class LockGuard {
 public:
  static StatusOr<std::unique_ptr<LockGuard>> Acquire(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoStatus(errno, "cannot open the cache lock", path);
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return ErrnoStatus(err, "flock(LOCK_EX) failed", path);
    }
    return std::unique_ptr<LockGuard>(new LockGuard(fd));
  }
  ~LockGuard() { ::close(fd_); }  // closing the last descriptor releases the flock
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  explicit LockGuard(int fd) : fd_(fd) {}
  const int fd_;
};

// Whether `path` exists, and whether it is a regular file of exactly `bytes` bytes whose SHA-256 is
// `sha256`. The size is checked first so a truncated file costs no hashing.
struct FileCheck {
  bool exists = false;
  bool good = false;
};

StatusOr<FileCheck> CheckFile(const std::string& path, uint64_t bytes, const std::string& sha256) {
  FileCheck check;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return check;
    return ErrnoStatus(errno, "cannot open", path);
  }
  check.exists = true;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus(err, "cannot stat", path);
  }
  if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) != bytes) {
    ::close(fd);
    return check;
  }
  Sha256 hash;
  std::string buffer(size_t{1} << 20, '\0');
  while (true) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return ErrnoStatus(err, "read failed", path);
    }
    if (n == 0) break;
    hash.Update(buffer.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  check.good = hash.FinishHex() == sha256;
  return check;
}

// Writes `data` to a fresh file in `incoming`, fsyncs it and renames it to `target` (same filesystem:
// both are under the cache root). The target's directory is not fsynced here; callers sync it once
// before the step that depends on it (writing manifest.json). The temporary is removed on failure.
Status WriteThroughIncoming(const std::string& incoming, const std::string& target, std::string_view data) {
  return WriteAndRename(incoming + "/" + TempName(fs::path(target).filename().string()), target, data);
}

Status RemoveFileIfPresent(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus(errno, "cannot remove", path);
  return absl::OkStatus();
}

// Names of the entries of `dir`. Iterates with error codes throughout: range-for over a directory_iterator
// throws on a failed increment.
StatusOr<std::vector<std::string>> ListNames(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) names.push_back(it->path().filename().string());
  if (ec) return absl::InternalError(absl::StrCat(dir, ": cannot list: ", ec.message()));
  return names;
}

// A directory name for a view entry: non-empty, not "." or "..", no '/' or NUL.
bool IsUsableGenre(const std::string& genre) {
  return !genre.empty() && genre != "." && genre != ".." && genre.find('/') == std::string::npos &&
         genre.find('\0') == std::string::npos;
}

// One Ensure's state: the paths and the report it fills.
class Ensurer {
 public:
  Ensurer(const std::string& root, const BlobFetcher& fetch, PackCacheReport* report)
      : root_(root),
        packs_(root + "/" + kPacksDir),
        views_(root + "/" + kViewsDir),
        incoming_(root + "/" + kIncomingDir),
        fetch_(fetch),
        report_(report) {}

  Status RemoveLeftovers();
  Status EnsurePack(const std::string& genre, const std::string& sha);
  Status TouchAndEvict(const std::set<std::string>& used, int64_t max_bytes);
  StatusOr<std::string> MakeView(const std::string& key, const std::map<std::string, std::string>& pins);

 private:
  // fetch_(sha) with the fetcher's error annotated; `what` says which file of which pack it is for.
  StatusOr<std::string> Fetch(const std::string& sha, const std::string& what);
  Status Evict(const std::string& name);

  const std::string root_, packs_, views_, incoming_;
  const BlobFetcher& fetch_;
  PackCacheReport* const report_;
};

Status Ensurer::RemoveLeftovers() {
  // Every writer holds the lock, so whatever is in incoming/ now belongs to a process that died mid-write
  // (or mid-eviction).
  TUTTI_ASSIGN_OR_RETURN(std::vector<std::string> names, ListNames(incoming_));
  for (const std::string& name : names) RemoveAllQuietly(incoming_ + "/" + name);
  return absl::OkStatus();
}

StatusOr<std::string> Ensurer::Fetch(const std::string& sha, const std::string& what) {
  StatusOr<std::string> bytes = fetch_(sha);
  if (!bytes.ok()) return Annotate(bytes.status(), absl::StrCat("fetching blob ", sha, " (", what, ")"));
  return bytes;
}

Status Ensurer::EnsurePack(const std::string& genre, const std::string& sha) {
  const std::string pack_dir = packs_ + "/" + sha;
  const std::string manifest_path = pack_dir + "/" + kManifestFileName;
  const std::string pack_label = absl::StrCat("pack '", genre, "' (manifest ", sha, ")");
  int fetched_files = 0;

  // 1. The manifest: the cached copy when it still hashes to the pin, else fetched.
  std::string manifest_bytes;
  bool manifest_on_disk = false;
  StatusOr<std::string> cached = ReadFileToString(manifest_path);
  if (cached.ok()) {
    if (Sha256Hex(*cached) == sha) {
      manifest_bytes = std::move(*cached);
      manifest_on_disk = true;
    } else {
      ++report_->files_damaged;
      // Gone before anything else is repaired: a pack directory with manifest.json must be complete.
      TUTTI_RETURN_IF_ERROR(RemoveFileIfPresent(manifest_path));
    }
  } else if (!absl::IsNotFound(cached.status())) {
    return cached.status();
  }
  if (!manifest_on_disk) {
    TUTTI_ASSIGN_OR_RETURN(manifest_bytes, Fetch(sha, "manifest.json of " + pack_label));
    const std::string got = Sha256Hex(manifest_bytes);
    if (got != sha) {
      return absl::DataLossError(absl::StrCat("manifest.json of ", pack_label, ": fetched ", manifest_bytes.size(),
                                              " bytes that hash to ", got, ", expected ", sha));
    }
    ++report_->files_fetched;
    report_->bytes_fetched += static_cast<int64_t>(manifest_bytes.size());
    ++fetched_files;
  }

  nlohmann::json json = nlohmann::json::parse(manifest_bytes, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat("manifest.json of ", pack_label, ": not valid JSON"));
  }
  TUTTI_ASSIGN_OR_RETURN(PackManifest manifest, PackManifest::FromJson(json, "manifest.json of " + pack_label));
  if (manifest.genre != genre) {
    return absl::FailedPreconditionError(absl::StrCat("manifest ", sha, " is the pack of genre '", manifest.genre,
                                                      "', but it is pinned as genre '", genre, "'"));
  }
  // FromJson already refuses such names; checked again because this code writes to pack_dir/<file> and a
  // looser FromJson must never turn into a write outside the pack directory.
  for (Split split : kAllSplits) {
    for (const ShardInfo& shard : manifest.shards(split)) {
      if (shard.file.empty() || shard.file.find('/') != std::string::npos ||
          shard.file.find("..") != std::string::npos || shard.file == kManifestFileName) {
        return absl::InvalidArgumentError(absl::StrCat("manifest.json of ", pack_label, ": shard file name '",
                                                       shard.file, "' is not a plain file name"));
      }
    }
  }

  std::error_code ec;
  if (!fs::is_directory(pack_dir, ec)) {
    TUTTI_RETURN_IF_ERROR(CreateDirectories(pack_dir));
    TUTTI_RETURN_IF_ERROR(SyncDirectory(packs_));
  }

  // 2. Every shard is re-hashed on every Ensure. That is what catches a cached shard damaged since it was
  // written (disk error, a stray write, a truncation) before a trial trains on it; the cost is one
  // sequential read + SHA-256 of the pack per Ensure: 0.7-1.6 GB/s on the shared build machine (the hash
  // speed line of pack_cache_test), i.e. ~0.6-1.4 s per GB, small next to a training run and next to
  // fetching again.
  for (Split split : kAllSplits) {
    for (const ShardInfo& shard : manifest.shards(split)) {
      const std::string path = pack_dir + "/" + shard.file;
      TUTTI_ASSIGN_OR_RETURN(FileCheck check, CheckFile(path, shard.bytes, shard.sha256));
      if (check.good) continue;
      if (check.exists) ++report_->files_damaged;
      if (manifest_on_disk) {
        // The pack is incomplete from now until the manifest is written back at the end.
        TUTTI_RETURN_IF_ERROR(RemoveFileIfPresent(manifest_path));
        manifest_on_disk = false;
      }
      const std::string what = absl::StrCat(shard.file, " of ", pack_label);
      TUTTI_ASSIGN_OR_RETURN(std::string bytes, Fetch(shard.sha256, what));
      if (bytes.size() != shard.bytes) {
        return absl::DataLossError(absl::StrCat(what, ": fetched blob ", shard.sha256, " is ", bytes.size(),
                                                " bytes, the manifest says ", shard.bytes));
      }
      const std::string got = Sha256Hex(bytes);
      if (got != shard.sha256) {
        return absl::DataLossError(
            absl::StrCat(what, ": fetched blob ", shard.sha256, " hashes to ", got, ", expected ", shard.sha256));
      }
      TUTTI_RETURN_IF_ERROR(WriteThroughIncoming(incoming_, path, bytes));
      ++report_->files_fetched;
      report_->bytes_fetched += static_cast<int64_t>(bytes.size());
      ++fetched_files;
    }
  }

  // 3. manifest.json last, after the shards' renames are durable, so that it never reaches the disk
  // ahead of a shard it lists.
  if (!manifest_on_disk) {
    TUTTI_RETURN_IF_ERROR(SyncDirectory(pack_dir));
    TUTTI_RETURN_IF_ERROR(WriteThroughIncoming(incoming_, manifest_path, manifest_bytes));
    TUTTI_RETURN_IF_ERROR(SyncDirectory(pack_dir));
  }
  if (fetched_files > 0) {
    ++report_->packs_fetched;
  } else {
    ++report_->packs_hit;
  }
  return absl::OkStatus();
}

Status Ensurer::Evict(const std::string& name) {
  // Renamed out of packs/ first: the pack disappears in one step, and an interrupted removal leaves its
  // remains in incoming/, which the next Ensure clears.
  const std::string from = packs_ + "/" + name;
  const std::string to = incoming_ + "/" + TempName("evicted-" + name);
  if (int err = CurrentFileSystem().Rename(from, to); err != 0) {
    return ErrnoStatus(err, absl::StrCat("cannot move the evicted pack to ", to, ": rename of"), from);
  }
  RemoveAllQuietly(to);
  ++report_->packs_evicted;
  return absl::OkStatus();
}

Status Ensurer::TouchAndEvict(const std::set<std::string>& used, int64_t max_bytes) {
  // The mtime of a pack directory is the LRU clock: set to now by every Ensure that uses the pack.
  for (const std::string& sha : used) {
    const std::string dir = packs_ + "/" + sha;
    if (::utimensat(AT_FDCWD, dir.c_str(), nullptr, 0) != 0) return ErrnoStatus(errno, "cannot touch", dir);
  }

  struct Entry {
    struct timespec mtime;
    std::string name;
    int64_t bytes;
  };
  std::vector<Entry> candidates;
  int64_t total = 0;
  TUTTI_ASSIGN_OR_RETURN(std::vector<std::string> names, ListNames(packs_));
  for (const std::string& name : names) {
    const std::string dir = packs_ + "/" + name;
    struct stat st {};
    // Only our own pack directories (named by a sha256); anything else under packs/ is left alone.
    if (!IsSha256Hex(name) || ::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    // Pack directories are flat (manifest.json + shards): the sum of their regular files is the pack.
    TUTTI_ASSIGN_OR_RETURN(std::vector<std::string> files, ListNames(dir));
    int64_t bytes = 0;
    for (const std::string& file : files) {
      struct stat fst {};
      if (::lstat((dir + "/" + file).c_str(), &fst) == 0 && S_ISREG(fst.st_mode)) bytes += fst.st_size;
    }
    total += bytes;
    if (used.count(name) == 0) candidates.push_back({st.st_mtim, name, bytes});
  }

  std::sort(candidates.begin(), candidates.end(), [](const Entry& a, const Entry& b) {
    if (a.mtime.tv_sec != b.mtime.tv_sec) return a.mtime.tv_sec < b.mtime.tv_sec;
    if (a.mtime.tv_nsec != b.mtime.tv_nsec) return a.mtime.tv_nsec < b.mtime.tv_nsec;
    return a.name < b.name;
  });
  for (const Entry& victim : candidates) {
    if (total <= max_bytes) break;
    TUTTI_RETURN_IF_ERROR(Evict(victim.name));
    total -= victim.bytes;
  }
  return absl::OkStatus();
}

StatusOr<std::string> Ensurer::MakeView(const std::string& key, const std::map<std::string, std::string>& pins) {
  const std::string view_dir = views_ + "/" + key;
  TUTTI_RETURN_IF_ERROR(CreateDirectories(view_dir));
  // Not fsynced: a view lost to a power cut is simply recreated by the next Ensure.
  for (const auto& [genre, sha] : pins) {
    const std::string link = view_dir + "/" + genre;
    const std::string target = absl::StrCat("../../", kPacksDir, "/", sha);
    struct stat st {};
    if (::lstat(link.c_str(), &st) == 0) {
      if (S_ISLNK(st.st_mode)) {
        std::string current(4096, '\0');
        ssize_t n = ::readlink(link.c_str(), current.data(), current.size());
        if (n >= 0 && std::string_view(current.data(), static_cast<size_t>(n)) == target) continue;
      } else {
        // Not ours (the view directory is the cache's namespace); a symlink cannot be renamed over a
        // directory, so it goes first.
        RemoveAllQuietly(link);
      }
    } else if (errno != ENOENT) {
      return ErrnoStatus(errno, "cannot stat", link);
    }
    // A new symlink beside the old one, renamed over it: a reader sees the old or the new link, never none.
    const std::string temp = view_dir + "/" + TempName(genre);
    if (::symlink(target.c_str(), temp.c_str()) != 0) return ErrnoStatus(errno, "cannot create symlink", temp);
    if (int err = CurrentFileSystem().Rename(temp, link); err != 0) {
      (void)CurrentFileSystem().Unlink(temp);
      return ErrnoStatus(err, absl::StrCat("cannot rename ", temp, " to"), link);
    }
  }
  return view_dir;
}

}  // namespace

StatusOr<std::unique_ptr<PackCache>> PackCache::Open(PackCacheOptions options) {
  if (options.root.empty()) return absl::InvalidArgumentError("pack cache: root is empty");
  if (options.max_bytes < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("pack cache ", options.root, ": max_bytes must be >= 0, got ", options.max_bytes));
  }
  std::error_code ec;
  fs::path absolute = fs::absolute(options.root, ec);
  if (ec) return absl::InternalError(absl::StrCat(options.root, ": cannot make absolute: ", ec.message()));
  options.root = absolute.lexically_normal().string();
  while (options.root.size() > 1 && options.root.back() == '/') options.root.pop_back();
  for (const char* sub : {kPacksDir, kViewsDir, kIncomingDir}) {
    TUTTI_RETURN_IF_ERROR(Annotate(CreateDirectories(options.root + "/" + sub), "opening the pack cache"));
  }
  const std::string lock = options.root + "/" + kLockFile;
  int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno, "cannot create the cache lock", lock);
  ::close(fd);
  return std::unique_ptr<PackCache>(new PackCache(std::move(options)));
}

std::string PackCache::PackDir(const std::string& manifest_sha256) const {
  return absl::StrCat(options_.root, "/", kPacksDir, "/", manifest_sha256);
}

StatusOr<std::string> PackCache::Ensure(const std::vector<PackPin>& pins, const BlobFetcher& fetch,
                                        PackCacheReport* report) const {
  PackCacheReport local;
  if (report == nullptr) report = &local;
  *report = PackCacheReport{};

  // Validate and de-duplicate before taking the lock: bad pins are the caller's error, not the cache's.
  std::map<std::string, std::string> by_genre;  // genre -> manifest sha256
  for (const PackPin& pin : pins) {
    if (!IsUsableGenre(pin.genre)) {
      return absl::InvalidArgumentError(
          absl::StrCat("pack cache ", options_.root, ": genre '", pin.genre, "' cannot be a directory name"));
    }
    if (!IsSha256Hex(pin.manifest_sha256)) {
      return absl::InvalidArgumentError(absl::StrCat("pack cache ", options_.root, ": genre '", pin.genre,
                                                     "': manifest sha256 must be 64 lower-case hex digits, got '",
                                                     pin.manifest_sha256, "'"));
    }
    auto [it, inserted] = by_genre.emplace(pin.genre, pin.manifest_sha256);
    if (!inserted && it->second != pin.manifest_sha256) {
      return absl::InvalidArgumentError(absl::StrCat("pack cache ", options_.root, ": genre '", pin.genre,
                                                     "' is pinned to two manifests: ", it->second, " and ",
                                                     pin.manifest_sha256));
    }
  }
  std::vector<std::string> lines;
  std::set<std::string> used;
  for (const auto& [genre, sha] : by_genre) {
    lines.push_back(absl::StrCat(genre, "=", sha, "\n"));
    used.insert(sha);
  }
  std::sort(lines.begin(), lines.end());
  std::string key_text;
  for (const std::string& line : lines) key_text += line;
  const std::string key = Sha256Hex(key_text);

  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<LockGuard> lock, LockGuard::Acquire(options_.root + "/" + kLockFile));
  Ensurer ensurer(options_.root, fetch, report);
  TUTTI_RETURN_IF_ERROR(ensurer.RemoveLeftovers());
  for (const auto& [genre, sha] : by_genre) TUTTI_RETURN_IF_ERROR(ensurer.EnsurePack(genre, sha));
  TUTTI_RETURN_IF_ERROR(ensurer.TouchAndEvict(used, options_.max_bytes));
  return ensurer.MakeView(key, by_genre);
}

}  // namespace tutti
