// The built-in genre styles of the synthetic corpus (see song_generator.h for the fields).
//
// Drum grids: 16 cells = sixteenths, 12 cells = eighth-note triplets (swing). Progressions are 0-based
// scale degrees: 0 = I, 1 = ii, 3 = IV, 4 = V, 5 = vi; in minor 2 = III, 5 = VI, 6 = VII.

#include <string>
#include <vector>

#include "core/synth/song_generator.h"

namespace tutti {
namespace {

SongStyle Rock() {
  SongStyle s;
  s.genre = "rock";
  s.tempo_min = 100;
  s.tempo_max = 150;
  s.minor_share = 0.35;
  s.progressions_major = {{0, 3, 4, 3}, {0, 4, 5, 3}, {0, 3, 0, 4}, {5, 3, 0, 4}};
  s.progressions_minor = {{0, 5, 6, 0}, {0, 3, 6, 2}, {0, 6, 5, 6}};
  s.drum_patterns = {
      {{kKick, "x.....x.x.......", 100}, {kSnare, "....X.......X...", 105}, {kClosedHat, "x.x.x.x.x.x.x.x.", 80}},
      {{kKick, "x.x...x.x.x.....", 100}, {kSnare, "....X.......X...", 110}, {kOpenHat, "x.x.x.x.x.x.x.x.", 85}},
      {{kKick, "x.....x.x.....x.", 100}, {kSnare, "....X..o....X...", 105}, {kRide, "x.x.x.x.x.x.x.x.", 80}},
  };
  s.fill = {{kSnare, "............xxxx", 100}, {kKick, "............x...", 100}};
  s.bass = BassStyle::kRootEighths;
  s.piano = PianoStyle::kWholeChords;
  s.guitar = GuitarStyle::kPowerChordEighths;
  s.strings = StringsStyle::kPads;
  s.melody_track = kPianoTrack;
  s.melody_density = 0.4;
  s.melody_low = 64;
  s.melody_high = 84;
  s.empty_track_share = 0.5;
  s.may_be_empty = {kStringsTrack, kStringsTrack, kPianoTrack};
  return s;
}

SongStyle Pop() {
  SongStyle s;
  s.genre = "pop";
  s.tempo_min = 90;
  s.tempo_max = 128;
  s.minor_share = 0.25;
  s.progressions_major = {{0, 4, 5, 3}, {5, 3, 0, 4}, {0, 5, 3, 4}, {3, 0, 4, 5}};
  s.progressions_minor = {{0, 5, 2, 6}, {5, 6, 0, 0}, {0, 3, 5, 6}};
  s.drum_patterns = {
      {{kKick, "x.....x.x.......", 95}, {kSnare, "....X.......X...", 100}, {kClosedHat, "xxxxxxxxxxxxxxxx", 70}},
      {{kKick, "x..x..x.x.......", 95}, {kSnare, "....X.......X...", 100}, {kClosedHat, "x.x.x.x.x.x.x.x.", 75}},
      {{kKick, "x.......x.x.....", 95}, {kSnare, "....X.......X..o", 100}, {kClosedHat, "x.xxx.xxx.xxx.xx", 70}},
  };
  s.fill = {{kSnare, "............x.xx", 95}};
  s.bass = BassStyle::kRootQuarters;
  s.piano = PianoStyle::kBlockChords;
  s.guitar = GuitarStyle::kStrumQuarters;
  s.strings = StringsStyle::kPads;
  s.melody_track = kPianoTrack;
  s.melody_density = 0.55;
  s.melody_low = 65;
  s.melody_high = 86;
  s.empty_track_share = 0.45;
  s.may_be_empty = {kGuitarTrack, kGuitarTrack, kStringsTrack};
  return s;
}

SongStyle Jazz() {
  SongStyle s;
  s.genre = "jazz";
  s.tempo_min = 110;
  s.tempo_max = 200;
  s.minor_share = 0.25;
  s.progressions_major = {{1, 4, 0, 0, 1, 4, 0, 5}, {0, 5, 1, 4, 2, 5, 1, 4}, {1, 1, 4, 4, 0, 0, 0, 0}};
  s.progressions_minor = {{3, 6, 2, 5, 1, 4, 0, 0}, {0, 0, 3, 3, 1, 4, 0, 0}};
  s.chords_per_bar = 2;
  s.seventh_chords = true;
  s.swing = true;
  s.drum_patterns = {
      {{kRide, "X..x.xX..x.x", 85}, {kPedalHat, "...x.....x..", 70}, {kKick, "x.....x.....", 45}},
      {{kRide, "X..x.xX..x.x", 85}, {kPedalHat, "...x.....x..", 70}, {kSnare, ".....o.....o", 50}},
      {{kRide, "X..x.xx..x.x", 85}, {kPedalHat, "...x.....x..", 70}, {kSnare, "..o.....o...", 45},
       {kKick, "x...........", 45}},
  };
  s.fill = {{kSnare, ".........xxx", 80}, {kRide, ".........x..", 85}};
  s.bass = BassStyle::kWalking;
  s.piano = PianoStyle::kJazzComping;
  s.guitar = GuitarStyle::kSparseComping;
  s.strings = StringsStyle::kPads;
  s.melody_track = kPianoTrack;
  s.melody_density = 0.6;
  s.melody_low = 65;
  s.melody_high = 88;
  s.empty_track_share = 0.6;
  s.may_be_empty = {kGuitarTrack, kGuitarTrack, kGuitarTrack, kStringsTrack};
  return s;
}

SongStyle Electronic() {
  SongStyle s;
  s.genre = "electronic";
  s.tempo_min = 120;
  s.tempo_max = 130;
  s.minor_share = 0.7;
  s.progressions_major = {{0, 4, 5, 3}, {5, 3, 0, 4}};
  s.progressions_minor = {{0, 5, 2, 6}, {0, 0, 5, 6}, {0, 3, 5, 4}};
  s.drum_patterns = {
      {{kKick, "X...X...X...X...", 110}, {kSnare, "....x.......x...", 95}, {kOpenHat, "..x...x...x...x.", 80},
       {kClosedHat, "xx.xxx.xxx.xxx.x", 65}},
      {{kKick, "X...X...X...X...", 110}, {kOpenHat, "..x...x...x...x.", 85}, {kClosedHat, "x...x...x...x...", 60}},
      {{kKick, "X...X...X...X...", 110}, {kSnare, "....x.......x...", 95}, {kClosedHat, "xxxxxxxxxxxxxxxx", 65}},
  };
  s.fill = {{kSnare, "........xxxxxxxx", 90}, {kKick, "............x...", 110}};
  s.bass = BassStyle::kOctaveEighths;
  s.piano = PianoStyle::kOffbeatStabs;
  s.guitar = GuitarStyle::kSparseComping;
  s.strings = StringsStyle::kArpeggio16ths;
  s.melody_track = kPianoTrack;
  s.melody_density = 0.3;
  s.melody_low = 72;
  s.melody_high = 91;
  s.empty_track_share = 0.55;
  s.may_be_empty = {kGuitarTrack, kGuitarTrack, kPianoTrack};
  return s;
}

SongStyle HipHop() {
  SongStyle s;
  s.genre = "hip-hop";
  s.tempo_min = 82;
  s.tempo_max = 98;
  s.minor_share = 0.7;
  s.progressions_major = {{1, 4, 0, 5}, {0, 3, 0, 3}};
  s.progressions_minor = {{0, 0, 5, 5}, {0, 3, 0, 3}, {0, 6, 5, 4}};
  s.drum_patterns = {
      {{kKick, "x......x..x.....", 105}, {kSnare, "....X.......X...", 110}, {kClosedHat, "x.x.x.x.x.x.x.x.", 75}},
      {{kKick, "x.....x...x..x..", 105}, {kSnare, "....X.......X...", 110}, {kClosedHat, "x.x.x.x.x.x.x.x.", 75},
       {kOpenHat, "..............x.", 70}},
      {{kKick, "x.........x.....", 105}, {kSnare, "....X.......X..o", 110}, {kClosedHat, "x.xxx.x.x.xxx.x.", 70}},
  };
  s.fill = {{kSnare, "............x..x", 95}, {kKick, "..............x.", 100}};
  s.bass = BassStyle::kSparseRoots;
  s.piano = PianoStyle::kSparseStabs;
  s.guitar = GuitarStyle::kSparseComping;
  s.strings = StringsStyle::kPads;
  s.melody_track = kPianoTrack;
  s.melody_density = 0.25;
  s.melody_low = 60;
  s.melody_high = 79;
  s.empty_track_share = 0.5;
  s.may_be_empty = {kGuitarTrack, kGuitarTrack, kStringsTrack};
  return s;
}

bool Contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

}  // namespace

std::vector<std::string> BuiltinGenres() { return {"rock", "pop", "jazz", "electronic", "hip-hop"}; }

SongStyle StyleForGenre(const std::string& genre) {
  SongStyle style;
  if (Contains(genre, "hip") || Contains(genre, "rap")) {
    style = HipHop();
  } else if (Contains(genre, "rock") || Contains(genre, "metal") || Contains(genre, "punk")) {
    style = Rock();
  } else if (Contains(genre, "jazz") || Contains(genre, "swing") || Contains(genre, "blues")) {
    style = Jazz();
  } else if (Contains(genre, "electro") || Contains(genre, "techno") || Contains(genre, "house") ||
             Contains(genre, "dance") || Contains(genre, "trance")) {
    style = Electronic();
  } else {
    style = Pop();
  }
  style.genre = genre;
  return style;
}

}  // namespace tutti
