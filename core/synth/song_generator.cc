#include "core/synth/song_generator.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <utility>

#include "core/synth/song_writer.h"

namespace tutti {
namespace synth_internal {

std::vector<int> SongWriter::Voice(const std::vector<int>& pcs, int center) {
  std::vector<int> best;
  int best_error = 1 << 30;
  for (size_t r = 0; r < pcs.size(); ++r) {
    std::vector<int> voicing;
    int pitch = AtOrAbove(pcs[r], center - 8);
    for (size_t k = 0; k < pcs.size(); ++k) {
      if (k > 0) pitch = AtOrAbove(pcs[(r + k) % pcs.size()], pitch + 1);
      voicing.push_back(pitch);
    }
    int sum = 0;
    for (int p : voicing) sum += p;
    int error = std::abs(sum - center * static_cast<int>(voicing.size()));
    if (error < best_error) {
      best_error = error;
      best = voicing;
    }
  }
  return best;
}

void SongWriter::Note(int track, int pitch, int64_t start, int64_t length, uint8_t velocity) {
  int64_t end = std::min(start + length, plan_.n_steps);
  if (!Plays(track) || start < 0 || end <= start || pitch < 0 || pitch >= kMidiPitches) return;
  rolls_[track].AddNote(pitch, start, end, velocity);
}

const ChordSpan& SongWriter::ChordAt(int64_t step) const {
  auto it = std::upper_bound(plan_.chords.begin(), plan_.chords.end(), step,
                             [](int64_t s, const ChordSpan& c) { return s < c.start; });
  return *(it == plan_.chords.begin() ? it : it - 1);
}

void SongWriter::Plan(int bars) {
  plan_.genre = style_.genre;
  plan_.bars = bars;
  plan_.tonic_pc = rng_.Int(0, 11);
  plan_.minor = rng_.Chance(style_.minor_share);
  intervals_ = plan_.minor ? kMinorScale : kMajorScale;
  for (int i = 0; i < 7; ++i) plan_.scale_pcs.push_back((plan_.tonic_pc + intervals_[i]) % 12);
  plan_.tempo_qpm = rng_.Int(style_.tempo_min, style_.tempo_max);
  plan_.tail_beats = rng_.Chance(0.5) ? rng_.Int(1, 3) : 0;
  plan_.n_steps = int64_t{kBar} * bars + int64_t{kBeat} * plan_.tail_beats;
  plan_.section_bars = rng_.Chance(0.5) ? 4 : 8;
  if (!style_.may_be_empty.empty() && rng_.Chance(style_.empty_track_share)) {
    plan_.empty_track = rng_.Pick(style_.may_be_empty);
  }
  plan_.melody_track = plan_.empty_track == style_.melody_track ? -1 : style_.melody_track;

  const auto& preferred = plan_.minor ? style_.progressions_minor : style_.progressions_major;
  const auto& progressions = preferred.empty() ? (plan_.minor ? style_.progressions_major
                                                              : style_.progressions_minor)
                                               : preferred;
  static const std::vector<int> kTonicOnly = {0};
  const std::vector<int>& verse = progressions.empty() ? kTonicOnly : rng_.Pick(progressions);
  const std::vector<int>& chorus = progressions.empty() ? kTonicOnly : rng_.Pick(progressions);
  const int per_bar = std::clamp(style_.chords_per_bar, 1, 2);
  const int slot = kBar / per_bar;
  for (int b = 0; b < bars; ++b) {
    const std::vector<int>& prog = IsChorus(int64_t{b} * kBar) ? chorus : verse;
    for (int s = 0; s < per_bar; ++s) {
      ChordSpan c;
      c.start = int64_t{b} * kBar + s * slot;
      c.end = c.start + slot;
      c.degree = prog[((b % plan_.section_bars) * per_bar + s) % prog.size()];
      plan_.chords.push_back(c);
    }
  }
  if (plan_.tail_beats > 0) plan_.chords.push_back({int64_t{kBar} * bars, plan_.n_steps, 0, 0, {}});
  for (ChordSpan& c : plan_.chords) {
    c.root_pc = Pc(c.degree);
    c.pitch_classes = ChordPcs(c.degree, style_.seventh_chords);
  }

  if (!style_.drum_patterns.empty()) {
    verse_drums_ = rng_.Pick(style_.drum_patterns);
    chorus_drums_ = rng_.Pick(style_.drum_patterns);
  }
  motifs_[0] = MakeMotif(style_.melody_density * 0.8);
  motifs_[1] = MakeMotif(style_.melody_density);
}

std::vector<MotifNote> SongWriter::MakeMotif(double density) {
  const int swing_offset = style_.swing ? 16 : 12;  // the "and" of a beat
  std::vector<int> onsets;
  for (int beat = 0; beat < 8; ++beat) {
    if (rng_.Chance(std::min(1.0, density * 1.2))) onsets.push_back(beat * kBeat);
    if (rng_.Chance(density * 0.8)) onsets.push_back(beat * kBeat + swing_offset);
  }
  if (onsets.empty()) onsets.push_back(0);
  std::vector<MotifNote> motif;
  int degree = 2 * rng_.Int(0, 2);  // start on a chord tone
  for (size_t i = 0; i < onsets.size(); ++i) {
    static const std::vector<int> kSteps = {-2, -1, -1, 0, 1, 1, 2};
    degree = std::clamp(degree + rng_.Pick(kSteps), -3, 9);
    if (onsets[i] % kBeat == 0 && Mod(degree, 7) % 2 == 1) degree += degree < 4 ? 1 : -1;  // chord tone
    int next = i + 1 < onsets.size() ? onsets[i + 1] : 2 * kBar;
    int length = std::min(next - onsets[i] - 2, 36);
    motif.push_back({onsets[i], std::max(length, 4), degree});
  }
  return motif;
}

void SongWriter::RenderMelodyBar(int bar) {
  const int64_t bar_start = int64_t{bar} * kBar;
  const bool chorus = IsChorus(bar_start);
  const int half = (bar % 2) * kBar;
  const int tonic_ref = AtOrAbove(plan_.tonic_pc, style_.melody_low);
  for (const MotifNote& m : motifs_[chorus ? 1 : 0]) {
    if (m.offset < half || m.offset >= half + kBar) continue;
    const int64_t start = bar_start + (m.offset - half);
    const int degree = ChordAt(start).degree + m.degree_offset;
    int pitch = tonic_ref + 12 * FloorDiv(degree, 7) + intervals_[Mod(degree, 7)];
    pitch = FoldInto(pitch, style_.melody_low, style_.melody_high);
    const int length = std::min<int64_t>(m.length, int64_t{kBar} * plan_.bars - start);
    Note(plan_.melody_track, pitch, start, length, Vel((m.offset % kBeat ? 78 : 90) + (chorus ? 8 : 0), 8));
  }
}

Multitrack SongWriter::Render(uint64_t seed) {
  const int bars = plan_.bars;
  for (int b = 0; b < bars; ++b) RenderDrumBar(b);
  for (size_t i = 0; i < plan_.chords.size(); ++i) {
    const ChordSpan& span = plan_.chords[i];
    if (span.start >= int64_t{kBar} * bars) {
      RenderTail(span);
      continue;
    }
    const int next_degree = i + 1 < plan_.chords.size() ? plan_.chords[i + 1].degree : 0;
    RenderBass(span, next_degree);
    RenderPiano(span);
    RenderGuitar(span);
    RenderStrings(span);
  }
  if (plan_.melody_track >= 0) {
    for (int b = 0; b < bars; ++b) RenderMelodyBar(b);
  }

  Multitrack song;
  char name[64];
  std::snprintf(name, sizeof name, "-%016" PRIx64, seed);
  song.name = style_.genre + name;
  song.resolution = kBeat;
  song.tempo.assign(static_cast<size_t>(plan_.n_steps), static_cast<double>(plan_.tempo_qpm));
  song.downbeat.assign(static_cast<size_t>(plan_.n_steps), 0);
  if (plan_.n_steps > 0) song.downbeat[0] = 1;
  for (int i = 0; i < kLpd5Tracks; ++i) {
    Track track;
    track.name = kLpd5TrackSpecs[i].name;
    track.program = kLpd5TrackSpecs[i].program;
    track.is_drum = kLpd5TrackSpecs[i].is_drum;
    // LPD stores an empty track as shape (0, 128) with bool data.
    track.pianoroll = Plays(i) ? rolls_[i].Build(plan_.n_steps) : rolls_[i].Build(0, /*binary=*/true);
    song.tracks.push_back(std::move(track));
  }
  return song;
}

}  // namespace synth_internal

using synth_internal::Rng;
using synth_internal::SongWriter;

GeneratedSong GenerateSongWithPlan(const SongStyle& style, uint64_t seed, int bars) {
  Rng rng(seed);
  GeneratedSong out;
  SongWriter writer(style, rng, out.plan);
  writer.Plan(std::clamp(bars, 1, 1024));
  out.song = writer.Render(seed);
  return out;
}

Multitrack GenerateSong(const std::string& genre, uint64_t seed, int bars) {
  return GenerateSongWithPlan(StyleForGenre(genre), seed, bars).song;
}

}  // namespace tutti
