#pragma once
// `tutti pack`: songs (LPD-5 .npz selected by genre, or Standard MIDI Files) → one pack per genre.
//
// For each genre: read every distinct song file on `threads` threads (only the pianoroll members; tempo
// and downbeat are skipped), cut samples with SegmentSong (segmenter.h), choose the held-out songs by a
// seeded hash of their md5 (so identical files never straddle the split), and write the pack with
// PackWriter — staged beside the target and published in one rename, the manifest last.
//
// Bad songs are skipped and counted by reason; they never stop the pack. What does stop it, before
// anything is written: an unknown genre, a genre with no song on disk, a genre whose songs give no sample
// (the error then names every file with its reason, up to kMaxSkippedNamedInError of them), or Ctrl-C
// (InterruptRequested) — in every case no half pack is left behind. Each pack is written under its
// PackOutputLock: a second run on the same pack fails at once, and what a run killed with SIGKILL staged
// is removed by the next one, which says so. PackOptions::inputs receives every file's outcome (tutti pack
// --report).

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/status.h"
#include "core/ingest/segmenter.h"
#include "core/lpd/lpd_index.h"
#include "core/music/multitrack.h"
#include "core/music/track_set.h"

namespace tutti {

// What became of one input file (tutti pack --report): packed into a split, or skipped with a reason.
struct PackInput {
  std::string genre;
  std::string path;
  std::string key;                 // md5 (LPD) or sha256 prefix (own MIDI)
  std::vector<std::string> ids;    // MSD ids, or the MIDI file's relative names
  std::string outcome;             // "train", "heldout" or "skipped"
  int64_t samples = 0;
  std::string reason;              // why it was skipped ("" when packed)
  std::string error;               // the reader's message for unreadable files
  nlohmann::json ToJson() const;
};

struct PackOptions {
  SegmentOptions segment;           // the sample recipe
  uint64_t seed = 0;                // segment draws and the held-out choice
  double heldout_fraction = 0.1;    // share of songs (with samples) kept apart for quality metrics
  int threads = 0;                  // reader threads; 0 = all cores
  int64_t samples_per_shard = 4096; // ~11.8 MB shards at the default shape
  bool show_progress = true;        // progress line on stderr
  int max_error_examples = 20;      // bad-file messages kept in the summary
  // When set, every input file's outcome is appended here, in song order per genre, also when packing the
  // genre fails because no file gave a sample (not when it is interrupted: nothing was decided then).
  std::vector<PackInput>* inputs = nullptr;
  // Where the clean-up lines go: each staging directory that a killed earlier run left beside a pack is
  // removed at the start of the next run (core/data/pack_output_lock.h), one line each. Null: stderr.
  std::function<void(const std::string&)> notice;
  // Names of the tracks, in order (segment.require's names, the rule table's).
  std::vector<std::string> track_names = {"drums", "piano", "guitar", "bass", "strings"};
  // The tracks of every sample and how songs map onto them (core/music/track_set.h); segment.tracks must be its
  // size and track_names its names. LPD-5 by default, read as before (LPD's files already have its tracks).
  TrackSet track_set = Lpd5TrackSet();
  // `tutti pack --explain`: read and segment every song and count what each track rule would keep
  // (PackSummary::rules), but write nothing and take no lock; the summary's pack_dir is "".
  bool dry_run = false;
};

// What one track rule keeps of a genre's songs (the pack summary's rule table, `tutti pack --explain`).
struct RuleCount {
  std::string rule;         // TrackRequirement::Describe
  TrackRequirement requirement;
  int64_t songs = 0;        // songs with at least one kept segment
  int64_t segments = 0;     // segments kept (at most segment.max_samples_per_song per song)
  bool chosen = false;      // the rule this pack uses
  nlohmann::json ToJson() const;
};

// The rules the table compares: every track, at least K for K = tracks-1 .. 1, then `chosen` when it is none of
// those (a named set).
std::vector<TrackRequirement> ComparedRules(const TrackRequirement& chosen, int tracks);

// One song to pack: its identity and where it is.
struct SourceSong {
  std::string key;                   // LPD: the MIDI md5; own MIDI: first 32 hex digits of its sha256
  std::vector<std::string> ids;      // LPD: MSD ids; own MIDI: path relative to the MIDI folder
  std::string path;
};

struct PackSummary {
  std::string genre;
  std::string pack_dir;
  // From the genre selection (LPD only; -1 for own MIDI).
  int64_t listed = -1;
  int64_t not_in_cleansed_ids = -1;
  int64_t missing_on_disk = -1;
  int64_t on_disk = -1;
  int64_t duplicate_ids = -1;
  // From packing.
  int64_t files = 0;                 // distinct song files read
  int64_t songs_packed = 0;          // songs that gave at least one sample
  int64_t heldout_songs = 0;
  int64_t train_samples = 0;
  int64_t heldout_samples = 0;
  std::map<std::string, int64_t> skipped_by_reason;
  std::vector<std::string> error_examples;  // "<file>: <what was wrong>" for unreadable songs
  std::vector<RuleCount> rules;             // what each compared track rule keeps (ComparedRules)
  double seconds = 0;

  int64_t skipped() const;
  nlohmann::json ToJson() const;
};

inline constexpr int kMaxSkippedNamedInError = 200;

using SongReader = std::function<StatusOr<Multitrack>(const std::string& path)>;

// Packs `songs` into `pack_dir`. `packing_source` is stored in the manifest's "packing" object.
StatusOr<PackSummary> PackSongs(const std::vector<SourceSong>& songs, const SongReader& reader,
                                const std::string& genre, const std::string& pack_dir, const PackOptions& options,
                                const nlohmann::json& packing_source);

// Resolves every genre first (unknown or empty genres fail before anything is written), then packs each
// into <out_dir>/<genre>.
StatusOr<std::vector<PackSummary>> PackLpdGenres(const LpdIndex& index, const std::vector<std::string>& genres,
                                                 const std::string& out_dir, const PackOptions& options);

// Packs every *.mid / *.midi / *.smf under `midi_dir` (recursively) into <out_dir>/<genre>.
StatusOr<PackSummary> PackMidiDirectory(const std::string& midi_dir, const std::string& genre,
                                        const std::string& out_dir, const PackOptions& options);
// Packs every pypianoroll *.npz song under `npz_dir` (recursively; e.g. LPD-17 or LPD-5 files outside the genre
// lists) into <out_dir>/<genre>, each mapped onto options.track_set.
StatusOr<PackSummary> PackNpzDirectory(const std::string& npz_dir, const std::string& genre,
                                       const std::string& out_dir, const PackOptions& options);


// The packing parameters as stored in manifests; "require" names the track rule with `track_names`.
nlohmann::json SegmentOptionsToJson(const SegmentOptions& options,
                                    const std::vector<std::string>& track_names = {"drums", "piano", "guitar", "bass",
                                                                                   "strings"});

}  // namespace tutti
