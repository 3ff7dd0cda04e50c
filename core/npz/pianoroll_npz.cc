#include "core/npz/pianoroll_npz.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/file_util.h"
#include "core/npz/npy.h"
#include "core/npz/zip_io.h"
#include "nlohmann/json.hpp"

namespace tutti {
namespace {

using nlohmann::json;

constexpr char kInfo[] = "info.json";
constexpr char kTempo[] = "tempo.npy";
constexpr char kDownbeat[] = "downbeat.npy";
// The per-thread inflate buffer is released after a song whose largest member exceeded this.
constexpr size_t kKeepBufferBytes = size_t{64} << 20;

// One song being read: the archive, its path for messages, and one inflate buffer reused by every member.
struct Reader {
  ZipReader& zip;
  const std::string& path;
  ByteBuffer& buffer;

  Status Error(const std::string& member, const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", member, ": ", what));
  }
  // Inflates and parses `member`; the view lives until the next Load.
  StatusOr<NpyArray> Load(const std::string& member) {
    TUTTI_RETURN_IF_ERROR(zip.Read(member, &buffer));
    StatusOr<NpyArray> array = ParseNpy(buffer.view(), member);
    if (!array.ok()) return Annotate(array.status(), path);
    return array;
  }
  // Loads `member` and checks its dtype.
  StatusOr<NpyArray> Load(const std::string& member, std::initializer_list<NpyDtype> dtypes) {
    TUTTI_ASSIGN_OR_RETURN(NpyArray a, Load(member));
    TUTTI_RETURN_IF_ERROR(Annotate(ExpectDtype(a, dtypes), path));
    return a;
  }
  template <typename T>
  Status Copy(const NpyArray& a, std::vector<T>* out) const {
    return Annotate(CopyToCOrder(a, out), path);
  }
  // (T,) or (T, 1), as tempo and downbeat come.
  Status ExpectColumn(const NpyArray& a) const {
    if (a.ndim() == 1 || (a.ndim() == 2 && a.shape[1] == 1)) return absl::OkStatus();
    return Error(a.member, absl::StrCat("expected shape (T,) or (T, 1), got ", a.ShapeString()));
  }
};

Status CheckVector(Reader& r, const NpyArray& a, int64_t expected_size, const std::string& what) {
  if (a.ndim() == 1 && (expected_size < 0 || a.shape[0] == expected_size)) return absl::OkStatus();
  const std::string size = expected_size < 0 ? "N" : std::to_string(expected_size);
  return r.Error(a.member, absl::StrCat("expected shape (", size, ",)", what, ", got ", a.ShapeString()));
}

// Values must be 0..127; zeros (explicitly stored, or False) are removed so that every kept cell is active.
Status CleanValues(Reader& r, const std::string& member, SparsePianoroll* roll) {
  // One branch-free pass, 8 bytes at a time: collect the high bits (a value > 127) and zero bytes.
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHighs = 0x8080808080808080ULL;
  const uint8_t* values = roll->velocities.data();
  const size_t n = roll->velocities.size();
  uint64_t high = 0, zero = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, values + i, 8);
    high |= w;
    zero |= (w - kOnes) & ~w & kHighs;  // non-zero iff some byte of w is 0
  }
  for (; i < n; ++i) {
    high |= values[i];
    zero |= values[i] == 0;
  }
  const bool has_zero = zero != 0;
  if ((high & kHighs) != 0) {  // some value > 127
    const auto it = std::find_if(roll->velocities.begin(), roll->velocities.end(), [](uint8_t v) { return v > 127; });
    return r.Error(member, absl::StrCat("expected velocities 0..127, got ", *it, " at index ",
                                        it - roll->velocities.begin()));
  }
  if (!has_zero) return absl::OkStatus();
  size_t kept = 0;
  int32_t start = 0;
  for (int p = 0; p < kMidiPitches; ++p) {
    const int32_t end = roll->indptr[p + 1];
    for (int32_t i = start; i < end; ++i) {
      if (roll->velocities[i] == 0) continue;
      roll->velocities[kept] = roll->velocities[i];
      roll->steps[kept] = roll->steps[i];
      ++kept;
    }
    start = end;
    roll->indptr[p + 1] = static_cast<int32_t>(kept);
  }
  roll->velocities.resize(kept);
  roll->steps.resize(kept);
  return absl::OkStatus();
}

