#include "core/synth/synth_corpus.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/file_util.h"
#include "core/base/interrupt.h"
#include "core/base/progress.h"
#include "core/base/sha256.h"
#include "core/npz/pianoroll_npz.h"
#include "core/synth/song_generator.h"
#include "core/synth/synth_rng.h"

namespace tutti {
namespace {

namespace fs = std::filesystem;
using synth_internal::Mix64;
using synth_internal::Rng;

constexpr char kReadmeName[] = "README.txt";
constexpr char kReadmeMarker[] = "Synthetic LPD-5 cleansed tree";

// One MSD id of the tree.
struct Entry {
  std::string msd_id;
  std::string md5;
  std::vector<std::string> genres;  // lists that name it
  int source = -1;                  // index of the generated song whose file it holds; -1 when missing
};

bool IsGenreTag(const std::string& tag) {
  if (tag.empty()) return false;
  for (char c : tag) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

// "TR" + 5 letters + "128F" + 7 of [0-9A-F], like TRAAAGR128F425B14B; c3..c5 are letters 1..3 of the five.
std::string MakeMsdId(Rng& rng) {
  static const char kLetters[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  static const char kHex[] = "0123456789ABCDEF";
  std::string id = "TR";
  for (int i = 0; i < 5; ++i) id += kLetters[rng.Int(0, 25)];
  id += "128F";
  for (int i = 0; i < 7; ++i) id += kHex[rng.Int(0, 15)];
  return id;
}

std::string SongFolder(const std::string& root, const std::string& msd_id) {
  return (fs::path(root) / "lpd_5" / "lpd_5_cleansed" / msd_id.substr(2, 1) / msd_id.substr(3, 1) /
          msd_id.substr(4, 1) / msd_id)
      .string();
}

// First 32 hex digits of a SHA-256 over everything the song holds except its name.
std::string ContentMd5(const Multitrack& song) {
  Sha256 hash;
  auto add = [&hash](const void* data, size_t size) { hash.Update(data, size); };
  int64_t header[2] = {song.resolution, static_cast<int64_t>(song.tempo.size())};
  add(header, sizeof header);
  if (!song.tempo.empty()) add(song.tempo.data(), sizeof(double));
  for (const Track& track : song.tracks) {
    const SparsePianoroll& roll = track.pianoroll;
    hash.Update(track.name);
    int64_t meta[3] = {track.program, track.is_drum, roll.n_steps};
    add(meta, sizeof meta);
    add(roll.indptr.data(), roll.indptr.size() * sizeof(int32_t));
    add(roll.steps.data(), roll.steps.size() * sizeof(int32_t));
    add(roll.velocities.data(), roll.velocities.size());
  }
  return hash.FinishHex().substr(0, 32);
}

// The second genre of a multi-genre song: the real lists' big overlaps first (rock/pop, ...).
std::string PartnerGenre(const std::string& genre, const std::vector<std::string>& genres, Rng& rng) {
  static const std::vector<std::pair<std::string, std::string>> kPartners = {
      {"rock", "pop"}, {"pop", "rock"}, {"electronic", "pop"}, {"hip-hop", "electronic"}, {"jazz", "pop"}};
  for (const auto& [from, to] : kPartners) {
    if (from == genre && std::find(genres.begin(), genres.end(), to) != genres.end()) return to;
  }
  std::vector<std::string> others;
  for (const std::string& g : genres) {
    if (g != genre) others.push_back(g);
  }
  return others.empty() ? std::string() : rng.Pick(others);
}

Status ValidateOptions(const SynthCorpusOptions& o) {
  if (o.out_dir.empty()) return absl::InvalidArgumentError("synth-lpd: out_dir is empty");
  if (o.songs < 1) return absl::InvalidArgumentError(absl::StrCat("synth-lpd: songs must be >= 1, got ", o.songs));
  if (o.min_bars < 1 || o.max_bars < o.min_bars || o.max_bars > 1024) {
    return absl::InvalidArgumentError(absl::StrCat("synth-lpd: bars must satisfy 1 <= min_bars <= max_bars <= 1024, got ",
                                                   o.min_bars, "..", o.max_bars));
  }
  for (double share : {o.duplicate_share, o.missing_share, o.second_genre_share}) {
    if (!(share >= 0.0 && share <= 1.0)) {
      return absl::InvalidArgumentError(absl::StrCat("synth-lpd: shares must be in [0, 1], got ", share));
    }
  }
  if (o.genres.empty()) return absl::InvalidArgumentError("synth-lpd: no genres");
  std::set<std::string> seen;
  for (const std::string& g : o.genres) {
    if (!IsGenreTag(g)) {
      return absl::InvalidArgumentError(absl::StrCat("synth-lpd: genre '", g, "' is not a tag of [a-z0-9-]"));
    }
    if (!seen.insert(g).second) return absl::InvalidArgumentError(absl::StrCat("synth-lpd: genre '", g, "' twice"));
  }
  return absl::OkStatus();
}

// An existing out_dir may be replaced only when it is empty or a synthetic tree we wrote.
Status CheckReplaceable(const std::string& out_dir) {
  std::error_code ec;
  if (!fs::exists(out_dir, ec)) return absl::OkStatus();
  if (!fs::is_directory(out_dir, ec)) {
    return absl::FailedPreconditionError(absl::StrCat(out_dir, ": exists and is not a directory"));
  }
  if (fs::is_empty(out_dir, ec)) return absl::OkStatus();
  StatusOr<std::string> readme = ReadFileToString((fs::path(out_dir) / kReadmeName).string());
  if (readme.ok() && readme->rfind(kReadmeMarker, 0) == 0) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(out_dir, ": exists and is not a synthetic LPD tree (no ", kReadmeName,
                   " from synth-lpd); refusing to replace it"));
}

// Files inside the staging directory need neither a temporary name nor their own fsync: nobody sees them
// before the whole tree is flushed once (SyncTree) and published in one rename.
Status WriteStagedFile(const std::string& path, const std::string& data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat(path, ": cannot create: ", std::strerror(errno)));
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return absl::InternalError(absl::StrCat(path, ": write failed: ", std::strerror(err)));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return absl::InternalError(absl::StrCat(path, ": close failed: ", std::strerror(errno)));
  return absl::OkStatus();
}

// Makes everything written under `root` durable: one syncfs for the whole file system instead of an fsync
// per file (hundreds of fsyncs cost seconds).
Status SyncTree(const std::string& root) {
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat(root, ": cannot open: ", std::strerror(errno)));
  const int rc = ::syncfs(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return absl::InternalError(absl::StrCat(root, ": syncfs failed: ", std::strerror(err)));
  return absl::OkStatus();
}

Status WriteText(const std::string& path, const std::string& text, SynthCorpusSummary* summary) {
  TUTTI_RETURN_IF_ERROR(WriteStagedFile(path, text));
  summary->files_written++;
  summary->bytes_written += static_cast<int64_t>(text.size());
  return absl::OkStatus();
}

std::string Readme(const SynthCorpusOptions& o, const SynthCorpusSummary& s) {
  std::string genres;
  for (const std::string& g : o.genres) absl::StrAppend(&genres, genres.empty() ? "" : ", ", g);
  return absl::StrCat(
      kReadmeMarker, " written by Tutti (tutti synth-lpd).\n\n",
      "SYNTHETIC DATA: every song here was generated by a rule-based composer (core/synth); none is real\n"
      "music, and the MSD ids and MIDI md5s are made up: they name no real track.\n\n",
      "Layout (the published Lakh Pianoroll Dataset, LPD-5 cleansed):\n",
      "  lpd_5/lpd_5_cleansed/<c3>/<c4>/<c5>/<MSD id>/<md5>.npz   legacy pypianoroll layout\n",
      "  cleansed_ids.txt                                         \"<md5>    <MSD id>\", sorted by id\n",
      "  lastfm/id_list_<genre>.txt                               one MSD id per line\n\n",
      "seed ", o.seed, ", genres ", genres, ", bars ", o.min_bars, "..", o.max_bars, "\n",
      "song folders ", s.songs_written, " (distinct files ", s.distinct_files, ", ids sharing a file ",
      s.duplicate_ids, "), listed ids without a folder ", s.missing_ids, ", ids in two genres ",
      s.multi_genre_ids, ", songs with an empty track ", s.songs_with_empty_track, "\n");
}

// Plans every id, generates and writes the songs, then the lists, into `root` (the staging directory).
Status WriteTree(const SynthCorpusOptions& o, const std::string& root, bool show_progress,
                 SynthCorpusSummary* summary) {
  Rng rng(Mix64(o.seed) ^ 0xC0FFEEULL);
  const int n_duplicates = std::min(o.songs - 1, static_cast<int>(std::lround(o.songs * o.duplicate_share)));
  const int n_unique = o.songs - n_duplicates;
  const int n_missing = static_cast<int>(std::lround(o.songs * o.missing_share));

  std::unordered_set<std::string> used_ids;
  auto fresh_id = [&]() {
    std::string id;
    do id = MakeMsdId(rng);
    while (!used_ids.insert(id).second);
    return id;
  };
  std::vector<Entry> entries;
  for (int i = 0; i < n_unique; ++i) {
    Entry e{fresh_id(), "", {o.genres[i % o.genres.size()]}, i};
    if (rng.Chance(o.second_genre_share)) {
      std::string partner = PartnerGenre(e.genres[0], o.genres, rng);
      if (!partner.empty()) e.genres.push_back(partner);
    }
    entries.push_back(std::move(e));
  }
  std::vector<std::vector<int>> holders(n_unique);  // entry indices per generated song
  for (int i = 0; i < n_unique; ++i) holders[i].push_back(i);
  for (int k = 0; k < n_duplicates; ++k) {
    const int source = rng.Int(0, n_unique - 1);
    holders[source].push_back(static_cast<int>(entries.size()));
    entries.push_back({fresh_id(), "", {entries[source].genres[0]}, source});
  }
  for (int k = 0; k < n_missing; ++k) {
    std::string md5 = Sha256Hex(absl::StrCat("synth-lpd missing ", o.seed, " ", k)).substr(0, 32);
    entries.push_back({fresh_id(), md5, {rng.Pick(o.genres)}, -1});
  }

  Progress progress("synth-lpd", o.songs, "songs", show_progress);
  std::set<std::string> distinct;
  for (int i = 0; i < n_unique; ++i) {
    if (InterruptRequested()) {
      return absl::CancelledError(absl::StrCat(o.out_dir, ": interrupted; nothing was written"));
    }
    const uint64_t song_seed = Mix64(Mix64(o.seed) + static_cast<uint64_t>(i));
    const int bars = o.min_bars + static_cast<int>(Mix64(song_seed) % static_cast<uint64_t>(o.max_bars - o.min_bars + 1));
    GeneratedSong generated = GenerateSongWithPlan(StyleForGenre(entries[i].genres[0]), song_seed, bars);
    const std::string md5 = ContentMd5(generated.song);
    generated.song.name = md5;
    TUTTI_ASSIGN_OR_RETURN(std::string bytes, SerializePianorollNpz(generated.song, NpzLayout::kLegacy));
    distinct.insert(md5);
    if (generated.plan.empty_track >= 0) summary->songs_with_empty_track++;
    for (int holder : holders[i]) {
      Entry& e = entries[holder];
      e.md5 = md5;
      const std::string folder = SongFolder(root, e.msd_id);
      TUTTI_RETURN_IF_ERROR(CreateDirectories(folder));
      TUTTI_RETURN_IF_ERROR(WriteStagedFile((fs::path(folder) / (md5 + ".npz")).string(), bytes));
      summary->songs_written++;
      summary->files_written++;
      summary->bytes_written += static_cast<int64_t>(bytes.size());
      for (const std::string& g : e.genres) summary->per_genre[g]++;
      progress.Advance();
    }
  }
  progress.Finish();
  summary->distinct_files = static_cast<int>(distinct.size());
  summary->duplicate_ids = summary->songs_written - summary->distinct_files;
  summary->missing_ids = n_missing;
  for (const Entry& e : entries) summary->multi_genre_ids += e.genres.size() > 1 ? 1 : 0;
  for (const std::string& g : o.genres) summary->per_genre.emplace(g, 0);

  // Genre lists, in a shuffled order like the real ones; a genre with no song gets an empty file.
  const std::string lists_dir = (fs::path(root) / "lastfm").string();
  TUTTI_RETURN_IF_ERROR(CreateDirectories(lists_dir));
  for (const std::string& g : o.genres) {
    std::vector<const Entry*> listed;
    for (const Entry& e : entries) {
      if (std::find(e.genres.begin(), e.genres.end(), g) != e.genres.end()) listed.push_back(&e);
    }
    for (size_t i = listed.size(); i > 1; --i) std::swap(listed[i - 1], listed[rng.Int(0, static_cast<int>(i) - 1)]);
    std::string text;
    for (const Entry* e : listed) absl::StrAppend(&text, e->msd_id, "\n");
    TUTTI_RETURN_IF_ERROR(WriteText((fs::path(lists_dir) / ("id_list_" + g + ".txt")).string(), text, summary));
  }

  std::vector<const Entry*> by_id;
  for (const Entry& e : entries) by_id.push_back(&e);
  std::sort(by_id.begin(), by_id.end(), [](const Entry* a, const Entry* b) { return a->msd_id < b->msd_id; });
  std::string ids;
  for (const Entry* e : by_id) absl::StrAppend(&ids, e->md5, "    ", e->msd_id, "\n");
  TUTTI_RETURN_IF_ERROR(WriteText((fs::path(root) / "cleansed_ids.txt").string(), ids, summary));
  return WriteText((fs::path(root) / kReadmeName).string(), Readme(o, *summary), summary);
}

}  // namespace

StatusOr<SynthCorpusSummary> WriteSyntheticLpd(const SynthCorpusOptions& options, bool show_progress) {
  const auto start = std::chrono::steady_clock::now();
  TUTTI_RETURN_IF_ERROR(ValidateOptions(options));
  fs::path target = fs::path(options.out_dir).lexically_normal();
  if (!target.has_filename()) target = target.parent_path();
  const std::string name = target.filename().string();
  if (name.empty() || name == "." || name == "..") {
    return absl::InvalidArgumentError(absl::StrCat("synth-lpd: out_dir '", options.out_dir,
                                                   "' must name a directory (not . or ..)"));
  }
  TUTTI_RETURN_IF_ERROR(CheckReplaceable(target.string()));
  const std::string parent = target.has_parent_path() ? target.parent_path().string() : std::string(".");
  TUTTI_ASSIGN_OR_RETURN(std::string staged, MakeTempDirectoryIn(parent, name));

  SynthCorpusSummary summary;
  Status status = WriteTree(options, staged, show_progress, &summary);
  if (status.ok() && InterruptRequested()) {
    status = absl::CancelledError(absl::StrCat(options.out_dir, ": interrupted; nothing was written"));
  }
  if (status.ok()) status = SyncTree(staged);
  if (status.ok()) status = PublishDirectory(staged, target.string());
  if (!status.ok()) {
    RemoveAllQuietly(staged);
    return status;
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace tutti
