#include "core/midi/midi_to_multitrack.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tutti {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Cells = std::vector<std::pair<int, int>>;  // (step, velocity)

std::string Fixture(const std::string& name) { return std::string(TUTTI_TESTDATA_DIR) + "/midi/" + name; }

// Active steps of one pitch with their velocities.
Cells PitchCells(const Track& track, int pitch) {
  const SparsePianoroll& roll = track.pianoroll;
  Cells cells;
  for (int32_t i = roll.indptr[pitch]; i < roll.indptr[pitch + 1]; ++i) {
    cells.push_back({roll.steps[i], roll.velocities[i]});
  }
  return cells;
}

Cells Span(int start, int end, int velocity) {
  Cells cells;
  for (int s = start; s < end; ++s) cells.push_back({s, velocity});
  return cells;
}

std::vector<int> ActivePitches(const Track& track) {
  std::vector<int> pitches;
  for (int p = 0; p < kMidiPitches; ++p) {
    if (track.pianoroll.indptr[p + 1] > track.pianoroll.indptr[p]) pitches.push_back(p);
  }
  return pitches;
}

std::vector<int> Downbeats(const Multitrack& song) {
  std::vector<int> steps;
  for (size_t i = 0; i < song.downbeat.size(); ++i) {
    if (song.downbeat[i]) steps.push_back(static_cast<int>(i));
  }
  return steps;
}

void ExpectLpd5Layout(const Multitrack& song, int64_t n_steps) {
  ASSERT_EQ(song.tracks.size(), static_cast<size_t>(kLpd5Tracks));
  EXPECT_EQ(song.resolution, 24);
  EXPECT_EQ(static_cast<int64_t>(song.tempo.size()), n_steps);
  EXPECT_EQ(static_cast<int64_t>(song.downbeat.size()), n_steps);
  for (int i = 0; i < kLpd5Tracks; ++i) {
    const Track& t = song.tracks[i];
    EXPECT_EQ(t.name, kLpd5TrackSpecs[i].name);
    EXPECT_EQ(t.program, kLpd5TrackSpecs[i].program);
    EXPECT_EQ(t.is_drum, kLpd5TrackSpecs[i].is_drum);
    EXPECT_EQ(t.pianoroll.n_steps, n_steps) << t.name;
    EXPECT_FALSE(t.pianoroll.binary);
    EXPECT_EQ(t.pianoroll.Validate(), "") << t.name;
  }
}

TEST(MidiToMultitrack, Type0ExactStepsRunningStatusAndOverlaps) {
  StatusOr<Multitrack> song = ReadMidiAsLpd5(Fixture("type0_running_status.mid"));
  ASSERT_TRUE(song.ok()) << song.status();
  EXPECT_EQ(song->name, "type0_running_status");
  ExpectLpd5Layout(*song, 150);  // End-of-Track at tick 600 of 96 per quarter
  const Track& drums = song->tracks[0];
  const Track& piano = song->tracks[1];
  const Track& bass = song->tracks[3];
  EXPECT_EQ(PitchCells(drums, 36), Span(0, 3, 100));
  EXPECT_EQ(PitchCells(piano, 60), Span(0, 24, 80));
  EXPECT_EQ(PitchCells(piano, 64), Span(0, 48, 90));  // opened through running status
  EXPECT_EQ(PitchCells(piano, 67), Span(12, 18, 70));
  EXPECT_EQ(PitchCells(piano, 48), Span(101, 103, 30));  // ticks 402, 410 -> 100.5, 102.5: halves up
  // Two overlapping notes on pitch 72, [96, 120) at 50 and [108, 144) at 110: the first note-off closed
  // the oldest one; the overlap keeps the louder velocity.
  Cells expected_72 = Span(96, 108, 50);
  for (const auto& c : Span(108, 144, 110)) expected_72.push_back(c);
  EXPECT_EQ(PitchCells(piano, 72), expected_72);
  EXPECT_EQ(PitchCells(bass, 40), Span(48, 96, 60));  // channel 1, program 33
  EXPECT_THAT(ActivePitches(piano), ElementsAre(48, 60, 64, 67, 72));
  EXPECT_EQ(song->tracks[2].pianoroll.nnz(), 0);
  EXPECT_EQ(song->tracks[4].pianoroll.nnz(), 0);
  EXPECT_THAT(Downbeats(*song), ElementsAre(0, 96));
  EXPECT_DOUBLE_EQ(song->tempo[0], 120.0);
  EXPECT_DOUBLE_EQ(song->tempo[149], 120.0);
}

