#include "core/sample/sample_writer.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include "core/base/file_util.h"
#include "core/midi/midi_writer.h"
#include "core/npz/pianoroll_npz.h"
#include "core/render/wav.h"

namespace tutti {
namespace {

std::string ShapeText(const SampleShape& shape) { return shape.ToString(); }

PngOptions PngOptionsFor(const SampleFileOptions& options) {
  PngOptions png;
  png.steps_per_bar = options.steps_per_bar;
  png.steps_per_beat = options.steps_per_beat;
  png.lowest_pitch = options.lowest_pitch;
  return png;
}

}  // namespace

int64_t WrittenSample::notes() const {
  int64_t total = 0;
  for (int64_t n : track_notes) total += n;
  return total;
}

std::vector<std::string> SampleFilesReport::Files() const {
  std::vector<std::string> files;
  for (const WrittenSample& s : samples) {
    files.insert(files.end(), {s.midi, s.npz, s.png});
    if (!s.wav.empty()) files.push_back(s.wav);
  }
  if (!overview_png.empty()) files.push_back(overview_png);
  return files;
}

Status ValidateSampleFileOptions(const SampleFileOptions& options, const SampleShape& shape) {
  TUTTI_RETURN_IF_ERROR(ValidateShape(shape));
  const size_t tracks = static_cast<size_t>(shape.tracks);
  if (options.track_names.size() != tracks) {
    return absl::InvalidArgumentError(absl::StrCat("sample files: expected ", tracks, " track names for shape ",
                                                   ShapeText(shape), ", got ", options.track_names.size()));
  }
  if (options.programs.size() != tracks) {
    return absl::InvalidArgumentError(absl::StrCat("sample files: expected ", tracks, " programs for shape ",
                                                   ShapeText(shape), ", got ", options.programs.size()));
  }
  for (int p : options.programs) {
    if (p < 0 || p > 127) {
      return absl::InvalidArgumentError(absl::StrCat("sample files: expected programs in 0..127, got ", p));
    }
  }
  if (options.drum_track < -1 || options.drum_track >= shape.tracks) {
    return absl::InvalidArgumentError(absl::StrCat("sample files: expected drum_track in -1..", shape.tracks - 1,
                                                   ", got ", options.drum_track));
  }
  if (options.lowest_pitch < 0 || options.lowest_pitch + shape.pitches > kMidiPitches) {
    return absl::InvalidArgumentError(absl::StrCat("sample files: pitch rows ", options.lowest_pitch, "..",
                                                   options.lowest_pitch + shape.pitches - 1,
                                                   " do not fit MIDI 0..127"));
  }
  if (options.steps_per_beat < 1 || options.steps_per_bar < 1 || options.steps_per_bar % options.steps_per_beat != 0 ||
      shape.steps % options.steps_per_bar != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sample files: expected steps_per_beat dividing steps_per_bar dividing the sample's ", shape.steps,
        " steps, got ", options.steps_per_beat, " and ", options.steps_per_bar));
  }
  if (!(options.tempo_qpm >= 4 && options.tempo_qpm <= 1000)) {
    return absl::InvalidArgumentError(
        absl::StrCat("sample files: expected a tempo in 4..1000 qpm, got ", options.tempo_qpm));
  }
  return absl::OkStatus();
}

