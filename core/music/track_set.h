#pragma once
// A track set: which named instrument tracks a pack (and a model trained on it) has, and how a song's own tracks
// are mapped onto them. LPD-5 (the default) and LPD-17 as published, or a custom map (configs/track-maps/*.yaml,
// read by core/config/track_map_yaml.h).
//
// Mapping, per source:
//   a pypianoroll .npz song: each of its tracks by name (any case) through `by_source_name`; a track whose name
//     the map does not list goes by its program and drum flag, as a MIDI note would;
//   a Standard MIDI File: each note by the General MIDI program of its channel (`by_program`), notes on channel
//     10 to `drum_track`.
// Tracks merged into one keep the union of their cells (the larger velocity where they overlap): LPD's own
// merging, which binarises anyway. -1 drops.

#include <array>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/music/multitrack.h"

namespace tutti {

struct TrackSpec {
  std::string name;
  int program = 0;       // General MIDI program written to MIDI files
  bool is_drum = false;  // written on channel 10
};

struct TrackSet {
  std::string name;  // "lpd5", "lpd17", or the custom map's `name`
  std::vector<TrackSpec> tracks;
  std::map<std::string, int> by_source_name;  // lower-case source track name -> track index or -1
  std::array<int, 128> by_program{};          // GM program -> track index or -1
  int drum_track = -1;                        // where channel-10 notes (and unlisted drum tracks) go; -1 drops

  int size() const { return static_cast<int>(tracks.size()); }
  std::vector<std::string> Names() const;
  std::vector<int> Programs() const;
  // The track written on channel 10 (the first drum track), -1 when none.
  int FirstDrumTrack() const;
  // Where a source track goes: by its name when listed, else by drum flag / program.
  int TargetOf(const Track& source) const;
};

// LPD-5: Drums, Piano, Guitar, Bass, Strings; MIDI programs grouped as midi_to_multitrack.h's
// Lpd5TrackForProgram; .npz tracks by LPD-5's names.
TrackSet Lpd5TrackSet();
// LPD-17 as published: Drums, then the 16 General MIDI families (Piano ... Sound Effects, program / 8), each with
// its family's first program; .npz tracks by those names.
TrackSet Lpd17TrackSet();

// The record of a track set in manifests and checkpoints: {"name", "tracks": [{"name", "program", "drum"}...]}
// (the mapping is how a pack was made, not part of what it holds, so it is not recorded).
nlohmann::json TrackSetToJson(const TrackSet& set);
// The inverse for `expected_tracks` tracks: the recorded set when `json` holds one of that size, else LPD-5 when
// expected_tracks is 5 (packs and checkpoints from before track sets), else tracks named "Track <i>" (program 0,
// no drums).
TrackSet TrackSetFromJson(const nlohmann::json& json, int expected_tracks);

// `song`'s tracks mapped onto `set` (see the header comment): set.size() tracks with the set's names, programs and
// drum flags, every roll song.MaxLength() steps; resolution, name, tempo and downbeat kept.
Multitrack ApplyTrackSet(const Multitrack& song, const TrackSet& set);

}  // namespace tutti
