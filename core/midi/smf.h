#pragma once
// Standard MIDI File (SMF) reading and writing at the event level.
//
// ParseSmf decodes formats 0 and 1 with a ticks-per-quarter division into per-track lists of the events
// Tutti needs (notes, program changes, tempo, time signature, track name, end of track); everything else
// (control changes, pitch bend, aftertouch, sysex, other meta events) is consumed and dropped. Unknown
// chunk types are skipped. Format 2 and SMPTE (frames-per-second) divisions are rejected with
// Unimplemented.
//
// Safety contract: the parser only indexes into the given buffer and never allocates from a length read
// out of the file, so a corrupt or hostile file cannot read past the buffer or make it allocate more than
// a small constant factor of the file size. Every error (DataLoss for malformed data) reads
//   "<file>: track <i> at byte <offset>: <what was expected, what was found>"
// with <i> the 0-based index of the MTrk chunk and <offset> the absolute byte offset in the file; errors
// in the header or between chunks read "<file>: at byte <offset>: ...".
//
// Tolerated on purpose (common in real files): meta and sysex events do not cancel running status; a
// track chunk without an End-of-Track event ends at its last event; bytes after the last announced track
// are ignored; note-on with velocity 0 is reported as a note-off.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"

namespace tutti {

// Largest .mid file ReadSmfFile accepts (the Lakh MIDI Dataset's largest files are a few MB).
inline constexpr int64_t kMaxSmfFileBytes = 64 << 20;
// Absolute event times beyond this are rejected as corrupt (2^40 ticks is ~36 years at 480 tpq, 120 qpm).
inline constexpr int64_t kMaxSmfTick = int64_t{1} << 40;

struct MidiEvent {
  enum class Type : uint8_t {
    kNoteOn,         // channel, key, velocity (1..127)
    kNoteOff,        // channel, key, velocity (note-on with velocity 0 arrives as kNoteOff, velocity 0)
    kProgramChange,  // channel, program (in `key`)
    kTempo,          // tempo_us: microseconds per quarter note (meta 0x51)
    kTimeSignature,  // numerator, denominator_log2 (meta 0x58: 6/8 is numerator 6, denominator_log2 3)
  };
  int64_t tick = 0;  // absolute time in ticks from the start of the track
  Type type = Type::kNoteOn;
  uint8_t channel = 0;           // 0..15 (channel events); channel 9 is General MIDI percussion
  uint8_t key = 0;               // note number 0..127, or program 0..127 for kProgramChange
  uint8_t velocity = 0;          // 0..127
  uint8_t numerator = 0;         // kTimeSignature
  uint8_t denominator_log2 = 0;  // kTimeSignature
  uint32_t tempo_us = 0;         // kTempo

  static MidiEvent NoteOn(int64_t tick, int channel, int key, int velocity);
  static MidiEvent NoteOff(int64_t tick, int channel, int key);
  static MidiEvent ProgramChange(int64_t tick, int channel, int program);
  static MidiEvent Tempo(int64_t tick, uint32_t us_per_quarter);
  static MidiEvent TimeSignature(int64_t tick, int numerator, int denominator_log2);
};

struct SmfTrack {
  std::string name;               // first track-name meta event (0x03) of the chunk; "" if none
  std::vector<MidiEvent> events;  // in file order, hence ascending tick
  int64_t end_tick = 0;           // tick of End-of-Track (or of the last event when it is missing)
};

struct SmfFile {
  int format = 1;                // 0 or 1
  int ticks_per_quarter = 480;   // division, 1..32767
  std::vector<SmfTrack> tracks;  // MTrk chunks in file order
};

// Decodes `data`; `file_name` only labels error messages.
StatusOr<SmfFile> ParseSmf(std::string_view data, const std::string& file_name);

// Reads and decodes the file at `path` (at most kMaxSmfFileBytes). Errors name `path`.
StatusOr<SmfFile> ReadSmfFile(const std::string& path);

// Encodes `file` as SMF bytes: MThd, then one MTrk per track with the track name (when non-empty) at tick
// 0, the events in the given order (they must be in ascending tick order per track), and End-of-Track at
// max(end_tick, last event tick). Status bytes are always written (no running status); note-offs are
// written as 0x80 with velocity 0. InvalidArgument on format/division/field values outside the SMF ranges
// or events out of tick order.
StatusOr<std::string> EncodeSmf(const SmfFile& file);

}  // namespace tutti