Status CheckSteps(Reader& r, const std::string& member, int64_t n_steps) {
  if (n_steps >= 0 && n_steps <= std::numeric_limits<int32_t>::max()) return absl::OkStatus();
  return r.Error(member, absl::StrCat("expected a number of time steps in [0, 2^31), got ", n_steps));
}

// pianoroll_<i>_csc_{shape,indptr,indices,data}.npy -> roll (n_steps 0 for LPD's (0, 128) empty tracks).
Status ReadSparseTrack(Reader& r, const std::string& prefix, SparsePianoroll* roll) {
  std::vector<int64_t> shape;
  const std::string shape_member = prefix + "_csc_shape.npy";
  TUTTI_ASSIGN_OR_RETURN(NpyArray a, r.Load(shape_member, {NpyDtype::kInt64, NpyDtype::kInt32}));
  TUTTI_RETURN_IF_ERROR(CheckVector(r, a, 2, ""));
  TUTTI_RETURN_IF_ERROR(r.Copy(a, &shape));
  if (shape[1] != kMidiPitches) {
    return r.Error(shape_member, absl::StrCat("expected ", kMidiPitches, " columns (MIDI pitches), got shape (",
                                              shape[0], ", ", shape[1], ")"));
  }
  TUTTI_RETURN_IF_ERROR(CheckSteps(r, shape_member, shape[0]));
  roll->n_steps = shape[0];

  TUTTI_ASSIGN_OR_RETURN(a, r.Load(prefix + "_csc_indptr.npy", {NpyDtype::kInt32, NpyDtype::kInt64}));
  TUTTI_RETURN_IF_ERROR(CheckVector(r, a, kMidiPitches + 1, " (shape[1] + 1 column pointers)"));
  TUTTI_RETURN_IF_ERROR(r.Copy(a, &roll->indptr));

  TUTTI_ASSIGN_OR_RETURN(a, r.Load(prefix + "_csc_indices.npy", {NpyDtype::kInt32, NpyDtype::kInt64}));
  TUTTI_RETURN_IF_ERROR(CheckVector(r, a, -1, ""));
  TUTTI_RETURN_IF_ERROR(r.Copy(a, &roll->steps));

  const std::string data_member = prefix + "_csc_data.npy";
  TUTTI_ASSIGN_OR_RETURN(a, r.Load(data_member, {NpyDtype::kUint8, NpyDtype::kBool}));
  TUTTI_RETURN_IF_ERROR(CheckVector(r, a, roll->nnz(), " (one value per index)"));
  TUTTI_RETURN_IF_ERROR(r.Copy(a, &roll->velocities));
  roll->binary = a.dtype == NpyDtype::kBool;
  // Structure first (CleanValues walks indptr), then values.
  const std::string problem = roll->Validate();
  if (!problem.empty()) {
    return r.Error(prefix + "_csc_*.npy", absl::StrCat("expected a valid CSC pianoroll, got ", problem));
  }
  return CleanValues(r, data_member, roll);
}

