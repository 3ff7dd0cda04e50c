#include "core/npz/zip_io.h"

#include <zip.h>

#include <libdeflate.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <unordered_set>

#include "absl/strings/str_cat.h"

namespace tutti {
namespace {

// Larger members are refused rather than allocated: LPD's largest member is ~8 MB.
constexpr zip_uint64_t kMaxMemberBytes = zip_uint64_t{1} << 31;
constexpr zip_uint64_t kMaxDeflateRatio = 1032;
constexpr zip_uint64_t kDeflateSlackBytes = 1024;  // block headers of tiny streams

// 2020-01-01 12:00:00 UTC: any fixed time makes BuildZip's output depend on content only.
constexpr time_t kFixedMtime = 1577880000;

struct DecompressorDeleter {
  void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
};

// The calling thread's decompressor (allocated on first use, freed at thread exit).
libdeflate_decompressor* ThreadDecompressor() {
  thread_local std::unique_ptr<libdeflate_decompressor, DecompressorDeleter> decompressor(
      libdeflate_alloc_decompressor());
  return decompressor.get();
}

std::string ZipErrorString(zip_error_t* error) { return zip_error_strerror(error); }

// Thread-local scratch larger than this is released after use so that one huge member does not pin memory.
constexpr size_t kKeepScratchBytes = size_t{64} << 20;

Status ErrnoError(const std::string& path, const char* what, int err) {
  const std::string message = absl::StrCat(path, ": ", what, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(message);
  return absl::InternalError(message);
}

// The whole file in one buffer, read with as few system calls as its size allows.
Status ReadWholeFile(const std::string& path, ByteBuffer* out) {
  // A directory would fail later as "read failed: Is a directory" (Internal), and opening a FIFO blocks until
  // a writer comes: refuse anything but a regular file up front (found by tests/bad_inputs).
  struct stat kind {};
  if (::stat(path.c_str(), &kind) == 0 && !S_ISREG(kind.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected a regular .npz file, got ",
                                                   S_ISDIR(kind.st_mode) ? "a directory" : "a special file"));
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(path, "cannot open", errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoError(path, "cannot stat", err);
  }
  out->ResetSize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < out->size()) {
    const ssize_t n = ::read(fd, out->data() + got, out->size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return ErrnoError(path, "read failed", err);
    }
    if (n == 0) break;  // the file shrank meanwhile: keep what is there (the zip checks will judge it)
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  if (got < out->size()) out->ResetSize(got);  // shrinking keeps the bytes already read
  return absl::OkStatus();
}

}  // namespace

void ByteBuffer::ResetSize(size_t n) {
  if (n > capacity_) {
    data_.reset(new uint8_t[n]);  // default-initialised: no zeroing
    capacity_ = n;
  }
  size_ = n;
}

void ByteBuffer::Release() {
  data_.reset();
  size_ = capacity_ = 0;
}

StatusOr<std::unique_ptr<ZipReader>> ZipReader::Open(const std::string& path) {
  auto bytes = std::make_unique<ByteBuffer>();
  TUTTI_RETURN_IF_ERROR(ReadWholeFile(path, bytes.get()));
  // libzip opens an empty buffer as an archive with no members, which would then read as "info.json: expected
  // this member" (NotFound); an empty file is a failed download or copy, not an empty song.
  if (bytes->size() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected a complete zip archive (.npz), got an empty file"));
  }
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_buffer_create(bytes->data(), bytes->size(), 0, &error);
  zip_t* archive = source == nullptr ? nullptr : zip_open_from_source(source, ZIP_RDONLY, &error);
  if (archive == nullptr) {
    if (source != nullptr) zip_source_free(source);
    const int code = zip_error_code_zip(&error);
    const std::string what = ZipErrorString(&error);
    zip_error_fini(&error);
    if (code == ZIP_ER_MEMORY) return absl::InternalError(absl::StrCat(path, ": cannot open: ", what));
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": expected a complete zip archive (.npz), got a file libzip rejects: ", what));
  }
  zip_error_fini(&error);
  return std::unique_ptr<ZipReader>(new ZipReader(path, std::move(bytes), archive));
}

ZipReader::~ZipReader() { zip_discard(zip_); }

Status ZipReader::Error(const std::string& member, const std::string& what) const {
  return absl::InvalidArgumentError(absl::StrCat(path_, ": ", member, ": ", what));
}

