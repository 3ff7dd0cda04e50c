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
//   sample-<i>.png  the sample's pianoroll (core/render/pianoroll_png.h): bar and beat lines, labelled with the
//                   track names, bar numbers and a pitch axis from lowest_pitch.
//   sample-<i>.wav  when write_wav: the MIDI file rendered in this process by FluidSynth with a General MIDI
//                   SoundFont (core/render/wav.h): 16-bit stereo, 44.1 kHz, the sample plus a 1 s tail.
//   overview.png    a grid of the first min(n, overview_samples) samples, 4 per row, labelled like the rest.
// Programs. LPD-5's own programs by default (Drums 0, Piano 0, Guitar 24, Bass 32, Strings 48: what the
// model was trained on and what ReadMidiAsLpd5 maps back); the MuseGAN tutorial writes 25 and 33 for guitar
// and bass in its output MIDI (`tutti generate --programs 0,0,25,33,48`).
//
// Every file is written atomically (old content or complete new content). Same input, same bytes: nothing
// depends on the clock (the .npz members carry a fixed time stamp) and WAV rendering is deterministic.
// EncodeSampleFiles gives the same files as bytes, for callers that send them elsewhere.
// Thread-safety: any number of threads may call these at once (WAV rendering shares only the loaded
// SoundFonts, see core/render/wav.h).

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/data/sample_shape.h"
#include "core/music/multitrack.h"
#include "core/music/track_set.h"
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
  // Render sample-<i>.wav (in process, core/render/wav.h; tens of milliseconds per 4-bar sample). A missing
  // SoundFont is an error naming it and scripts/install-deps.sh, not a silent skip.
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
  // Every file written, in order (per sample: mid, npz, png[, wav]; then overview.png).
  std::vector<std::string> Files() const;
};

// Writes the files listed in the header comment for `n` >= 1 samples into `dir` (created when missing;
// existing files of the same names are replaced): EncodeSampleFiles (every format; WAV when write_wav), then
// each file written atomically. Errors name the file; nothing is written when encoding fails, and files
// written before a write error stay.
StatusOr<SampleFilesReport> WriteSampleFiles(const uint8_t* samples, int64_t n, const SampleShape& shape,
                                             const std::string& dir, const SampleFileOptions& options = {});

// One file of EncodeSampleFiles: its name (no directory) and its complete contents.
struct EncodedSampleFile {
  std::string name;
  std::string bytes;
};

// Which files EncodeSampleFiles makes.
struct SampleFormats {
  bool midi = true, npz = true, png = true, wav = false;
  bool overview = true;  // overview.png, made only together with png
};

// The same files WriteSampleFiles writes, as bytes, nothing on disk: per sample i (0-based, first_index + i
// in names) "sample-<k>.mid", ".npz", ".png", ".wav" (those in `formats`), then "overview.png" when
// formats.png && formats.overview. Same input, same bytes as the files WriteSampleFiles writes.
// ("sample" is options.stem; the .npz song name is "<stem>-<k>" too; `options.write_wav` is not read:
// formats.wav decides.) The overview shows the first min(n, overview_samples) of these samples.
// Errors: InvalidArgument for n < 1, a null pointer, first_index < 0 or options that do not fit the shape;
// the encoders' errors prefixed with the file's name (a missing SoundFont names it and scripts/install-deps.sh).
StatusOr<std::vector<EncodedSampleFile>> EncodeSampleFiles(const uint8_t* samples, int64_t n,
                                                           const SampleShape& shape, const SampleFormats& formats,
                                                           const SampleFileOptions& options = {},
                                                           int64_t first_index = 0);

// `options` with the names, programs and drum track of `set` (a pack's or a checkpoint's track set).
SampleFileOptions WithTrackSet(SampleFileOptions options, const TrackSet& set);

// Validates the per-track fields of `options` against `shape` (used by the functions above; exposed so a
// command can fail before expensive work).
Status ValidateSampleFileOptions(const SampleFileOptions& options, const SampleShape& shape);

}  // namespace tutti
