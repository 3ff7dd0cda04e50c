#pragma once
// The LPD-5 cleansed tree as published, and the Last.fm genre lists that select songs from it.
//
//   <root>/cleansed_ids.txt                       "<midi md5>    <MSD id>" per line
//   <root>/lastfm/id_list_<tag>.txt               one MSD id per line (id_lists_lastfm/ also accepted)
//   <root>/lpd_5/lpd_5_cleansed/<c3>/<c4>/<c5>/<MSD id>/<midi md5>.npz
//
// A song belongs to a genre when its MSD id is in that genre's list. The same MIDI file (md5) sits under
// several MSD ids, so a selection is deduplicated by md5: each file is packed once. Lists name every
// song of the full dataset; on a partial tree most are "listed but not on disk", which is counted, not
// an error. Thread-compatible: a const LpdIndex may be shared by threads.

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/base/status.h"

namespace tutti {

struct LpdIndexOptions {
  std::string root;         // the folder holding cleansed_ids.txt and lpd_5/
  std::string labels_dir;   // "" = <root>/lastfm, else <root>/id_lists_lastfm; relative paths are
                            // taken against <root> when they do not exist as given
  std::string ids_file;     // "" = <root>/cleansed_ids.txt
  std::string songs_dir;    // "" = <root>/lpd_5/lpd_5_cleansed
};

// One distinct song file and every MSD id (within the selection) that points at it.
struct LpdSongFile {
  std::string md5;
  std::vector<std::string> msd_ids;
  std::string path;
};

struct GenreSelection {
  std::string genre;
  std::string list_path;
  int64_t listed = 0;               // ids in the genre list (blank lines ignored)
  int64_t not_in_cleansed_ids = 0;  // listed ids that cleansed_ids.txt does not know
  int64_t missing_on_disk = 0;      // known ids whose song folder or .npz is absent
  int64_t on_disk = 0;              // ids whose .npz exists
  int64_t duplicate_ids = 0;        // on-disk ids whose file another id of the list already selected
  std::vector<LpdSongFile> files;   // distinct files, sorted by md5
};

class LpdIndex {
 public:
  // Reads cleansed_ids.txt and the list of genre files (not their contents). Errors name the file and
  // line ("cleansed_ids.txt:17: expected '<32 hex md5>    <MSD id>', got ...").
  static StatusOr<LpdIndex> Open(const LpdIndexOptions& options);

  // Genre tags that have a list file, sorted.
  std::vector<std::string> genres() const;
  const std::string& labels_dir() const { return labels_dir_; }
  int64_t known_ids() const { return static_cast<int64_t>(md5_by_msd_id_.size()); }

  // Resolves a genre to song files. NotFound for an unknown genre, listing the known ones.
  StatusOr<GenreSelection> Select(const std::string& genre) const;

  // <songs_dir>/<c3>/<c4>/<c5>/<msd_id> for a valid MSD id.
  std::string SongFolder(const std::string& msd_id) const;

 private:
  LpdIndex() = default;

  std::string songs_dir_;
  std::string labels_dir_;
  std::unordered_map<std::string, std::string> md5_by_msd_id_;
  std::map<std::string, std::string> list_path_by_genre_;
};

// True for "TR" followed by 16 characters of [A-Z0-9].
bool IsMsdId(const std::string& id);

}  // namespace tutti
