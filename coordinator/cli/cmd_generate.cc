// generate: samples from a checkpoint as MIDI, .npz, PNG and WAV files (core/sample: checkpoint_sampler.h + sample_writer.h).

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "coordinator/cli/cli_status.h"
#include "coordinator/cli/commands.h"
#include "core/sample/checkpoint_sampler.h"
#include "core/sample/sample_writer.h"

namespace tutti::cli {
namespace {

struct GenerateArgs {
  SampleRequest request;
  std::string out;
  double threshold = -1;  // < 0: the config's sample.threshold
  double tempo = 0;       // <= 0: the config's sample.tempo_qpm
  std::vector<int> programs;
  std::string soundfont;
  bool no_wav = false;
  bool json = false;
  int64_t phrases = 1;     // --phrases: 4-bar samples strung into one piece
  double variation = 0.5;  // --phrase-variation
};

nlohmann::json OrNull(const std::string& s) { return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s); }

// --phrases N: each of the n pieces is N samples of the model's length, one after another, whose latents share
// one part (the piece's style) and vary by --phrase-variation (BatchItem::latent_variation); piece j uses seed
// + j. Returned as n samples of N times the model's steps.
StatusOr<GeneratedSamples> GeneratePieces(const GenerateArgs& a) {
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<GeneratorModel> model, GeneratorModel::Load(a.request.checkpoint, a.request.device));
  std::vector<BatchItem> items;
  for (int64_t j = 0; j < a.request.n; ++j) {
    BatchItem item{a.phrases, a.request.seed + static_cast<uint64_t>(j), a.request.genre, a.request.threshold,
                   a.request.default_genre};
    item.shared_latent = true;
    item.latent_variation = a.variation;
    items.push_back(std::move(item));
  }
  TUTTI_ASSIGN_OR_RETURN(std::vector<GeneratedSamples> phrases, model->GenerateBatch(items));
  GeneratedSamples piece = phrases[0];
  const SampleShape phrase = piece.shape;
  piece.n = a.request.n;
  piece.shape = SampleShape{phrase.tracks, phrase.steps * a.phrases, phrase.pitches};
  piece.binary.assign(static_cast<size_t>(piece.n * piece.shape.cells()), 0);
  piece.raw.clear();
  double active = 0;
  for (int64_t j = 0; j < piece.n; ++j) {
    const GeneratedSamples& from = phrases[static_cast<size_t>(j)];
    piece.max_value = std::max(piece.max_value, from.max_value);
    active += from.active_fraction;
    for (int64_t k = 0; k < a.phrases; ++k) {
      for (int64_t t = 0; t < phrase.tracks; ++t) {
        const uint8_t* src = from.binary.data() + (k * phrase.tracks + t) * phrase.steps * phrase.pitches;
        uint8_t* dst = piece.binary.data() + j * piece.shape.cells() +
                       (t * piece.shape.steps + k * phrase.steps) * phrase.pitches;
        std::copy(src, src + phrase.steps * phrase.pitches, dst);
      }
    }
  }
  piece.active_fraction = active / static_cast<double>(piece.n);
  return piece;
}

