#include "core/midi/midi_writer.h"

#include <cstdio>
#include <cstdlib>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/base/file_util.h"
#include "core/midi/midi_to_multitrack.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tutti {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Fixture(const std::string& name) { return std::string(TUTTI_TESTDATA_DIR) + "/midi/" + name; }

class MidiWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StatusOr<std::string> dir = MakeTempDirectoryIn(::testing::TempDir(), "midi_writer_test");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *dir;
  }
  void TearDown() override { RemoveAllQuietly(dir_); }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  std::string dir_;
};

// A song laid out like LPD-5 with binary rolls.
Multitrack BinarySong() {
  Multitrack song;
  song.name = "binary";
  for (const Lpd5TrackSpec& spec : kLpd5TrackSpecs) {
    song.tracks.push_back(Track{spec.name, spec.program, spec.is_drum, {}});
  }
  SparsePianorollBuilder drums, piano, bass;
  drums.AddNote(36, 0, 1);
  drums.AddNote(42, 0, 1);
  drums.AddNote(36, 2, 3);  // separate hits two steps apart
  piano.AddNote(60, 0, 24);
  piano.AddNote(64, 24, 48);
  piano.AddNote(60, 30, 31);  // one-step note
  bass.AddNote(33, 10, 90);
  song.tracks[0].pianoroll = drums.Build(96, true);
  song.tracks[1].pianoroll = piano.Build(96, true);
  song.tracks[3].pianoroll = bass.Build(96, true);
  for (int i : {2, 4}) song.tracks[i].pianoroll = SparsePianorollBuilder().Build(96, true);
  return song;
}

void ExpectSameRolls(const Multitrack& a, const Multitrack& b, bool compare_velocity) {
  ASSERT_EQ(a.tracks.size(), b.tracks.size());
  for (size_t i = 0; i < a.tracks.size(); ++i) {
    const SparsePianoroll& x = a.tracks[i].pianoroll;
    const SparsePianoroll& y = b.tracks[i].pianoroll;
    EXPECT_EQ(x.n_steps, y.n_steps) << a.tracks[i].name;
    EXPECT_EQ(x.indptr, y.indptr) << a.tracks[i].name;
    EXPECT_EQ(x.steps, y.steps) << a.tracks[i].name;
    if (compare_velocity) {
      EXPECT_EQ(x.velocities, y.velocities) << a.tracks[i].name;
    }
  }
}

TEST_F(MidiWriterTest, RoundTripKeepsVelocityRolls) {
  for (const char* name : {"type1_multi.mid", "type0_running_status.mid"}) {
    StatusOr<Multitrack> song = ReadMidiAsLpd5(Fixture(name));
    ASSERT_TRUE(song.ok()) << song.status();
    const std::string path = Path("roundtrip.mid");
    ASSERT_TRUE(WriteMidiFile(*song, path).ok());
    StatusOr<Multitrack> back = ReadMidiAsLpd5(path);
    ASSERT_TRUE(back.ok()) << back.status();
    ExpectSameRolls(*song, *back, /*compare_velocity=*/true);
    EXPECT_EQ(back->downbeat.size(), song->downbeat.size());
  }
}

TEST_F(MidiWriterTest, RoundTripOfBinaryRollsAtVelocity100) {
  const Multitrack song = BinarySong();
  const std::string path = Path("binary.mid");
  ASSERT_TRUE(WriteMidiFile(song, path).ok());
  StatusOr<Multitrack> back = ReadMidiAsLpd5(path);
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSameRolls(song, *back, /*compare_velocity=*/false);
  for (const Track& t : back->tracks) {
    for (uint8_t v : t.pianoroll.velocities) EXPECT_EQ(v, 100);
  }
  EXPECT_EQ(back->tracks[1].pianoroll.CountNotes(), 3);
  EXPECT_EQ(back->tracks[0].pianoroll.CountNotes(), 3);
  EXPECT_DOUBLE_EQ(back->tempo[0], 100.0);  // the default export tempo
}

TEST_F(MidiWriterTest, FileLayoutChannelsProgramsAndTempo) {
  MidiExportOptions options;
  options.tempo_qpm = 125;
  options.programs_override = {0, 1, 25, 33, 49};
  const std::string path = Path("layout.mid");
  ASSERT_TRUE(WriteMidiFile(BinarySong(), path, options).ok());
  StatusOr<SmfFile> smf = ReadSmfFile(path);
  ASSERT_TRUE(smf.ok()) << smf.status();
  EXPECT_EQ(smf->format, 1);
  EXPECT_EQ(smf->ticks_per_quarter, 480);
  ASSERT_EQ(smf->tracks.size(), 6u);
  const SmfTrack& tempo = smf->tracks[0];
  ASSERT_EQ(tempo.events.size(), 2u);
  EXPECT_EQ(tempo.events[0].tempo_us, 480000u);
  EXPECT_EQ(tempo.events[1].numerator, 4);
  EXPECT_EQ(tempo.events[1].denominator_log2, 2);
  EXPECT_EQ(tempo.end_tick, 96 * 20);
  std::vector<std::string> names;
  std::vector<int> channels, programs;
  for (size_t i = 1; i < smf->tracks.size(); ++i) {
    const SmfTrack& t = smf->tracks[i];
    names.push_back(t.name);
    ASSERT_EQ(t.events.at(0).type, MidiEvent::Type::kProgramChange);
    channels.push_back(t.events[0].channel);
    programs.push_back(t.events[0].key);
    EXPECT_EQ(t.end_tick, 96 * 20);
    for (const MidiEvent& e : t.events) EXPECT_EQ(e.channel, t.events[0].channel);
  }
  EXPECT_THAT(names, ElementsAre("Drums", "Piano", "Guitar", "Bass", "Strings"));
  EXPECT_THAT(channels, ElementsAre(9, 0, 1, 2, 3));
  EXPECT_THAT(programs, ElementsAre(0, 1, 25, 33, 49));
  // Piano 64 starts at step 24 = tick 480, the tick where 60 ends: the note-off comes first.
  const std::vector<MidiEvent>& piano = smf->tracks[2].events;
  for (size_t i = 1; i < piano.size(); ++i) {
    if (piano[i].tick == 480 && piano[i].type == MidiEvent::Type::kNoteOn) {
      EXPECT_EQ(piano[i - 1].type, MidiEvent::Type::kNoteOff);
    }
  }
}

