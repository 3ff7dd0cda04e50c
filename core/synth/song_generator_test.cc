#include "core/synth/song_generator.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace tutti {
namespace {

struct NoteEvent {
  int pitch;
  int64_t start;
  int64_t end;
  int velocity;
};

// Maximal runs of consecutive active steps per pitch, sorted by start.
std::vector<NoteEvent> Notes(const SparsePianoroll& roll) {
  std::vector<NoteEvent> notes;
  for (int p = 0; p < kMidiPitches; ++p) {
    for (int32_t i = roll.indptr[p]; i < roll.indptr[p + 1]; ++i) {
      if (i > roll.indptr[p] && roll.steps[i] == roll.steps[i - 1] + 1) {
        notes.back().end = roll.steps[i] + 1;
      } else {
        notes.push_back({p, roll.steps[i], roll.steps[i] + 1, roll.velocities[i]});
      }
    }
  }
  std::sort(notes.begin(), notes.end(),
            [](const NoteEvent& a, const NoteEvent& b) { return std::make_pair(a.start, a.pitch) < std::make_pair(b.start, b.pitch); });
  return notes;
}

const ChordSpan& ChordAt(const SongPlan& plan, int64_t step) {
  for (const ChordSpan& c : plan.chords) {
    if (step >= c.start && step < c.end) return c;
  }
  ADD_FAILURE() << "no chord at step " << step;
  return plan.chords.front();
}

bool Contains(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// A few songs of every built-in genre.
std::vector<GeneratedSong> Corpus(int per_genre) {
  std::vector<GeneratedSong> songs;
  for (const std::string& genre : BuiltinGenres()) {
    for (int i = 0; i < per_genre; ++i) {
      songs.push_back(GenerateSongWithPlan(StyleForGenre(genre), 1000 + 17 * i, 16 + (i * 7) % 33));
    }
  }
  return songs;
}

TEST(SongGenerator, HasLpd5Shape) {
  for (const GeneratedSong& g : Corpus(8)) {
    const Multitrack& song = g.song;
    const SongPlan& plan = g.plan;
    SCOPED_TRACE(*song.name);
    ASSERT_EQ(song.tracks.size(), 5u);
    EXPECT_EQ(song.resolution, 24);
    EXPECT_EQ(plan.n_steps, 96 * plan.bars + 24 * plan.tail_beats);
    EXPECT_GE(plan.tail_beats, 0);
    EXPECT_LE(plan.tail_beats, 3);
    EXPECT_EQ(song.MaxLength(), plan.n_steps);
    ASSERT_EQ(static_cast<int64_t>(song.tempo.size()), plan.n_steps);
    EXPECT_TRUE(std::all_of(song.tempo.begin(), song.tempo.end(), [&](double t) { return t == song.tempo[0]; }));
    ASSERT_EQ(static_cast<int64_t>(song.downbeat.size()), plan.n_steps);
    EXPECT_EQ(song.downbeat[0], 1);
    EXPECT_EQ(std::count(song.downbeat.begin(), song.downbeat.end(), 1), 1);
    for (int i = 0; i < 5; ++i) {
      const Track& t = song.tracks[i];
      EXPECT_EQ(t.name, kLpd5TrackSpecs[i].name);
      EXPECT_EQ(t.program, kLpd5TrackSpecs[i].program);
      EXPECT_EQ(t.is_drum, kLpd5TrackSpecs[i].is_drum);
      EXPECT_EQ(t.pianoroll.Validate(), "");
      if (i == plan.empty_track) {
        EXPECT_EQ(t.pianoroll.n_steps, 0);  // LPD's shape (0, 128)
        EXPECT_EQ(t.pianoroll.nnz(), 0);
        EXPECT_TRUE(t.pianoroll.binary);
        continue;
      }
      EXPECT_EQ(t.pianoroll.n_steps, plan.n_steps);
      EXPECT_FALSE(t.pianoroll.binary);
      EXPECT_GT(t.pianoroll.CountNotes(), 8);
      for (uint8_t v : t.pianoroll.velocities) {
        ASSERT_GE(v, 1);
        ASSERT_LE(v, 127);
      }
    }
  }
}

TEST(SongGenerator, DeterministicForASeed) {
  for (const std::string& genre : BuiltinGenres()) {
    Multitrack a = GenerateSong(genre, 42, 20);
    Multitrack b = GenerateSong(genre, 42, 20);
    Multitrack c = GenerateSong(genre, 43, 20);
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.tempo, b.tempo);
    bool differs = a.tempo != c.tempo;
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(a.tracks[i].pianoroll.n_steps, b.tracks[i].pianoroll.n_steps);
      EXPECT_EQ(a.tracks[i].pianoroll.indptr, b.tracks[i].pianoroll.indptr);
      EXPECT_EQ(a.tracks[i].pianoroll.steps, b.tracks[i].pianoroll.steps);
      EXPECT_EQ(a.tracks[i].pianoroll.velocities, b.tracks[i].pianoroll.velocities);
      differs = differs || a.tracks[i].pianoroll.steps != c.tracks[i].pianoroll.steps;
    }
    EXPECT_TRUE(differs) << genre;
  }
}

