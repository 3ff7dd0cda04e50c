#pragma once
// Zip archives as .npz files use them: read chosen members fast, build a whole archive in memory.
//
// Reading: the whole archive is read into memory with one read() (LPD files average ~80 KB; this replaces
// libzip's many seek+read calls), then libzip parses the central directory. Member sizes, CRC and method come
// from that directory (zip_stat), so the ZIP64 extra fields current numpy writes into local headers (with
// 0xFFFFFFFF sizes there) do not matter.
// Deflated members are fetched raw (ZIP_FL_COMPRESSED) and inflated in one call by libdeflate into a buffer of
// the known uncompressed size; stored members are copied. Every member read is checked against its CRC-32.
// One libdeflate decompressor is kept per thread and reused.
//
// Errors name the archive and the member: "<path>: <member>: expected ..., got ...". Codes: NotFound (file or
// member absent), InvalidArgument (not a zip, truncated, corrupt data, CRC mismatch), Unimplemented
// (encryption, methods other than store/deflate), Internal (I/O).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"

struct zip;  // libzip's zip_t

namespace tutti {

// A growable byte buffer that does not zero what it allocates. Reuse one across reads: its capacity only
// grows (Release() gives it back).
class ByteBuffer {
 public:
  // Makes size() == n. The contents afterwards are unspecified (not preserved, not zeroed).
  void ResetSize(size_t n);
  void Release();
  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  std::string_view view() const { return {reinterpret_cast<const char*>(data_.get()), size_}; }

 private:
  std::unique_ptr<uint8_t[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

// Read access to one zip archive. Not thread-safe: use one ZipReader per thread (they may share nothing).
class ZipReader {
 public:
  // Opens `path` read-only. Fails when the file is missing, unreadable, or not a (complete) zip archive.
  static StatusOr<std::unique_ptr<ZipReader>> Open(const std::string& path);
  ~ZipReader();
  ZipReader(const ZipReader&) = delete;
  ZipReader& operator=(const ZipReader&) = delete;

  const std::string& path() const { return path_; }
  // Whether a member of exactly this name exists.
  bool Contains(const std::string& member) const;
  // All member names, in central-directory order.
  std::vector<std::string> MemberNames() const;
  // Replaces *out with the uncompressed bytes of `member` (capacity is reused across calls). NotFound when
  // the member is absent; InvalidArgument on corrupt data or a CRC mismatch.
  Status Read(const std::string& member, ByteBuffer* out);

 private:
  ZipReader(std::string path, std::unique_ptr<ByteBuffer> bytes, zip* archive)
      : path_(std::move(path)), bytes_(std::move(bytes)), zip_(archive) {}
  Status Error(const std::string& member, const std::string& what) const;

  const std::string path_;
  const std::unique_ptr<ByteBuffer> bytes_;  // the whole file; libzip reads from it
  zip* const zip_;
};

// One member of an archive to build. `data` must stay valid during BuildZip.
struct ZipEntry {
  std::string name;
  std::string_view data;
  bool deflate = true;  // deflate-compress (else store)
};

// Builds a complete zip archive in memory, members in the given order, with a fixed modification time (so
// the bytes depend only on the content). `compression_level` 1..9 (0: zlib's default). InvalidArgument on
// duplicate names; Internal when libzip fails.
StatusOr<std::string> BuildZip(const std::vector<ZipEntry>& entries, int compression_level = 0);

}  // namespace tutti
