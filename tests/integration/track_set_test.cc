// Track sets (core/music/track_set.h, core/config/track_map_yaml.h): LPD-17 read as published and merged by a
// track map that follows LPD's rule gives exactly LPD-5's pianorolls (the real song in ../shared/lpd17-real);
// custom maps group MIDI notes by program; bad map files name the line.

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/config/track_map_yaml.h"
#include "core/midi/midi_to_multitrack.h"
#include "core/midi/smf.h"
#include "core/npz/pianoroll_npz.h"
#include "tests/testing/run_command.h"

namespace tutti {
namespace {

using ::testing::HasSubstr;

const std::string kLpd17Dir = std::string(TUTTI_LPD5_REAL_DIR) + "/../lpd17-real";
const std::string kMd5 = "b97c529ab9ef783a849b896816001748";

// (step, pitch) cells with a non-zero value: binarised, as LPD's merge does.
std::vector<std::pair<int32_t, int>> Cells(const SparsePianoroll& roll) {
  std::vector<std::pair<int32_t, int>> cells;
  for (int p = 0; p < kMidiPitches; ++p) {
    for (int32_t i = roll.indptr[static_cast<size_t>(p)]; i < roll.indptr[static_cast<size_t>(p) + 1]; ++i) {
      if (roll.velocities[static_cast<size_t>(i)] > 0) cells.emplace_back(roll.steps[static_cast<size_t>(i)], p);
    }
  }
  std::sort(cells.begin(), cells.end());
  return cells;
}

TEST(TrackSet, Lpd17MergedByLpdsRuleIsExactlyLpd5) {
  const std::string lpd17 = kLpd17Dir + "/lpd17-" + kMd5 + ".npz", lpd5 = kLpd17Dir + "/lpd5-" + kMd5 + ".npz";
  if (!std::filesystem::exists(lpd17)) GTEST_SKIP() << lpd17 << " not found";
  StatusOr<Multitrack> song17 = ReadPianorollNpz(lpd17);
  ASSERT_TRUE(song17.ok()) << song17.status();
  ASSERT_EQ(song17->tracks.size(), 17u);
  // Read with the LPD-17 set: the file's own 17 tracks, by name, unchanged.
  const Multitrack as17 = ApplyTrackSet(*song17, Lpd17TrackSet());
  ASSERT_EQ(as17.tracks.size(), 17u);
  for (size_t t = 0; t < 17; ++t) {
    EXPECT_EQ(as17.tracks[t].name, song17->tracks[t].name);
    EXPECT_EQ(Cells(as17.tracks[t].pianoroll), Cells(song17->tracks[t].pianoroll)) << song17->tracks[t].name;
  }
  // Merged by configs/track-maps/lpd17-to-lpd5.yaml: LPD-5's file, cell for cell.
  StatusOr<TrackSet> map = LoadTrackSet(std::string(TUTTI_SOURCE_DIR) + "/configs/track-maps/lpd17-to-lpd5.yaml");
  ASSERT_TRUE(map.ok()) << map.status();
  const Multitrack merged = ApplyTrackSet(as17, *map);
  StatusOr<Multitrack> song5 = ReadPianorollNpz(lpd5);
  ASSERT_TRUE(song5.ok()) << song5.status();
  ASSERT_EQ(merged.tracks.size(), 5u);
  const std::vector<size_t> expected_cells = {2098, 4704, 3019, 7928, 34957};  // ../shared/lpd17-real/README.md
  for (size_t t = 0; t < 5; ++t) {
    EXPECT_EQ(merged.tracks[t].name, song5->tracks[t].name);
    const auto cells = Cells(merged.tracks[t].pianoroll);
    EXPECT_EQ(cells.size(), expected_cells[t]) << merged.tracks[t].name;
    EXPECT_TRUE(cells == Cells(song5->tracks[t].pianoroll)) << merged.tracks[t].name << " differs from LPD-5's";
  }
}

TEST(TrackSet, CustomMapGroupsMidiNotesByProgramAndDrumChannel) {
  StatusOr<TrackSet> band = LoadTrackSet(std::string(TUTTI_SOURCE_DIR) + "/configs/track-maps/band4.yaml");
  ASSERT_TRUE(band.ok()) << band.status();
  ASSERT_EQ(band->Names(), (std::vector<std::string>{"Drums", "Keys", "Guitar", "Bass"}));
  SmfFile smf;
  smf.ticks_per_quarter = 480;
  SmfTrack track;
  track.events = {MidiEvent::ProgramChange(0, 0, 17),  MidiEvent::ProgramChange(0, 1, 48),
                  MidiEvent::ProgramChange(0, 2, 34),  MidiEvent::NoteOn(0, 0, 60, 90),
                  MidiEvent::NoteOn(0, 1, 64, 90),     MidiEvent::NoteOn(0, 2, 40, 90),
                  MidiEvent::NoteOn(0, 9, 36, 90),     MidiEvent::NoteOff(480, 0, 60),
                  MidiEvent::NoteOff(480, 1, 64),      MidiEvent::NoteOff(480, 2, 40),
                  MidiEvent::NoteOff(480, 9, 36)};
  track.end_tick = 480;
  smf.tracks = {track};
  MidiImportOptions options;
  options.track_set = &*band;
  StatusOr<Multitrack> song = SmfToLpd5(smf, "band", options);
  ASSERT_TRUE(song.ok()) << song.status();
  ASSERT_EQ(song->tracks.size(), 4u);
  EXPECT_EQ(song->tracks[0].pianoroll.CountNotes(), 1);  // channel 10
  EXPECT_EQ(song->tracks[1].pianoroll.CountNotes(), 1);  // organ (17) -> Keys
  EXPECT_EQ(song->tracks[2].pianoroll.CountNotes(), 0);
  EXPECT_EQ(song->tracks[3].pianoroll.CountNotes(), 1);  // bass (34)
  EXPECT_EQ(song->tracks[1].program, 0);
  EXPECT_EQ(song->tracks[3].program, 33);  // the map's program, written to MIDI files
}

TEST(TrackSet, BadMapFilesNameTheLineAndWhatWasExpected) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"name: x\ntracks: []\n", "tracks: expected a list of at least one track"},
      {"name: x\ntracks:\n  - name: A\n    progam: 3\n", "4:5: tracks[0]: unknown key 'progam'"},
      {"name: x\ntracks:\n  - name: A\n    program: 200\n", "expected a General MIDI program 0-127, got 200"},
      {"name: x\ntracks:\n  - {name: A, from: [Bass]}\n  - {name: B, from: [bass]}\n", "already mapped to another track"},
      {"name: x\ntracks:\n  - {name: A, programs: [0-9]}\n  - {name: B, programs: [5]}\n", "program 5 is already mapped"},
      {"name: x\ntracks:\n  - {name: A, drum: true}\n  - {name: B, drum: true}\n", "a second drum track"},
      {"name: x\ntracks:\n  - {name: A}\n  - {name: a}\n", "track name 'a' given twice"},
      {"tracks:\n  - {name: A}\n", "name: expected the track set's name"},
      {"name: x\ntracks: [\n", "not valid YAML"},
  };
  for (const auto& [text, message] : bad) {
    StatusOr<TrackSet> set = ParseTrackMapYaml(text, "map.yaml");
    EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(set.status().message(), HasSubstr(message)) << text;
    EXPECT_THAT(set.status().message(), HasSubstr("map.yaml")) << text;
  }
  EXPECT_EQ(LoadTrackSet("/nonexistent/map.yaml").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace tutti
