#pragma once
// Musically plausible synthetic songs in exactly LPD-5's shape, so that the demo and the tests run without a
// download.
//
// Contract of every song GenerateSong returns (the facts of ../shared/lpd5.md §1–2):
// - 5 tracks in LPD-5's order and naming (kLpd5TrackSpecs): Drums (0, is_drum), Piano (0), Guitar (24),
//   Bass (32), Strings (48).
// - resolution 24 steps per beat, 4/4: bar b starts at step 96·b. Length T = 96·bars + 24·tail_beats with
//   tail_beats in 0..3 (about half the songs end on a partial bar, as 57 % of LPD does).
// - every non-empty track has n_steps = T and uint8 velocities 1..127 (binary = false); a track that is
//   "empty" is stored as LPD stores it: n_steps 0, no cells, binary = true (shape (0, 128), empty bool data).
//   About half the songs have exactly one empty track; which track depends on the genre.
// - tempo: T copies of one constant qpm; downbeat: T entries, 1 only at step 0 (as in LPD).
// - notes start on the grid: multiples of 6 steps (sixteenths), or of 8 steps (eighth-note triplets) in
//   swung styles; every pitched note is on the song's (major or natural minor) scale; the bass starts each
//   chord on its root, in the bass register [28, 60); drums use only General MIDI kit pitches.
// - deterministic: the same (style, seed, bars) gives the same song on every platform (no std
//   distributions are used).
// Thread-safety: the functions are pure (no shared state); call them from any number of threads.

#include <cstdint>
#include <string>
#include <vector>

#include "core/music/multitrack.h"

namespace tutti {

// Track indices in LPD-5's order.
inline constexpr int kDrumsTrack = 0;
inline constexpr int kPianoTrack = 1;
inline constexpr int kGuitarTrack = 2;
inline constexpr int kBassTrack = 3;
inline constexpr int kStringsTrack = 4;

// General MIDI percussion pitches the built-in styles use.
inline constexpr int kKick = 36;
inline constexpr int kSnare = 38;
inline constexpr int kClosedHat = 42;
inline constexpr int kPedalHat = 44;
inline constexpr int kOpenHat = 46;
inline constexpr int kCrash = 49;
inline constexpr int kRide = 51;

// One drum voice over one bar. `grid` has 8, 12, 16 or 24 cells spread evenly over the bar's 96 steps
// (16 = sixteenths, 12 = eighth-note triplets): 'x' a hit, 'X' an accent, 'o' a ghost note, '.' a rest.
struct DrumLine {
  int pitch = kKick;
  std::string grid;
  int velocity = 90;
};
using DrumPattern = std::vector<DrumLine>;

enum class BassStyle {
  kRootEighths,     // rock: the root on every eighth
  kRootQuarters,    // pop: roots on the beats, an octave jump now and then
  kWalking,         // jazz: quarter notes, root on each chord change, chord tones, diatonic approach notes
  kOctaveEighths,   // electronic: rolling eighths, off-beats an octave up
  kSparseRoots,     // hip-hop: a few long syncopated roots per bar
};
enum class PianoStyle {
  kWholeChords,     // sustained chords, one per chord change
  kBlockChords,     // chords struck on the beats
  kJazzComping,     // short seventh-chord voicings on swung off-beats
  kSparseStabs,     // a long chord and a late stab per bar
  kOffbeatStabs,    // short chords on every off-beat eighth (house piano)
};
enum class GuitarStyle {
  kPowerChordEighths,  // root + fifth + octave on every eighth
  kStrumQuarters,      // four-note triads on the beats
  kSparseComping,      // short chords on the backbeat (swing: short quarters)
};
enum class StringsStyle {
  kPads,            // sustained chord tones
  kArpeggio16ths,   // chord tones up and down in sixteenths
};

// Everything that makes one genre sound like itself. The built-in ones come from StyleForGenre.
struct SongStyle {
  std::string genre;
  int tempo_min = 100;                      // qpm, inclusive range
  int tempo_max = 130;
  double minor_share = 0.3;                 // share of songs in a natural minor key
  // Chord progressions as 0-based scale degrees (0 = I, 4 = V), `chords_per_bar` entries per bar; a song
  // picks one for its verses and one for its choruses. Either list may be empty (the other is used).
  std::vector<std::vector<int>> progressions_major;
  std::vector<std::vector<int>> progressions_minor;
  int chords_per_bar = 1;                   // 1 or 2
  bool seventh_chords = false;              // four-note chords (jazz)
  bool swing = false;                       // melody and comping on the triplet grid
  std::vector<DrumPattern> drum_patterns;   // one bar each; verse and chorus patterns are picked from these
  DrumPattern fill;                         // replaces the last beat of each section's last bar
  BassStyle bass = BassStyle::kRootEighths;
  PianoStyle piano = PianoStyle::kWholeChords;
  GuitarStyle guitar = GuitarStyle::kPowerChordEighths;
  StringsStyle strings = StringsStyle::kPads;
  int melody_track = kPianoTrack;           // track that also carries a melody; -1 for none
  double melody_density = 0.5;              // chance of a note on each eighth
  int melody_low = 64;                      // melody register, MIDI pitches inclusive
  int melody_high = 84;
  double empty_track_share = 0.5;           // share of songs with one track stored empty
  std::vector<int> may_be_empty;            // candidate tracks (repeats weight the choice)
};

// The built-in genres: "rock", "pop", "jazz", "electronic", "hip-hop".
std::vector<std::string> BuiltinGenres();

// The style of a built-in genre. Any other tag maps to the nearest built-in one by name ("classic-rock" ->
// rock, "techno"/"house"/"dance" -> electronic, "rap" -> hip-hop, "swing"/"blues" -> jazz), else pop; the
// returned style's `genre` is then the requested tag.
SongStyle StyleForGenre(const std::string& genre);

// What the generator decided; tests and tools use it to check the music against its own plan.
struct ChordSpan {
  int64_t start = 0;                        // steps [start, end)
  int64_t end = 0;
  int degree = 0;                           // 0-based scale degree of the root
  int root_pc = 0;                          // pitch class 0..11
  std::vector<int> pitch_classes;           // chord tones, root first
};
struct SongPlan {
  std::string genre;
  int tonic_pc = 0;
  bool minor = false;
  std::vector<int> scale_pcs;               // the key's 7 pitch classes
  int tempo_qpm = 120;
  int bars = 0;                             // whole bars; the song has `tail_beats` more beats
  int tail_beats = 0;
  int64_t n_steps = 0;                      // T
  int section_bars = 4;
  std::vector<ChordSpan> chords;            // cover [0, T) in order
  int empty_track = -1;                     // track stored empty, or -1
  int melody_track = -1;                    // -1 when none (or when it is the empty track)
};
struct GeneratedSong {
  Multitrack song;
  SongPlan plan;
};

// One song of `style`; `bars` is clamped to [1, 1024]. The song's name is "<genre>-<seed in hex>".
GeneratedSong GenerateSongWithPlan(const SongStyle& style, uint64_t seed, int bars);

// GenerateSongWithPlan(StyleForGenre(genre), seed, bars).song.
Multitrack GenerateSong(const std::string& genre, uint64_t seed, int bars);

}  // namespace tutti
