#pragma once
// SHA-256 for pack shard, checkpoint and blob checksums, through OpenSSL's libcrypto (EVP): it uses the
// CPU's SHA extensions where present and is one less piece of cryptography of our own to trust.
// Streaming; one object per hash; not thread-safe per object (distinct objects are independent).

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace tutti {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  // Finishes the hash; the object must not be updated afterwards.
  std::array<uint8_t, 32> Finish();
  // Finish() as 64 lower-case hex digits.
  std::string FinishHex();

 private:
  struct Context;
  std::unique_ptr<Context> context_;  // the EVP_MD_CTX; never null except after a move
};

std::string Sha256Hex(std::string_view data);

// True when `text` is 64 lower-case hex digits (the form every Tutti checksum is written in).
bool IsSha256Hex(std::string_view text);

}  // namespace tutti
