#pragma once
// Internal to core/synth: the writer behind GenerateSongWithPlan, split over song_generator.cc (plan, melody,
// assembly) and song_parts.cc (one renderer per instrument). Not part of the public API.

#include <array>
#include <cstdint>
#include <vector>

#include "core/music/multitrack.h"
#include "core/synth/song_generator.h"
#include "core/synth/synth_rng.h"

namespace tutti::synth_internal {

inline constexpr int kBeat = 24;
inline constexpr int kBar = 96;
inline constexpr int kMajorScale[7] = {0, 2, 4, 5, 7, 9, 11};
inline constexpr int kMinorScale[7] = {0, 2, 3, 5, 7, 8, 10};

inline int Mod(int a, int m) { return ((a % m) + m) % m; }
inline int FloorDiv(int a, int m) { return (a - Mod(a, m)) / m; }

// Lowest pitch >= lo with pitch class pc.
inline int AtOrAbove(int pc, int lo) { return lo + Mod(pc - lo, 12); }
// Pitch with pitch class pc nearest to target (ties go up).
inline int NearestWithPc(int pc, int target) {
  int p = AtOrAbove(pc, target);
  return p - target > 6 ? p - 12 : p;
}
inline int FoldInto(int pitch, int lo, int hi) {
  while (pitch > hi) pitch -= 12;
  while (pitch < lo) pitch += 12;
  return pitch;
}

// A motif note: onset within a two-bar phrase, length, and scale degree relative to the chord's root.
struct MotifNote {
  int offset;
  int length;
  int degree_offset;
};

// One song being written.
class SongWriter {
 public:
  SongWriter(const SongStyle& style, Rng& rng, SongPlan& plan) : style_(style), rng_(rng), plan_(plan) {}

  void Plan(int bars);
  Multitrack Render(uint64_t seed);

 private:
  int Pc(int degree) const { return plan_.scale_pcs[Mod(degree, 7)]; }
  std::vector<int> ChordPcs(int degree, bool seventh) const {
    std::vector<int> pcs;
    for (int k = 0; k < (seventh ? 4 : 3); ++k) pcs.push_back(Pc(degree + 2 * k));
    return pcs;
  }
  // Close voicing of `pcs` whose mean pitch is nearest to `center`, over all inversions.
  static std::vector<int> Voice(const std::vector<int>& pcs, int center);
  uint8_t Vel(int base, int spread) {
    return static_cast<uint8_t>(std::clamp(base + rng_.Int(-spread, spread), 1, 127));
  }
  bool Plays(int track) const { return plan_.empty_track != track; }
  bool IsChorus(int64_t step) const { return (step / kBar / plan_.section_bars) % 2 == 1; }
  void Note(int track, int pitch, int64_t start, int64_t length, uint8_t velocity);
  void Chord(int track, const std::vector<int>& pitches, int64_t start, int64_t length, uint8_t velocity) {
    for (int p : pitches) Note(track, p, start, length, velocity);
  }
  const ChordSpan& ChordAt(int64_t step) const;

  void RenderDrumBar(int bar);
  void RenderBass(const ChordSpan& span, int next_degree);
  void RenderPiano(const ChordSpan& span);
  void RenderGuitar(const ChordSpan& span);
  void RenderStrings(const ChordSpan& span);
  void RenderTail(const ChordSpan& span);
  std::vector<MotifNote> MakeMotif(double density);
  void RenderMelodyBar(int bar);

  const SongStyle& style_;
  Rng& rng_;
  SongPlan& plan_;
  const int* intervals_ = kMajorScale;
  std::array<SparsePianorollBuilder, kLpd5Tracks> rolls_;
  DrumPattern verse_drums_, chorus_drums_;
  std::array<std::vector<MotifNote>, 2> motifs_;
  int walk_pitch_ = 40;
};

}  // namespace tutti::synth_internal
