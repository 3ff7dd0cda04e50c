#pragma once
// A custom track set from a small YAML file (`tutti pack --track-set FILE.yaml`; examples in configs/track-maps/):
//
//   name: lpd5-from-lpd17            # recorded in the manifest
//   tracks:                          # in order; each becomes one track of every sample
//     - name: Drums                  # written as the MIDI track name
//       program: 0                   # General MIDI program written to MIDI files (0-127)
//       drum: true                   # channel-10 notes (and unlisted drum tracks) go here; written on channel 10
//       from: [Drums]                # source .npz tracks merged into this one, by name (any case)
//     - name: Strings
//       program: 48
//       from: [Strings, Ensemble, Brass]
//       programs: [40-55, 56]        # MIDI notes of these General MIDI programs (ranges or single numbers)
//
// A source name or program listed for two tracks, a name given twice, a second drum track, a program outside
// 0-127 or an unknown key is an error naming the file, line and column. Sources listed nowhere are dropped.

#include <string>

#include "core/base/status.h"
#include "core/music/track_set.h"

namespace tutti {

// "lpd5" and "lpd17" name the built-in sets; anything else is read as a map file.
StatusOr<TrackSet> LoadTrackSet(const std::string& name_or_path);
StatusOr<TrackSet> ParseTrackMapYaml(const std::string& text, const std::string& file_name);

}  // namespace tutti
