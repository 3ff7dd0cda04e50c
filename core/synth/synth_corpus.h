#pragma once
// `tutti synth-lpd`: a small synthetic Lakh Pianoroll Dataset (LPD-5 cleansed) in exactly the published
// layout, so the demo and the tests run with no download. Readers treat it like the real tree.
//
//   <out>/cleansed_ids.txt                               "<md5>    <MSD id>" (four spaces), LF, sorted by id
//   <out>/lastfm/id_list_<genre>.txt                     one MSD id per line, LF, in no particular order
//   <out>/lpd_5/lpd_5_cleansed/<c3>/<c4>/<c5>/<MSD id>/<md5>.npz    legacy pypianoroll layout (as LPD)
//   <out>/README.txt                                     says that the tree is synthetic, and how it was made
//
// As in the real dataset: MSD ids are "TR" + 16 characters of [A-Z0-9] (c3..c5 = their 3rd..5th
// characters); md5s are 32 lower-case hex digits (here the first half of a SHA-256 of the song's content,
// also stored as the song's name in info.json); some files sit under a second MSD id (identical bytes);
// some listed ids have no song folder (a partial download); some ids are in two genre lists (rock ∩ pop);
// about half the songs have a track stored empty; every listed id is in cleansed_ids.txt.
//
// Writing is all-or-nothing: the tree is built in a temporary directory beside `out_dir`, flushed to disk
// once (syncfs, not an fsync per file) and published in one rename (PublishDirectory); an existing synthetic
// tree at `out_dir` (one whose README.txt we wrote) is replaced, anything else there is refused. On an error or Ctrl-C (InterruptRequested) the temporary is removed and `out_dir` is untouched.
// Deterministic: the same options give byte-identical files. Single-threaded (200 songs take about a second
// of CPU); two concurrent calls must not share an out_dir.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/base/status.h"

namespace tutti {

struct SynthCorpusOptions {
  std::string out_dir;                      // root of the tree (required)
  int songs = 200;                          // song folders written, duplicates included (>= 1)
  uint64_t seed = 1;
  // Genre tags, each [a-z0-9-]+ and distinct; songs are spread evenly over them. Tags other than the
  // built-in ones get the nearest built-in style (see StyleForGenre).
  std::vector<std::string> genres = {"rock", "pop", "jazz", "electronic", "hip-hop"};
  int min_bars = 16;                        // song length in whole bars, inclusive range; about half the
  int max_bars = 48;                        // songs get 1..3 more beats (not a whole number of bars)
  double duplicate_share = 0.05;            // of `songs`: same MIDI md5 under a second MSD id, as real LPD
  double missing_share = 0.03;              // of `songs`, extra: listed ids whose song folder is absent
  double second_genre_share = 0.15;         // songs also listed in a second genre (rock <-> pop, ...)
};

struct SynthCorpusSummary {
  int songs_written = 0;                    // song folders on disk, one .npz each (== options.songs)
  int files_written = 0;                    // every file: .npz files, genre lists, cleansed_ids.txt, README
  int distinct_files = 0;                   // distinct md5s on disk
  int duplicate_ids = 0;                    // extra ids holding a file another id holds (songs - distinct)
  int missing_ids = 0;                      // listed ids with no song folder
  int multi_genre_ids = 0;                  // ids in two genre lists
  int songs_with_empty_track = 0;           // distinct files with a track stored as shape (0, 128)
  std::map<std::string, int> per_genre;     // ids on disk per genre list
  int64_t bytes_written = 0;
  double seconds = 0;
};

// Writes the tree described above to options.out_dir. InvalidArgument for bad options, FailedPrecondition
// when out_dir exists, is not empty and is not a synthetic tree, Cancelled on Ctrl-C, else the first I/O
// error (naming the path). `show_progress` draws a progress line on stderr.
StatusOr<SynthCorpusSummary> WriteSyntheticLpd(const SynthCorpusOptions& options, bool show_progress = true);

}  // namespace tutti