int RunGenerate(GenerateArgs& a) {
  if (a.threshold >= 0) a.request.threshold = a.threshold;
  StatusOr<GeneratedSamples> generated = a.phrases > 1 ? GeneratePieces(a) : GenerateFromCheckpoint(a.request);
  if (!generated.ok()) return ReportFailure(generated.status());
  const JobConfig& config = generated->config;

  SampleFileOptions files = WithTrackSet({}, generated->track_set);
  files.steps_per_bar = config.model.steps_per_measure;
  files.steps_per_beat = std::max(1, config.model.steps_per_measure / 4);  // 4/4
  files.tempo_qpm = a.tempo > 0 ? a.tempo : config.sample.tempo_qpm;
  if (!a.programs.empty()) files.programs = a.programs;
  files.write_wav = !a.no_wav;
  files.soundfont = a.soundfont;
  StatusOr<SampleFilesReport> report =
      WriteSampleFiles(generated->binary.data(), generated->n, generated->shape, a.out, files);
  if (!report.ok()) return ReportFailure(report.status());

  const bool empty = generated->active_fraction == 0;
  if (empty) {
    std::cerr << "warning: no cell is above the threshold " << generated->threshold
              << " (largest generator output " << generated->max_value
              << "); the files hold no notes. An untrained or collapsed generator does this; try a later "
                 "checkpoint or a lower --threshold\n";
  }
  if (a.json) {
    nlohmann::json samples = nlohmann::json::array();
    for (const WrittenSample& s : report->samples) {
      samples.push_back({{"midi", s.midi},
                         {"npz", s.npz},
                         {"png", s.png},
                         {"wav", OrNull(s.wav)},
                         {"notes", s.notes()},
                         {"track_notes", s.track_notes}});
    }
    nlohmann::json j = {{"checkpoint", a.request.checkpoint},
                        {"step", generated->step},
                        {"seed", a.request.seed},
                        {"n", generated->n},
                        {"genre", OrNull(generated->genre)},
                        {"threshold", generated->threshold},
                        {"tempo_qpm", files.tempo_qpm},
                        {"programs", files.programs},
                        {"active_fraction", generated->active_fraction},
                        {"max_value", generated->max_value},
                        {"out", a.out},
                        {"samples", samples},
                        {"overview_png", report->overview_png},
                        {"files", report->Files()}};
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "generated " << generated->n << " samples from " << a.request.checkpoint << " (step "
            << generated->step << ", seed " << a.request.seed;
  if (!generated->genre.empty()) std::cout << ", genre " << generated->genre;
  std::cout << ", threshold " << generated->threshold << ", " << files.tempo_qpm << " qpm)\n";
  for (size_t i = 0; i < report->samples.size(); ++i) {
    const WrittenSample& s = report->samples[i];
    std::cout << "  sample-" << i << ": " << s.notes() << " notes (";
    for (size_t t = 0; t < s.track_notes.size(); ++t) {
      std::cout << (t ? ", " : "") << files.track_names[t] << " " << s.track_notes[t];
    }
    std::cout << ")\n";
  }
  for (const std::string& f : report->Files()) std::cout << "wrote " << f << "\n";
  return 0;
}

}  // namespace

void RegisterGenerateCommand(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<GenerateArgs>();
  CLI::App* c = app.add_subcommand(
      "generate",
      "Generate samples from a training checkpoint: per sample DIR/sample-<i>.mid (type-1 MIDI, 5 named tracks, "
      "drums on channel 10), .npz (pypianoroll >= 1.0, resolution 4 = the sample grid, 128 pitches), .png "
      "(pianoroll with track names, bar lines and a pitch axis) and .wav (rendered in process by FluidSynth with the "
      "installed General MIDI soundfont; --no-wav to skip), plus DIR/overview.png. Same checkpoint and seed, "
      "same bytes");
  c->add_option("--checkpoint", a->request.checkpoint, "Checkpoint file (ckpt-<step>.tutti)")->required();
  c->add_option("-n,--samples", a->request.n, "Number of samples")->capture_default_str()->check(
      CLI::Range(int64_t{1}, int64_t{100000}));
  c->add_option("--seed", a->request.seed, "Seed of the latents (same seed, same files)")->capture_default_str();
  c->add_option("--out", a->out, "Output folder (created when missing; files of the same names are replaced)")
      ->required();
  c->add_option("--genre", a->request.genre,
                "Genre of a genre-conditional model (one of the config's data.genres; default the first)");
  c->add_option("--threshold", a->threshold,
                "A cell is a note when the generator's raw output is above this (default: the config's "
                "sample.threshold, 0.5 in the tutorial)")->check(CLI::Range(0.0, 1e9));
  c->add_option("--tempo", a->tempo, "Tempo in quarter notes per minute (default: the config's sample.tempo_qpm)")
      ->check(CLI::Range(4.0, 1000.0));
  c->add_option("--programs", a->programs,
                "General MIDI programs per track, comma-separated (default LPD-5's 0,0,24,32,48; the MuseGAN "
                "tutorial's output uses 0,0,25,33,48)")->delimiter(',')->check(CLI::Range(0, 127));
  c->add_option("--device", a->request.device, "Device to generate on (cpu is bit-reproducible)")
      ->capture_default_str()->check(CLI::IsMember({"cpu", "cuda", "auto"}));
  c->add_option("--soundfont", a->soundfont, "General MIDI SoundFont for the WAVs (default: the first installed)");
  c->add_option("--phrases", a->phrases,
                "Longer pieces: each sample is this many of the model's phrases one after another, their latents "
                "sharing one part (the piece's arrangement) and differing by --phrase-variation; sample i uses seed "
                "+ i")
      ->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{256}));
  c->add_option("--phrase-variation", a->variation,
                "With --phrases: 0 repeats one phrase, 1 strings independent ones; between, the phrases vary around "
                "one latent")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  c->add_flag("--no-wav", a->no_wav, "Do not render WAV files");
  c->add_flag("--json", a->json, "Print what was written as JSON");
  c->callback([a, exit_code] { *exit_code = RunGenerate(*a); });
}

}  // namespace tutti::cli
