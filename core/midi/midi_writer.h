#pragma once
// Multitrack -> Standard MIDI File (type 1), the way the GAN's samples leave Tutti.
//
// Layout of the written file (ticks_per_quarter division):
//   chunk 0: tempo track: set-tempo (options.tempo_qpm) and 4/4 time signature at tick 0.
//   chunk 1+i for song.tracks[i]: track-name meta event (the track's name, "Track <i>" when empty), a
//     program change at tick 0 (programs_override[i] or the track's program), then its notes. Drum tracks
//     (is_drum) play on channel 10 (index 9); the others take channels 0, 1, 2, ... in order, skipping 9.
//     MIDI has 15 melodic channels: with more non-drum tracks (LPD-17 has 16), only those with notes get one,
//     and a silent one is written as a named chunk with no events; more than 15 with notes is an error.
// Notes: per pitch, a note is a maximal run of consecutive active steps with one velocity (a run whose
// velocity changes is split there, so velocity rolls survive a round trip). Note-on at the run's first
// step, note-off at the step after its last; step s is tick round(s * ticks_per_quarter / resolution).
// Velocity is the roll's value (clamped to 1..127), 100 for binary rolls. At equal ticks note-offs come
// before note-ons. Every chunk ends at the song's length (Multitrack::MaxLength()) so trailing silence
// is kept.
// Song tempo and downbeat are not written: the file has the constant tempo_qpm and 4/4.
//
// Round trip: with ticks_per_quarter a multiple of song.resolution, ReadMidiAsLpd5 at the same resolution
// gives back the same active cells and velocities (binary rolls come back with velocity 100) for a song
// laid out like LPD-5 (tracks in kLpd5TrackSpecs order and programs).
//
// Errors: InvalidArgument for options out of range, a wrong-sized or out-of-range programs_override,
// more than 15 non-drum tracks, or a pianoroll that fails SparsePianoroll::Validate(); errors of
// WriteFileAtomically (the file is written atomically: old content or complete new content, never half).

#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/midi/smf.h"
#include "core/music/multitrack.h"

namespace tutti {

struct MidiExportOptions {
  // Constant tempo written to the tempo track, quarter notes per minute (the MuseGAN tutorial uses 100).
  // Must give 1..16,777,215 microseconds per quarter (about 3.6 qpm and up).
  double tempo_qpm = 100;
  // SMF division. 1..32767; keep it a multiple of the song's resolution (480 = 20 x 24) so that every
  // step lands on a whole tick.
  int ticks_per_quarter = 480;
  // Empty: use each track's program. Otherwise one General MIDI program (0..127) per track, in order.
  std::vector<int> programs_override;
};

// Builds the SMF events described above without touching the file system.
StatusOr<SmfFile> MultitrackToSmf(const Multitrack& song, const MidiExportOptions& options = {});

// MultitrackToSmf + EncodeSmf + WriteFileAtomically(path). Errors name `path`.
Status WriteMidiFile(const Multitrack& song, const std::string& path, const MidiExportOptions& options = {});

}  // namespace tutti