// Tutti's extension: a dense (T, 128) pianoroll_<i>.npy, converted to CSC without keeping the dense copy.
Status ReadDenseTrack(Reader& r, const std::string& member, SparsePianoroll* roll) {
  TUTTI_ASSIGN_OR_RETURN(NpyArray a, r.Load(member, {NpyDtype::kUint8, NpyDtype::kBool}));
  if (a.ndim() != 2 || a.shape[1] != kMidiPitches) {
    return r.Error(member, absl::StrCat("expected shape (T, 128), got ", a.ShapeString()));
  }
  const int64_t n_steps = a.shape[0];
  TUTTI_RETURN_IF_ERROR(CheckSteps(r, member, n_steps));
  roll->n_steps = n_steps;
  roll->binary = a.dtype == NpyDtype::kBool;
  // Two passes in storage order (cache-friendly for either order): count cells per pitch, then place them.
  // Element (t, p) sits at t * 128 + p in C order and at p * T + t in Fortran order; either way t ascends
  // within each pitch as the walk proceeds, as CSC requires.
  const uint8_t* cells = a.data;
  const int64_t total = n_steps * kMidiPitches;
  auto pitch_of = [&](int64_t k) {
    return static_cast<int>(a.fortran_order ? k / n_steps : k % kMidiPitches);
  };
  auto step_of = [&](int64_t k) { return a.fortran_order ? k % n_steps : k / kMidiPitches; };
  std::vector<int64_t> count(kMidiPitches + 1, 0);
  uint8_t high = 0;
  for (int64_t k = 0; k < total; ++k) {
    count[pitch_of(k) + 1] += cells[k] != 0;
    high |= cells[k];
  }
  if ((high & 0x80) != 0 && !roll->binary) {
    int64_t k = 0;
    while (cells[k] <= 127) ++k;
    return r.Error(member, absl::StrCat("expected velocities 0..127, got ", cells[k], " at (", step_of(k), ", ",
                                        pitch_of(k), ")"));
  }
  for (int p = 0; p < kMidiPitches; ++p) count[p + 1] += count[p];
  if (count[kMidiPitches] > std::numeric_limits<int32_t>::max()) {
    return r.Error(member, absl::StrCat("expected fewer than 2^31 active cells, got ", count[kMidiPitches]));
  }
  for (int p = 0; p <= kMidiPitches; ++p) roll->indptr[p] = static_cast<int32_t>(count[p]);
  roll->steps.resize(static_cast<size_t>(count[kMidiPitches]));
  roll->velocities.resize(static_cast<size_t>(count[kMidiPitches]));
  for (int64_t k = 0; k < total; ++k) {
    if (cells[k] == 0) continue;
    const int64_t slot = count[pitch_of(k)]++;
    roll->steps[slot] = static_cast<int32_t>(step_of(k));
    roll->velocities[slot] = roll->binary ? 1 : cells[k];
  }
  return absl::OkStatus();
}

std::string TypeName(const json& j) { return j.type_name(); }

// info.json -> song's resolution and name, and the tracks' metadata (one Track per "<i>" key).
Status ParseInfo(Reader& r, Multitrack* song) {
  json info;
  try {
    const std::string_view text = r.buffer.view();
    info = json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    return r.Error(kInfo, absl::StrCat("expected valid JSON, got a parse error: ", e.what()));
  }
  if (!info.is_object()) return r.Error(kInfo, absl::StrCat("expected a JSON object, got ", TypeName(info)));
  auto res = info.find("resolution");
  if (res == info.end()) res = info.find("beat_resolution");
  if (res == info.end()) {
    return r.Error(kInfo, "expected key \"resolution\" (pypianoroll >= 1.0) or \"beat_resolution\" (legacy), "
                          "got neither");
  }
  if (!res->is_number_integer() || res->get<int64_t>() <= 0 || res->get<int64_t>() > 1000000) {
    return r.Error(kInfo, absl::StrCat("expected \"", res.key(), "\" to be a positive integer, got ", res->dump()));
  }
  song->resolution = res->get<int>();
  const auto name = info.find("name");
  if (name != info.end() && name->is_string()) {
    song->name = name->get<std::string>();
  } else if (name != info.end() && !name->is_null()) {
    return r.Error(kInfo, absl::StrCat("expected \"name\" to be a string or null, got ", TypeName(*name)));
  }
  for (int i = 0;; ++i) {
    const std::string key = std::to_string(i);
    const auto it = info.find(key);
    if (it == info.end()) break;
    const std::string where = absl::StrCat("track \"", key, "\": ");
    if (!it->is_object()) return r.Error(kInfo, absl::StrCat(where, "expected an object, got ", TypeName(*it)));
    Track track;
    const auto program = it->find("program");
    if (program == it->end() || !program->is_number_integer() || program->get<int64_t>() < 0 ||
        program->get<int64_t>() > 127) {
      return r.Error(kInfo, absl::StrCat(where, "expected \"program\" to be an integer 0..127, got ",
                                         program == it->end() ? "none" : program->dump()));
    }
    track.program = program->get<int>();
    const auto is_drum = it->find("is_drum");
    if (is_drum == it->end() || !is_drum->is_boolean()) {
      return r.Error(kInfo, absl::StrCat(where, "expected \"is_drum\" to be true or false, got ",
                                         is_drum == it->end() ? "none" : is_drum->dump()));
    }
    track.is_drum = is_drum->get<bool>();
    const auto track_name = it->find("name");
    if (track_name != it->end() && track_name->is_string()) {
      track.name = track_name->get<std::string>();
    } else if (track_name != it->end() && !track_name->is_null()) {
      return r.Error(kInfo, absl::StrCat(where, "expected \"name\" to be a string, got ", TypeName(*track_name)));
    }
    song->tracks.push_back(std::move(track));
  }
  return absl::OkStatus();
}

