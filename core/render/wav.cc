#include "core/render/wav.h"

#include <fluidsynth.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_join.h"
#include "core/base/file_util.h"
#include "core/render/fluid_log.h"
#include "core/render/soundfont_cache.h"

namespace tutti {
namespace {

using render_internal::EnsureFluidSynthReady;
using render_internal::FluidErrorCapture;
using render_internal::SoundFontCache;

constexpr char kInstallHint[] =
    "scripts/install-deps.sh installs a General MIDI SoundFont (Debian package timgm6mb-soundfont)";
constexpr int kChannels = 2;
// FluidSynth renders in blocks of 64 frames (FLUID_BUFSIZE) and runs the MIDI player once per block; asking
// for one block at a time lets the loop look at the player between blocks.
constexpr int kBlockFrames = 64;
constexpr int kWavHeaderBytes = 44;

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Status CheckOptions(const WavOptions& o) {
  auto bad = [](const std::string& what) { return absl::InvalidArgumentError("WAV options: " + what); };
  if (o.sample_rate < 8000 || o.sample_rate > 96000) {
    return bad(absl::StrCat("sample_rate must be in [8000, 96000] Hz, got ", o.sample_rate));
  }
  if (!(o.tail_seconds >= 0 && o.tail_seconds <= 30)) {
    return bad(absl::StrCat("tail_seconds must be in [0, 30], got ", o.tail_seconds));
  }
  if (!(o.gain >= 0 && o.gain <= 10)) return bad(absl::StrCat("gain must be in [0, 10], got ", o.gain));
  // An hour of 96 kHz stereo is 1.4 GB, still inside the WAV format's 32-bit sizes.
  if (!(o.max_seconds > 0 && o.max_seconds <= 3600)) {
    return bad(absl::StrCat("max_seconds must be in (0, 3600], got ", o.max_seconds));
  }
  return absl::OkStatus();
}

// FluidSynth's own verdict on a non-MIDI file is a logged line; check the header ourselves so that the caller
// gets InvalidArgument and what the bytes looked like.
Status CheckMidiHeader(const std::string& midi) {
  if (midi.size() >= 14 && midi.compare(0, 4, "MThd") == 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("not a Standard MIDI File: no 'MThd' header (got ", midi.size(), " bytes starting \"",
                   absl::CHexEscape(midi.substr(0, 4)), "\")"));
}

// One render's FluidSynth objects: a fresh synth playing a borrowed SoundFont copy, and a MIDI player.
// Destroyed in the order FluidSynth needs: the player first (it is a callback of the synth's clock), then the
// SoundFont taken out of the synth (delete_fluid_synth would free it), then the synth and its settings.
class SynthSession {
 public:
  static StatusOr<std::unique_ptr<SynthSession>> Create(fluid_sfont_t* sfont, const WavOptions& options) {
    std::unique_ptr<SynthSession> s(new SynthSession());
    s->settings_ = new_fluid_settings();
    if (s->settings_ == nullptr) return absl::InternalError("FluidSynth: cannot create settings (out of memory?)");
    // The player follows the samples rendered, not the wall clock (the default starts a timer thread).
    fluid_settings_setstr(s->settings_, "player.timing-source", "sample");
    // The player would reset the synth when the file ends, cutting the reverb tail we keep.
    fluid_settings_setint(s->settings_, "player.reset-synth", 0);
    fluid_settings_setnum(s->settings_, "synth.sample-rate", options.sample_rate);
    fluid_settings_setnum(s->settings_, "synth.gain", options.gain);
    s->synth_ = new_fluid_synth(s->settings_);
    if (s->synth_ == nullptr) return absl::InternalError("FluidSynth: cannot create a synth");
    if (fluid_synth_add_sfont(s->synth_, sfont) == FLUID_FAILED) {
      return absl::InternalError("FluidSynth: cannot add the SoundFont to a new synth");
    }
    s->sfont_ = sfont;
    s->player_ = new_fluid_player(s->synth_);
    if (s->player_ == nullptr) return absl::InternalError("FluidSynth: cannot create a MIDI player");
    return s;
  }

  ~SynthSession() {
    if (player_ != nullptr) delete_fluid_player(player_);
    if (synth_ != nullptr && sfont_ != nullptr) {
      fluid_synth_all_sounds_off(synth_, -1);  // voices give their samples back before the copy leaves
      fluid_synth_remove_sfont(synth_, sfont_);
    }
    if (synth_ != nullptr) delete_fluid_synth(synth_);
    if (settings_ != nullptr) delete_fluid_settings(settings_);
  }