StatusOr<Multitrack> SampleToMultitrack(const uint8_t* sample, const SampleShape& shape,
                                        const SampleFileOptions& options, const std::string& name) {
  TUTTI_RETURN_IF_ERROR(ValidateSampleFileOptions(options, shape));
  if (sample == nullptr) return absl::InvalidArgumentError("sample files: null sample");
  Multitrack song;
  song.name = name;
  song.resolution = options.steps_per_beat;
  song.tempo.assign(static_cast<size_t>(shape.steps), options.tempo_qpm);
  song.downbeat.assign(static_cast<size_t>(shape.steps), 0);
  for (int32_t s = 0; s < shape.steps; s += options.steps_per_bar) song.downbeat[static_cast<size_t>(s)] = 1;
  for (int32_t t = 0; t < shape.tracks; ++t) {
    SparsePianorollBuilder builder;
    for (int32_t s = 0; s < shape.steps; ++s) {
      const uint8_t* row = sample + shape.CellIndex(t, s, 0);
      for (int32_t p = 0; p < shape.pitches; ++p) {
        if (row[p] != 0) builder.Set(s, options.lowest_pitch + p, 1);
      }
    }
    Track track;
    track.name = options.track_names[static_cast<size_t>(t)];
    track.program = options.programs[static_cast<size_t>(t)];
    track.is_drum = t == options.drum_track;
    // Every track spans the whole sample (also an empty one), so trailing silence survives in MIDI and .npz.
    track.pianoroll = builder.Build(shape.steps, /*binary=*/true);
    song.tracks.push_back(std::move(track));
  }
  return song;
}

namespace {

// One sample's files, plus what the report says about it.
struct EncodedSample {
  std::vector<EncodedSampleFile> files;  // in the documented order
  std::vector<int64_t> track_notes;
};

// The encoders' errors get the file's name in front, as the disk writers' errors get its path.
Status NameTheFile(const Status& status, const std::string& name) { return Annotate(status, name); }

MidiExportOptions MidiOptionsFor(const SampleFileOptions& options) {
  MidiExportOptions midi;
  midi.tempo_qpm = options.tempo_qpm;
  midi.ticks_per_quarter = 120 * options.steps_per_beat;  // 480 at 4 steps per beat: whole ticks per step
  return midi;
}

StatusOr<EncodedSample> EncodeOneSample(const uint8_t* sample, const SampleShape& shape, const SampleFormats& formats,
                                        const SampleFileOptions& options, int64_t index) {
  const std::string stem = absl::StrCat(options.stem, "-", index);
  TUTTI_ASSIGN_OR_RETURN(Multitrack song, SampleToMultitrack(sample, shape, options, stem));
  EncodedSample out;
  for (const Track& t : song.tracks) out.track_notes.push_back(t.pianoroll.CountNotes());

  std::string midi;  // also the input of the WAV
  if (formats.midi || formats.wav) {
    StatusOr<SmfFile> smf = MultitrackToSmf(song, MidiOptionsFor(options));
    StatusOr<std::string> bytes = smf.ok() ? EncodeSmf(*smf) : StatusOr<std::string>(smf.status());
    if (!bytes.ok()) return NameTheFile(bytes.status(), stem + ".mid");
    midi = *std::move(bytes);
  }
  if (formats.midi) out.files.push_back({stem + ".mid", midi});
  if (formats.npz) {
    StatusOr<std::string> npz = SerializePianorollNpz(song, NpzLayout::kV1);
    if (!npz.ok()) return NameTheFile(npz.status(), stem + ".npz");
    out.files.push_back({stem + ".npz", *std::move(npz)});
  }
  if (formats.png) {
    StatusOr<std::string> png = EncodePianorollPng(sample, shape.tracks, shape.steps, shape.pitches,
                                                   options.track_names, PngOptionsFor(options));
    if (!png.ok()) return NameTheFile(png.status(), stem + ".png");
    out.files.push_back({stem + ".png", *std::move(png)});
  }
  if (formats.wav) {
    WavOptions wav_options;
    wav_options.soundfont = options.soundfont;
    StatusOr<std::string> wav = RenderMidiToWav(midi, wav_options);
    if (!wav.ok()) return NameTheFile(wav.status(), stem + ".wav");
    out.files.push_back({stem + ".wav", *std::move(wav)});
  }
  return out;
}

constexpr char kOverviewName[] = "overview.png";

// What both public functions do: every sample's files, then the overview.
StatusOr<std::vector<EncodedSample>> EncodeSamples(const uint8_t* samples, int64_t n, const SampleShape& shape,
                                                   const SampleFormats& formats, const SampleFileOptions& options,
                                                   int64_t first_index, std::string* overview_png) {
  TUTTI_RETURN_IF_ERROR(ValidateSampleFileOptions(options, shape));
  if (n < 1 || samples == nullptr || first_index < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("sample files: expected at least one sample and first_index >= 0, got ", n,
                     samples == nullptr ? " (null data)" : "", " and first_index ", first_index));
  }
  if (formats.wav) {
    // Look once, so that a missing SoundFont costs one clear message rather than one per sample.
    StatusOr<std::string> soundfont = FindSoundFont(options.soundfont);
    if (!soundfont.ok()) return Annotate(soundfont.status(), "sample files: WAV");
  }
  std::vector<EncodedSample> encoded;
  for (int64_t i = 0; i < n; ++i) {
    TUTTI_ASSIGN_OR_RETURN(EncodedSample one,
                           EncodeOneSample(samples + i * shape.cells(), shape, formats, options, first_index + i));
    encoded.push_back(std::move(one));
  }
  overview_png->clear();
  if (formats.png && formats.overview) {
    const int64_t shown = std::min<int64_t>(n, std::max(1, options.overview_samples));
    StatusOr<std::string> png = EncodePianorollGridPng(samples, shown, shape.tracks, shape.steps, shape.pitches,
                                                       options.track_names, PngOptionsFor(options));
    if (!png.ok()) return NameTheFile(png.status(), kOverviewName);
    *overview_png = *std::move(png);
  }
  return encoded;
}

}  // namespace

