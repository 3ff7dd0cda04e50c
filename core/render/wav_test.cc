#include "core/render/wav.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/base/file_util.h"

namespace tutti {
namespace {

using ::testing::HasSubstr;

std::string TempDir() {
  std::string dir = testing::TempDir() + "tutti_render_wav_" + std::to_string(::getpid());
  EXPECT_TRUE(CreateDirectories(dir).ok());
  return dir;
}

// A format-0 Standard MIDI File, 96 ticks per quarter: tempo 120 bpm, piano, C4 for one quarter note.
std::string TinyMidi() {
  const unsigned char bytes[] = {
      'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0, 96,  // header: format 0, 1 track, 96 ticks/quarter
      'M', 'T', 'r', 'k', 0, 0, 0, 22,                    // track chunk of 22 bytes
      0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20,           // tempo 500000 us per quarter
      0x00, 0xC0, 0x00,                                   // program change: channel 0, piano
      0x00, 0x90, 0x3C, 0x64,                             // note on C4, velocity 100
      0x60, 0x80, 0x3C, 0x40,                             // 96 ticks later: note off
      0x00, 0xFF, 0x2F, 0x00,                             // end of track
  };
  return std::string(reinterpret_cast<const char*>(bytes), sizeof(bytes));
}

// Restores an environment variable when it goes out of scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    had_ = old != nullptr;
    if (had_) old_ = old;
    ::setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (had_) {
      ::setenv(name_, old_.c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  bool had_ = false;
  std::string old_;
};

TEST(WavTest, MissingFluidSynthIsUnavailableWithInstallHint) {
  const std::string dir = TempDir();
  ASSERT_TRUE(WriteFileAtomically(dir + "/a.mid", TinyMidi()).ok());
  ScopedEnv path("PATH", "/nonexistent-tutti-bin");
  const Status s = RenderWavWithFluidSynth(dir + "/a.mid", dir + "/a.wav", "");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("apt-get install --no-install-recommends fluidsynth"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/a.wav"));
}

TEST(WavTest, FindExecutableOnPath) {
  ScopedEnv path("PATH", "/nonexistent-tutti-bin:/bin:/usr/bin");
  StatusOr<std::string> sh = FindExecutableOnPath("sh");
  ASSERT_TRUE(sh.ok()) << sh.status();
  EXPECT_THAT(*sh, HasSubstr("/sh"));
  EXPECT_EQ(FindExecutableOnPath("tutti-no-such-program").status().code(), absl::StatusCode::kUnavailable);
}

TEST(WavTest, NamedSoundFontMustExist) {
  EXPECT_EQ(FindSoundFont("/nonexistent/x.sf2").status().code(), absl::StatusCode::kNotFound);
}

TEST(WavTest, RendersATinyMidiFileToWav) {
  if (!FindExecutableOnPath("fluidsynth").ok()) {
    GTEST_SKIP() << "fluidsynth is not on PATH; install with: apt-get install --no-install-recommends "
                    "fluidsynth fluid-soundfont-gm";
  }
  StatusOr<std::string> sf2 = FindSoundFont("");
  if (!sf2.ok()) GTEST_SKIP() << "no SoundFont: " << sf2.status();

  const std::string dir = TempDir();
  const std::string midi = dir + "/tiny.mid", wav = dir + "/tiny.wav";
  ASSERT_TRUE(WriteFileAtomically(midi, TinyMidi()).ok());
  ASSERT_TRUE(WriteFileAtomically(wav, "old content").ok());  // replaced as a whole
  const Status s = RenderWavWithFluidSynth(midi, wav, "", 22050);
  ASSERT_TRUE(s.ok()) << s;
  StatusOr<std::string> data = ReadFileToString(wav);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_GT(data->size(), 44u);
  EXPECT_EQ(data->compare(0, 4, "RIFF"), 0);
  EXPECT_EQ(data->compare(8, 4, "WAVE"), 0);
  EXPECT_EQ(data->compare(12, 4, "fmt "), 0);
  const auto* b = reinterpret_cast<const unsigned char*>(data->data());
  EXPECT_EQ(b[24] | (b[25] << 8) | (b[26] << 16) | (b[27] << 24), 22050);  // sample rate field
  // No temporary left behind.
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    EXPECT_THAT(entry.path().filename().string(), ::testing::Not(HasSubstr(".tmp-")));
  }
  // A missing MIDI file is NotFound and leaves the WAV alone.
  EXPECT_EQ(RenderWavWithFluidSynth(dir + "/missing.mid", wav, "").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadFileToString(wav)->size(), data->size());
}

TEST(WavTest, BrokenMidiFileIsAnErrorAndLeavesNoFile) {
  if (!FindExecutableOnPath("fluidsynth").ok() || !FindSoundFont("").ok()) {
    GTEST_SKIP() << "fluidsynth or a SoundFont is missing (the check comes after the tool look-up); install "
                    "with: apt-get install --no-install-recommends fluidsynth fluid-soundfont-gm";
  }
  const std::string dir = TempDir();
  ASSERT_TRUE(WriteFileAtomically(dir + "/broken.mid", "this is not MIDI").ok());
  const Status s = RenderWavWithFluidSynth(dir + "/broken.mid", dir + "/broken.wav", "");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("MThd"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/broken.wav"));
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    EXPECT_THAT(entry.path().filename().string(), ::testing::Not(HasSubstr(".tmp-")));
  }
}

}  // namespace
}  // namespace tutti
