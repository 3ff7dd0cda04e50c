// Fuzz target: ParseSmf (chunks, variable-length quantities, running status, meta and sysex lengths) and,
// on files it accepts, the conversion to an LPD-5 Multitrack and re-encoding. In memory: ParseSmf takes bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/midi/midi_to_multitrack.h"
#include "core/midi/smf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  tutti::StatusOr<tutti::SmfFile> smf = tutti::ParseSmf(bytes, "fuzz.mid");
  if (!smf.ok()) return 0;
  // Smaller caps than the defaults (4M steps, 100M cells ~ 1.2 GB): the defaults are sized for real songs
  // and would let a valid 100-byte file with a far End-of-Track legitimately exceed -rss_limit_mb. The
  // caps themselves are what keeps memory bounded, and they are checked here at a smaller scale.
  tutti::MidiImportOptions options;
  options.max_steps = 1 << 16;
  options.max_active_cells = 1 << 22;
  (void)tutti::SmfToLpd5(*smf, "fuzz", options);
  (void)tutti::EncodeSmf(*smf);
  return 0;
}
