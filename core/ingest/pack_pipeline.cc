#include "core/ingest/pack_pipeline.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "core/base/file_util.h"
#include "core/base/interrupt.h"
#include "core/base/progress.h"
#include "core/base/sha256.h"
#include "core/data/pack_output_lock.h"
#include "core/data/pack_writer.h"
#include "core/data/sample_shape.h"
#include "core/midi/midi_to_multitrack.h"
#include "core/npz/pianoroll_npz.h"

namespace tutti {
namespace {

namespace fs = std::filesystem;

// What one song gave: packed samples or the reason it gave none.
struct SongOutcome {
  std::vector<uint8_t> packed;  // n × packed_bytes
  int64_t samples = 0;
  std::vector<int64_t> kept_per_rule;  // segments each compared rule would keep (ComparedRules order)
  std::string skip_reason;      // empty when samples > 0
  std::string error;            // the reader's message for unreadable files
};

SongOutcome ProcessSong(const SourceSong& song, const SongReader& reader, const PackOptions& options,
                        const SampleShape& shape, const std::vector<TrackRequirement>& rules) {
  SongOutcome outcome;
  outcome.kept_per_rule.assign(rules.size(), 0);
  StatusOr<Multitrack> loaded = reader(song.path);
  if (!loaded.ok()) {
    outcome.skip_reason = "unreadable file";
    outcome.error = std::string(loaded.status().message());
    return outcome;
  }
  SegmentResult result = SegmentSong(*loaded, options.segment, SongSeed(options.seed, song.key));
  // Every rule sees the same drawn segments (the draw comes before the rule), so one pass counts them all.
  for (size_t r = 0; r < rules.size(); ++r) {
    outcome.kept_per_rule[r] = CountKeptSegments(result, rules[r], options.segment.min_cells_per_track);
  }
  if (options.dry_run) {
    outcome.samples = static_cast<int64_t>(result.start_bars.size());
    if (result.start_bars.empty()) outcome.skip_reason = result.no_sample_reason;
    return outcome;
  }
  if (result.start_bars.empty()) {
    outcome.skip_reason = result.no_sample_reason;
    return outcome;
  }
  outcome.samples = static_cast<int64_t>(result.start_bars.size());
  outcome.packed.resize(static_cast<size_t>(outcome.samples * shape.packed_bytes()));
  for (int64_t i = 0; i < outcome.samples; ++i) {
    PackCells(result.samples.data() + i * shape.cells(), shape.cells(),
              outcome.packed.data() + i * shape.packed_bytes());
  }
  return outcome;
}

int ThreadCount(const PackOptions& options) {
  if (options.threads > 0) return options.threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

int64_t PackSummary::skipped() const {
  int64_t total = 0;
  for (const auto& [reason, count] : skipped_by_reason) total += count;
  return total;
}

nlohmann::json PackSummary::ToJson() const {
  nlohmann::json j = {{"genre", genre},
                      {"pack_dir", pack_dir},
                      {"files", files},
                      {"songs_packed", songs_packed},
                      {"heldout_songs", heldout_songs},
                      {"train_samples", train_samples},
                      {"heldout_samples", heldout_samples},
                      {"skipped", skipped()},
                      {"skipped_by_reason", skipped_by_reason},
                      {"error_examples", error_examples},
                      {"seconds", seconds}};
  if (!rules.empty()) {
    nlohmann::json table = nlohmann::json::array();
    for (const RuleCount& rule : rules) table.push_back(rule.ToJson());
    j["rules"] = table;
  }
  if (listed >= 0) {
    j["listed"] = listed;
    j["not_in_cleansed_ids"] = not_in_cleansed_ids;
    j["missing_on_disk"] = missing_on_disk;
    j["on_disk"] = on_disk;
    j["duplicate_ids"] = duplicate_ids;
  }
  return j;
}

std::vector<TrackRequirement> ComparedRules(const TrackRequirement& chosen, int tracks) {
  std::vector<TrackRequirement> rules(1);  // every track
  for (int k = tracks - 1; k >= 1; --k) {
    TrackRequirement at_least;
    at_least.at_least = k;
    rules.push_back(at_least);
  }
  if (std::find(rules.begin(), rules.end(), chosen) == rules.end()) rules.push_back(chosen);
  return rules;
}

nlohmann::json RuleCount::ToJson() const {
  return {{"rule", rule}, {"songs", songs}, {"segments", segments}, {"chosen", chosen}};
}

nlohmann::json SegmentOptionsToJson(const SegmentOptions& o, const std::vector<std::string>& track_names) {
  nlohmann::json require = {{"rule", o.require.Describe(track_names, o.tracks)}};
  if (o.require.EveryTrack()) {
    require["every_track"] = true;
  } else {
    if (o.require.at_least > 0) require["at_least"] = o.require.at_least;
    if (!o.require.tracks.empty()) {
      nlohmann::json names = nlohmann::json::array();
      for (int t : o.require.tracks) {
        names.push_back(t < static_cast<int>(track_names.size()) ? track_names[static_cast<size_t>(t)] : std::to_string(t));
      }
      require["tracks"] = names;
    }
  }
  return {{"require", require},
          {"beat_resolution", o.beat_resolution},
          {"steps_per_bar", o.steps_per_bar},
          {"bars_per_sample", o.bars_per_sample},
          {"lowest_pitch", o.lowest_pitch},
          {"pitches", o.pitches},
          {"tracks", o.tracks},
          {"max_samples_per_song", o.max_samples_per_song},
          {"min_cells_per_track", o.min_cells_per_track},
          {"note_rule", o.rule == NoteRule::kEveryTrackInSegment ? "every_track_in_segment" : "every_track_in_song"}};
}

nlohmann::json PackInput::ToJson() const {
  nlohmann::json j = {{"genre", genre}, {"path", path}, {"key", key}, {"ids", ids}, {"outcome", outcome},
                      {"samples", samples}};
  if (!reason.empty()) j["reason"] = reason;
  if (!error.empty()) j["error"] = error;
  return j;
}

StatusOr<PackSummary> PackSongs(const std::vector<SourceSong>& songs, const SongReader& reader,
                                const std::string& genre, const std::string& pack_dir, const PackOptions& options,
                                const nlohmann::json& packing_source) {
  const auto start = std::chrono::steady_clock::now();
  const SampleShape shape{options.segment.tracks, options.segment.sample_steps(), options.segment.pitches};
  PackSummary summary;
  summary.genre = genre;
  summary.pack_dir = pack_dir;
  summary.files = static_cast<int64_t>(songs.size());
  if (songs.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("genre '", genre, "': empty selection, no song files to pack"));
  }
  // Held until the pack is published (or this run fails): no other run writes it meanwhile, and what a
  // killed earlier run staged is removed now, each with one line.
  std::unique_ptr<PackOutputLock> output_lock;
  if (!options.dry_run) {
    TUTTI_ASSIGN_OR_RETURN(output_lock, PackOutputLock::Acquire(pack_dir));
    for (const std::string& line : output_lock->notices()) {
      if (options.notice) {
        options.notice(line);
      } else {
        std::fprintf(stderr, "%s\n", line.c_str());
      }
    }
  }
  const std::vector<TrackRequirement> rules = ComparedRules(options.segment.require, options.segment.tracks);

  // Read and segment on all threads; results land in song order so the pack does not depend on timing.
  std::vector<SongOutcome> outcomes(songs.size());
  std::atomic<size_t> next{0};
  Progress progress(absl::StrCat("[pack ", genre, "]"), summary.files, "songs", options.show_progress);
  auto work = [&] {
    for (size_t i = next.fetch_add(1); i < songs.size() && !InterruptRequested(); i = next.fetch_add(1)) {
      outcomes[i] = ProcessSong(songs[i], reader, options, shape, rules);
      progress.Advance();
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < ThreadCount(options); ++t) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
  progress.Finish();
  if (InterruptRequested()) {
    return absl::CancelledError(absl::StrCat("genre '", genre, "': interrupted; nothing was written to ", pack_dir));
  }

  for (size_t r = 0; r < rules.size(); ++r) {
    RuleCount count;
    count.requirement = rules[r];
    count.rule = rules[r].Describe(options.track_names, options.segment.tracks);
    count.chosen = rules[r] == options.segment.require;
    for (const SongOutcome& o : outcomes) {
      count.songs += o.kept_per_rule[r] > 0;
      count.segments += o.kept_per_rule[r];
    }
    summary.rules.push_back(count);
  }

  // Held-out songs: the lowest seeded hashes of the md5 among songs that gave samples.
  std::vector<size_t> with_samples;
  std::vector<PackInput> inputs(songs.size());
  for (size_t i = 0; i < songs.size(); ++i) {
    const SongOutcome& o = outcomes[i];
    inputs[i] = PackInput{genre, songs[i].path, songs[i].key, songs[i].ids, "skipped", o.samples, o.skip_reason, o.error};
    if (o.samples > 0) {
      with_samples.push_back(i);
    } else {
      summary.skipped_by_reason[o.skip_reason]++;
      if (!o.error.empty() && static_cast<int>(summary.error_examples.size()) < options.max_error_examples) {
        summary.error_examples.push_back(o.error);
      }
    }
  }
  if (options.dry_run) {
    summary.pack_dir.clear();
    summary.songs_packed = static_cast<int64_t>(with_samples.size());
    for (size_t i : with_samples) summary.train_samples += outcomes[i].samples;
    summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return summary;
  }
  if (with_samples.empty()) {
    if (options.inputs != nullptr) options.inputs->insert(options.inputs->end(), inputs.begin(), inputs.end());
    // Name the files: counts alone do not say which of a user's files to look at.
    std::string named;
    for (size_t i = 0; i < inputs.size() && i < static_cast<size_t>(kMaxSkippedNamedInError); ++i) {
      absl::StrAppend(&named, "\n  ", inputs[i].path, ": ", inputs[i].reason,
                      inputs[i].error.empty() ? "" : absl::StrCat(" (", inputs[i].error, ")"));
    }
    if (inputs.size() > static_cast<size_t>(kMaxSkippedNamedInError)) {
      absl::StrAppend(&named, "\n  ... and ", inputs.size() - kMaxSkippedNamedInError,
                      " more (tutti pack --report FILE.json lists every file)");
    }
    return absl::FailedPreconditionError(
        absl::StrCat("genre '", genre, "': none of its ", songs.size(), " song files gave a sample (",
                     nlohmann::json(summary.skipped_by_reason).dump(), "); nothing was written. Skipped:", named));
  }
  int64_t n_heldout = std::llround(options.heldout_fraction * static_cast<double>(with_samples.size()));
  if (options.heldout_fraction > 0 && n_heldout == 0 && with_samples.size() >= 2) n_heldout = 1;
  if (n_heldout >= static_cast<int64_t>(with_samples.size())) n_heldout = static_cast<int64_t>(with_samples.size()) - 1;
  std::vector<size_t> by_hash = with_samples;
  std::sort(by_hash.begin(), by_hash.end(), [&](size_t a, size_t b) {
    return SongSeed(options.seed ^ 0x68656c646f7574ull, songs[a].key) <
           SongSeed(options.seed ^ 0x68656c646f7574ull, songs[b].key);
  });
  std::vector<bool> heldout(songs.size(), false);
  for (int64_t k = 0; k < n_heldout; ++k) heldout[by_hash[static_cast<size_t>(k)]] = true;

  PackWriterOptions writer_options;
  writer_options.genre = genre;
  writer_options.shape = shape;
  writer_options.samples_per_shard = options.samples_per_shard;
  writer_options.created_by = "tutti 0.1.0";
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<PackWriter> writer, PackWriter::Create(pack_dir, writer_options));
  std::vector<PackSong> pack_songs;
  for (Split split : kAllSplits) {
    for (size_t i : with_samples) {
      if (heldout[i] != (split == Split::kHeldout)) continue;
      const SongOutcome& o = outcomes[i];
      for (int64_t s = 0; s < o.samples; ++s) {
        TUTTI_RETURN_IF_ERROR(writer->AddPacked(split, o.packed.data() + s * shape.packed_bytes()));
      }
      pack_songs.push_back(PackSong{songs[i].key, songs[i].ids, static_cast<int32_t>(o.samples), split});
      inputs[i].outcome = SplitName(split);
      (split == Split::kTrain ? summary.train_samples : summary.heldout_samples) += o.samples;
      summary.heldout_songs += split == Split::kHeldout;
    }
  }
  summary.songs_packed = static_cast<int64_t>(with_samples.size());
  if (InterruptRequested()) {
    return absl::CancelledError(absl::StrCat("genre '", genre, "': interrupted; nothing was written to ", pack_dir));
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json packing = {{"segment", SegmentOptionsToJson(options.segment, options.track_names)},
                            {"track_set", TrackSetToJson(options.track_set)},
                            {"seed", options.seed},
                            {"heldout_fraction", options.heldout_fraction},
                            {"heldout_rule", "songs with the lowest seeded hash of their md5"},
                            {"source", packing_source}};
  TUTTI_RETURN_IF_ERROR(writer->Finish(std::move(pack_songs), packing, summary.ToJson()));
  if (options.inputs != nullptr) options.inputs->insert(options.inputs->end(), inputs.begin(), inputs.end());
  return summary;
}

StatusOr<std::vector<PackSummary>> PackLpdGenres(const LpdIndex& index, const std::vector<std::string>& genres,
                                                 const std::string& out_dir, const PackOptions& options) {
  if (genres.empty()) return absl::InvalidArgumentError("no genre given (expected e.g. --genres rock,pop)");
  std::vector<GenreSelection> selections;
  for (const std::string& genre : genres) {
    TUTTI_ASSIGN_OR_RETURN(GenreSelection selection, index.Select(genre));
    if (selection.files.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "genre '", genre, "': empty selection: ", selection.listed, " ids listed in ", selection.list_path, ", ",
          selection.missing_on_disk, " missing on disk, ", selection.not_in_cleansed_ids,
          " unknown to cleansed_ids.txt, none on disk; nothing was written"));
    }
    selections.push_back(std::move(selection));
  }
  NpzReadOptions read_options;
  read_options.load_tempo = false;
  read_options.load_downbeat = false;
  const TrackSet set = options.track_set;
  const bool lpd5 = set.name == "lpd5";
  SongReader reader = [read_options, set, lpd5](const std::string& path) -> StatusOr<Multitrack> {
    TUTTI_ASSIGN_OR_RETURN(Multitrack song, ReadPianorollNpz(path, read_options));
    if (lpd5) return song;  // LPD-5's files are in its set already (and any other file fails the track count)
    return ApplyTrackSet(song, set);
  };
  std::vector<PackSummary> summaries;
  for (const GenreSelection& selection : selections) {
    std::vector<SourceSong> songs;
    songs.reserve(selection.files.size());
    for (const LpdSongFile& file : selection.files) songs.push_back(SourceSong{file.md5, file.msd_ids, file.path});
    nlohmann::json source = {{"kind", "lpd5_cleansed"},
                             {"labels", index.labels_dir()},
                             {"list", selection.list_path}};
    TUTTI_ASSIGN_OR_RETURN(PackSummary summary,
                           PackSongs(songs, reader, selection.genre, out_dir + "/" + selection.genre, options, source));
    summary.listed = selection.listed;
    summary.not_in_cleansed_ids = selection.not_in_cleansed_ids;
    summary.missing_on_disk = selection.missing_on_disk;
    summary.on_disk = selection.on_disk;
    summary.duplicate_ids = selection.duplicate_ids;
    summaries.push_back(std::move(summary));
  }
  return summaries;
}

namespace {

// The song files under `dir` (recursively, which must exist) whose path `wanted` accepts, keyed by the first 32
// hex digits of their sha256; identical files under several names are packed once: one song with several ids.
StatusOr<std::vector<SourceSong>> SongFilesUnder(const std::string& dir,
                                                 const std::function<bool(const fs::path&)>& wanted) {
  std::error_code ec;
  std::vector<SourceSong> songs;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    if (!wanted(it->path())) continue;
    TUTTI_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(it->path().string()));
    songs.push_back(SourceSong{Sha256Hex(bytes).substr(0, 32),
                               {fs::relative(it->path(), dir).string()},
                               it->path().string()});
  }
  std::sort(songs.begin(), songs.end(), [](const SourceSong& a, const SourceSong& b) {
    return a.key != b.key ? a.key < b.key : a.ids < b.ids;
  });
  std::vector<SourceSong> unique;
  for (SourceSong& song : songs) {
    if (!unique.empty() && unique.back().key == song.key) {
      unique.back().ids.push_back(song.ids[0]);
    } else {
      unique.push_back(std::move(song));
    }
  }
  return unique;
}

