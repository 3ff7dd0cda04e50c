#include "core/music/track_set.h"

#include <algorithm>
#include <cctype>

namespace tutti {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// LPD-17's 16 program families after Drums, in order (program / 8).
constexpr const char* kFamilies[16] = {"Piano", "Chromatic Percussion", "Organ", "Guitar", "Bass", "Strings",
                                       "Ensemble", "Brass", "Reed", "Pipe", "Synth Lead", "Synth Pad",
                                       "Synth Effects", "Ethnic", "Percussive", "Sound Effects"};

// LPD-5's grouping of General MIDI programs (the same as midi_to_multitrack.h's Lpd5TrackForProgram, which this
// library cannot call: core/midi depends on core/music, not the other way round).
int Lpd5Group(int program) {
  const int family = program / 8;
  if (family == 0 || family == 1 || family == 2) return 1;  // piano, chromatic percussion, organ
  if (family == 3) return 2;
  if (family == 4) return 3;
  if (program < 96 || (program >= 104 && program < 112)) return 4;
  return -1;
}

}  // namespace

std::vector<std::string> TrackSet::Names() const {
  std::vector<std::string> names;
  for (const TrackSpec& t : tracks) names.push_back(t.name);
  return names;
}

std::vector<int> TrackSet::Programs() const {
  std::vector<int> programs;
  for (const TrackSpec& t : tracks) programs.push_back(t.program);
  return programs;
}

int TrackSet::FirstDrumTrack() const {
  for (int i = 0; i < size(); ++i) {
    if (tracks[static_cast<size_t>(i)].is_drum) return i;
  }
  return -1;
}

int TrackSet::TargetOf(const Track& source) const {
  const auto named = by_source_name.find(Lower(source.name));
  if (named != by_source_name.end()) return named->second;
  if (source.is_drum) return drum_track;
  return source.program >= 0 && source.program < 128 ? by_program[static_cast<size_t>(source.program)] : -1;
}

TrackSet Lpd5TrackSet() {
  TrackSet set;
  set.name = "lpd5";
  for (const auto& spec : kLpd5TrackSpecs) set.tracks.push_back({spec.name, spec.program, spec.is_drum});
  for (int i = 0; i < kLpd5Tracks; ++i) set.by_source_name[Lower(kLpd5TrackSpecs[static_cast<size_t>(i)].name)] = i;
  for (int p = 0; p < 128; ++p) set.by_program[static_cast<size_t>(p)] = Lpd5Group(p);
  set.drum_track = 0;
  return set;
}

TrackSet Lpd17TrackSet() {
  TrackSet set;
  set.name = "lpd17";
  set.tracks.push_back({"Drums", 0, true});
  for (int f = 0; f < 16; ++f) set.tracks.push_back({kFamilies[f], 8 * f, false});
  for (int i = 0; i < set.size(); ++i) set.by_source_name[Lower(set.tracks[static_cast<size_t>(i)].name)] = i;
  for (int p = 0; p < 128; ++p) set.by_program[static_cast<size_t>(p)] = 1 + p / 8;
  set.drum_track = 0;
  return set;
}

nlohmann::json TrackSetToJson(const TrackSet& set) {
  nlohmann::json tracks = nlohmann::json::array();
  for (const TrackSpec& t : set.tracks) tracks.push_back({{"name", t.name}, {"program", t.program}, {"drum", t.is_drum}});
  return {{"name", set.name}, {"tracks", tracks}};
}

TrackSet TrackSetFromJson(const nlohmann::json& json, int expected_tracks) {
  if (json.is_object() && json.contains("tracks") && json["tracks"].is_array() &&
      static_cast<int>(json["tracks"].size()) == expected_tracks) {
    TrackSet set;
    set.name = json.value("name", std::string("recorded"));
    bool ok = true;
    for (const nlohmann::json& t : json["tracks"]) {
      if (!t.is_object() || !t.contains("name") || !t["name"].is_string()) {
        ok = false;
        break;
      }
      const int program = t.value("program", 0);
      set.tracks.push_back({t["name"].get<std::string>(), program >= 0 && program < 128 ? program : 0,
                            t.value("drum", false)});
    }
    if (ok) {
      set.drum_track = set.FirstDrumTrack();
      return set;
    }
  }
  if (expected_tracks == kLpd5Tracks) return Lpd5TrackSet();
  TrackSet generic;
  generic.name = "generic";
  for (int i = 0; i < expected_tracks; ++i) generic.tracks.push_back({"Track " + std::to_string(i + 1), 0, false});
  return generic;
}

Multitrack ApplyTrackSet(const Multitrack& song, const TrackSet& set) {
  Multitrack out;
  out.name = song.name;
  out.resolution = song.resolution;
  out.tempo = song.tempo;
  out.downbeat = song.downbeat;
  const int64_t length = song.MaxLength();
  std::vector<SparsePianorollBuilder> builders(static_cast<size_t>(set.size()));
  std::vector<bool> binary(static_cast<size_t>(set.size()), true);
  for (const Track& source : song.tracks) {
    const int target = source.pianoroll.nnz() > 0 ? set.TargetOf(source) : -1;
    if (target < 0 || target >= set.size()) continue;
    const SparsePianoroll& roll = source.pianoroll;
    binary[static_cast<size_t>(target)] = binary[static_cast<size_t>(target)] && roll.binary;
    for (int p = 0; p < kMidiPitches; ++p) {
      for (int32_t i = roll.indptr[static_cast<size_t>(p)]; i < roll.indptr[static_cast<size_t>(p) + 1]; ++i) {
        if (roll.velocities[static_cast<size_t>(i)] > 0) {
          builders[static_cast<size_t>(target)].Set(roll.steps[static_cast<size_t>(i)], p, roll.velocities[static_cast<size_t>(i)]);
        }
      }
    }
  }
  for (int t = 0; t < set.size(); ++t) {
    Track track;
    track.name = set.tracks[static_cast<size_t>(t)].name;
    track.program = set.tracks[static_cast<size_t>(t)].program;
    track.is_drum = set.tracks[static_cast<size_t>(t)].is_drum;
    track.pianoroll = builders[static_cast<size_t>(t)].Build(length, binary[static_cast<size_t>(t)]);
    out.tracks.push_back(std::move(track));
  }
  return out;
}

}  // namespace tutti