bool ZipReader::Contains(const std::string& member) const {
  return zip_name_locate(zip_, member.c_str(), 0) >= 0;
}

std::vector<std::string> ZipReader::MemberNames() const {
  std::vector<std::string> names;
  const zip_int64_t n = zip_get_num_entries(zip_, 0);
  names.reserve(n > 0 ? static_cast<size_t>(n) : 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    const char* name = zip_get_name(zip_, static_cast<zip_uint64_t>(i), 0);
    if (name != nullptr) names.emplace_back(name);
  }
  return names;
}

Status ZipReader::Read(const std::string& member, ByteBuffer* out) {
  const zip_int64_t index = zip_name_locate(zip_, member.c_str(), 0);
  if (index < 0) {
    return absl::NotFoundError(absl::StrCat(path_, ": ", member, ": expected this member in the archive, got ",
                                            zip_get_num_entries(zip_, 0), " members without it"));
  }
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(zip_, static_cast<zip_uint64_t>(index), 0, &st) != 0) {
    return Error(member, absl::StrCat("cannot stat: ", zip_strerror(zip_)));
  }
  constexpr zip_uint64_t kNeeded = ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD | ZIP_STAT_CRC;
  if ((st.valid & kNeeded) != kNeeded) return Error(member, "expected size, method and CRC in the directory");
  if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE) {
    return absl::UnimplementedError(absl::StrCat(path_, ": ", member, ": expected an unencrypted member"));
  }
  if (st.comp_method != ZIP_CM_STORE && st.comp_method != ZIP_CM_DEFLATE) {
    return absl::UnimplementedError(absl::StrCat(path_, ": ", member, ": expected method store or deflate, got ",
                                                 st.comp_method));
  }
  if (st.size > kMaxMemberBytes || st.comp_size > kMaxMemberBytes) {
    return Error(member, absl::StrCat("expected at most ", kMaxMemberBytes, " bytes, got ", st.size));
  }
  // A member's compressed bytes lie inside the archive: a larger claim is a lie, and trusting it would allocate
  // up to kMaxMemberBytes for it (found by the npz fuzzer: a 2 GiB info.json in a 700-byte file).
  if (st.comp_size > bytes_->size()) {
    return Error(member, absl::StrCat("expected at most the archive's ", bytes_->size(),
                                      " bytes of compressed data, got a declared compressed size of ", st.comp_size));
  }
  // Deflate cannot expand more than 1032:1 (a 258-byte match per 2-bit code at best): a larger declared size is
  // a lie, and trusting it would make the reader allocate up to kMaxMemberBytes for a few compressed bytes.
  if (st.comp_method == ZIP_CM_DEFLATE && st.size > st.comp_size * kMaxDeflateRatio + kDeflateSlackBytes) {
    return Error(member, absl::StrCat("expected at most ", kMaxDeflateRatio, " times the ", st.comp_size,
                                      " compressed bytes (deflate's limit), got a declared size of ", st.size));
  }
  if (st.comp_method == ZIP_CM_STORE && st.comp_size != st.size) {
    return Error(member, absl::StrCat("expected a stored size equal to the size ", st.size, ", got ",
                                      st.comp_size));
  }

  // Raw (still compressed) bytes: stored members land in *out directly, deflated ones in this thread's scratch.
  thread_local ByteBuffer scratch;
  ByteBuffer* raw = st.comp_method == ZIP_CM_STORE ? out : &scratch;
  raw->ResetSize(static_cast<size_t>(st.comp_size));
  zip_file_t* file = zip_fopen_index(zip_, static_cast<zip_uint64_t>(index), ZIP_FL_COMPRESSED);
  if (file == nullptr) return Error(member, absl::StrCat("cannot open: ", zip_strerror(zip_)));
  zip_uint64_t got = 0;
  while (got < st.comp_size) {
    const zip_int64_t n = zip_fread(file, raw->data() + got, st.comp_size - got);
    if (n <= 0) break;
    got += static_cast<zip_uint64_t>(n);
  }
  const std::string read_error = got < st.comp_size ? zip_file_strerror(file) : "";
  zip_fclose(file);
  if (got < st.comp_size) {
    return Error(member, absl::StrCat("expected ", st.comp_size, " compressed bytes, got ", got,
                                      " (truncated file?) ", read_error));
  }

  if (st.comp_method == ZIP_CM_DEFLATE) {
    out->ResetSize(static_cast<size_t>(st.size));
    const libdeflate_result result = libdeflate_deflate_decompress(ThreadDecompressor(), scratch.data(),
                                                                   scratch.size(), out->data(), out->size(), nullptr);
    if (scratch.capacity() > kKeepScratchBytes) scratch.Release();
    if (result != LIBDEFLATE_SUCCESS) {
      return Error(member, absl::StrCat("expected a deflate stream of ", st.size, " bytes, got ",
                                        result == LIBDEFLATE_SHORT_OUTPUT          ? "fewer bytes"
                                        : result == LIBDEFLATE_INSUFFICIENT_SPACE ? "more bytes"
                                                                                   : "corrupt data"));
    }
  }
  const uint32_t crc = libdeflate_crc32(0, out->data(), out->size());
  if (crc != st.crc) {
    return Error(member, absl::StrCat("expected CRC-32 ", absl::Hex(st.crc, absl::kZeroPad8), ", got ",
                                      absl::Hex(crc, absl::kZeroPad8)));
  }
  return absl::OkStatus();
}