TEST(SongGenerator, EmptyTracksAndPartialBarsAsInLpd) {
  int empty = 0, partial = 0, total = 0;
  for (const GeneratedSong& g : Corpus(20)) {
    ++total;
    empty += g.plan.empty_track >= 0;
    partial += g.plan.tail_beats > 0;
  }
  EXPECT_GT(empty, total * 3 / 10);
  EXPECT_LT(empty, total * 7 / 10);
  EXPECT_GT(partial, total * 3 / 10);
  EXPECT_LT(partial, total * 7 / 10);
}

TEST(SongGenerator, NotesOnTheGridDrumsOnKitPitchesPitchesOnTheScale) {
  const std::set<int> kit = {kKick, kSnare, kClosedHat, kPedalHat, kOpenHat, kCrash, kRide};
  for (const GeneratedSong& g : Corpus(6)) {
    SCOPED_TRACE(*g.song.name);
    const bool swing = StyleForGenre(g.plan.genre).swing;
    for (int i = 0; i < 5; ++i) {
      for (const NoteEvent& n : Notes(g.song.tracks[i].pianoroll)) {
        ASSERT_TRUE(n.start % 6 == 0 || (swing && n.start % 8 == 0)) << "track " << i << " onset " << n.start;
        if (i == kDrumsTrack) {
          ASSERT_TRUE(kit.count(n.pitch)) << "drum pitch " << n.pitch;
        } else {
          ASSERT_TRUE(Contains(g.plan.scale_pcs, n.pitch % 12)) << "track " << i << " pitch " << n.pitch;
        }
      }
    }
  }
}

TEST(SongGenerator, BassPlaysChordRootsInTheBassRegister) {
  for (const GeneratedSong& g : Corpus(6)) {
    if (g.plan.empty_track == kBassTrack) continue;
    SCOPED_TRACE(*g.song.name);
    const bool walking = StyleForGenre(g.plan.genre).bass == BassStyle::kWalking;
    std::vector<NoteEvent> notes = Notes(g.song.tracks[kBassTrack].pianoroll);
    std::set<int64_t> onsets;
    for (const NoteEvent& n : notes) {
      onsets.insert(n.start);
      EXPECT_GE(n.pitch, 28);
      EXPECT_LT(n.pitch, 60);
      const ChordSpan& chord = ChordAt(g.plan, n.start);
      if (!walking || n.start == chord.start) {
        EXPECT_EQ(n.pitch % 12, chord.root_pc) << "bass at step " << n.start;
      }
    }
    for (const ChordSpan& c : g.plan.chords) EXPECT_TRUE(onsets.count(c.start)) << "no bass at chord " << c.start;
  }
}

TEST(SongGenerator, ChordTracksPlayTheChord) {
  for (const GeneratedSong& g : Corpus(6)) {
    SCOPED_TRACE(*g.song.name);
    for (int track : {kGuitarTrack, kStringsTrack}) {
      for (const NoteEvent& n : Notes(g.song.tracks[track].pianoroll)) {
        const ChordSpan& chord = ChordAt(g.plan, n.start);
        std::vector<int> allowed = chord.pitch_classes;
        if (track == kGuitarTrack && StyleForGenre(g.plan.genre).guitar == GuitarStyle::kPowerChordEighths) {
          allowed = {chord.pitch_classes[0], chord.pitch_classes[2]};  // root and fifth only
        }
        ASSERT_TRUE(Contains(allowed, n.pitch % 12)) << "track " << track << " pitch " << n.pitch;
      }
    }
  }
}

