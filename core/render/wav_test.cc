#include "core/render/wav.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/base/file_util.h"
#include "core/midi/midi_writer.h"
#include "core/music/multitrack.h"

namespace tutti {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The sample below: 4 bars of 16 steps at 4 steps per beat and 100 qpm, so 16 beats of 0.6 s.
constexpr double kTempoQpm = 100;
constexpr double kMidiSeconds = 16 * 60.0 / kTempoQpm;  // 9.6 s, the last (silent) bar included
constexpr double kLastNoteOffSeconds = 12 * 60.0 / kTempoQpm;  // notes stop after bar 3

// How closely a render finds the MIDI's end (wav.h): one 64-frame block plus the MIDI player's millisecond
// clock and its rounding to whole ticks.
constexpr double kEndTolerance(int sample_rate) { return 64.0 / sample_rate + 2e-3; }

std::string TempDir() {
  std::string dir = testing::TempDir() + "tutti_render_wav_" + std::to_string(::getpid());
  EXPECT_TRUE(CreateDirectories(dir).ok());
  return dir;
}

// A Tutti-like 4-bar sample written by core/midi: drums, piano chords, bass in the first three bars, the fourth
// bar silent (the file still lasts four bars, as sample MIDI files do).
std::string FourBarMidi() {
  Multitrack song;
  song.resolution = 4;
  SparsePianorollBuilder drums, piano, bass;
  for (int bar = 0; bar < 3; ++bar) {
    const int start = bar * 16;
    for (int beat = 0; beat < 4; ++beat) drums.AddNote(beat % 2 == 0 ? 36 : 38, start + beat * 4, start + beat * 4 + 1);
    for (int pitch : {60, 64, 67}) piano.AddNote(pitch + bar, start, start + 16);
    bass.AddNote(36 + bar, start, start + 8);
    bass.AddNote(43 + bar, start + 8, start + 16);
  }
  song.tracks.push_back({"Drums", 0, true, drums.Build(64, true)});
  song.tracks.push_back({"Piano", 0, false, piano.Build(64, true)});
  song.tracks.push_back({"Bass", 32, false, bass.Build(64, true)});
  MidiExportOptions options;
  options.tempo_qpm = kTempoQpm;
  StatusOr<SmfFile> smf = MultitrackToSmf(song, options);
  EXPECT_TRUE(smf.ok()) << smf.status();
  StatusOr<std::string> bytes = EncodeSmf(*smf);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return *bytes;
}

uint32_t Le32(const std::string& s, size_t at) {
  const auto* b = reinterpret_cast<const unsigned char*>(s.data() + at);
  return uint32_t{b[0]} | (uint32_t{b[1]} << 8) | (uint32_t{b[2]} << 16) | (uint32_t{b[3]} << 24);
}
uint16_t Le16(const std::string& s, size_t at) {
  const auto* b = reinterpret_cast<const unsigned char*>(s.data() + at);
  return static_cast<uint16_t>(b[0] | (b[1] << 8));
}

// The 16-bit samples after the 44-byte header, interleaved left/right.
std::vector<int16_t> Samples(const std::string& wav) {
  std::vector<int16_t> out((wav.size() - 44) / 2);
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int16_t>(Le16(wav, 44 + 2 * i));
  return out;
}

// RMS of both channels over [from_s, to_s).
double Rms(const std::vector<int16_t>& samples, int rate, double from_s, double to_s) {
  const size_t begin = static_cast<size_t>(from_s * rate) * 2;
  const size_t end = std::min(samples.size(), static_cast<size_t>(to_s * rate) * 2);
  double sum = 0;
  for (size_t i = begin; i < end; ++i) sum += static_cast<double>(samples[i]) * samples[i];
  return end > begin ? std::sqrt(sum / static_cast<double>(end - begin)) : 0;
}

double Milliseconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}