TEST_F(MidiWriterTest, ChannelsSkipTheDrumChannelAndRunOut) {
  Multitrack song;
  for (int i = 0; i < 12; ++i) song.tracks.push_back(Track{"T" + std::to_string(i), 0, false, {}});
  StatusOr<SmfFile> smf = MultitrackToSmf(song);
  ASSERT_TRUE(smf.ok()) << smf.status();
  std::vector<int> channels;
  for (size_t i = 1; i < smf->tracks.size(); ++i) channels.push_back(smf->tracks[i].events.at(0).channel);
  EXPECT_THAT(channels, ElementsAre(0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12));
  // Beyond 15 non-drum tracks (LPD-17 has 16) only the tracks that play take a channel; a silent one is a named
  // chunk with no events. More than 15 that play cannot be written.
  auto one_note = [] {
    SparsePianorollBuilder builder;
    builder.AddNote(60, 0, 4);
    return builder.Build(4);
  };
  for (int i = 0; i < 4; ++i) song.tracks.push_back(Track{"more", 0, false, {}});
  for (Track& track : song.tracks) track.pianoroll = one_note();
  song.tracks[3].pianoroll = SparsePianoroll{};
  song.tracks[3].pianoroll.n_steps = 4;
  StatusOr<SmfFile> crowded = MultitrackToSmf(song);
  ASSERT_TRUE(crowded.ok()) << crowded.status();
  EXPECT_TRUE(crowded->tracks[4].events.empty()) << "the silent track takes no channel";
  EXPECT_EQ(crowded->tracks[4].name, "T3");
  std::set<int> used;
  for (size_t i = 1; i < crowded->tracks.size(); ++i) {
    if (!crowded->tracks[i].events.empty()) used.insert(crowded->tracks[i].events.at(0).channel);
  }
  EXPECT_EQ(used.size(), 15u);
  EXPECT_EQ(used.count(9), 0u);
  song.tracks[3].pianoroll = one_note();
  EXPECT_THAT(std::string(MultitrackToSmf(song).status().message()),
              HasSubstr("more than 15 non-drum tracks with notes"));
}

TEST_F(MidiWriterTest, InvalidInputsAreRejected) {
  const Multitrack song = BinarySong();
  MidiExportOptions wrong_count;
  wrong_count.programs_override = {0, 1};
  EXPECT_EQ(WriteMidiFile(song, Path("x.mid"), wrong_count).code(), absl::StatusCode::kInvalidArgument);
  MidiExportOptions no_tempo;
  no_tempo.tempo_qpm = 0;
  EXPECT_EQ(WriteMidiFile(song, Path("x.mid"), no_tempo).code(), absl::StatusCode::kInvalidArgument);
  Multitrack broken = song;
  broken.tracks[1].pianoroll.steps[0] = 1000;  // outside n_steps
  Status status = WriteMidiFile(broken, Path("x.mid"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("track 1 (Piano): invalid pianoroll"));
  Status missing_dir = WriteMidiFile(song, Path("no/such/dir/x.mid"));
  EXPECT_FALSE(missing_dir.ok());
  EXPECT_THAT(std::string(missing_dir.message()), HasSubstr("no/such/dir/x.mid"));
}

// Output of a shell command (stdout), or nullopt-like failure flag.
bool RunCommand(const std::string& command, std::string* output) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return false;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output->append(buffer, n);
  return ::pclose(pipe) == 0;
}

TEST_F(MidiWriterTest, MidoReadsOurFile) {
  if (std::system("/usr/bin/python3 -c 'import mido' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3-mido is not installed (apt-get install python3-mido); cannot cross-check";
  }
  StatusOr<Multitrack> song = ReadMidiAsLpd5(Fixture("type1_multi.mid"));
  ASSERT_TRUE(song.ok()) << song.status();
  const std::string path = Path("for_mido.mid");
  ASSERT_TRUE(WriteMidiFile(*song, path).ok());
  // Prints "type tracks", then per track "name|note-ons|channels".
  const std::string script =
      "import mido, sys\n"
      "m = mido.MidiFile(sys.argv[1])\n"
      "print(m.type, len(m.tracks))\n"
      "for t in m.tracks:\n"
      "    ons = [x for x in t if x.type == 'note_on' and x.velocity > 0]\n"
      "    print('%s|%d|%s' % (t.name, len(ons), sorted({x.channel for x in ons})))\n";
  std::string output;
  ASSERT_TRUE(RunCommand("/usr/bin/python3 -c \"" + script + "\" '" + path + "'", &output)) << output;
  std::istringstream lines(output);
  std::string line;
  std::vector<std::string> all;
  while (std::getline(lines, line)) all.push_back(line);
  EXPECT_THAT(all, ElementsAre("1 6", "|0|[]", "Drums|3|[9]", "Piano|3|[0]", "Guitar|3|[1]", "Bass|1|[2]",
                               "Strings|2|[3]"));
}

}  // namespace
}  // namespace tutti
