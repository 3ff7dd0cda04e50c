// Fuzz target: ParseTrackMapYaml (core/config/track_map_yaml.h): no exception may escape yaml-cpp, and a map
// that parses must be usable as it stands: every program and source name maps into the set's tracks (or drops),
// one drum track at most, and a song mapped through it has the set's tracks.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/config/track_map_yaml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  tutti::StatusOr<tutti::TrackSet> set = tutti::ParseTrackMapYaml(text, "fuzz.yaml");
  if (!set.ok()) return 0;
  const int n = set->size();
  bool bad = n < 1 || set->drum_track < -1 || set->drum_track >= n;
  for (int target : set->by_program) bad = bad || target < -1 || target >= n;
  for (const auto& [name, target] : set->by_source_name) bad = bad || target < -1 || target >= n;
  int drums = 0;
  for (const tutti::TrackSpec& t : set->tracks) drums += t.is_drum;
  bad = bad || drums > 1 || (drums == 1) != (set->drum_track >= 0);
  tutti::Multitrack song;
  song.tracks.push_back(tutti::Track{"Drums", 0, true, {}});
  song.tracks.push_back(tutti::Track{"Bass", 33, false, {}});
  bad = bad || static_cast<int>(tutti::ApplyTrackSet(song, *set).tracks.size()) != n;
  if (bad) {
    std::fprintf(stderr, "accepted a track map that does not hold together:\n%s\n", text.c_str());
    std::abort();
  }
  return 0;
}