TEST(WavTest, RendersAFourBarSampleInMemory) {
  const std::string midi = FourBarMidi();
  auto start = std::chrono::steady_clock::now();
  StatusOr<std::string> wav = RenderMidiToWav(midi);
  const double first_ms = Milliseconds(start);
  ASSERT_TRUE(wav.ok()) << wav.status();
  start = std::chrono::steady_clock::now();
  ASSERT_TRUE(RenderMidiToWav(midi).ok());
  const double second_ms = Milliseconds(start);
  // Figures for the record only (no timing assertions in unit tests).
  std::cout << "4-bar sample (" << kMidiSeconds << " s of MIDI): first render " << first_ms
            << " ms (includes loading the SoundFont when this process has not yet), second " << second_ms
            << " ms, " << wav->size() << " WAV bytes\n";

  // Header: RIFF <size> WAVE, 'fmt ' 16: PCM, 2 channels, 44100 Hz, 176400 bytes/s, align 4, 16 bits; 'data'.
  ASSERT_GT(wav->size(), 44u);
  EXPECT_EQ(wav->compare(0, 4, "RIFF"), 0);
  EXPECT_EQ(Le32(*wav, 4), wav->size() - 8);
  EXPECT_EQ(wav->compare(8, 8, "WAVEfmt "), 0);
  EXPECT_EQ(Le32(*wav, 16), 16u);
  EXPECT_EQ(Le16(*wav, 20), 1);
  EXPECT_EQ(Le16(*wav, 22), 2);
  EXPECT_EQ(Le32(*wav, 24), 44100u);
  EXPECT_EQ(Le32(*wav, 28), 44100u * 4);
  EXPECT_EQ(Le16(*wav, 32), 4);
  EXPECT_EQ(Le16(*wav, 34), 16);
  EXPECT_EQ(wav->compare(36, 4, "data"), 0);
  EXPECT_EQ(Le32(*wav, 40), wav->size() - 44);

  // Length: the MIDI file (its silent last bar included) plus the 1 s tail, to within a few milliseconds.
  const std::vector<int16_t> samples = Samples(*wav);
  const double seconds = static_cast<double>(samples.size() / 2) / 44100;
  EXPECT_NEAR(seconds, kMidiSeconds + 1.0, kEndTolerance(44100));

  // Audible while the notes play, near silence at the very end (more than 2 s after the last note-off).
  const double notes_rms = Rms(samples, 44100, 0, kLastNoteOffSeconds);
  const double end_rms = Rms(samples, 44100, seconds - 0.05, seconds);
  std::cout << "RMS while notes play " << notes_rms << ", over the last 50 ms " << end_rms << " (of 32767)\n";
  EXPECT_GT(notes_rms, 300);
  EXPECT_LT(end_rms, notes_rms / 100);
}

TEST(WavTest, SameBytesEveryTimeAndOnEveryThread) {
  const std::string midi = FourBarMidi();
  StatusOr<std::string> reference = RenderMidiToWav(midi);
  ASSERT_TRUE(reference.ok()) << reference.status();
  StatusOr<std::string> again = RenderMidiToWav(midi);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(*again == *reference) << "two renders of the same MIDI differ";

  constexpr int kThreads = 4, kRendersPerThread = 2;
  std::vector<std::vector<std::string>> results(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRendersPerThread; ++i) {
        StatusOr<std::string> wav = RenderMidiToWav(midi);
        if (!wav.ok()) {
          errors[t] = wav.status().ToString();
          return;
        }
        results[t].push_back(*std::move(wav));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(errors[t], "") << "thread " << t;
    for (const std::string& wav : results[t]) EXPECT_TRUE(wav == *reference) << "thread " << t << " differs";
  }
}

TEST(WavTest, LoadsTheSoundFontOnceForSuccessiveRenders) {
  const std::string midi = FourBarMidi();
  ASSERT_TRUE(RenderMidiToWav(midi).ok());
  const int64_t loads = SoundFontLoadsSoFar();
  EXPECT_GE(loads, 1);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(RenderMidiToWav(midi).ok());
  EXPECT_EQ(SoundFontLoadsSoFar(), loads);
}

TEST(WavTest, OptionsChangeTheOutput) {
  const std::string midi = FourBarMidi();
  WavOptions options;
  options.sample_rate = 22050;
  options.tail_seconds = 0.25;
  StatusOr<std::string> wav = RenderMidiToWav(midi, options);
  ASSERT_TRUE(wav.ok()) << wav.status();
  EXPECT_EQ(Le32(*wav, 24), 22050u);
  EXPECT_NEAR(static_cast<double>((wav->size() - 44) / 4) / 22050, kMidiSeconds + 0.25, kEndTolerance(22050));

  // A loud render is scaled down as a whole instead of clipping: its peak is exactly full scale.
  options = {};
  options.gain = 10;
  wav = RenderMidiToWav(midi, options);
  ASSERT_TRUE(wav.ok()) << wav.status();
  int peak = 0, at_full_scale = 0;
  for (int16_t s : Samples(*wav)) {
    peak = std::max(peak, std::abs(int{s}));
    at_full_scale += std::abs(int{s}) >= 32767 ? 1 : 0;
  }
  EXPECT_EQ(peak, 32767);
  EXPECT_LE(at_full_scale, 2);  // the peak itself (maybe on both channels), not a clipped plateau
}

