#include "core/accompany/given_part.h"

#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/midi/smf.h"
#include "core/npz/pianoroll_npz.h"
#include "tests/testing/run_command.h"

namespace tutti {
namespace {

using ::testing::HasSubstr;

// 480 ticks per quarter: a quarter note is 4 steps of the 16th-note grid.
constexpr int kTpq = 480;

void AddNote(SmfTrack& track, int channel, int key, int64_t on, int64_t off) {
  track.events.push_back(MidiEvent::NoteOn(on, channel, key, 100));
  track.events.push_back(MidiEvent::NoteOff(off, channel, key));
}

// Chunk 0 tempo; 1 "Bass line" (program 33, channel 2); 2 "Keys" (program 0, channel 1); 3 drums (channel 10).
// Each chunk's events are in tick order, as the file format wants.
std::string WriteSong(const std::string& dir) {
  SmfFile smf;
  smf.ticks_per_quarter = kTpq;
  SmfTrack tempo;
  tempo.events.push_back(MidiEvent::Tempo(0, 500000));  // 120 qpm
  SmfTrack bass{"Bass line", {MidiEvent::ProgramChange(0, 1, 33)}, 0};
  AddNote(bass, 1, 40, 0, kTpq);                 // E2, bar 0 beat 0, a quarter
  AddNote(bass, 1, 12, 4 * kTpq, 5 * kTpq);      // C0, bar 1: below the model's range (MIDI 24)
  AddNote(bass, 1, 43, 8 * kTpq, 8 * kTpq + 120);  // G2, bar 2, one 16th
  bass.end_tick = 9 * kTpq;
  SmfTrack keys{"Keys", {MidiEvent::ProgramChange(0, 0, 0)}, 0};
  AddNote(keys, 0, 60, 0, 2 * kTpq);
  AddNote(keys, 0, 64, 16 * kTpq, 17 * kTpq);  // bar 4: the song is 5 bars long
  keys.end_tick = 17 * kTpq;
  SmfTrack drums{"Kit", {}, 0};
  AddNote(drums, 9, 36, 0, 60);
  drums.end_tick = kTpq;
  smf.tracks = {tempo, bass, keys, drums};
  const std::string path = dir + "/song.mid";
  std::ofstream(path, std::ios::binary) << EncodeSmf(smf).value();
  return path;
}

bool On(const GivenPart& part, int64_t step, int pitch) { return part.roll[static_cast<size_t>(step * 128 + pitch)] != 0; }

TEST(GivenPart, MidiByProgramTakesTheBassGroupOnTheModelGrid) {
  const std::string path = WriteSong(testing::FreshTempDir("given_midi"));
  StatusOr<GivenPart> part = ReadGivenPart(path, {});
  ASSERT_TRUE(part.ok()) << part.status();
  EXPECT_EQ(part->bars, 5);  // the whole song (keys end in bar 4), not only the bass
  EXPECT_EQ(part->steps(), 80);
  EXPECT_EQ(part->notes, 3);
  EXPECT_DOUBLE_EQ(part->tempo_qpm, 120);
  // Packing's grid rule (segmenter.h): source steps 21-23 of a quarter round to step 4, so a quarter spans
  // steps 0-4, exactly as in every training sample.
  for (int64_t s = 0; s <= 4; ++s) EXPECT_TRUE(On(*part, s, 40)) << s;
  EXPECT_FALSE(On(*part, 5, 40));
  EXPECT_TRUE(On(*part, 16, 12));  // kept: all 128 pitches
  EXPECT_TRUE(On(*part, 33, 43));
  EXPECT_FALSE(On(*part, 34, 43));
  EXPECT_FALSE(On(*part, 0, 60)) << "the keys are not the bass";
  EXPECT_EQ(part->NotesOutside(24, 72), 1);
  EXPECT_THAT(part->source, HasSubstr("Bass"));
}

TEST(GivenPart, MidiByHandChunkIndexNameOrChannel) {
  const std::string path = WriteSong(testing::FreshTempDir("given_hand"));
  GivenPartOptions options;
  options.input_track = "keys";  // names match in any case
  StatusOr<GivenPart> keys = ReadGivenPart(path, options);
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ(keys->notes, 2);
  EXPECT_TRUE(On(*keys, 0, 60));
  EXPECT_THAT(keys->source, HasSubstr("chunk 2 \"Keys\""));
  options.input_track = "1";
  StatusOr<GivenPart> bass = ReadGivenPart(path, options);
  ASSERT_TRUE(bass.ok()) << bass.status();
  EXPECT_EQ(bass->notes, 3);
  options.input_track = "channel:10";
  StatusOr<GivenPart> drums = ReadGivenPart(path, options);
  ASSERT_TRUE(drums.ok()) << drums.status();
  EXPECT_EQ(drums->notes, 1);
  EXPECT_TRUE(On(*drums, 0, 36));
}

TEST(GivenPart, BadChoicesSayWhatTheFileHolds) {
  const std::string path = WriteSong(testing::FreshTempDir("given_bad"));
  GivenPartOptions options;
  options.input_track = "Tuba";
  StatusOr<GivenPart> part = ReadGivenPart(path, options);
  EXPECT_EQ(part.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(part.status().message(), HasSubstr("1 \"Bass line\" (3 notes, channels 2)"));
  options.input_track = "9";
  EXPECT_THAT(ReadGivenPart(path, options).status().message(), HasSubstr("has 4 track chunks"));
  options.input_track = "channel:17";
  EXPECT_THAT(ReadGivenPart(path, options).status().message(), HasSubstr("expected channel:<1-16>"));
  options.input_track = "0";  // the tempo chunk: no notes
  EXPECT_THAT(ReadGivenPart(path, options).status().message(), HasSubstr("nothing to accompany"));
  GivenPartOptions strings;
  strings.condition_track = 4;
  strings.condition_track_name = "strings";
  EXPECT_THAT(ReadGivenPart(path, strings).status().message(), HasSubstr("nothing to accompany"));
  GivenPartOptions late;
  late.start_bar = 5;
  EXPECT_THAT(ReadGivenPart(path, late).status().message(), HasSubstr("has 5 bars"));
  EXPECT_EQ(ReadGivenPart(path + ".missing.mid", {}).status().code(), absl::StatusCode::kNotFound);
}

TEST(GivenPart, BarsAndStartBarCutThePiece) {
  const std::string path = WriteSong(testing::FreshTempDir("given_cut"));
  GivenPartOptions options;
  options.start_bar = 1;
  options.bars = 2;
  StatusOr<GivenPart> part = ReadGivenPart(path, options);
  ASSERT_TRUE(part.ok()) << part.status();
  EXPECT_EQ(part->bars, 2);
  EXPECT_EQ(part->notes, 2);  // C0 in bar 1 and G2 in bar 2
  EXPECT_TRUE(On(*part, 0, 12));
  EXPECT_TRUE(On(*part, 16, 43));
  options.bars = 100;  // clipped to the song
  EXPECT_EQ(ReadGivenPart(path, options)->bars, 4);
}

TEST(GivenPart, NpzTrackByNameOrIndex) {
  const std::string dir = testing::FreshTempDir("given_npz");
  Multitrack song;
  song.resolution = 24;
  for (const auto& spec : kLpd5TrackSpecs) {
    Track track;
    track.name = spec.name;
    track.program = spec.program;
    track.is_drum = spec.is_drum;
    SparsePianorollBuilder builder;
    if (std::string(spec.name) == "Bass") builder.AddNote(33, 0, 48);   // two beats at 24 per beat
    if (std::string(spec.name) == "Piano") builder.AddNote(60, 96, 120);  // bar 1
    track.pianoroll = builder.Build(192);
    song.tracks.push_back(track);
  }
  const std::string path = dir + "/song.npz";
  ASSERT_TRUE(WritePianorollNpz(song, path).ok());
  StatusOr<GivenPart> bass = ReadGivenPart(path, {});
  ASSERT_TRUE(bass.ok()) << bass.status();
  EXPECT_EQ(bass->bars, 2);
  for (int64_t s = 0; s <= 8; ++s) EXPECT_TRUE(On(*bass, s, 33)) << s;
  EXPECT_FALSE(On(*bass, 9, 33));
  GivenPartOptions by_index;
  by_index.input_track = "1";
  StatusOr<GivenPart> piano = ReadGivenPart(path, by_index);
  ASSERT_TRUE(piano.ok()) << piano.status();
  EXPECT_TRUE(On(*piano, 16, 60));
  by_index.input_track = "Tuba";
  EXPECT_THAT(ReadGivenPart(path, by_index).status().message(), HasSubstr("3 \"Bass\" (1 notes)"));
}

}  // namespace
}  // namespace tutti
