#pragma once
// The part a musician brings to `tutti accompany`: one instrument of their own song, read from a Standard MIDI
// File or a pypianoroll .npz (LPD's songs), on the grid the model plays (steps per beat, bars of 4/4), all 128
// MIDI pitches kept so nothing of the part is lost in the output.
//
// Which part (GivenPartOptions::input_track):
//   ""          MIDI: every note whose General MIDI program falls in the model's condition track's LPD-5 group
//               (midi_to_multitrack.h: bass = programs 32-39; drums = channel 10), as `tutti pack --midi`
//               groups a song. .npz: the track named like the condition track (LPD-5's "Bass"), any case.
//   "<k>"       MIDI: track chunk k (0-based, file order; a type-0 file has one); .npz: track k.
//   "channel:<c>"  MIDI only: every note on channel c (1-16; 10 is General MIDI percussion).
//   "<name>"    MIDI: the track chunk whose name (meta event 0x03) is <name>, any case; .npz: the track so named.
// A chosen part's notes are all taken, whatever their program or channel.
//
// Grid: each note is moved onto the grid exactly as packing does (segmenter.h, step 1: binarised, every active
// cell at step t moved to round(t * steps_per_beat / resolution)), so the part is what the model would have
// been trained on. The piece spans the whole song (every track, not only the part) rounded up to whole bars,
// then [start_bar, start_bar + bars) of it.
//
// Errors: the readers' (file, offset, what was expected); InvalidArgument naming the option for a track that
// is not there (the message lists the file's tracks), a start bar past the end, an empty selection (a part
// with no notes in the chosen bars: nothing to accompany).

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/status.h"

namespace tutti {

struct GivenPartOptions {
  // The model's condition track: its LPD-5 index (0 drums .. 4 strings) and name ("bass").
  int condition_track = 3;
  std::string condition_track_name = "bass";
  // See the header comment.
  std::string input_track;
  // The model's grid.
  int steps_per_beat = 4;
  int steps_per_bar = 16;
  // Bars of the song to accompany: [start_bar, start_bar + bars); bars = 0 to the end.
  int64_t start_bar = 0;
  int64_t bars = 0;
};

struct GivenPart {
  int64_t bars = 0;
  int steps_per_bar = 16;
  // (bars * steps_per_bar, 128) bytes, 0/1, row-major (step, MIDI pitch).
  std::vector<uint8_t> roll;
  // Tempo of the song at its first step, quarter notes per minute (0 when the file has none).
  double tempo_qpm = 0;
  // Where the part came from, for people: "MIDI track 2 \"Fretless\" (3 channels...)" etc.
  std::string source;
  // Notes of the part in the chosen bars (runs of active steps on one pitch).
  int64_t notes = 0;

  int64_t steps() const { return bars * steps_per_bar; }
  // Notes with a pitch outside [lowest, lowest + pitches): the model does not hear them (they stay in the
  // output).
  int64_t NotesOutside(int lowest, int pitches) const;
};

StatusOr<GivenPart> ReadGivenPart(const std::string& path, const GivenPartOptions& options);

}  // namespace tutti
