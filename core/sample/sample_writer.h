#pragma once
// Generated samples -> files a person can open: MIDI, pypianoroll .npz, pianoroll PNG, WAV, and an overview
// grid. Torch-free, so `tutti generate` and the coordinator's sample service share it (the samples
// themselves come from checkpoint_sampler.h).
//
// Input: `n` dense binary samples stored contiguously, each (tracks, steps, pitches) row-major, index
// ((track * steps) + step) * pitches + pitch, any non-zero byte active (already thresholded: see
// checkpoint_sampler.h). Pitch row r is MIDI pitch lowest_pitch + r (LPD-5 samples: 24 + r, rows 0..71).
//
// Files of sample i (0-based) in `dir`:
//   sample-<i>.mid  type-1 SMF (core/midi/midi_writer.h): a tempo track at tempo_qpm and 4/4, then one named
//                   track per instrument with its General MIDI program; drums on channel 10. 480 ticks per
//                   quarter, so every step (a 16th note at 4 steps per beat) is 120 ticks.
//   sample-<i>.npz  pypianoroll >= 1.0 layout (NpzLayout::kV1): resolution = steps_per_beat (4, the sample's
//                   own grid; NOT upsampled to LPD's 24, so a cell is a 16th note), binary (|b1) rolls padded
//                   back to 128 pitch columns, constant tempo (T, 1) at tempo_qpm, downbeat (T, 1) true at
//                   every bar start, the song name "sample-<i>".
//   sample-<i>.png  the sample's pianoroll (core/render/pianoroll_png.h), bar and beat lines.
//   sample-<i>.wav  when write_wav and fluidsynth + a GM SoundFont are installed (core/render/wav.h).
//   overview.png    a grid of the first min(n, 16) samples, 4 per row.
// Programs. LPD-5's own programs by default (Drums 0, Piano 0, Guitar 24, Bass 32, Strings 48: what the
// model was trained on and what ReadMidiAsLpd5 maps back); the MuseGAN tutorial writes 25 and 33 for guitar
// and bass in its output MIDI (`tutti generate --programs 0,0,25,33,48`).
//
// Every file is written atomically (old content or complete new content). Same input, same bytes: nothing
// depends on the clock (the .npz members carry a fixed time stamp).
// Thread-safety: the functions share no state.

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/data/sample_shape.h"
#include "core/music/multitrack.h"
#include "core/render/pianoroll_png.h"

namespace tutti {

struct SampleFileOptions {
  // MIDI pitch of pitch row 0 (LPD-5 samples keep MIDI 24..95).
  int lowest_pitch = 24;
  // Steps per quarter note of the sample grid (the .npz resolution) and steps per bar (PNG bar lines,
  // .npz downbeats). Tutti's samples: 4 and 16.
  int steps_per_beat = 4;
  int steps_per_bar = 16;
  // Tempo written to the MIDI file and the .npz, quarter notes per minute.
  double tempo_qpm = 100;
  // One name and one General MIDI program (0..127) per track, and which track is drums (-1: none).
  // Defaults: LPD-5's five tracks (see the header comment on programs).
  std::vector<std::string> track_names = {"Drums", "Piano", "Guitar", "Bass", "Strings"};
  std::vector<int> programs = {0, 0, 24, 32, 48};
  int drum_track = 0;
  // Render sample-<i>.wav with fluidsynth. When fluidsynth or a SoundFont is missing the WAVs are skipped
  // (not an error) and SampleFilesReport::wav_skipped says why and how to install them.
  bool write_wav = true;
  // SoundFont for the WAVs; "" = the first of core/render/wav.h's DefaultSoundFontPaths() that exists.
  std::string soundfont;
  // Samples drawn in overview.png (the first ones).
  int overview_samples = 16;
  // File name stem: "<stem>-<i>.mid" etc.
  std::string stem = "sample";
};

// The Multitrack of one sample, as described above for the .npz (resolution steps_per_beat, binary rolls of
// `shape.steps` steps, 128 pitch columns, tempo and downbeat per step). InvalidArgument when the options do
// not fit the shape (names/programs per track, a pitch row beyond MIDI 127, steps not whole bars...).
StatusOr<Multitrack> SampleToMultitrack(const uint8_t* sample, const SampleShape& shape,
                                        const SampleFileOptions& options, const std::string& name);

struct WrittenSample {
  std::string midi, npz, png;
  std::string wav;                   // "" when not rendered
  std::vector<int64_t> track_notes;  // notes per track (runs of active steps on one pitch)
  int64_t notes() const;
};

struct SampleFilesReport {
  std::vector<WrittenSample> samples;
  std::string overview_png;
  // Non-empty when WAVs were asked for but not rendered: the reason and the install hint
  // ("... install them with scripts/install-deps.sh --with-audio").
  std::string wav_skipped;
  // Every file written, in order (per sample: mid, npz, png[, wav]; then overview.png).
  std::vector<std::string> Files() const;
};

// Writes the files listed in the header comment for `n` >= 1 samples into `dir` (created when missing;
// existing files of the same names are replaced). Errors name the file; files written before an error stay.
StatusOr<SampleFilesReport> WriteSampleFiles(const uint8_t* samples, int64_t n, const SampleShape& shape,
                                             const std::string& dir, const SampleFileOptions& options = {});

// Validates the per-track fields of `options` against `shape` (used by the functions above; exposed so a
// command can fail before expensive work).
Status ValidateSampleFileOptions(const SampleFileOptions& options, const SampleShape& shape);

}  // namespace tutti
