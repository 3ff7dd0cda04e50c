// Fuzz target: ReadPianorollNpz (zip directory, member inflation, .npy members, info.json, CSC structure).
// The reader only takes a path (ZipReader::Open reads the whole file itself), so each input is written to
// one temporary file per process and read back from there.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/npz/pianoroll_npz.h"

namespace {

const std::string& TempPath() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/tutti_npz_fuzz_" +
           std::to_string(getpid()) + ".npz";
  }();
  static const bool registered = [] {
    // One file per process, removed at a normal exit (libFuzzer's end of run, the replay's end).
    return std::atexit([] { std::remove(TempPath().c_str()); }) == 0;
  }();
  (void)registered;
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = TempPath();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) std::abort();  // the harness itself is broken, not the reader
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  (void)tutti::ReadPianorollNpz(path);
  // Without tempo and downbeat: the reader takes another path to the song length.
  (void)tutti::ReadPianorollNpz(path, tutti::NpzReadOptions{false, false});
  return 0;
}
