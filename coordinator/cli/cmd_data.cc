// synth-lpd, pack, pack-info, pack-verify.

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_split.h"
#include "coordinator/cli/cli_status.h"
#include "coordinator/cli/commands.h"
#include "coordinator/cli/table.h"
#include "core/base/file_util.h"
#include "core/config/track_map_yaml.h"
#include "core/base/leftovers.h"
#include "core/data/pack_reader.h"
#include "core/config/track_map_yaml.h"
#include "core/ingest/pack_pipeline.h"
#include "core/lpd/lpd_index.h"
#include "core/synth/synth_corpus.h"

namespace tutti::cli {
namespace {

std::string Num(int64_t v) { return v < 0 ? "-" : std::to_string(v); }

std::string Fixed(double v, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, v);
  return buffer;
}

std::string SummaryTable(const std::vector<PackSummary>& summaries) {
  TextTable table({"genre", "listed", "on disk", "missing", "dup ids", "files", "packed", "skipped", "train",
                   "heldout", "songs/s"});
  for (const PackSummary& s : summaries) {
    table.AddRow({s.genre, Num(s.listed), Num(s.on_disk), Num(s.missing_on_disk), Num(s.duplicate_ids), Num(s.files),
                  Num(s.songs_packed), Num(s.skipped()), Num(s.train_samples), Num(s.heldout_samples),
                  Fixed(s.seconds > 0 ? static_cast<double>(s.files) / s.seconds : 0, 0)});
  }
  std::ostringstream out;
  out << table.ToString();
  // What each track rule keeps (--require): the trade-off between comparability and how much of the music is used.
  TextTable rules({"genre", "track rule (--require)", "songs", "segments", ""});
  for (const PackSummary& s : summaries) {
    for (const RuleCount& rule : s.rules) {
      rules.AddRow({s.genre, rule.rule, Num(rule.songs), Num(rule.segments), rule.chosen ? "<- this pack" : ""});
    }
  }
  if (!summaries.empty() && !summaries[0].rules.empty()) out << "\n" << rules.ToString();
  for (const PackSummary& s : summaries) {
    if (s.skipped_by_reason.empty()) continue;
    out << "skipped in " << s.genre << ":";
    for (const auto& [reason, count] : s.skipped_by_reason) out << "  " << reason << " " << count << ";";
    out << "\n";
    for (const std::string& e : s.error_examples) out << "    " << e << "\n";
  }
  return out.str();
}

struct PackArgs {
  std::string lpd, midi, npz, genre, out, labels;
  std::string track_set = "lpd5";  // --track-set: lpd5, lpd17 or a map file
  std::vector<std::string> genres;
  PackOptions options;
  std::string rule = "segment";
  std::string require = "all";  // --require: which tracks a segment needs
  int beat_resolution = 4;       // --beat-resolution: steps per beat (a bar of 4/4 is 4x this)
  std::string report;  // --report FILE.json
  bool json = false, quiet = false, explain = false;
};

// --report: every input file with its outcome, written whether or not packing succeeded (a genre whose
// files all fail is exactly when a user needs the list).
Status WritePackReport(const std::string& path, const std::vector<PackInput>& inputs, const Status& outcome) {
  nlohmann::json files = nlohmann::json::array();
  int64_t skipped = 0;
  for (const PackInput& input : inputs) {
    files.push_back(input.ToJson());
    skipped += input.outcome == "skipped";
  }
  nlohmann::json report = {{"ok", outcome.ok()},
                           {"error", outcome.ok() ? nlohmann::json(nullptr) : nlohmann::json(std::string(outcome.message()))},
                           {"files", static_cast<int64_t>(inputs.size())},
                           {"skipped", skipped},
                           {"inputs", files}};
  return WriteFileAtomically(path, report.dump(2) + "\n");
}

// A report write cut short by SIGKILL leaves "<report>.tmp-<pid>-<n>" beside it (WriteFileAtomically):
// removed, with one line each, when its writer is dead. Staging directories are the pipeline's to clean.
void RemoveReportLeftovers(const std::string& report) {
  const std::filesystem::path path(report);
  const std::string dir = path.has_parent_path() ? path.parent_path().string() : std::string(".");
  const std::string name = path.filename().string();
  StatusOr<std::vector<std::string>> removed =
      RemoveDeadAtomicWriteTemps(dir, [&name](const std::string& target) { return target == name; });
  if (!removed.ok()) {
    std::cerr << "warning: " << removed.status().message() << "\n";  // the report itself may still be written
    return;
  }
  for (const std::string& temp : *removed) std::cerr << LeftoverNotice("temporary file", temp) << "\n";
}

int RunPack(PackArgs& a) {
  if (a.rule == "song") a.options.segment.rule = NoteRule::kEveryTrackInSong;
  StatusOr<TrackSet> set = LoadTrackSet(a.track_set);
  if (!set.ok()) return ReportFailure(Annotate(set.status(), "--track-set"));
  a.options.track_set = *set;
  a.options.segment.tracks = set->size();
  a.options.track_names.clear();
  for (std::string name : set->Names()) {
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    a.options.track_names.push_back(name);
  }
  StatusOr<TrackRequirement> require = ParseTrackRequirement(a.require, a.options.track_names);
  if (!require.ok()) return ReportFailure(require.status());
  a.options.segment.require = *require;
  a.options.segment.beat_resolution = a.beat_resolution;
  a.options.segment.steps_per_bar = 4 * a.beat_resolution;  // 4/4, as LPD and the tutorial assume
  a.options.dry_run = a.explain;
  if (!a.report.empty()) RemoveReportLeftovers(a.report);
  a.options.show_progress = !a.quiet;
  std::vector<PackInput> inputs;
  if (!a.report.empty()) a.options.inputs = &inputs;
  auto report = [&](const Status& outcome) {
    if (a.report.empty()) return;
    if (Status written = WritePackReport(a.report, inputs, outcome); !written.ok()) {
      std::cerr << "error: writing the report: " << written.message() << "\n";
    } else if (!a.json) {
      std::cerr << "report: " << a.report << " (" << inputs.size() << " input files)\n";
    }
  };
  std::vector<PackSummary> summaries;
  if (!a.npz.empty()) {
    StatusOr<PackSummary> summary = PackNpzDirectory(a.npz, a.genre, a.out, a.options);
    report(summary.status());
    if (!summary.ok()) return ReportFailure(summary.status());
    summaries.push_back(*summary);
  } else if (!a.midi.empty()) {
    StatusOr<PackSummary> summary = PackMidiDirectory(a.midi, a.genre, a.out, a.options);
    report(summary.status());
    if (!summary.ok()) return ReportFailure(summary.status());
    summaries.push_back(*summary);
  } else {
    LpdIndexOptions index_options;
    index_options.root = a.lpd;
    index_options.labels_dir = a.labels;
    StatusOr<LpdIndex> index = LpdIndex::Open(index_options);
    if (!index.ok()) return ReportFailure(index.status());
    StatusOr<std::vector<PackSummary>> packed = PackLpdGenres(*index, a.genres, a.out, a.options);
    report(packed.status());
    if (!packed.ok()) return ReportFailure(packed.status());
    summaries = *packed;
  }
  if (a.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const PackSummary& s : summaries) j.push_back(s.ToJson());
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << SummaryTable(summaries);
    if (a.explain) {
      std::cout << "nothing written (--explain): the packed, train and heldout columns count what --require "
                << a.require << " would keep before the held-out split\n";
    } else {
      for (const PackSummary& s : summaries) std::cout << "wrote " << s.pack_dir << "\n";
    }
  }
  return 0;
}

