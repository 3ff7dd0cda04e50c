#pragma once
// MIDI -> WAV, rendered in this process by libfluidsynth with a General MIDI SoundFont.
//
// FluidSynth (Debian libfluidsynth-dev) and a SoundFont (timgm6mb-soundfont) are required dependencies, both
// installed by scripts/install-deps.sh. Nothing is spawned and no audio device is opened: the MIDI player is
// clocked by the samples rendered ("player.timing-source" = "sample"), so a render runs as fast as the CPU
// allows (a 4-bar sample: tens of milliseconds) and gives the same bytes every time.
//
// What a render produces: the MIDI file from its first tick to its end (the last event of its longest track:
// Tutti's sample MIDI files end at the sample's length, trailing silence included) plus `tail_seconds` for
// releases and reverb; 16-bit PCM stereo at `sample_rate`. The end is found to within a few milliseconds
// (FluidSynth's MIDI player runs once per 64-frame block, on a millisecond clock).
// Level: FluidSynth's output times `gain`; when the result would go beyond full scale, the whole render is
// scaled down so that its peak is at full scale (never clipped, and the same MIDI always at the same level).
//
// SoundFonts are loaded once per process and kept (core/render/soundfont_cache.h): the first render with a
// SoundFont pays its load (~25 ms for TimGM6mb), later ones do not.
//
// Thread-safe: any number of threads may render at once, each with a synth of its own; the same MIDI bytes and
// options give byte-identical WAV bytes on every thread and every call.
// FluidSynth's warnings and debug output are dropped; its errors end up in the returned Status.

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/status.h"

namespace tutti {

// SoundFonts tried in order when none is given: TimGM6mb (6 MB, what scripts/install-deps.sh installs), the
// Debian default-GM alternative, then FluidR3_GM (141 MB, richer; Debian fluid-soundfont-gm) and the places
// other distributions use.
const std::vector<std::string>& DefaultSoundFontPaths();

// `requested` when non-empty, otherwise the first existing entry of DefaultSoundFontPaths(). NotFound naming
// the missing file (or every place looked at), with the install hint (scripts/install-deps.sh).
StatusOr<std::string> FindSoundFont(const std::string& requested);

struct WavOptions {
  // General MIDI SoundFont (.sf2); "" = the first of DefaultSoundFontPaths() that exists.
  std::string soundfont;
  // Frames per second, 8000..96000 (FluidSynth's range).
  int sample_rate = 44100;
  // Seconds kept after the MIDI's end, for the last notes' release and the reverb; 0..30.
  double tail_seconds = 1.0;
  // FluidSynth's synth.gain, 0..10. Its own default, 0.2, is quiet (a piano-and-bass file peaks near -22 dBFS);
  // 0.5 leaves room for five busy tracks, and the peak rule above keeps denser ones from clipping.
  double gain = 0.5;
  // Longest MIDI rendered, in seconds (a guard against a file that would fill memory: 10 minutes of 44.1 kHz
  // stereo is 106 MB of WAV). Longer files are InvalidArgument.
  double max_seconds = 600;
};

// The complete WAV file (RIFF/WAVE, PCM 16-bit stereo, a 44-byte header) for the Standard MIDI File in
// `midi_bytes`, rendered in memory. Errors: InvalidArgument for options out of range, bytes that are not a
// MIDI file (no 'MThd' header), a SoundFont that is not a SoundFont 2 file or a MIDI file longer than
// max_seconds; NotFound for a missing SoundFont (see FindSoundFont); Internal with FluidSynth's message when
// it fails (a damaged MIDI file, a damaged SoundFont). Messages name the SoundFont.
StatusOr<std::string> RenderMidiToWav(const std::string& midi_bytes, const WavOptions& options = {});

// Renders the MIDI file `midi_path` (RenderMidiToWav with the given SoundFont, "" = default, and sample rate)
// and writes the WAV to `wav_path` atomically (core/base/file_util.h WriteFileAtomically: `wav_path` is
// either untouched or complete). Errors as RenderMidiToWav, plus NotFound when the MIDI file does not exist
// and the file errors of the write; all name `midi_path`.
Status RenderWavWithFluidSynth(const std::string& midi_path, const std::string& wav_path,
                               const std::string& soundfont, int sample_rate = 44100);

// SoundFont files this process has loaded so far (every copy counts; see soundfont_cache.h). A render that
// finds its SoundFont already loaded and idle does not change it.
int64_t SoundFontLoadsSoFar();

}  // namespace tutti