TEST(MidiToMultitrack, Type1InstrumentMappingTempoMapAndTimeSignatures) {
  StatusOr<Multitrack> song = ReadMidiAsLpd5(Fixture("type1_multi.mid"));
  ASSERT_TRUE(song.ok()) << song.status();
  EXPECT_EQ(song->name, "type1_multi");
  ExpectLpd5Layout(*song, 480);
  const Track& drums = song->tracks[0];
  const Track& piano = song->tracks[1];
  const Track& guitar = song->tracks[2];
  const Track& bass = song->tracks[3];
  const Track& strings = song->tracks[4];

  // Channel 10 is drums although that chunk set program 25; a 5-tick hit still gets one step.
  EXPECT_THAT(ActivePitches(drums), ElementsAre(36, 38, 42));
  EXPECT_EQ(PitchCells(drums, 36), Span(0, 3, 100));
  EXPECT_EQ(PitchCells(drums, 38), Span(24, 26, 90));
  EXPECT_EQ(PitchCells(drums, 42), Span(1, 2, 80));
  // Piano: grand piano, organ (program 16), and the "Switcher" chunk before its program change.
  EXPECT_THAT(ActivePitches(piano), ElementsAre(55, 60, 62));
  EXPECT_EQ(PitchCells(piano, 60), Span(0, 24, 100));
  EXPECT_EQ(PitchCells(piano, 55), Span(144, 168, 60));
  EXPECT_EQ(PitchCells(piano, 62), Span(0, 12, 50));
  // Guitar: program 25; "Switcher" after its change to 30; "Shared" inherits channel 1's program 25.
  EXPECT_THAT(ActivePitches(guitar), ElementsAre(45, 52, 62));
  EXPECT_EQ(PitchCells(guitar, 52), Span(24, 48, 90));
  EXPECT_EQ(PitchCells(guitar, 62), Span(96, 120, 50));
  EXPECT_EQ(PitchCells(guitar, 45), Span(240, 264, 40));
  EXPECT_THAT(ActivePitches(bass), ElementsAre(36));
  EXPECT_EQ(PitchCells(bass, 36), Span(0, 96, 80));
  // Strings: string ensemble 48 and the trumpet (brass); the seashore (program 122) is dropped.
  EXPECT_THAT(ActivePitches(strings), ElementsAre(67, 72));
  EXPECT_EQ(PitchCells(strings, 67), Span(96, 192, 70));
  EXPECT_EQ(PitchCells(strings, 72), Span(48, 72, 110));
  for (const Track& t : song->tracks) EXPECT_TRUE(PitchCells(t, 50).empty()) << t.name;

  EXPECT_DOUBLE_EQ(song->tempo[0], 120.0);
  EXPECT_DOUBLE_EQ(song->tempo[95], 120.0);
  EXPECT_NEAR(song->tempo[96], 90.0, 1e-3);
  EXPECT_NEAR(song->tempo[191], 90.0, 1e-3);
  EXPECT_DOUBLE_EQ(song->tempo[192], 150.0);
  EXPECT_DOUBLE_EQ(song->tempo[479], 150.0);
  // 4/4 bars of 96 steps, then 3/4 bars of 72 steps from step 384.
  EXPECT_THAT(Downbeats(*song), ElementsAre(0, 96, 192, 288, 384, 456));
}

TEST(MidiToMultitrack, ResolutionOptionScalesTheGrid) {
  MidiImportOptions options;
  options.resolution = 4;
  StatusOr<Multitrack> song = ReadMidiAsLpd5(Fixture("type1_multi.mid"), options);
  ASSERT_TRUE(song.ok()) << song.status();
  EXPECT_EQ(song->resolution, 4);
  EXPECT_EQ(song->tracks[3].pianoroll.n_steps, 80);
  EXPECT_EQ(PitchCells(song->tracks[3], 36), Span(0, 16, 80));
  EXPECT_THAT(Downbeats(*song), ElementsAre(0, 16, 32, 48, 64, 76));
}

TEST(MidiToMultitrack, ProgramFamilies) {
  // One entry per General MIDI family of 8 programs (piano, chromatic percussion, organ, guitar, ...).
  const int expected[16] = {1, 1, 1, 2, 3, 4, 4, 4, 4, 4, 4, 4, -1, 4, -1, -1};
  for (int p = 0; p < 128; ++p) EXPECT_EQ(Lpd5TrackForProgram(p), expected[p / 8]) << "program " << p;
  EXPECT_EQ(Lpd5TrackForProgram(128), -1);
}

TEST(MidiToMultitrack, ErrorsAndLimits) {
  StatusOr<Multitrack> bad = ReadMidiAsLpd5(Fixture("bad/running_status_no_status.mid"));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("track 2 at byte 62"));

  MidiImportOptions tiny;
  tiny.max_steps = 100;
  StatusOr<Multitrack> too_long = ReadMidiAsLpd5(Fixture("type1_multi.mid"), tiny);
  EXPECT_EQ(too_long.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(too_long.status().message()), HasSubstr("type1_multi: song is 480 steps long"));

  MidiImportOptions few_cells;
  few_cells.max_active_cells = 10;
  EXPECT_EQ(ReadMidiAsLpd5(Fixture("type1_multi.mid"), few_cells).status().code(),
            absl::StatusCode::kResourceExhausted);

  MidiImportOptions zero;
  zero.resolution = 0;
  EXPECT_EQ(ReadMidiAsLpd5(Fixture("type1_multi.mid"), zero).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(MidiToMultitrack, NotesLeftOpenEndAtEndOfTrackAndStrayOffsAreIgnored) {
  SmfFile smf;
  smf.format = 0;
  smf.ticks_per_quarter = 24;
  SmfTrack track;
  track.events = {MidiEvent::NoteOff(0, 0, 61), MidiEvent::NoteOn(10, 0, 60, 64)};
  track.end_tick = 50;
  smf.tracks = {track};
  StatusOr<Multitrack> song = SmfToLpd5(smf, "open");
  ASSERT_TRUE(song.ok()) << song.status();
  EXPECT_EQ(song->tracks[1].pianoroll.n_steps, 50);
  EXPECT_EQ(PitchCells(song->tracks[1], 60), Span(10, 50, 64));
  EXPECT_TRUE(PitchCells(song->tracks[1], 61).empty());
}

}  // namespace
}  // namespace tutti

namespace tutti {
namespace {

TEST(IsMidiFileName, AcceptsTheThreeExtensionsInAnyCase) {
  EXPECT_TRUE(IsMidiFileName("a/song.mid"));
  EXPECT_TRUE(IsMidiFileName("SONG.MIDI"));
  EXPECT_TRUE(IsMidiFileName("x.Smf"));
  EXPECT_FALSE(IsMidiFileName("song.npz"));
  EXPECT_FALSE(IsMidiFileName("dir.mid/readme"));
  EXPECT_FALSE(IsMidiFileName("mid"));
}

}  // namespace
}  // namespace tutti