StatusOr<std::string> BuildZip(const std::vector<ZipEntry>& entries, int compression_level) {
  std::unordered_set<std::string> names;
  for (const ZipEntry& e : entries) {
    if (!names.insert(e.name).second) {
      return absl::InvalidArgumentError(absl::StrCat("zip member ", e.name, ": expected a unique name, got a "
                                                     "duplicate"));
    }
  }
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* sink = zip_source_buffer_create(nullptr, 0, 0, &error);
  if (sink == nullptr) {
    Status s = absl::InternalError(absl::StrCat("libzip: cannot create a buffer: ", ZipErrorString(&error)));
    zip_error_fini(&error);
    return s;
  }
  zip_source_keep(sink);  // survive zip_close so that we can read the archive back
  zip_t* archive = zip_open_from_source(sink, ZIP_TRUNCATE, &error);
  if (archive == nullptr) {
    Status s = absl::InternalError(absl::StrCat("libzip: cannot open a buffer: ", ZipErrorString(&error)));
    zip_error_fini(&error);
    zip_source_free(sink);
    return s;
  }
  zip_error_fini(&error);
  auto fail = [&](const std::string& what) -> Status {
    Status s = absl::InternalError(absl::StrCat("libzip: ", what, ": ", zip_strerror(archive)));
    zip_discard(archive);
    zip_source_free(sink);
    return s;
  };
  for (const ZipEntry& e : entries) {
    zip_source_t* source = zip_source_buffer(archive, e.data.data(), e.data.size(), 0);
    if (source == nullptr) return fail(absl::StrCat("cannot wrap ", e.name));
    const zip_int64_t index = zip_file_add(archive, e.name.c_str(), source, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
      zip_source_free(source);
      return fail(absl::StrCat("cannot add ", e.name));
    }
    const zip_uint64_t i = static_cast<zip_uint64_t>(index);
    if (zip_set_file_compression(archive, i, e.deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE,
                                 e.deflate ? static_cast<zip_uint32_t>(compression_level) : 0) != 0 ||
        zip_file_set_mtime(archive, i, kFixedMtime, 0) != 0) {
      return fail(absl::StrCat("cannot configure ", e.name));
    }
  }
  if (zip_close(archive) != 0) return fail("cannot write the archive");

  // Read the finished archive back out of the buffer source.
  std::string bytes;
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_source_open(sink) != 0) {
    Status s = absl::InternalError(absl::StrCat("libzip: cannot reopen the buffer: ",
                                                ZipErrorString(zip_source_error(sink))));
    zip_source_free(sink);
    return s;
  }
  bool ok = zip_source_stat(sink, &st) == 0 && (st.valid & ZIP_STAT_SIZE);
  if (ok) {
    bytes.resize(static_cast<size_t>(st.size));
    ok = zip_source_read(sink, bytes.data(), st.size) == static_cast<zip_int64_t>(st.size);
  }
  Status s = ok ? absl::OkStatus()
                : absl::InternalError(absl::StrCat("libzip: cannot read the built archive: ",
                                                   ZipErrorString(zip_source_error(sink))));
  zip_source_close(sink);
  zip_source_free(sink);
  if (!s.ok()) return s;
  return bytes;
}

}  // namespace tutti