  fluid_synth_t* synth() const { return synth_; }
  fluid_player_t* player() const { return player_; }

 private:
  SynthSession() = default;
  fluid_settings_t* settings_ = nullptr;
  fluid_synth_t* synth_ = nullptr;
  fluid_sfont_t* sfont_ = nullptr;  // borrowed; in synth_'s list while non-null
  fluid_player_t* player_ = nullptr;
};

// True once the player has sent the file's last event, or has stopped (a file it could not load).
bool PlayerReachedEnd(fluid_player_t* player) {
  return fluid_player_get_status(player) != FLUID_PLAYER_PLAYING ||
         fluid_player_get_current_tick(player) >= fluid_player_get_total_ticks(player);
}

// Plays `midi` through the session and returns interleaved stereo floats: the file, then tail_seconds.
// FluidSynth's player would go on after the last event until every voice is silent plus a fixed 2 s; we stop
// at end + tail instead.
StatusOr<std::vector<float>> RenderFloat(SynthSession& session, const std::string& midi, const WavOptions& options) {
  if (fluid_player_add_mem(session.player(), midi.data(), midi.size()) != FLUID_OK ||
      fluid_player_play(session.player()) != FLUID_OK) {
    return absl::InternalError("FluidSynth: cannot start the MIDI player");
  }
  const int64_t tail_frames = std::llround(options.tail_seconds * options.sample_rate);
  const int64_t max_frames = std::llround(options.max_seconds * options.sample_rate);
  std::vector<float> audio;
  int64_t frames = 0, end_frame = -1;
  for (;;) {
    // The player runs at the start of each block, so what it says now describes the start of the block just
    // rendered (it loads the file during the first block, so it can only be asked after that one).
    if (end_frame < 0 && frames > 0 && PlayerReachedEnd(session.player())) end_frame = frames - kBlockFrames;
    if (end_frame >= 0 && frames >= end_frame + tail_frames) break;
    if (end_frame < 0 && frames >= max_frames) {
      return absl::InvalidArgumentError(absl::StrCat("the MIDI file plays longer than max_seconds (",
                                                     options.max_seconds, " s)"));
    }
    audio.resize(static_cast<size_t>((frames + kBlockFrames) * kChannels));
    float* block = audio.data() + frames * kChannels;
    if (fluid_synth_write_float(session.synth(), kBlockFrames, block, 0, kChannels, block, 1, kChannels) !=
        FLUID_OK) {
      return absl::InternalError("FluidSynth: rendering a block failed");
    }
    frames += kBlockFrames;
  }
  audio.resize(static_cast<size_t>((end_frame + tail_frames) * kChannels));
  return audio;
}

// Floats in [-1, 1] to 16-bit PCM. A render that goes beyond full scale is scaled down as a whole (see wav.h).
std::vector<int16_t> ToPcm16(const std::vector<float>& audio) {
  float peak = 0;
  for (float x : audio) peak = std::max(peak, std::fabs(x));
  const float scale = (peak > 1.0f ? 1.0f / peak : 1.0f) * 32767.0f;
  std::vector<int16_t> pcm(audio.size());
  for (size_t i = 0; i < audio.size(); ++i) {
    pcm[i] = static_cast<int16_t>(std::clamp<long>(std::lrint(audio[i] * scale), -32768, 32767));
  }
  return pcm;
}

void AppendLittleEndian(uint32_t value, int bytes, std::string* out) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

// The canonical 44-byte RIFF/WAVE header (one 'fmt ' chunk for PCM, then 'data'), then the samples.
std::string EncodePcm16Wav(const std::vector<int16_t>& pcm, int sample_rate) {
  const uint32_t data_bytes = static_cast<uint32_t>(pcm.size() * sizeof(int16_t));
  const uint32_t block_align = kChannels * sizeof(int16_t);
  std::string wav;
  wav.reserve(kWavHeaderBytes + data_bytes);
  wav += "RIFF";
  AppendLittleEndian(kWavHeaderBytes - 8 + data_bytes, 4, &wav);
  wav += "WAVEfmt ";
  AppendLittleEndian(16, 4, &wav);  // fmt chunk size
  AppendLittleEndian(1, 2, &wav);   // PCM
  AppendLittleEndian(kChannels, 2, &wav);
  AppendLittleEndian(static_cast<uint32_t>(sample_rate), 4, &wav);
  AppendLittleEndian(static_cast<uint32_t>(sample_rate) * block_align, 4, &wav);  // bytes per second
  AppendLittleEndian(block_align, 2, &wav);
  AppendLittleEndian(16, 2, &wav);  // bits per sample
  wav += "data";
  AppendLittleEndian(data_bytes, 4, &wav);
  for (int16_t s : pcm) AppendLittleEndian(static_cast<uint16_t>(s), 2, &wav);
  return wav;
}

}  // namespace

const std::vector<std::string>& DefaultSoundFontPaths() {
  static const std::vector<std::string> kPaths = {
      "/usr/share/sounds/sf2/TimGM6mb.sf2",    // Debian/Ubuntu timgm6mb-soundfont (scripts/install-deps.sh)
      "/usr/share/sounds/sf2/default-GM.sf2",  // Debian alternatives link to whichever GM SoundFont is installed
      "/usr/share/sounds/sf2/FluidR3_GM.sf2",  // Debian/Ubuntu fluid-soundfont-gm
      "/usr/share/soundfonts/default.sf2",     // Fedora, Arch
      "/usr/share/soundfonts/FluidR3_GM.sf2",
  };
  return kPaths;
}

StatusOr<std::string> FindSoundFont(const std::string& requested) {
  if (!requested.empty()) {
    if (IsRegularFile(requested)) return requested;
    return absl::NotFoundError(absl::StrCat("SoundFont ", requested, " does not exist; ", kInstallHint));
  }
  for (const std::string& path : DefaultSoundFontPaths()) {
    if (IsRegularFile(path)) return path;
  }
  return absl::NotFoundError(absl::StrCat("no General MIDI SoundFont found (looked for ",
                                          absl::StrJoin(DefaultSoundFontPaths(), ", "), "); ", kInstallHint));
}

StatusOr<std::string> RenderMidiToWav(const std::string& midi_bytes, const WavOptions& options) {
  TUTTI_RETURN_IF_ERROR(CheckOptions(options));
  TUTTI_RETURN_IF_ERROR(CheckMidiHeader(midi_bytes));
  TUTTI_ASSIGN_OR_RETURN(const std::string soundfont, FindSoundFont(options.soundfont));
  auto context = [&](const Status& s) {
    return Annotate(s, absl::StrCat("rendering MIDI with SoundFont ", soundfont));
  };
  EnsureFluidSynthReady();

  StatusOr<SoundFontCache::Lease> font = SoundFontCache::Global().Borrow(soundfont);
  if (!font.ok()) return font.status();  // already names the SoundFont
  FluidErrorCapture errors;
  StatusOr<std::vector<float>> audio;
  {
    StatusOr<std::unique_ptr<SynthSession>> session = SynthSession::Create(font->get(), options);
    if (!session.ok()) return context(session.status());
    audio = RenderFloat(**session, midi_bytes, options);
  }  // the session gives the SoundFont copy back to the synth before the lease gives it back to the cache
  if (!audio.ok()) return context(audio.status());
  if (!errors.errors().empty()) return context(absl::InternalError("FluidSynth: " + errors.errors()));
  return EncodePcm16Wav(ToPcm16(*audio), options.sample_rate);
}

Status RenderWavWithFluidSynth(const std::string& midi_path, const std::string& wav_path,
                               const std::string& soundfont, int sample_rate) {
  auto context = [&](const Status& s) { return Annotate(s, absl::StrCat("rendering ", midi_path, " to WAV")); };
  if (!IsRegularFile(midi_path)) {
    return context(absl::NotFoundError(absl::StrCat("MIDI file ", midi_path, " does not exist")));
  }
  StatusOr<std::string> midi = ReadFileToString(midi_path);
  if (!midi.ok()) return context(midi.status());
  WavOptions options;
  options.soundfont = soundfont;
  options.sample_rate = sample_rate;
  StatusOr<std::string> wav = RenderMidiToWav(*midi, options);
  if (!wav.ok()) return context(wav.status());
  return WriteFileAtomically(wav_path, *wav);  // its errors name wav_path
}

int64_t SoundFontLoadsSoFar() { return SoundFontCache::Global().loads(); }

}  // namespace tutti