// PackMidiDirectory and PackNpzDirectory: the folder, the pack's name, then the files `wanted` accepts
// (`files` says which in the empty-selection error), each read by `reader`.
StatusOr<PackSummary> PackDirectory(const std::string& dir, const std::string& genre, const std::string& out_dir,
                                    const PackOptions& options, const std::string& what, const std::string& flag,
                                    const std::string& files, const std::function<bool(const fs::path&)>& wanted,
                                    const SongReader& reader, const nlohmann::json& source) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return absl::NotFoundError(absl::StrCat(dir, ": ", what, " folder not found"));
  if (genre.empty()) return absl::InvalidArgumentError(absl::StrCat("--genre is required with ", flag, " (the pack's name)"));
  TUTTI_ASSIGN_OR_RETURN(std::vector<SourceSong> songs, SongFilesUnder(dir, wanted));
  if (songs.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, ": empty selection: no ", files, " files; nothing was written"));
  }
  return PackSongs(songs, reader, genre, out_dir + "/" + genre, options, source);
}

}  // namespace

StatusOr<PackSummary> PackNpzDirectory(const std::string& npz_dir, const std::string& genre,
                                       const std::string& out_dir, const PackOptions& options) {
  NpzReadOptions read_options;
  read_options.load_tempo = false;
  read_options.load_downbeat = false;
  const TrackSet set = options.track_set;
  SongReader reader = [read_options, set](const std::string& path) -> StatusOr<Multitrack> {
    TUTTI_ASSIGN_OR_RETURN(Multitrack song, ReadPianorollNpz(path, read_options));
    return ApplyTrackSet(song, set);
  };
  const nlohmann::json source = {{"kind", "npz"}, {"folder", npz_dir},
                                 {"song_key", "first 32 hex digits of the sha256 of the .npz file"}};
  return PackDirectory(npz_dir, genre, out_dir, options, ".npz", "--npz", ".npz",
                       [](const fs::path& path) {
                         const std::string name = path.string();
                         return name.size() > 4 && name.compare(name.size() - 4, 4, ".npz") == 0;
                       }, reader, source);
}

StatusOr<PackSummary> PackMidiDirectory(const std::string& midi_dir, const std::string& genre,
                                        const std::string& out_dir, const PackOptions& options) {
  const TrackSet set = options.track_set;
  SongReader reader = [set](const std::string& path) {
    MidiImportOptions import;
    if (set.name != "lpd5") import.track_set = &set;
    return ReadMidiAsLpd5(path, import);
  };
  const nlohmann::json source = {{"kind", "midi"}, {"folder", midi_dir},
                                 {"song_key", "first 32 hex digits of the sha256 of the MIDI file"}};
  return PackDirectory(midi_dir, genre, out_dir, options, "MIDI", "--midi", ".mid/.midi/.smf",
                       [](const fs::path& path) { return IsMidiFileName(path.string()); }, reader, source);
}

}  // namespace tutti
