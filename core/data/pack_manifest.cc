#include "core/data/pack_manifest.h"

#include <limits>
#include <set>

#include "core/base/file_util.h"
#include "core/data/shard_format.h"

namespace tutti {
namespace {

using json = nlohmann::json;

// Largest sample count we accept per shard or song: keeps byte arithmetic far from overflow.
constexpr int64_t kMaxCount = int64_t{1} << 40;

// Reads typed fields out of one manifest, producing "<path>: key '<key>': expected X, got Y" errors.
class FieldReader {
 public:
  explicit FieldReader(const std::string& path) : path_(path) {}

  Status Error(const std::string& key, const std::string& expected, const json* got) const {
    std::string shown = "nothing (the key is missing)";
    if (got != nullptr) {
      shown = got->dump();
      if (shown.size() > 80) shown = shown.substr(0, 77) + "...";
    }
    return absl::InvalidArgumentError(absl::StrCat(path_, ": key '", key, "': expected ", expected, ", got ", shown));
  }
  Status Inconsistent(const std::string& key, const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": key '", key, "': ", what));
  }

  static const json* Find(const json& object, const std::string& name) {
    auto it = object.find(name);
    return it == object.end() ? nullptr : &*it;
  }

  StatusOr<std::string> String(const json& object, const std::string& name, const std::string& key) const {
    const json* v = Find(object, name);
    if (v == nullptr || !v->is_string()) return Error(key, "a string", v);
    return v->get<std::string>();
  }

  StatusOr<int64_t> Int(const json& object, const std::string& name, const std::string& key, int64_t min,
                        int64_t max) const {
    const json* v = Find(object, name);
    std::string expected = absl::StrCat("an integer in [", min, ", ", max, "]");
    if (v == nullptr || !v->is_number_integer()) return Error(key, expected, v);
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(max)) return Error(key, expected, v);
    int64_t value = v->get<int64_t>();
    if (value < min || value > max) return Error(key, expected, v);
    return value;
  }

  StatusOr<const json*> Array(const json& object, const std::string& name, const std::string& key,
                              const std::string& expected) const {
    const json* v = Find(object, name);
    if (v == nullptr || !v->is_array()) return Error(key, expected, v);
    return v;
  }

  StatusOr<const json*> Present(const json& object, const std::string& name, const std::string& key) const {
    const json* v = Find(object, name);
    if (v == nullptr) return Error(key, "a JSON value", v);
    return v;
  }

 private:
  const std::string& path_;
};

