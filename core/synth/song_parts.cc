// One renderer per instrument of the synthetic songs (see song_writer.h).

#include <algorithm>
#include <utility>
#include <vector>

#include "core/synth/song_writer.h"

namespace tutti::synth_internal {

void SongWriter::RenderDrumBar(int bar) {
  const int64_t bar_start = int64_t{bar} * kBar;
  const int in_section = bar % plan_.section_bars;
  const bool fill = !style_.fill.empty() && in_section == plan_.section_bars - 1 && plan_.section_bars >= 4;
  auto play = [&](const DrumPattern& pattern, bool fill_part) {
    for (const DrumLine& line : pattern) {
      const int cells = static_cast<int>(line.grid.size());
      if (cells == 0 || kBar % cells != 0) continue;
      const int spacing = kBar / cells;
      for (int i = 0; i < cells; ++i) {
        const char c = line.grid[i];
        const int step = i * spacing;
        if (c == '.' || (fill && (step >= 3 * kBeat) != fill_part)) continue;
        const int base = c == 'X' ? line.velocity + 18 : c == 'o' ? line.velocity * 45 / 100 : line.velocity;
        Note(kDrumsTrack, line.pitch, bar_start + step, std::min(4, spacing - 2), Vel(base, 6));
      }
    }
  };
  play(IsChorus(bar_start) ? chorus_drums_ : verse_drums_, false);
  if (fill) play(style_.fill, true);
  if (in_section == 0) {
    Note(kDrumsTrack, kCrash, bar_start, 4, Vel(105, 6));
    Note(kDrumsTrack, kKick, bar_start, 4, Vel(105, 6));
  }
}

void SongWriter::RenderBass(const ChordSpan& span, int next_degree) {
  const int64_t s = span.start;
  const int length = static_cast<int>(span.end - span.start);
  const int root = AtOrAbove(span.root_pc, 33);  // A1..G#2
  switch (style_.bass) {
    case BassStyle::kRootEighths:
      for (int t = 0; t < length; t += 12) {
        int pitch = (t % kBeat == 12 && rng_.Chance(0.1)) ? root + 12 : root;
        Note(kBassTrack, pitch, s + t, 10, Vel(t % kBeat == 0 ? 100 : 88, 6));
      }
      break;
    case BassStyle::kRootQuarters:
      for (int t = 0; t < length; t += kBeat) {
        int pitch = (t == 3 * kBeat && rng_.Chance(0.35)) ? root + 12 : root;
        Note(kBassTrack, pitch, s + t, 20, Vel(t == 0 ? 100 : 85, 6));
      }
      break;
    case BassStyle::kOctaveEighths:
      for (int t = 0; t < length; t += 12) {
        Note(kBassTrack, t % kBeat == 0 ? root : root + 12, s + t, 9, Vel(t % kBeat == 0 ? 100 : 90, 5));
      }
      break;
    case BassStyle::kSparseRoots: {
      static const std::vector<std::vector<std::pair<int, int>>> kPatterns = {
          {{0, 40}, {60, 30}}, {{0, 30}, {42, 12}, {60, 30}}, {{0, 58}, {66, 24}}};
      for (const auto& [t, len] : rng_.Pick(kPatterns)) {
        if (t < length) Note(kBassTrack, root, s + t, std::min(len, length - t - 2), Vel(100, 8));
      }
      break;
    }
    case BassStyle::kWalking: {
      const int beats = std::max(1, length / kBeat);
      int pitch = FoldInto(NearestWithPc(span.root_pc, walk_pitch_), 31, 52);
      for (int k = 0; k < beats; ++k) {
        if (k > 0 && k == beats - 1) {
          // Diatonic approach to the next root, from the side we are on.
          const int next_root = FoldInto(NearestWithPc(Pc(next_degree), pitch), 31, 52);
          const int below = AtOrAbove(Pc(next_degree - 1), next_root - 12);
          const int above = AtOrAbove(Pc(next_degree + 1), next_root + 1);
          pitch = std::abs(below - pitch) <= std::abs(above - pitch) ? below : above;
        } else if (k > 0) {
          pitch = NearestWithPc(span.pitch_classes[k % span.pitch_classes.size()], pitch + (k % 2 ? 3 : -2));
        }
        pitch = FoldInto(pitch, 28, 57);
        Note(kBassTrack, pitch, s + k * kBeat, 22, Vel(k == 0 ? 92 : 80, 8));
      }
      walk_pitch_ = pitch;
      break;
    }
  }
}

void SongWriter::RenderPiano(const ChordSpan& span) {
  const int64_t s = span.start;
  const int length = static_cast<int>(span.end - span.start);
  const bool chorus = IsChorus(s);
  // (offset, length) hits within the span.
  std::vector<std::pair<int, int>> hits;
  std::vector<int> voicing;
  int velocity = 70;
  switch (style_.piano) {
    case PianoStyle::kWholeChords:
      voicing = Voice(span.pitch_classes, 62);
      hits = chorus ? std::vector<std::pair<int, int>>{{0, 44}, {48, 44}} : std::vector<std::pair<int, int>>{{0, length - 4}};
      break;
    case PianoStyle::kBlockChords:
      voicing = Voice(span.pitch_classes, 57);
      hits = chorus ? std::vector<std::pair<int, int>>{{0, 20}, {24, 10}, {36, 10}, {48, 20}, {72, 20}}
                    : std::vector<std::pair<int, int>>{{0, 20}, {24, 20}, {48, 20}, {72, 20}};
      break;
    case PianoStyle::kJazzComping: {
      std::vector<int> pcs = span.pitch_classes;
      if (pcs.size() == 4) pcs.erase(pcs.begin());  // rootless: 3rd, 5th, 7th
      voicing = Voice(pcs, 62);
      velocity = 60;
      static const std::vector<std::vector<int>> kRhythms = {{0}, {16}, {0, 40}, {16, 40}, {24}, {0, 24}};
      const std::vector<int>& rhythm = rng_.Pick(kRhythms);
      for (size_t i = 0; i < rhythm.size(); ++i) {
        int next = i + 1 < rhythm.size() ? rhythm[i + 1] : length;
        hits.push_back({rhythm[i], std::min(14, next - rhythm[i] - 2)});
      }
      break;
    }
    case PianoStyle::kSparseStabs:
      voicing = Voice(span.pitch_classes, 60);
      velocity = 65;
      hits = {{0, 40}};
      if (rng_.Chance(0.6)) hits.push_back({rng_.Chance(0.5) ? 60 : 66, 8});
      break;
    case PianoStyle::kOffbeatStabs:
      voicing = Voice(span.pitch_classes, 64);
      velocity = 80;
      hits = {{12, 8}, {36, 8}, {60, 8}, {84, 8}};
      break;
  }
  for (const auto& [t, len] : hits) {
    if (t < length) Chord(kPianoTrack, voicing, s + t, std::min(len, length - t - 2), Vel(velocity, 6));
  }
}

void SongWriter::RenderGuitar(const ChordSpan& span) {
  const int64_t s = span.start;
  const int length = static_cast<int>(span.end - span.start);
  switch (style_.guitar) {
    case GuitarStyle::kPowerChordEighths: {
      const int root = AtOrAbove(span.root_pc, 40);  // E2..D#3
      const std::vector<int> power = {root, AtOrAbove(Pc(span.degree + 4), root + 1), root + 12};
      for (int t = 0; t < length; t += 12) Chord(kGuitarTrack, power, s + t, 10, Vel(t % kBeat ? 84 : 98, 5));
      break;
    }
    case GuitarStyle::kStrumQuarters: {
      std::vector<int> voicing = Voice({span.pitch_classes[0], span.pitch_classes[1], span.pitch_classes[2]}, 58);
      voicing.push_back(voicing.front() + 12);
      for (int t = 0; t < length; t += kBeat) Chord(kGuitarTrack, voicing, s + t, 20, Vel(t ? 70 : 80, 6));
      break;
    }
    case GuitarStyle::kSparseComping: {
      const std::vector<int> voicing = Voice(span.pitch_classes, 55);
      if (style_.swing) {
        for (int t = 0; t < length; t += kBeat) Chord(kGuitarTrack, voicing, s + t, 10, Vel(55, 6));
      } else {
        for (int t = kBeat; t < length; t += 2 * kBeat) Chord(kGuitarTrack, voicing, s + t, 8, Vel(70, 6));
      }
      break;
    }
  }
}

void SongWriter::RenderStrings(const ChordSpan& span) {
  const int64_t s = span.start;
  const int length = static_cast<int>(span.end - span.start);
  if (style_.strings == StringsStyle::kPads) {
    Chord(kStringsTrack, Voice(span.pitch_classes, 67), s, length - 4, Vel(62, 5));
    return;
  }
  std::vector<int> tones = Voice(span.pitch_classes, 66);
  for (size_t i = 0, n = tones.size(); i < n; ++i) tones.push_back(tones[i] + 12);
  const int n = static_cast<int>(tones.size());
  for (int t = 0, i = 0; t < length; t += 6, ++i) {
    const int phase = i % (2 * n - 2);
    const int index = phase < n ? phase : 2 * n - 2 - phase;  // up, then down
    Note(kStringsTrack, tones[index], s + t, 5, Vel(t % kBeat ? 68 : 80, 5));
  }
}

void SongWriter::RenderTail(const ChordSpan& span) {
  const int64_t s = span.start;
  const int length = static_cast<int>(span.end - span.start);
  Note(kDrumsTrack, kCrash, s, 4, Vel(110, 5));
  Note(kDrumsTrack, kKick, s, 4, Vel(110, 5));
  Note(kBassTrack, AtOrAbove(span.root_pc, 33), s, length - 2, Vel(95, 5));
  Chord(kPianoTrack, Voice(span.pitch_classes, 60), s, length - 2, Vel(75, 5));
  if (style_.guitar == GuitarStyle::kPowerChordEighths) {
    const int root = AtOrAbove(span.root_pc, 40);
    Chord(kGuitarTrack, {root, AtOrAbove(Pc(span.degree + 4), root + 1), root + 12}, s, length - 2, Vel(95, 5));
  } else {
    Chord(kGuitarTrack, Voice(span.pitch_classes, 55), s, length - 2, Vel(75, 5));
  }
  Chord(kStringsTrack, Voice(span.pitch_classes, 67), s, length - 2, Vel(65, 5));
  if (plan_.melody_track >= 0) {
    const int tonic = FoldInto(AtOrAbove(plan_.tonic_pc, style_.melody_low + 5), style_.melody_low,
                               style_.melody_high);
    Note(plan_.melody_track, tonic, s, length - 2, Vel(85, 5));
  }
}

}  // namespace tutti::synth_internal