TEST(SongGenerator, GenresSoundDifferent) {
  for (int seed = 0; seed < 6; ++seed) {
    GeneratedSong jazz = GenerateSongWithPlan(StyleForGenre("jazz"), seed, 16);
    std::set<int> drums;
    for (const NoteEvent& n : Notes(jazz.song.tracks[kDrumsTrack].pianoroll)) drums.insert(n.pitch);
    EXPECT_TRUE(drums.count(kRide)) << "jazz without ride cymbal";
    EXPECT_EQ(jazz.plan.chords.front().pitch_classes.size(), 4u) << "jazz chords are seventh chords";
    if (jazz.plan.empty_track != kBassTrack) {
      // Walking bass: a quarter note on every beat, and it moves.
      std::vector<NoteEvent> bass = Notes(jazz.song.tracks[kBassTrack].pianoroll);
      EXPECT_GE(static_cast<int64_t>(bass.size()), 4 * jazz.plan.bars);
      int moves = 0;
      for (size_t i = 1; i < bass.size(); ++i) moves += bass[i].pitch != bass[i - 1].pitch;
      EXPECT_GT(moves, static_cast<int>(bass.size()) * 3 / 4);
    }
    EXPECT_GE(jazz.plan.tempo_qpm, 110);

    GeneratedSong electronic = GenerateSongWithPlan(StyleForGenre("electronic"), seed, 16);
    std::set<int64_t> kicks;
    for (const NoteEvent& n : Notes(electronic.song.tracks[kDrumsTrack].pianoroll)) {
      if (n.pitch == kKick) kicks.insert(n.start);
    }
    for (int64_t beat = 0; beat < 16 * 4; ++beat) EXPECT_TRUE(kicks.count(beat * 24)) << "four on the floor";
    EXPECT_GE(electronic.plan.tempo_qpm, 120);
    EXPECT_LE(electronic.plan.tempo_qpm, 130);

    GeneratedSong hiphop = GenerateSongWithPlan(StyleForGenre("hip-hop"), seed, 16);
    EXPECT_LT(hiphop.plan.tempo_qpm, 100);
    GeneratedSong rock = GenerateSongWithPlan(StyleForGenre("rock"), seed, 16);
    EXPECT_EQ(rock.plan.chords.front().pitch_classes.size(), 3u);
    if (rock.plan.empty_track != kBassTrack) {
      EXPECT_EQ(rock.song.tracks[kBassTrack].pianoroll.CountNotes(), 16 * 8 + (rock.plan.tail_beats > 0 ? 1 : 0))
          << "rock bass: roots on eighths";
    }
  }
}

// The tutorial's sample rule (lpd5.md §3): every track of a 4-bar segment needs >= 10 active cells at 4 steps
// per beat. Songs without an empty track must give samples.
TEST(SongGenerator, SegmentsPassTheEveryTrackRule) {
  for (const GeneratedSong& g : Corpus(4)) {
    if (g.plan.empty_track >= 0) continue;
    SCOPED_TRACE(*g.song.name);
    for (int bar = 0; bar + 4 <= g.plan.bars; bar += 4) {
      for (int i = 0; i < 5; ++i) {
        const SparsePianoroll& roll = g.song.tracks[i].pianoroll;
        std::set<std::pair<int64_t, int>> cells;
        for (int p = 0; p < kMidiPitches; ++p) {
          for (int32_t k = roll.indptr[p]; k < roll.indptr[p + 1]; ++k) {
            const int64_t t = std::llround(std::nearbyint(roll.steps[k] * 4.0 / 24.0));
            if (t >= bar * 16 && t < (bar + 4) * 16) cells.insert({t, p});
          }
        }
        EXPECT_GE(cells.size(), 10u) << "track " << i << " bars " << bar << "..";
      }
    }
  }
}

TEST(SongGenerator, UnknownTagsMapToTheNearestStyle) {
  EXPECT_EQ(StyleForGenre("classic-rock").bass, BassStyle::kRootEighths);
  EXPECT_EQ(StyleForGenre("classic-rock").genre, "classic-rock");
  EXPECT_EQ(StyleForGenre("techno").strings, StringsStyle::kArpeggio16ths);
  EXPECT_EQ(StyleForGenre("rap").bass, BassStyle::kSparseRoots);
  EXPECT_EQ(StyleForGenre("00s").bass, BassStyle::kRootQuarters);
  Multitrack song = GenerateSong("00s", 5, 0);  // bars clamped to 1
  EXPECT_GE(song.MaxLength(), 96);
}

}  // namespace
}  // namespace tutti
