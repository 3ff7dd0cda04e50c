#pragma once
// MIDI -> WAV through the external `fluidsynth` program and a General MIDI SoundFont.
//
// Tutti does not link FluidSynth: the program is optional at run time. When it (or a SoundFont) is missing
// the functions return Unavailable with the command that installs both on Debian/Ubuntu:
//   apt-get install --no-install-recommends fluidsynth fluid-soundfont-gm
// The program runs without a shell (posix_spawn, argument vector), so paths need no quoting.
//
// Thread-safe: no shared state; each call spawns its own process and temporary file.

#include <string>
#include <vector>

#include "core/base/status.h"

namespace tutti {

// SoundFonts tried in order when none is given.
const std::vector<std::string>& DefaultSoundFontPaths();

// Absolute path of `program` on $PATH (or `program` itself when it contains a '/' and is executable).
// Unavailable when not found.
StatusOr<std::string> FindExecutableOnPath(const std::string& program);

// `requested` when non-empty (NotFound when that file does not exist); otherwise the first existing entry of
// DefaultSoundFontPaths(), or Unavailable with the install hint.
StatusOr<std::string> FindSoundFont(const std::string& requested);

// Renders `midi_path` to `wav_path` (16-bit stereo WAV at `sample_rate` Hz) with
//   fluidsynth -ni -q -T wav -F <temp> -r <sample_rate> <soundfont> <midi>
// The output is written to "<wav_path>.tmp-<pid>-<n>.wav" beside the target, checked to be a RIFF/WAVE
// file, fsynced and renamed over `wav_path` (then the directory is fsynced); the temporary is removed on
// failure, so `wav_path` is either untouched or complete.
// `soundfont` "" = search DefaultSoundFontPaths().
// Errors: Unavailable (fluidsynth or SoundFont missing, with the install hint), NotFound (the MIDI file or a
// named SoundFont), InvalidArgument (the file has no 'MThd' header, or sample_rate outside 8000..192000), Internal (fluidsynth failed or wrote no WAV; the message ends with its last output).
// Blocks until fluidsynth exits: a few hundred milliseconds for a 4-bar sample; there is no timeout.
Status RenderWavWithFluidSynth(const std::string& midi_path, const std::string& wav_path,
                               const std::string& soundfont, int sample_rate = 44100);

}  // namespace tutti
