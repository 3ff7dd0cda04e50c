#pragma once
// Standard MIDI File -> five-track LPD-5 Multitrack (Drums, Piano, Guitar, Bass, Strings).
//
// Contract of ReadMidiAsLpd5 / SmfToLpd5:
// - Result: exactly five tracks in kLpd5TrackSpecs order with their names, programs and is_drum; velocity
//   rolls (binary = false, values 1..127); every track, `tempo` and `downbeat` have the same n_steps (the
//   song length, see below); resolution = options.resolution; name = the file's stem ("a/song.mid" ->
//   "song").
// - Time grid: symbolic, in beats. A tick maps to step = round(tick * resolution / ticks_per_quarter),
//   halves rounded up. Tempo changes do not move the grid; they only fill `tempo`.
// - Notes: a note-on opens a note on (track chunk, channel, key); a note-off (or note-on with velocity 0)
//   closes the OLDEST open note on that key, so overlapping repeats of one pitch both survive. Notes still
//   open at the end of their track end at its End-of-Track tick; stray note-offs are ignored. A note spans
//   steps [round(on), round(off)), and at least one step, so short drum hits survive quantisation. Notes
//   of one group that overlap on a pitch merge in the roll, keeping the larger velocity per step.
// - Grouping (Lpd5TrackForProgram): every note on MIDI channel 10 (index 9) is Drums, whatever the
//   program; any other note goes by the General MIDI program of its channel at the note-on tick (the last
//   program change at or before that tick in any track chunk, 0 when none).
// - Song length n_steps = max(end of the last note, End-of-Track of the longest track chunk), in steps.
// - tempo: qpm per step from the tempo map (all chunks' 0x51 events), 120 before the first one.
// - downbeat: 1 at step 0 and at every bar start per the time signatures (4/4 until the first 0x58; a
//   change starts a new bar at its tick), 0 elsewhere.
// Errors: those of ReadSmfFile; InvalidArgument for options out of range; ResourceExhausted when the song
// would exceed max_steps or max_active_cells (a corrupt file claiming hours of held notes).

#include <cstdint>
#include <string>

#include "core/base/status.h"
#include "core/midi/smf.h"
#include "core/music/multitrack.h"
#include "core/music/track_set.h"

namespace tutti {

struct MidiImportOptions {
  // Time steps per quarter note of the result; LPD uses 24. 1..10000.
  int resolution = 24;
  // Longest song accepted, in steps (`tempo` and `downbeat` are dense: 9 bytes per step). The default is
  // about 4x LPD-5's longest song (959,040 steps).
  int64_t max_steps = 4'000'000;
  // Most active (step, pitch) cells accepted over all five rolls, counted before overlaps merge (about
  // 12 bytes each while building). Real songs stay far below; this stops a few never-ending notes in a
  // corrupt file from taking gigabytes.
  int64_t max_active_cells = 100'000'000;
  // Another track set (core/music/track_set.h): its tracks instead of LPD-5's, notes grouped by its
  // by_program and drum_track. Null: LPD-5, as described above. Not owned; must outlive the call.
  const TrackSet* track_set = nullptr;
};

// Index into kLpd5TrackSpecs for a note on a non-percussion channel playing General MIDI `program`
// (0-based), or -1 when the note is dropped. The mapping, by GM family:
//   0-7 piano, 8-15 chromatic percussion, 16-23 organ                  -> 1 Piano
//   24-31 guitar                                                        -> 2 Guitar
//   32-39 bass                                                          -> 3 Bass
//   40-47 strings, 48-55 ensemble, 56-63 brass, 64-71 reed, 72-79 pipe,
//   80-87 synth lead, 88-95 synth pad, 104-111 ethnic                   -> 4 Strings
//   96-103 synth effects, 112-119 percussive, 120-127 sound effects    -> -1 dropped
// Why: LPD-5's own merger (lakh-pianoroll-dataset, get_merged) sends program//8 == 0 to Piano, 3 to
// Guitar, 4 to Bass, and "program < 96 or 104 <= program < 112" to Strings, dropping the rest; its
// Strings group is thus "every other pitched instrument", and we keep that so imported MIDI looks like
// LPD-5 data. We depart in one place: chromatic percussion and organ go to Piano (keyboard-like parts)
// rather than Strings. Synth effects and sound effects are textures, not parts, and the percussive
// family (woodblock, taiko, synth drum...) on a melodic channel plays pitches that are meaningless in the
// Drums roll, so, as in LPD-5, they are dropped.
int Lpd5TrackForProgram(int program);

// Converts an already parsed file; `name` becomes Multitrack::name.
StatusOr<Multitrack> SmfToLpd5(const SmfFile& smf, const std::string& name,
                               const MidiImportOptions& options = {});

// True when `path` ends in .mid, .midi or .smf (any case): the names `tutti pack --midi` and `tutti inspect`
// treat as Standard MIDI Files.
bool IsMidiFileName(const std::string& path);

// Reads `path` (see smf.h for the parser's contract and error format) and converts it.
StatusOr<Multitrack> ReadMidiAsLpd5(const std::string& path, const MidiImportOptions& options = {});

}  // namespace tutti
