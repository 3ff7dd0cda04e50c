#include "core/sample/sample_writer.h"

#include <algorithm>

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

StatusOr<SampleFilesReport> WriteSampleFiles(const uint8_t* samples, int64_t n, const SampleShape& shape,
                                             const std::string& dir, const SampleFileOptions& options) {
  TUTTI_RETURN_IF_ERROR(ValidateSampleFileOptions(options, shape));
  if (n < 1 || samples == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("sample files: expected at least one sample, got ", n));
  }
  TUTTI_RETURN_IF_ERROR(CreateDirectories(dir));
  const PngOptions png = PngOptionsFor(options);
  MidiExportOptions midi;
  midi.tempo_qpm = options.tempo_qpm;
  midi.ticks_per_quarter = 120 * options.steps_per_beat;  // 480 at 4 steps per beat: whole ticks per step

  SampleFilesReport report;
  bool try_wav = options.write_wav;
  std::string soundfont;
  if (try_wav) {
    // Look for both once, so a missing program costs one message, not one per sample.
    StatusOr<std::string> program = FindExecutableOnPath("fluidsynth");
    StatusOr<std::string> found = program.ok() ? FindSoundFont(options.soundfont) : program;
    if (!found.ok()) {
      if (found.status().code() != absl::StatusCode::kUnavailable) return found.status();  // a named file missing
      try_wav = false;
      report.wav_skipped = absl::StrCat(std::string(found.status().message()),
                                        "; or run scripts/install-deps.sh --with-audio");
    } else {
      soundfont = *found;
    }
  }

  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* sample = samples + i * shape.cells();
    const std::string base = absl::StrCat(dir, "/", options.stem, "-", i);
    TUTTI_ASSIGN_OR_RETURN(Multitrack song,
                           SampleToMultitrack(sample, shape, options, absl::StrCat(options.stem, "-", i)));
    WrittenSample written;
    for (const Track& t : song.tracks) written.track_notes.push_back(t.pianoroll.CountNotes());
    written.midi = base + ".mid";
    written.npz = base + ".npz";
    written.png = base + ".png";
    TUTTI_RETURN_IF_ERROR(WriteMidiFile(song, written.midi, midi));
    TUTTI_RETURN_IF_ERROR(WritePianorollNpz(song, written.npz, NpzLayout::kV1));
    TUTTI_RETURN_IF_ERROR(
        WritePianorollPng(sample, shape.tracks, shape.steps, shape.pitches, options.track_names, written.png, png));
    if (try_wav) {
      written.wav = base + ".wav";
      Status wav = RenderWavWithFluidSynth(written.midi, written.wav, soundfont);
      if (!wav.ok()) return Annotate(wav, written.wav);
    }
    report.samples.push_back(std::move(written));
  }
  const int64_t shown = std::min<int64_t>(n, std::max(1, options.overview_samples));
  report.overview_png = dir + "/overview.png";
  TUTTI_RETURN_IF_ERROR(WritePianorollGridPng(samples, shown, shape.tracks, shape.steps, shape.pitches,
                                              options.track_names, report.overview_png, png));
  return report;
}

}  // namespace tutti