// tempo.npy / downbeat.npy into `out` (flattened). Returns the stored length T.
template <typename T>
StatusOr<int64_t> ReadColumn(Reader& r, const std::string& member, std::initializer_list<NpyDtype> dtypes,
                             std::vector<T>* out) {
  TUTTI_ASSIGN_OR_RETURN(NpyArray a, r.Load(member, dtypes));
  TUTTI_RETURN_IF_ERROR(r.ExpectColumn(a));
  if (out != nullptr) TUTTI_RETURN_IF_ERROR(r.Copy(a, out));
  return a.shape[0];
}

}  // namespace

StatusOr<Multitrack> ReadPianorollNpz(const std::string& path, const NpzReadOptions& options) {
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<ZipReader> zip, ZipReader::Open(path));
  // Inflated members land in one buffer per thread, reused across songs (no allocation, no zeroing).
  thread_local ByteBuffer buffer;
  struct ReleaseIfHuge {
    ~ReleaseIfHuge() {
      if (buffer.capacity() > kKeepBufferBytes) buffer.Release();
    }
  } release_if_huge;
  Reader r{*zip, path, buffer};
  Multitrack song;
  TUTTI_RETURN_IF_ERROR(zip->Read(kInfo, &r.buffer));
  TUTTI_RETURN_IF_ERROR(ParseInfo(r, &song));

  std::vector<bool> stored_empty(song.tracks.size(), false);
  int64_t length = 0;
  for (size_t i = 0; i < song.tracks.size(); ++i) {
    const std::string prefix = absl::StrCat("pianoroll_", i);
    SparsePianoroll& roll = song.tracks[i].pianoroll;
    const std::string dense = prefix + ".npy";
    if (!zip->Contains(prefix + "_csc_shape.npy") && zip->Contains(dense)) {
      TUTTI_RETURN_IF_ERROR(ReadDenseTrack(r, dense, &roll));
    } else {
      TUTTI_RETURN_IF_ERROR(ReadSparseTrack(r, prefix, &roll));
    }
    stored_empty[i] = roll.n_steps == 0;
    length = std::max(length, roll.n_steps);
  }

  const bool has_tempo = zip->Contains(kTempo);
  const bool has_downbeat = zip->Contains(kDownbeat);
  int64_t tempo_length = -1, downbeat_length = -1;
  if (has_tempo && (options.load_tempo || length == 0)) {
    TUTTI_ASSIGN_OR_RETURN(tempo_length, ReadColumn<double>(r, kTempo, {NpyDtype::kFloat64, NpyDtype::kFloat32},
                                                            options.load_tempo ? &song.tempo : nullptr));
  }
  if (has_downbeat && (options.load_downbeat || (length == 0 && !has_tempo))) {
    TUTTI_ASSIGN_OR_RETURN(downbeat_length,
                           ReadColumn<uint8_t>(r, kDownbeat, {NpyDtype::kBool, NpyDtype::kUint8},
                                               options.load_downbeat ? &song.downbeat : nullptr));
    for (uint8_t& v : song.downbeat) v = v != 0;
  }
  // Song length T: the longest track; when all are empty, the length of tempo, else of downbeat.
  if (length == 0) length = std::max<int64_t>(0, tempo_length >= 0 ? tempo_length : downbeat_length);
  if (length > std::numeric_limits<int32_t>::max()) {
    return r.Error(tempo_length >= 0 ? kTempo : kDownbeat,
                   absl::StrCat("expected fewer than 2^31 time steps, got ", length));
  }
  for (size_t i = 0; i < song.tracks.size(); ++i) {
    if (stored_empty[i]) song.tracks[i].pianoroll.n_steps = length;
  }
  return song;
}