StatusOr<std::vector<EncodedSampleFile>> EncodeSampleFiles(const uint8_t* samples, int64_t n,
                                                           const SampleShape& shape, const SampleFormats& formats,
                                                           const SampleFileOptions& options, int64_t first_index) {
  std::string overview;
  TUTTI_ASSIGN_OR_RETURN(std::vector<EncodedSample> encoded,
                         EncodeSamples(samples, n, shape, formats, options, first_index, &overview));
  std::vector<EncodedSampleFile> files;
  for (EncodedSample& sample : encoded) {
    for (EncodedSampleFile& file : sample.files) files.push_back(std::move(file));
  }
  if (formats.png && formats.overview) files.push_back({kOverviewName, std::move(overview)});
  return files;
}

StatusOr<SampleFilesReport> WriteSampleFiles(const uint8_t* samples, int64_t n, const SampleShape& shape,
                                             const std::string& dir, const SampleFileOptions& options) {
  SampleFormats formats;
  formats.wav = options.write_wav;
  TUTTI_RETURN_IF_ERROR(CreateDirectories(dir));
  std::string overview;
  TUTTI_ASSIGN_OR_RETURN(std::vector<EncodedSample> encoded,
                         EncodeSamples(samples, n, shape, formats, options, /*first_index=*/0, &overview));
  SampleFilesReport report;
  for (const EncodedSample& sample : encoded) {
    WrittenSample written;
    written.track_notes = sample.track_notes;
    for (const EncodedSampleFile& file : sample.files) {
      const std::string path = absl::StrCat(dir, "/", file.name);
      TUTTI_RETURN_IF_ERROR(WriteFileAtomically(path, file.bytes));  // its errors name the path
      const std::string extension = std::filesystem::path(file.name).extension().string();
      if (extension == ".mid") written.midi = path;
      if (extension == ".npz") written.npz = path;
      if (extension == ".png") written.png = path;
      if (extension == ".wav") written.wav = path;
    }
    report.samples.push_back(std::move(written));
  }
  report.overview_png = absl::StrCat(dir, "/", kOverviewName);
  TUTTI_RETURN_IF_ERROR(WriteFileAtomically(report.overview_png, overview));
  return report;
}

SampleFileOptions WithTrackSet(SampleFileOptions options, const TrackSet& set) {
  options.track_names = set.Names();
  options.programs = set.Programs();
  options.drum_track = set.FirstDrumTrack();
  return options;
}

}  // namespace tutti