int RunPackInfo(const std::string& dir, bool json) {
  StatusOr<std::unique_ptr<PackReader>> reader = PackReader::Open(dir);
  if (!reader.ok()) return ReportFailure(reader.status());
  const PackManifest& m = (*reader)->manifest();
  int64_t heldout_songs = 0;
  for (const PackSong& song : m.songs) heldout_songs += song.split == Split::kHeldout;
  if (json) {
    nlohmann::json j = {{"pack_dir", dir},
                        {"genre", m.genre},
                        {"format_version", m.format_version},
                        {"shape", {m.shape.tracks, m.shape.steps, m.shape.pitches}},
                        {"samples", m.samples(Split::kTrain) + m.samples(Split::kHeldout)},
                        {"train_samples", m.samples(Split::kTrain)},
                        {"heldout_samples", m.samples(Split::kHeldout)},
                        {"songs", m.songs.size()},
                        {"heldout_songs", heldout_songs},
                        {"shards", m.train_shards.size() + m.heldout_shards.size()},
                        {"packing", m.packing},
                        {"summary", m.summary},
                        {"created_by", m.created_by}};
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "pack     " << dir << "\n"
            << "genre    " << m.genre << "\n"
            << "shape    [" << m.shape.tracks << "," << m.shape.steps << "," << m.shape.pitches
            << "]  (tracks, steps, pitches)\n"
            << "samples  " << m.samples(Split::kTrain) << " train, " << m.samples(Split::kHeldout) << " held out\n"
            << "songs    " << m.songs.size() << " (" << heldout_songs << " held out)\n"
            << "format   " << m.format_version << ", written by " << m.created_by << "\n";
  // Packs written before --require have no "require": every track was.
  const nlohmann::json segment = m.packing.value("segment", nlohmann::json::object());
  std::cout << "tracks   a segment needs "
            << (segment.contains("require") ? segment["require"].value("rule", std::string("?")) : "every track")
            << " (" << segment.value("min_cells_per_track", 10) << " cells each)\n";
  TextTable shards({"shard", "samples", "bytes", "sha256"});
  for (Split split : kAllSplits) {
    for (const ShardInfo& s : m.shards(split)) {
      shards.AddRow({s.file, std::to_string(s.samples), std::to_string(s.bytes), s.sha256.substr(0, 16) + "…"});
    }
  }
  std::cout << shards.ToString();
  return 0;
}

}  // namespace