StatusOr<std::string> SerializePianorollNpz(const Multitrack& song, NpzLayout layout) {
  if (song.resolution <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("expected a positive resolution, got ", song.resolution));
  }
  const bool legacy = layout == NpzLayout::kLegacy;
  // Every member's bytes live here until BuildZip has run; reserve so that no string moves.
  std::vector<std::string> blobs;
  blobs.reserve(3 + 4 * song.tracks.size());
  std::vector<std::string> names;
  names.reserve(blobs.capacity());
  auto add = [&](std::string name, NpyDtype dtype, std::vector<int64_t> shape, const void* data) {
    names.push_back(std::move(name));
    blobs.push_back(SerializeNpy(dtype, shape, data));
  };
  const int64_t n_tempo = static_cast<int64_t>(song.tempo.size());
  const int64_t n_downbeat = static_cast<int64_t>(song.downbeat.size());
  if (n_tempo > 0) {
    add(kTempo, NpyDtype::kFloat64, legacy ? std::vector<int64_t>{n_tempo} : std::vector<int64_t>{n_tempo, 1},
        song.tempo.data());
  }
  if (n_downbeat > 0) {
    std::vector<uint8_t> downbeat(song.downbeat.size());
    for (size_t t = 0; t < downbeat.size(); ++t) downbeat[t] = song.downbeat[t] != 0;
    add(kDownbeat, NpyDtype::kBool,
        legacy ? std::vector<int64_t>{n_downbeat} : std::vector<int64_t>{n_downbeat, 1}, downbeat.data());
  }

  json info = json::object();
  info[legacy ? "beat_resolution" : "resolution"] = song.resolution;
  info["name"] = song.name ? json(*song.name) : json(nullptr);
  const std::vector<int32_t> empty_indptr(kMidiPitches + 1, 0);
  for (size_t i = 0; i < song.tracks.size(); ++i) {
    const Track& track = song.tracks[i];
    const SparsePianoroll& roll = track.pianoroll;
    const std::string problem = roll.Validate();
    if (!problem.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("track ", i, " (", track.name, "): expected a valid "
                                                     "pianoroll, got ", problem));
    }
    if (track.program < 0 || track.program > 127) {
      return absl::InvalidArgumentError(absl::StrCat("track ", i, " (", track.name, "): expected program 0..127, "
                                                     "got ", track.program));
    }
    info[std::to_string(i)] = {{"program", track.program}, {"is_drum", track.is_drum}, {"name", track.name}};
    const std::string prefix = absl::StrCat("pianoroll_", i, "_csc_");
    const int64_t nnz = roll.nnz();
    if (nnz == 0) {  // LPD's empty track: shape (0, 128), bool data
      const int64_t shape[2] = {0, kMidiPitches};
      add(prefix + "data.npy", NpyDtype::kBool, {0}, nullptr);
      add(prefix + "indices.npy", NpyDtype::kInt32, {0}, nullptr);
      add(prefix + "indptr.npy", NpyDtype::kInt32, {kMidiPitches + 1}, empty_indptr.data());
      add(prefix + "shape.npy", NpyDtype::kInt64, {2}, shape);
      continue;
    }
    if (roll.binary) {
      const std::vector<uint8_t> ones(roll.velocities.size(), 1);
      add(prefix + "data.npy", NpyDtype::kBool, {nnz}, ones.data());
    } else {
      add(prefix + "data.npy", NpyDtype::kUint8, {nnz}, roll.velocities.data());
    }
    add(prefix + "indices.npy", NpyDtype::kInt32, {nnz}, roll.steps.data());
    add(prefix + "indptr.npy", NpyDtype::kInt32, {kMidiPitches + 1}, roll.indptr.data());
    const int64_t shape[2] = {roll.n_steps, kMidiPitches};
    add(prefix + "shape.npy", NpyDtype::kInt64, {2}, shape);
  }
  names.push_back(kInfo);
  blobs.push_back(info.dump());

  std::vector<ZipEntry> entries;
  entries.reserve(blobs.size());
  for (size_t i = 0; i < blobs.size(); ++i) entries.push_back({names[i], blobs[i], true});
  return BuildZip(entries);
}

Status WritePianorollNpz(const Multitrack& song, const std::string& path, NpzLayout layout) {
  StatusOr<std::string> bytes = SerializePianorollNpz(song, layout);
  if (!bytes.ok()) return Annotate(bytes.status(), path);
  return WriteFileAtomically(path, *bytes);
}

}  // namespace tutti