TEST(WavTest, RejectsBytesThatAreNotMidi) {
  StatusOr<std::string> wav = RenderMidiToWav("this is not MIDI");
  EXPECT_EQ(wav.status().code(), absl::StatusCode::kInvalidArgument) << wav.status();
  EXPECT_THAT(std::string(wav.status().message()), HasSubstr("no 'MThd' header"));
  EXPECT_EQ(RenderMidiToWav("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(WavTest, DamagedMidiIsInternalWithFluidSynthsMessage) {
  const std::string midi = FourBarMidi();
  StatusOr<std::string> wav = RenderMidiToWav(midi.substr(0, 30));  // header, then a cut-off track chunk
  EXPECT_EQ(wav.status().code(), absl::StatusCode::kInternal) << wav.status();
  EXPECT_THAT(std::string(wav.status().message()), HasSubstr("FluidSynth: "));
  EXPECT_THAT(std::string(wav.status().message()), HasSubstr("TimGM6mb.sf2"));  // which SoundFont
}

TEST(WavTest, MissingOrWrongSoundFontIsNamed) {
  const std::string midi = FourBarMidi();
  WavOptions options;
  options.soundfont = "/nonexistent/x.sf2";
  StatusOr<std::string> wav = RenderMidiToWav(midi, options);
  EXPECT_EQ(wav.status().code(), absl::StatusCode::kNotFound) << wav.status();
  EXPECT_THAT(std::string(wav.status().message()), HasSubstr("/nonexistent/x.sf2"));

  const std::string not_sf2 = TempDir() + "/not-a-soundfont.sf2";
  ASSERT_TRUE(WriteFileAtomically(not_sf2, "RIFF\x04\x00\x00\x00WAVE").ok());
  options.soundfont = not_sf2;
  wav = RenderMidiToWav(midi, options);
  EXPECT_EQ(wav.status().code(), absl::StatusCode::kInvalidArgument) << wav.status();
  EXPECT_THAT(std::string(wav.status().message()), HasSubstr(not_sf2));
  EXPECT_THAT(std::string(wav.status().message()), HasSubstr("sfbk"));

  EXPECT_EQ(FindSoundFont("/nonexistent/x.sf2").status().code(), absl::StatusCode::kNotFound);
  StatusOr<std::string> found = FindSoundFont("");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, DefaultSoundFontPaths().front());  // TimGM6mb, what scripts/install-deps.sh installs
}

TEST(WavTest, RejectsOptionsOutOfRange) {
  const std::string midi = FourBarMidi();
  for (auto change : std::vector<void (*)(WavOptions*)>{
           [](WavOptions* o) { o->sample_rate = 4000; }, [](WavOptions* o) { o->sample_rate = 192000; },
           [](WavOptions* o) { o->tail_seconds = -1; }, [](WavOptions* o) { o->gain = 11; },
           [](WavOptions* o) { o->max_seconds = 0; }}) {
    WavOptions options;
    change(&options);
    EXPECT_EQ(RenderMidiToWav(midi, options).status().code(), absl::StatusCode::kInvalidArgument);
  }
  WavOptions too_short;
  too_short.max_seconds = 2;
  StatusOr<std::string> wav = RenderMidiToWav(midi, too_short);
  EXPECT_EQ(wav.status().code(), absl::StatusCode::kInvalidArgument) << wav.status();
  EXPECT_THAT(std::string(wav.status().message()), HasSubstr("max_seconds"));
}

TEST(WavTest, RenderWavWithFluidSynthWritesTheFileAtomically) {
  const std::string dir = TempDir();
  const std::string midi = dir + "/four.mid", wav = dir + "/four.wav";
  ASSERT_TRUE(WriteFileAtomically(midi, FourBarMidi()).ok());
  ASSERT_TRUE(WriteFileAtomically(wav, "old content").ok());  // replaced as a whole
  const Status s = RenderWavWithFluidSynth(midi, wav, "", 22050);
  ASSERT_TRUE(s.ok()) << s;
  StatusOr<std::string> data = ReadFileToString(wav);
  ASSERT_TRUE(data.ok()) << data.status();
  WavOptions options;
  options.sample_rate = 22050;
  EXPECT_TRUE(*data == *RenderMidiToWav(FourBarMidi(), options)) << "the file differs from the in-memory render";

  // A missing MIDI file is NotFound and leaves the WAV alone; a broken one too, and leaves no temporary.
  EXPECT_EQ(RenderWavWithFluidSynth(dir + "/missing.mid", wav, "").code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(WriteFileAtomically(dir + "/broken.mid", "this is not MIDI").ok());
  const Status broken = RenderWavWithFluidSynth(dir + "/broken.mid", dir + "/broken.wav", "");
  EXPECT_EQ(broken.code(), absl::StatusCode::kInvalidArgument) << broken;
  EXPECT_THAT(std::string(broken.message()), HasSubstr(dir + "/broken.mid"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/broken.wav"));
  EXPECT_EQ(ReadFileToString(wav)->size(), data->size());
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    EXPECT_THAT(entry.path().filename().string(), Not(HasSubstr(".tmp-")));
  }
}

}  // namespace
}  // namespace tutti