void RegisterDataCommands(CLI::App& app, int* exit_code) {
  // synth-lpd
  auto synth = std::make_shared<SynthCorpusOptions>();
  CLI::App* s = app.add_subcommand("synth-lpd",
                                   "Write a small synthetic corpus in exactly the LPD-5 cleansed layout "
                                   "(cleansed_ids.txt, lastfm/id_list_<genre>.txt, lpd_5/lpd_5_cleansed/...)");
  s->add_option("--out", synth->out_dir, "Folder to create (replaced atomically if it exists)")->required();
  s->add_option("--songs", synth->songs, "Number of songs")->capture_default_str()->check(CLI::Range(1, 100000));
  s->add_option("--seed", synth->seed, "Random seed (same seed, same bytes)")->capture_default_str();
  s->add_option("--genres", synth->genres, "Genres to write lists for")->delimiter(',')->capture_default_str();
  auto synth_quiet = std::make_shared<bool>(false);
  s->add_flag("--quiet,-q", *synth_quiet, "No progress output");
  s->callback([synth, synth_quiet, exit_code] {
    StatusOr<SynthCorpusSummary> summary = WriteSyntheticLpd(*synth, !*synth_quiet);
    if (!summary.ok()) {
      *exit_code = ReportFailure(summary.status());
      return;
    }
    std::cout << "wrote " << summary->songs_written << " songs (" << summary->files_written << " files) to "
              << synth->out_dir << "\n";
    for (const auto& [genre, count] : summary->per_genre) std::cout << "  " << genre << ": " << count << " ids\n";
  });

  // pack
  auto pack = std::make_shared<PackArgs>();
  CLI::App* p = app.add_subcommand(
      "pack",
      "Turn genre-filtered LPD-5 (--lpd DIR --genres a,b) or your own MIDI (--midi DIR --genre NAME) into "
      "checksummed training packs: <out>/<genre>/manifest.json + shards");
  auto* lpd = p->add_option("--lpd", pack->lpd, "LPD-5 root (holds cleansed_ids.txt, lastfm/, lpd_5/)");
  auto* midi = p->add_option("--midi", pack->midi, "Folder of Standard MIDI Files (searched recursively)");
  auto* npz = p->add_option("--npz", pack->npz,
                            "Folder of pypianoroll .npz songs (searched recursively; e.g. LPD-17 files), packed "
                            "without genre lists");
  lpd->excludes(midi);
  lpd->excludes(npz);
  midi->excludes(npz);
  p->add_option("--track-set", pack->track_set,
                "Tracks of every sample: lpd5 (Drums, Piano, Guitar, Bass, Strings; default), lpd17 (LPD-17's 17 "
                "families), or a YAML track map (configs/track-maps/*.yaml: names, programs, which source tracks "
                "and General MIDI programs merge into each); recorded in the manifest, and the model follows "
                "(model.tracks)")
      ->capture_default_str();
  auto* genres = p->add_option("--genres", pack->genres, "Genres to pack (Last.fm tags), comma-separated")
                     ->delimiter(',');
  p->add_option("--genre", pack->genre, "Pack name for --midi and --npz");
  genres->needs(lpd);
  p->add_option("--labels", pack->labels, "Genre lists folder (default: <lpd>/lastfm or <lpd>/id_lists_lastfm)");
  p->add_option("--out", pack->out, "Output folder; one pack per genre inside")->required();
  p->add_option("--seed", pack->options.seed, "Seed for segment draws and the held-out split")->capture_default_str();
  p->add_option("--heldout", pack->options.heldout_fraction, "Share of songs held out for metrics")
      ->capture_default_str()->check(CLI::Range(0.0, 0.9));
  p->add_option("--samples-per-song", pack->options.segment.max_samples_per_song, "At most this many segments per song")
      ->capture_default_str()->check(CLI::Range(1, 1000));
  p->add_option("--min-cells", pack->options.segment.min_cells_per_track,
                "A segment needs this many active cells in every track")->capture_default_str();
  p->add_option("--note-rule", pack->rule,
                "segment: every track of each segment must pass --min-cells (default); song: the original "
                "project's whole-song test")->check(CLI::IsMember({"segment", "song"}))->capture_default_str();
  p->add_option("--bars", pack->options.segment.bars_per_sample,
                "Bars per sample (4, the tutorial's; 8 or 16 for longer phrases: set model.measures to match)")
      ->capture_default_str()->check(CLI::Range(2, 64));
  p->add_option("--beat-resolution", pack->beat_resolution,
                "Time steps per beat (4: 16th notes, the tutorial's; 12 or 24 for triplets and finer timing: set "
                "model.steps_per_measure to 4 x this)")
      ->capture_default_str()->check(CLI::Range(1, 48));
  p->add_option("--require", pack->require,
                "Which tracks a segment needs (a track is there with --min-cells cells): all (the tutorial's rule, "
                "default), a number K (at least K of the tracks), or track names that must be there, e.g. "
                "drums,bass (the others may be missing). Missing tracks are stored as they are, usually empty; the "
                "manifest records the rule, and the summary compares what each rule keeps")
      ->capture_default_str();
  p->add_flag("--explain", pack->explain,
              "Read and segment every song and print what each track rule would keep (songs, segments), writing "
              "nothing");
  p->add_option("--threads", pack->options.threads, "Reader threads (0 = all cores)")->capture_default_str();
  p->add_option("--samples-per-shard", pack->options.samples_per_shard, "Samples per shard file")->capture_default_str();
  p->add_option("--report", pack->report,
                "Write every input file with its outcome (train, heldout, or skipped with the reason) to this JSON "
                "file, also when packing fails");
  p->add_flag("--json", pack->json, "Print the summary as JSON");
  p->add_flag("--quiet,-q", pack->quiet, "No progress output");
  p->callback([pack, exit_code, p] {
    if (pack->lpd.empty() && pack->midi.empty() && pack->npz.empty()) {
      std::cerr << "error: pack needs --lpd DIR --genres a,b, --midi DIR --genre NAME or --npz DIR --genre NAME\n"
                << p->help();
      *exit_code = 2;
      return;
    }
    if (!pack->lpd.empty() && pack->genres.empty()) {
      std::cerr << "error: --lpd needs --genres (e.g. --genres rock,pop)\n";
      *exit_code = 2;
      return;
    }
    *exit_code = RunPack(*pack);
  });

  // pack-info
  auto info_dir = std::make_shared<std::string>();
  auto info_json = std::make_shared<bool>(false);
  CLI::App* i = app.add_subcommand("pack-info", "Describe a pack: genre, sample shape and counts, shards");
  i->add_option("DIR", *info_dir, "Pack folder (holds manifest.json)")->required();
  i->add_flag("--json", *info_json, "Machine-readable output");
  i->callback([info_dir, info_json, exit_code] { *exit_code = RunPackInfo(*info_dir, *info_json); });

  // pack-verify
  auto verify_dir = std::make_shared<std::string>();
  CLI::App* v = app.add_subcommand("pack-verify", "Re-hash every shard and check it against the manifest");
  v->add_option("DIR", *verify_dir, "Pack folder")->required();
  v->callback([verify_dir, exit_code] {
    Status status = VerifyPack(*verify_dir, /*show_progress=*/true);
    if (!status.ok()) {
      *exit_code = ReportFailure(status);
      return;
    }
    std::cout << "ok: " << *verify_dir << " matches its manifest\n";
  });
}

}  // namespace tutti::cli
