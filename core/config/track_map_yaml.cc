#include "core/config/track_map_yaml.h"

#include <algorithm>
#include <cctype>
#include <set>

#include <yaml-cpp/yaml.h>

#include "absl/strings/str_cat.h"
#include "core/base/file_util.h"

namespace tutti {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// "<file>:<line>:<column>: <what>" (yaml-cpp counts from 0).
Status At(const std::string& file, const YAML::Node& node, const std::string& what) {
  const YAML::Mark mark = node.Mark();
  if (mark.line < 0) return absl::InvalidArgumentError(absl::StrCat(file, ": ", what));
  return absl::InvalidArgumentError(absl::StrCat(file, ":", mark.line + 1, ":", mark.column + 1, ": ", what));
}

StatusOr<int> Program(const std::string& file, const YAML::Node& node, const std::string& text) {
  if (text.empty() || text.size() > 3 || !std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    return At(file, node, absl::StrCat("expected a General MIDI program 0-127, got '", text, "'"));
  }
  const int value = std::stoi(text);
  if (value > 127) return At(file, node, absl::StrCat("expected a General MIDI program 0-127, got ", value));
  return value;
}

}  // namespace

StatusOr<TrackSet> WalkTrackMap(const YAML::Node& root, const std::string& file);

StatusOr<TrackSet> ParseTrackMapYaml(const std::string& text, const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ":", e.mark.line + 1, ":", e.mark.column + 1, ": not valid YAML: ", e.msg));
  }
  try {
    return WalkTrackMap(root, file);
  } catch (const YAML::Exception& e) {
    // A conversion the walk did not foresee (a mapping where a name belongs, say): the node's place and what
    // yaml-cpp says, never an exception out of the parser.
    return absl::InvalidArgumentError(absl::StrCat(file, ":", e.mark.line + 1, ":", e.mark.column + 1,
                                                   ": expected a scalar here (", e.msg, ")"));
  }
}

StatusOr<TrackSet> WalkTrackMap(const YAML::Node& root, const std::string& file) {
  if (!root.IsMap()) return At(file, root, "expected a mapping with name and tracks");
  TrackSet set;
  set.by_program.fill(-1);
  for (const auto& entry : root) {
    const std::string key = entry.first.as<std::string>();
    if (key != "name" && key != "tracks") return At(file, entry.first, "unknown key '" + key + "' (expected name, tracks)");
  }
  if (!root["name"] || !root["name"].IsScalar() || root["name"].as<std::string>().empty()) {
    return At(file, root, "name: expected the track set's name");
  }
  set.name = root["name"].as<std::string>();
  const YAML::Node tracks = root["tracks"];
  if (!tracks || !tracks.IsSequence() || tracks.size() == 0) {
    return At(file, tracks ? tracks : root, "tracks: expected a list of at least one track");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < tracks.size(); ++i) {
    const YAML::Node t = tracks[i];
    const int index = static_cast<int>(i);
    if (!t.IsMap()) return At(file, t, absl::StrCat("tracks[", i, "]: expected a mapping with name, program, from"));
    for (const auto& entry : t) {
      const std::string key = entry.first.as<std::string>();
      if (key != "name" && key != "program" && key != "drum" && key != "from" && key != "programs") {
        return At(file, entry.first,
                  absl::StrCat("tracks[", i, "]: unknown key '", key, "' (expected name, program, drum, from, programs)"));
      }
    }
    TrackSpec spec;
    if (!t["name"] || !t["name"].IsScalar() || t["name"].as<std::string>().empty()) {
      return At(file, t, absl::StrCat("tracks[", i, "].name: expected a track name"));
    }
    spec.name = t["name"].as<std::string>();
    if (!names.insert(Lower(spec.name)).second) return At(file, t["name"], "track name '" + spec.name + "' given twice");
    if (t["program"]) {
      if (!t["program"].IsScalar()) return At(file, t["program"], "program: expected a number 0-127");
      TUTTI_ASSIGN_OR_RETURN(spec.program, Program(file, t["program"], t["program"].as<std::string>()));
    }
    if (t["drum"]) {
      const std::string v = t["drum"].IsScalar() ? Lower(t["drum"].as<std::string>()) : "";
      if (v != "true" && v != "false") return At(file, t["drum"], "drum: expected true or false");
      spec.is_drum = v == "true";
      if (spec.is_drum) {
        if (set.drum_track >= 0) return At(file, t["drum"], "a second drum track (channel-10 notes go to one track)");
        set.drum_track = index;
      }
    }
    if (t["from"]) {
      if (!t["from"].IsSequence()) return At(file, t["from"], "from: expected a list of source track names");
      for (const YAML::Node& source : t["from"]) {
        const std::string name = Lower(source.as<std::string>());
        if (!set.by_source_name.emplace(name, index).second) {
          return At(file, source, "source track '" + source.as<std::string>() + "' is already mapped to another track");
        }
      }
    }
    if (t["programs"]) {
      if (!t["programs"].IsSequence()) return At(file, t["programs"], "programs: expected a list like [32-39, 43]");
      for (const YAML::Node& range : t["programs"]) {
        const std::string text_range = range.as<std::string>();
        const size_t dash = text_range.find('-');
        TUTTI_ASSIGN_OR_RETURN(int low, Program(file, range, text_range.substr(0, dash)));
        int high = low;
        if (dash != std::string::npos) {
          TUTTI_ASSIGN_OR_RETURN(high, Program(file, range, text_range.substr(dash + 1)));
        }
        if (high < low) return At(file, range, "programs: a range must go upwards, got " + text_range);
        for (int p = low; p <= high; ++p) {
          if (set.by_program[static_cast<size_t>(p)] >= 0) {
            return At(file, range, absl::StrCat("program ", p, " is already mapped to another track"));
          }
          set.by_program[static_cast<size_t>(p)] = index;
        }
      }
    }
    set.tracks.push_back(spec);
  }
  return set;
}

StatusOr<TrackSet> LoadTrackSet(const std::string& name_or_path) {
  if (name_or_path == "lpd5") return Lpd5TrackSet();
  if (name_or_path == "lpd17") return Lpd17TrackSet();
  TUTTI_ASSIGN_OR_RETURN(std::string text, ReadFileToString(name_or_path));
  return ParseTrackMapYaml(text, name_or_path);
}

}  // namespace tutti
