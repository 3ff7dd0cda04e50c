#include "core/lpd/lpd_index.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <sstream>

#include "absl/strings/str_join.h"
#include "core/base/file_util.h"

namespace tutti {
namespace {

namespace fs = std::filesystem;

bool IsLowerHex32(const std::string& s) {
  return s.size() == 32 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool IsRegularFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string TrimRight(std::string s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  return s;
}

// Finds the song file of `msd_id`: the expected <md5>.npz, else whatever single .npz the folder holds.
std::string FindSongFile(const std::string& folder, const std::string& md5) {
  std::string expected = folder + "/" + md5 + ".npz";
  if (IsRegularFile(expected)) return expected;
  if (!IsDirectory(folder)) return "";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    if (entry.path().extension() == ".npz") return entry.path().string();
  }
  return "";
}

}  // namespace

bool IsMsdId(const std::string& id) {
  return id.size() == 18 && id[0] == 'T' && id[1] == 'R' &&
         std::all_of(id.begin() + 2, id.end(),
                     [](char c) { return std::isupper(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)); });
}

StatusOr<LpdIndex> LpdIndex::Open(const LpdIndexOptions& options) {
  if (options.root.empty()) return absl::InvalidArgumentError("LPD root folder is empty");
  if (!IsDirectory(options.root)) {
    return absl::NotFoundError(absl::StrCat(options.root, ": LPD root folder not found (expected a folder holding "
                                            "cleansed_ids.txt, lastfm/ and lpd_5/lpd_5_cleansed/)"));
  }
  LpdIndex index;
  index.songs_dir_ = options.songs_dir.empty() ? options.root + "/lpd_5/lpd_5_cleansed" : options.songs_dir;
  if (!IsDirectory(index.songs_dir_)) {
    return absl::NotFoundError(absl::StrCat(index.songs_dir_, ": song folder not found (expected the LPD-5 "
                                            "cleansed tree <c3>/<c4>/<c5>/<MSD id>/<md5>.npz)"));
  }

  // Labels folder: as given, or relative to the root, or one of the two published names.
  std::vector<std::string> candidates;
  if (!options.labels_dir.empty()) {
    candidates = {options.labels_dir, options.root + "/" + options.labels_dir};
  } else {
    candidates = {options.root + "/lastfm", options.root + "/id_lists_lastfm"};
  }
  for (const std::string& c : candidates) {
    if (IsDirectory(c)) {
      index.labels_dir_ = c;
      break;
    }
  }
  if (index.labels_dir_.empty()) {
    return absl::NotFoundError(absl::StrCat("genre lists not found: looked for ", absl::StrJoin(candidates, " and "),
                                            " (the Last.fm label archive unpacks to lastfm/ with "
                                            "id_list_<tag>.txt files)"));
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(index.labels_dir_, ec)) {
    std::string name = entry.path().filename().string();
    const std::string prefix = "id_list_", suffix = ".txt";
    if (name.size() > prefix.size() + suffix.size() && name.rfind(prefix, 0) == 0 &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      index.list_path_by_genre_[name.substr(prefix.size(), name.size() - prefix.size() - suffix.size())] =
          entry.path().string();
    }
  }
  if (index.list_path_by_genre_.empty()) {
    return absl::NotFoundError(absl::StrCat(index.labels_dir_, ": no id_list_<tag>.txt files in the labels folder"));
  }

  std::string ids_path = options.ids_file.empty() ? options.root + "/cleansed_ids.txt" : options.ids_file;
  TUTTI_ASSIGN_OR_RETURN(std::string ids_text, ReadFileToString(ids_path));
  std::istringstream lines(ids_text);
  std::string line;
  int64_t line_number = 0;
  index.md5_by_msd_id_.reserve(32768);
  while (std::getline(lines, line)) {
    ++line_number;
    line = TrimRight(line);
    if (line.empty()) continue;
    std::istringstream fields(line);
    std::string md5, msd_id, extra;
    fields >> md5 >> msd_id >> extra;
    if (!IsLowerHex32(md5) || !IsMsdId(msd_id) || !extra.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(ids_path, ":", line_number,
                       ": expected '<32 lower-case hex md5>    <MSD id like TRAAAGR128F425B14B>', got '",
                       line.substr(0, 80), "'"));
    }
    index.md5_by_msd_id_[msd_id] = md5;
  }
  if (index.md5_by_msd_id_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(ids_path, ": no song lines (expected '<md5>    <MSD id>')"));
  }
  return index;
}

std::vector<std::string> LpdIndex::genres() const {
  std::vector<std::string> names;
  for (const auto& [genre, path] : list_path_by_genre_) names.push_back(genre);
  return names;
}

std::string LpdIndex::SongFolder(const std::string& msd_id) const {
  return absl::StrCat(songs_dir_, "/", std::string(1, msd_id[2]), "/", std::string(1, msd_id[3]), "/",
                      std::string(1, msd_id[4]), "/", msd_id);
}

StatusOr<GenreSelection> LpdIndex::Select(const std::string& genre) const {
  auto it = list_path_by_genre_.find(genre);
  if (it == list_path_by_genre_.end()) {
    return absl::NotFoundError(absl::StrCat("unknown genre '", genre, "': no ", labels_dir_, "/id_list_", genre,
                                            ".txt. Known genres: ", absl::StrJoin(genres(), ", ")));
  }
  GenreSelection selection;
  selection.genre = genre;
  selection.list_path = it->second;
  TUTTI_ASSIGN_OR_RETURN(std::string text, ReadFileToString(it->second));
  std::istringstream lines(text);
  std::string line;
  int64_t line_number = 0;
  std::map<std::string, LpdSongFile> by_md5;
  while (std::getline(lines, line)) {
    ++line_number;
    line = TrimRight(line);
    if (line.empty()) continue;
    if (!IsMsdId(line)) {
      return absl::InvalidArgumentError(absl::StrCat(it->second, ":", line_number,
                                                     ": expected an MSD id like TRAAAGR128F425B14B, got '",
                                                     line.substr(0, 80), "'"));
    }
    ++selection.listed;
    auto known = md5_by_msd_id_.find(line);
    if (known == md5_by_msd_id_.end()) {
      ++selection.not_in_cleansed_ids;
      continue;
    }
    const std::string& md5 = known->second;
    std::string path = FindSongFile(SongFolder(line), md5);
    if (path.empty()) {
      ++selection.missing_on_disk;
      continue;
    }
    ++selection.on_disk;
    auto [existing, inserted] = by_md5.try_emplace(md5, LpdSongFile{md5, {line}, path});
    if (!inserted) {
      // Same MIDI file under another id: count it, pack it once.
      ++selection.duplicate_ids;
      existing->second.msd_ids.push_back(line);
    }
  }
  selection.files.reserve(by_md5.size());
  for (auto& [md5, file] : by_md5) selection.files.push_back(std::move(file));
  return selection;
}

}  // namespace tutti
