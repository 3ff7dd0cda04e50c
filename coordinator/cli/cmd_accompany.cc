// accompany: a musician's own part (a track of their MIDI or .npz song) in, the whole piece out, the other
// tracks written by an accompaniment model (core/accompany/accompaniment.h).

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "coordinator/cli/cli_status.h"
#include "coordinator/cli/commands.h"
#include "core/accompany/accompaniment.h"
#include "core/base/file_util.h"
#include "core/sample/checkpoint_sampler.h"
#include "core/sample/sample_writer.h"

namespace tutti::cli {
namespace {

struct AccompanyArgs {
  std::string checkpoint;
  std::string track;  // must name the model's condition track when given
  std::string out;
  std::string device = "cpu";
  std::string soundfont;
  double threshold = -1;
  double tempo = 0;
  bool no_wav = false;
  bool json = false;
  AccompanyRequest request;
};

// "<stem>-0.mid" (the writer's name for sample 0) -> "<stem>.mid": the piece is one file per format.
std::string PieceFileName(const std::string& encoded, const std::string& stem) {
  const std::string numbered = stem + "-0.";
  if (encoded.rfind(numbered, 0) == 0) return stem + "." + encoded.substr(numbered.size());
  return encoded;
}

int RunAccompany(AccompanyArgs& a) {
  if (a.threshold >= 0) a.request.threshold = a.threshold;
  StatusOr<std::unique_ptr<GeneratorModel>> model = GeneratorModel::Load(a.checkpoint, a.device);
  if (!model.ok()) return ReportFailure(model.status());
  const GeneratorModel& m = **model;
  if (!a.track.empty() && m.condition_track() >= 0 && a.track != m.condition_track_name()) {
    return ReportFailure(absl::InvalidArgumentError(absl::StrCat(
        "--track ", a.track, ": ", a.checkpoint, " accompanies a given ", m.condition_track_name(),
        " part (model.condition_track: ", m.condition_track_name(), "); a model for ", a.track,
        " is trained with model.condition_track: ", a.track)));
  }
  StatusOr<Accompaniment> piece = Accompany(m, a.request);
  if (!piece.ok()) return ReportFailure(piece.status());

  const double tempo = a.tempo > 0 ? a.tempo : piece->given.tempo_qpm > 0 ? piece->given.tempo_qpm
                                                                           : m.config().sample.tempo_qpm;
  SampleFileOptions options = PieceFileOptions(*piece, tempo, WithTrackSet({}, m.track_set()));
  options.soundfont = a.soundfont;
  options.stem = std::filesystem::path(a.request.input).stem().string() + "-accompanied";
  SampleFormats formats;
  formats.wav = !a.no_wav;
  formats.overview = false;
  StatusOr<std::vector<EncodedSampleFile>> files =
      EncodeSampleFiles(piece->piece.data(), 1, piece->shape, formats, options);
  if (!files.ok()) return ReportFailure(files.status());
  Status made = CreateDirectories(a.out);
  if (!made.ok()) return ReportFailure(made);
  std::vector<std::string> written;
  for (const EncodedSampleFile& file : *files) {
    const std::string path = (std::filesystem::path(a.out) / PieceFileName(file.name, options.stem)).string();
    Status status = WriteFileAtomically(path, file.bytes);
    if (!status.ok()) return ReportFailure(status);
    written.push_back(path);
  }
  // Notes per track of the written piece, counted as the files count them (SparsePianoroll::CountNotes).
  StatusOr<Multitrack> song = SampleToMultitrack(piece->piece.data(), piece->shape, options, options.stem);
  if (!song.ok()) return ReportFailure(song.status());
  std::vector<int64_t> track_notes;
  for (const Track& track : song->tracks) track_notes.push_back(track.pianoroll.CountNotes());
  if (a.json) {
    nlohmann::json j = {{"checkpoint", a.checkpoint},
                        {"step", m.step()},
                        {"input", a.request.input},
                        {"given_track", piece->condition_track_name},
                        {"given_source", piece->given.source},
                        {"given_notes", piece->given.notes},
                        {"given_notes_outside_model_range", piece->given_notes_outside},
                        {"start_bar", a.request.start_bar},
                        {"bars", piece->given.bars},
                        {"phrases", piece->phrases},
                        {"bars_per_phrase", piece->bars_per_phrase},
                        {"seed", a.request.seed},
                        {"latent", a.request.vary_latent ? "per phrase" : "shared"},
                        {"genre", piece->genre},
                        {"tempo_qpm", tempo},
                        {"track_names", options.track_names},
                        {"track_notes", track_notes},
                        {"files", written}};
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "accompanied " << piece->given.source << "\n"
            << "  " << piece->given.bars << " bars from bar " << a.request.start_bar << " (" << piece->phrases
            << " phrases of " << piece->bars_per_phrase << " bars), " << piece->given.notes << " notes given as "
            << piece->condition_track_name;
  if (piece->given_notes_outside > 0) {
    std::cout << " (" << piece->given_notes_outside << " outside MIDI " << piece->lowest_pitch << "-"
              << piece->lowest_pitch + piece->model_pitches - 1 << ": kept, but the model does not hear them)";
  }
  std::cout << "\n  " << a.checkpoint << " (step " << m.step() << ", seed " << a.request.seed << ", "
            << (a.request.vary_latent ? "a latent per phrase" : "one latent for the piece")
            << (piece->genre.empty() ? "" : ", genre " + piece->genre) << ", " << tempo << " qpm)\n  notes:";
  for (size_t t = 0; t < track_notes.size(); ++t) {
    std::cout << (t ? ", " : " ") << options.track_names[t] << " " << track_notes[t]
              << (static_cast<int>(t) == piece->condition_track ? " (given)" : "");
  }
  std::cout << "\n";
  for (const std::string& f : written) std::cout << "wrote " << f << "\n";
  return 0;
}

}  // namespace

void RegisterAccompanyCommand(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<AccompanyArgs>();
  CLI::App* c = app.add_subcommand(
      "accompany",
      "Play an accompaniment model (model.condition_track) against your own part: reads one track of your song "
      "(a Standard MIDI File or a pypianoroll .npz), cuts it into the model's 4-bar phrases, writes the other "
      "tracks for each phrase and stitches one piece: DIR/<song>-accompanied.mid, .npz, .png and .wav. Your part "
      "comes back unchanged on the model's grid (16th notes, all 128 pitches). Same checkpoint, input and seed, "
      "same files");
  c->add_option("--checkpoint", a->checkpoint, "Checkpoint of an accompaniment model")->required();
  c->add_option("--input", a->request.input, "Your song: .mid/.midi/.smf or a pypianoroll .npz (LPD's songs)")
      ->required();
  c->add_option("--track", a->track,
                "Which part you give (drums, piano, guitar, bass, strings); must be the model's condition track "
                "(default: it)")
      ->check(CLI::IsMember({"drums", "piano", "guitar", "bass", "strings"}));
  c->add_option("--input-track", a->request.input_track,
                "Pick your part by hand: a MIDI track chunk (0-based index or its name), channel:<1-16>, or an .npz "
                "track (index or name). Default: MIDI notes whose General MIDI program is in the part's LPD-5 "
                "group (bass = programs 32-39, drums = channel 10); the .npz track so named");
  c->add_option("--start-bar", a->request.start_bar, "First bar of the song to accompany (0-based)")
      ->capture_default_str()->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  c->add_option("--bars", a->request.bars, "Bars to accompany from there (at least one 4-bar phrase; 0 = to the end)")
      ->capture_default_str()->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  c->add_option("--out", a->out, "Output folder (created when missing; files of the same names are replaced)")
      ->required();
  c->add_option("--seed", a->request.seed, "Seed of the latents (same seed, same piece)")->capture_default_str();
  c->add_flag("--vary-latent", a->request.vary_latent,
              "A fresh latent for every phrase (default: one for the whole piece, so the arrangement stays one)");
  c->add_option("--genre", a->request.genre, "Genre of a genre-conditional model (default its first)");
  c->add_option("--threshold", a->threshold, "Active-cell threshold (default: the config's sample.threshold)")
      ->check(CLI::Range(0.0, 1e9));
  c->add_option("--tempo", a->tempo, "Tempo in quarter notes per minute (default: your song's first tempo)")
      ->check(CLI::Range(4.0, 1000.0));
  c->add_option("--device", a->device, "Device to generate on (cpu is bit-reproducible)")
      ->capture_default_str()->check(CLI::IsMember({"cpu", "cuda", "auto"}));
  c->add_option("--soundfont", a->soundfont, "General MIDI SoundFont for the WAV (default: the first installed)");
  c->add_flag("--no-wav", a->no_wav, "Do not render the WAV");
  c->add_flag("--json", a->json, "Print what was written as JSON");
  c->callback([a, exit_code] { *exit_code = RunAccompany(*a); });
}

}  // namespace tutti::cli