bool IsLowerHex(const std::string& s, size_t length) {
  if (s.size() != length) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool IsPlainShardName(const std::string& name) {
  const std::string suffix = kShardSuffix;
  return name.size() > suffix.size() && name.find('/') == std::string::npos && name[0] != '.' &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

StatusOr<std::vector<ShardInfo>> ParseShards(const FieldReader& r, const json& root, Split split,
                                             const SampleShape& shape, std::set<std::string>* seen) {
  const std::string list = absl::StrCat(SplitName(split), "_shards");
  TUTTI_ASSIGN_OR_RETURN(const json* array, r.Array(root, list, list, "an array of shard objects"));
  std::vector<ShardInfo> shards;
  for (size_t i = 0; i < array->size(); ++i) {
    const json& item = (*array)[i];
    const std::string at = absl::StrCat(list, "[", i, "]");
    if (!item.is_object()) return r.Error(at, "an object {file, samples, bytes, sha256}", &item);
    ShardInfo shard;
    TUTTI_ASSIGN_OR_RETURN(shard.file, r.String(item, "file", at + ".file"));
    if (!IsPlainShardName(shard.file)) {
      return r.Error(at + ".file", "a plain file name ending in .shard (no '/', not hidden)", &item["file"]);
    }
    if (!seen->insert(shard.file).second) return r.Inconsistent(at + ".file", "'" + shard.file + "' is listed twice");
    TUTTI_ASSIGN_OR_RETURN(shard.samples, r.Int(item, "samples", at + ".samples", 0, kMaxCount));
    TUTTI_ASSIGN_OR_RETURN(int64_t bytes,
                           r.Int(item, "bytes", at + ".bytes", 0, std::numeric_limits<int64_t>::max()));
    shard.bytes = static_cast<uint64_t>(bytes);
    TUTTI_ASSIGN_OR_RETURN(shard.sha256, r.String(item, "sha256", at + ".sha256"));
    if (!IsLowerHex(shard.sha256, 64)) return r.Error(at + ".sha256", "64 lower-case hex digits", &item["sha256"]);
    // The size must be computable before it is compared: with a shape near its limits (65536^3 cells) the
    // product wraps around 2^64 and a tiny file would pass as a huge shard (found by reading fuzz/pack_manifest).
    if (shard.samples > 0 &&
        shape.packed_bytes() >
            (std::numeric_limits<int64_t>::max() - static_cast<int64_t>(kShardHeaderBytes)) / shard.samples) {
      return r.Inconsistent(at + ".samples", absl::StrCat(shard.samples, " samples of ", shape.packed_bytes(),
                                                          " bytes each do not fit in a file"));
    }
    uint64_t expected_bytes = ShardSampleOffset(shape, shard.samples);
    if (shard.bytes != expected_bytes) {
      return r.Inconsistent(at + ".bytes", absl::StrCat("expected ", kShardHeaderBytes, " + ", shard.samples, " x ",
                                                        shape.packed_bytes(), " = ", expected_bytes,
                                                        " for shape ", shape.ToString(), ", got ", shard.bytes));
    }
    shards.push_back(std::move(shard));
  }
  return shards;
}

StatusOr<PackSong> ParseSong(const FieldReader& r, const json& item, const std::string& at) {
  if (!item.is_object()) return r.Error(at, "an object {md5, msd_ids, samples, split}", &item);
  PackSong song;
  TUTTI_ASSIGN_OR_RETURN(song.md5, r.String(item, "md5", at + ".md5"));
  TUTTI_ASSIGN_OR_RETURN(const json* ids, r.Array(item, "msd_ids", at + ".msd_ids", "an array of strings"));
  for (size_t j = 0; j < ids->size(); ++j) {
    if (!(*ids)[j].is_string()) return r.Error(absl::StrCat(at, ".msd_ids[", j, "]"), "a string", &(*ids)[j]);
    song.msd_ids.push_back((*ids)[j].get<std::string>());
  }
  TUTTI_ASSIGN_OR_RETURN(int64_t samples,
                         r.Int(item, "samples", at + ".samples", 0, std::numeric_limits<int32_t>::max()));
  song.samples = static_cast<int32_t>(samples);
  const json* split = FieldReader::Find(item, "split");
  StatusOr<Split> parsed = split != nullptr && split->is_string() ? ParseSplit(split->get<std::string>())
                                                                  : StatusOr<Split>(absl::InvalidArgumentError(""));
  if (!parsed.ok()) return r.Error(at + ".split", "\"train\" or \"heldout\"", split);
  song.split = *parsed;
  return song;
}

}  // namespace

const char* SplitName(Split split) { return split == Split::kTrain ? "train" : "heldout"; }

StatusOr<Split> ParseSplit(const std::string& name) {
  if (name == "train") return Split::kTrain;
  if (name == "heldout") return Split::kHeldout;
  return absl::InvalidArgumentError(absl::StrCat("unknown split '", name, "' (expected train or heldout)"));
}

int64_t PackManifest::samples(Split split) const {
  int64_t total = 0;
  for (const ShardInfo& shard : shards(split)) total += shard.samples;
  return total;
}

json PackManifest::ToJson() const {
  json out = json::object();
  out["format_version"] = format_version;
  out["genre"] = genre;
  out["shape"] = json::array({shape.tracks, shape.steps, shape.pitches});
  out["samples"] = {{"train", samples(Split::kTrain)}, {"heldout", samples(Split::kHeldout)}};
  for (Split split : kAllSplits) {
    json list = json::array();
    for (const ShardInfo& s : shards(split)) {
      list.push_back({{"file", s.file}, {"samples", s.samples}, {"bytes", s.bytes}, {"sha256", s.sha256}});
    }
    out[absl::StrCat(SplitName(split), "_shards")] = std::move(list);
  }
  json songs_json = json::array();
  for (const PackSong& song : songs) {
    songs_json.push_back(
        {{"md5", song.md5}, {"msd_ids", song.msd_ids}, {"samples", song.samples}, {"split", SplitName(song.split)}});
  }
  out["songs"] = std::move(songs_json);
  out["packing"] = packing;
  out["summary"] = summary;
  out["created_by"] = created_by;
  return out;
}

StatusOr<PackManifest> PackManifest::FromJson(const json& root, const std::string& path) {
  FieldReader r(path);
  if (!root.is_object()) return r.Error("(top level)", "a JSON object", &root);
  PackManifest m;
  const json* version = FieldReader::Find(root, "format_version");
  if (version == nullptr || !version->is_number_integer()) return r.Error("format_version", "an integer", version);
  if (*version != kPackFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": key 'format_version': this build reads version ",
                                                      kPackFormatVersion, ", got ", version->dump()));
  }
  m.format_version = kPackFormatVersion;
  TUTTI_ASSIGN_OR_RETURN(m.genre, r.String(root, "genre", "genre"));

  const json* shape = FieldReader::Find(root, "shape");
  const std::string shape_expected = absl::StrCat("an array of 3 positive integers (at most ", kMaxSampleDim, ")");
  if (shape == nullptr || !shape->is_array() || shape->size() != 3) return r.Error("shape", shape_expected, shape);
  int32_t dims[3];
  for (int i = 0; i < 3; ++i) {
    const json& d = (*shape)[i];
    if (!d.is_number_integer() || d.get<int64_t>() < 1 || d.get<int64_t>() > kMaxSampleDim) {
      return r.Error("shape", shape_expected, shape);
    }
    dims[i] = d.get<int32_t>();
  }
  m.shape = SampleShape{dims[0], dims[1], dims[2]};

  std::set<std::string> seen;
  TUTTI_ASSIGN_OR_RETURN(m.train_shards, ParseShards(r, root, Split::kTrain, m.shape, &seen));
  TUTTI_ASSIGN_OR_RETURN(m.heldout_shards, ParseShards(r, root, Split::kHeldout, m.shape, &seen));

  TUTTI_ASSIGN_OR_RETURN(const json* songs, r.Array(root, "songs", "songs", "an array of song objects"));
  int64_t song_samples[2] = {0, 0};
  for (size_t i = 0; i < songs->size(); ++i) {
    TUTTI_ASSIGN_OR_RETURN(PackSong song, ParseSong(r, (*songs)[i], absl::StrCat("songs[", i, "]")));
    song_samples[song.split == Split::kTrain ? 0 : 1] += song.samples;
    m.songs.push_back(std::move(song));
  }
  for (Split split : kAllSplits) {
    int64_t in_shards = m.samples(split);
    if (!m.songs.empty() && song_samples[split == Split::kTrain ? 0 : 1] != in_shards) {
      return r.Inconsistent("songs", absl::StrCat("the ", SplitName(split), " songs account for ",
                                                  song_samples[split == Split::kTrain ? 0 : 1], " samples, the ",
                                                  SplitName(split), " shards hold ", in_shards));
    }
    const json* totals = FieldReader::Find(root, "samples");
    if (totals != nullptr) {
      const json* stated = totals->is_object() ? FieldReader::Find(*totals, SplitName(split)) : nullptr;
      if (stated == nullptr || !stated->is_number_integer() || *stated != in_shards) {
        return r.Error(absl::StrCat("samples.", SplitName(split)),
                       absl::StrCat(in_shards, " (the sum of the ", SplitName(split), " shards)"), stated);
      }
    }
  }
  TUTTI_ASSIGN_OR_RETURN(const json* packing, r.Present(root, "packing", "packing"));
  m.packing = *packing;
  TUTTI_ASSIGN_OR_RETURN(const json* summary, r.Present(root, "summary", "summary"));
  m.summary = *summary;
  TUTTI_ASSIGN_OR_RETURN(m.created_by, r.String(root, "created_by", "created_by"));
  return m;
}

StatusOr<PackManifest> ReadManifest(const std::string& path) {
  TUTTI_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  json root;
  try {
    root = json::parse(text);
  } catch (const json::exception& e) {  // converted at the edge: the parser's message has the byte position
    return absl::InvalidArgumentError(absl::StrCat(path, ": not valid JSON: ", std::string(e.what())));
  }
  return PackManifest::FromJson(root, path);
}

}  // namespace tutti
