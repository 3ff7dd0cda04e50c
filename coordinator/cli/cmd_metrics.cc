// metrics: the MuseGAN objective metrics (core/metrics/metrics.h) of a pack's real samples, or of a
// checkpoint's generated samples side by side with the pack's held-out real ones; and the realism measure
// (core/metrics/realism.h): each metric of n generated samples against the band n real training samples span,
// beside the held-out bar (n held-out real samples scored the same way).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "absl/strings/str_join.h"
#include "coordinator/cli/cli_status.h"
#include "coordinator/cli/commands.h"
#include "core/data/pack_reader.h"
#include "core/metrics/metrics.h"
#include "core/metrics/realism.h"
#include "core/sample/checkpoint_sampler.h"

namespace tutti::cli {
namespace {

struct MetricsArgs {
  std::string packs;
  std::string split = "heldout";
  int64_t limit = 0;
  SampleRequest request;  // request.checkpoint empty: real samples only
  double threshold = -1;  // < 0: the config's sample.threshold
  bool json = false;
  int realism_draws = kRealismRecommendedDraws;
  uint64_t realism_seed = 0;  // eval.realism_seed's default, so the CLI and the worker draw the same bands
  bool no_realism = false;
};

struct RealismOutcome {
  std::optional<RealismReport> report;  // absent when the pack has no training samples
  std::string skipped;                  // why it is absent
  double build_s = 0;                   // seconds to build the reference and the held-out bar
};

// The realism report of `pack` at N = n: the band from its training split, the held-out bar from its held-out
// split, and `generated` (n samples, may be null) scored against it.
StatusOr<RealismOutcome> MeasureRealism(const PackReader& pack, int64_t n, const MetricsOptions& options,
                                        const MetricsArgs& a, const uint8_t* generated) {
  RealismOutcome out;
  const auto start = std::chrono::steady_clock::now();
  const SampleShape shape = pack.shape();
  const PianorollDims dims{shape.tracks, shape.steps, shape.pitches};
  const int64_t train = pack.size(Split::kTrain), heldout = pack.size(Split::kHeldout);
  if (train == 0) {
    out.skipped = absl::StrCat(pack.pack_dir(), " has no training samples: no realism band");
    return out;
  }
  RealismOptions ro;
  ro.samples = n;
  ro.draws = a.realism_draws;
  ro.seed = a.realism_seed;
  auto reader = [&pack](Split split) {
    return [&pack, split](int64_t i, uint8_t* dense) { pack.CopySample(split, i, dense); };
  };
  StatusOr<RealismReference> ref = RealismReference::Build(train, reader(Split::kTrain), dims, options, ro);
  if (!ref.ok()) return Annotate(ref.status(), pack.pack_dir());
  RealismReport report = RealismReport::FromReference(*ref);
  if (heldout == 0) {
    report.heldout_note = absl::StrCat(pack.pack_dir(), " has no held-out samples: no held-out bar");
  } else {
    RealismPool pool;
    pool.size = heldout;
    pool.read = reader(Split::kHeldout);
    pool.name = absl::StrCat(pack.pack_dir(), " held-out split");
    TUTTI_ASSIGN_OR_RETURN(report.heldout, ref->ScoreHeldOut({pool}));
  }
  out.build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (generated != nullptr) {
    TUTTI_ASSIGN_OR_RETURN(report.generated, ref->ScoreSamples(generated, n));
  }
  out.report = std::move(report);
  return out;
}

void PrintRealism(const RealismOutcome& realism) {
  if (!realism.report) {
    std::cout << "\nrealism: skipped (" << realism.skipped << ")\n";
    return;
  }
  char took[64];
  std::snprintf(took, sizeof took, "%.2f", realism.build_s);
  std::cout << "\n" << realism.report->ToTable() << "(band and held-out bar computed in " << took << " s)\n";
}

void AddRealismJson(const RealismOutcome& realism, nlohmann::json* j) {
  if (realism.report) {
    (*j)["realism"] = realism.report->ToJson(/*heldout_per_metric=*/true);
    (*j)["realism_build_s"] = realism.build_s;
  } else if (!realism.skipped.empty()) {
    (*j)["realism"] = nullptr;
    (*j)["realism_skipped"] = realism.skipped;
  }
}

// LPD-5's five tracks get the default names and tonal pairs; any other track set (the pack's manifest records it)
// its own names and drum track, and no tonal pairs (they name LPD-5's tracks).
StatusOr<MetricsOptions> OptionsFor(const SampleShape& shape, int steps_per_bar, const TrackSet& set) {
  MetricsOptions options;
  options.steps_per_bar = steps_per_bar;
  options.steps_per_beat = std::max(1, steps_per_bar / 4);
  options = WithTracks(options, set.Names(), set.FirstDrumTrack());  // the set has shape.tracks tracks
  if (shape.steps % steps_per_bar != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("samples of ", shape.ToString(), " do not split into bars of ", steps_per_bar, " steps"));
  }
  return options;
}

PianorollDims Dims(const SampleShape& shape) { return {shape.tracks, shape.steps, shape.pitches}; }

// `dir` itself when it holds manifest.json, else `dir/<genre>` (a packs folder as in data.packs_dir).
std::string PackDir(const std::string& dir, const std::string& genre) {
  namespace fs = std::filesystem;
  if (fs::exists(fs::path(dir) / "manifest.json") || genre.empty()) return dir;
  return (fs::path(dir) / genre).string();
}

struct RealSamples {
  std::unique_ptr<PackReader> reader;
  std::vector<uint8_t> dense;
  int64_t n = 0;
};

StatusOr<RealSamples> ReadReal(const std::string& pack_dir, Split split, int64_t limit) {
  RealSamples real;
  TUTTI_ASSIGN_OR_RETURN(real.reader, PackReader::Open(pack_dir));
  const int64_t available = real.reader->size(split);
  real.n = limit > 0 ? std::min(limit, available) : available;
  if (real.n == 0) {
    return absl::FailedPreconditionError(absl::StrCat(pack_dir, ": no ", split == Split::kHeldout ? "held-out" : "train",
                                                      " samples to measure"));
  }
  const int64_t cells = real.reader->shape().cells();
  real.dense.resize(static_cast<size_t>(real.n * cells));
  // The first `n` samples: packs store samples in song order, so a limit keeps whole songs where it can.
  for (int64_t i = 0; i < real.n; ++i) real.reader->CopySample(split, i, real.dense.data() + i * cells);
  return real;
}

int RunMetrics(MetricsArgs& a) {
  const Split split = a.split == "train" ? Split::kTrain : Split::kHeldout;
  if (a.threshold >= 0) a.request.threshold = a.threshold;
  std::string pack_dir = PackDir(a.packs, a.request.genre);
  const bool is_pack = std::filesystem::exists(std::filesystem::path(pack_dir) / "manifest.json");
  StatusOr<RealSamples> real = absl::UnknownError("not read");
  if (is_pack) {
    real = ReadReal(pack_dir, split, a.limit);
    if (!real.ok()) return ReportFailure(real.status());
    // A conditional model generates the pack's genre unless --genre says otherwise.
    a.request.default_genre = real->reader->manifest().genre;
  }
  std::optional<GeneratedSamples> generated;
  if (!a.request.checkpoint.empty()) {
    StatusOr<std::unique_ptr<GeneratorModel>> model = GeneratorModel::Load(a.request.checkpoint, a.request.device);
    if (!model.ok()) return ReportFailure(model.status());
    BatchItem item{a.request.n, a.request.seed, a.request.genre, a.request.threshold, a.request.default_genre};
    if (const int track = (*model)->condition_track(); track >= 0) {
      // An accompaniment model writes around real parts: sample i gets the given track of real sample i (the
      // real samples measured, in order, repeated when n is larger), so both sides share those parts.
      if (!is_pack) {
        StatusOr<int64_t> genre = ResolveGenre((*model)->config(), a.request.genre, a.request.default_genre);
        if (!genre.ok()) return ReportFailure(genre.status());
        const std::vector<std::string>& genres = (*model)->config().data.genres;
        pack_dir = PackDir(a.packs, *genre >= 0 ? genres[static_cast<size_t>(*genre)]
                                    : genres.size() == 1 ? genres[0] : std::string());
        real = ReadReal(pack_dir, split, a.limit);
        if (!real.ok()) return ReportFailure(real.status());
      }
      const SampleShape shape = real->reader->shape();
      if (shape != (*model)->shape()) {
        return ReportFailure(absl::FailedPreconditionError(absl::StrCat(a.request.checkpoint, " generates samples of ",
                                                                        (*model)->shape().ToString(), " but ", pack_dir,
                                                                        " holds ", shape.ToString())));
      }
      const int64_t part = shape.steps * shape.pitches;
      item.given.resize(static_cast<size_t>(item.n * part));
      for (int64_t i = 0; i < item.n; ++i) {
        const uint8_t* from = real->dense.data() + (i % real->n) * shape.cells() + track * part;
        std::copy(from, from + part, item.given.begin() + i * part);
      }
    }
    StatusOr<std::vector<GeneratedSamples>> g = (*model)->GenerateBatch({item});
    if (!g.ok()) return ReportFailure(g.status());
    generated = std::move((*g)[0]);
  }
  if (!is_pack && !real.ok()) {
    // A packs folder: the pack of the generated genre (the only one of an unconditional model).
    pack_dir = PackDir(a.packs, generated ? generated->genre : std::string());
    real = ReadReal(pack_dir, split, a.limit);
    if (!real.ok()) return ReportFailure(real.status());
  }
  const SampleShape shape = real->reader->shape();
  const TrackSet track_set = TrackSetFromJson(real->reader->manifest().packing.value("track_set", nlohmann::json()),
                                              static_cast<int>(shape.tracks));
  const nlohmann::json segment = real->reader->manifest().packing.value("segment", nlohmann::json::object());
  StatusOr<MetricsOptions> options = OptionsFor(shape, segment.value("steps_per_bar", 16), track_set);
  if (!options.ok()) return ReportFailure(options.status());
  StatusOr<MetricsReport> real_report = ComputeMetrics(real->dense.data(), real->n, Dims(shape), *options);
  if (!real_report.ok()) return ReportFailure(real_report.status());

  if (!generated) {
    // The held-out bar alone, at N = -n.
    RealismOutcome realism;
    if (!a.no_realism) {
      StatusOr<RealismOutcome> measured = MeasureRealism(*real->reader, a.request.n, *options, a, nullptr);
      if (!measured.ok()) return ReportFailure(measured.status());
      realism = *std::move(measured);
    }
    if (a.json) {
      nlohmann::json j = {{"pack", pack_dir}, {"split", a.split}, {"real", real_report->ToJson()}};
      AddRealismJson(realism, &j);
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << "real samples of " << pack_dir << " (" << a.split << ", " << real->n << " samples)\n"
                << real_report->ToTable();
      if (!a.no_realism) PrintRealism(realism);
    }
    return 0;
  }
  if (generated->shape != shape) {
    return ReportFailure(absl::FailedPreconditionError(
        absl::StrCat(a.request.checkpoint, " generates samples of ", generated->shape.ToString(), " but ", pack_dir,
                     " holds ", shape.ToString())));
  }
  if (generated->track_set.Names() != track_set.Names()) {
    return ReportFailure(absl::FailedPreconditionError(
        absl::StrCat(a.request.checkpoint, " writes the tracks ", absl::StrJoin(generated->track_set.Names(), ", "),
                     " but ", pack_dir, " holds ", absl::StrJoin(track_set.Names(), ", "),
                     ": compare with a pack of the checkpoint's track set (tutti pack --track-set)")));
  }
  const std::string& pack_genre = real->reader->manifest().genre;
  if (!generated->genre.empty() && generated->genre != pack_genre) {
    std::cerr << "warning: comparing " << generated->genre << " samples with the " << pack_genre << " pack "
              << pack_dir << "\n";
  }
  StatusOr<MetricsOptions> gen_options =
      OptionsFor(generated->shape, generated->config.model.steps_per_measure, generated->track_set);
  if (!gen_options.ok()) return ReportFailure(gen_options.status());
  StatusOr<MetricsReport> gen_report =
      ComputeMetrics(generated->binary.data(), generated->n, Dims(generated->shape), *gen_options);
  if (!gen_report.ok()) return ReportFailure(gen_report.status());
  // The band is built with the model's bar length (gen_options) for the real samples too: the same grid.
  RealismOutcome realism;
  if (!a.no_realism) {
    StatusOr<RealismOutcome> measured =
        MeasureRealism(*real->reader, generated->n, *gen_options, a, generated->binary.data());
    if (!measured.ok()) return ReportFailure(measured.status());
    realism = *std::move(measured);
  }
  if (a.json) {
    nlohmann::json j = {{"pack", pack_dir},
                        {"split", a.split},
                        {"checkpoint", a.request.checkpoint},
                        {"step", generated->step},
                        {"seed", a.request.seed},
                        {"genre", generated->genre},
                        {"threshold", generated->threshold},
                        {"generated", gen_report->ToJson()},
                        {"real", real_report->ToJson()}};
    AddRealismJson(realism, &j);
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "generated: " << generated->n << " samples of " << a.request.checkpoint << " (step " << generated->step
            << ", seed " << a.request.seed << ", threshold " << generated->threshold << ")\n"
            << "real:      " << real->n << " " << a.split << " samples of " << pack_dir << "\n"
            << CompareTable(*gen_report, *real_report);
  if (!a.no_realism) PrintRealism(realism);
  return 0;
}

}  // namespace

void RegisterMetricsCommand(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<MetricsArgs>();
  a->request.n = 256;
  CLI::App* c = app.add_subcommand(
      "metrics",
      "MuseGAN objective metrics (empty bars, used pitch classes, qualified notes, drum pattern, tonal distance) "
      "of a pack's real samples; with --checkpoint, of n generated samples side by side with the pack's "
      "held-out real ones; and the realism measure: each metric of n samples against the band that n real "
      "training samples span (2.5-97.5 % over --realism-draws seeded draws), for the generated set and for n "
      "held-out real samples (the bar a perfect generator would meet; without --checkpoint that bar alone). Our "
      "metrics use true pitch classes: not comparable with the paper's tables");
  c->add_option("--packs", a->packs,
                "Pack folder (holds manifest.json), or a packs folder holding <genre>/manifest.json")
      ->required();
  c->add_option("--split", a->split, "Real samples to measure")
      ->capture_default_str()->check(CLI::IsMember({"heldout", "train"}));
  c->add_option("--limit", a->limit, "At most this many real samples (0 = all)")
      ->capture_default_str()->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  c->add_option("--checkpoint", a->request.checkpoint, "Also generate samples from this checkpoint and compare");
  c->add_option("-n,--samples", a->request.n,
                "Generated samples, and N of the realism band and held-out bar (256 or more for steady numbers)")
      ->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{100000}));
  c->add_option("--seed", a->request.seed, "Seed of the generated samples' latents")->capture_default_str();
  c->add_option("--genre", a->request.genre,
                "Genre to generate (conditional models) and pack to read under a packs folder");
  c->add_option("--threshold", a->threshold,
                "Active-cell threshold on the generator's output (default: the config's sample.threshold)");
  c->add_flag("--json", a->json, "Machine-readable output");
  c->add_option("--realism-draws", a->realism_draws,
                "Random draws of n real training samples per realism band (>= 200 for trustworthy 2.5 / 97.5 % "
                "quantiles)")
      ->capture_default_str()->check(CLI::Range(1, 1000000));
  c->add_option("--realism-seed", a->realism_seed,
                "Seed of the realism draws and of the held-out subset (the worker's eval.realism_seed)")
      ->capture_default_str();
  c->add_flag("--no-realism", a->no_realism, "Skip the realism measure");
  c->callback([a, exit_code] { *exit_code = RunMetrics(*a); });
}

}  // namespace tutti::cli
