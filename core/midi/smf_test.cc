#include "core/midi/smf.h"

#include <string>

#include "core/base/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tutti {
namespace {

using ::testing::HasSubstr;

std::string Fixture(const std::string& name) { return std::string(TUTTI_TESTDATA_DIR) + "/midi/" + name; }

// Message of the error from reading a broken fixture; "" when it parsed.
std::string ErrorOf(const std::string& name, absl::StatusCode expected_code = absl::StatusCode::kDataLoss) {
  StatusOr<SmfFile> smf = ReadSmfFile(Fixture(name));
  if (smf.ok()) return "";
  EXPECT_EQ(smf.status().code(), expected_code) << smf.status();
  return std::string(smf.status().message());
}

int Count(const SmfTrack& track, MidiEvent::Type type) {
  int n = 0;
  for (const MidiEvent& e : track.events) n += e.type == type;
  return n;
}

TEST(Smf, Type0WithRunningStatusAndVelocityZeroNoteOffs) {
  StatusOr<SmfFile> smf = ReadSmfFile(Fixture("type0_running_status.mid"));
  ASSERT_TRUE(smf.ok()) << smf.status();
  EXPECT_EQ(smf->format, 0);
  EXPECT_EQ(smf->ticks_per_quarter, 96);
  ASSERT_EQ(smf->tracks.size(), 1u);
  const SmfTrack& track = smf->tracks[0];
  EXPECT_EQ(track.name, "Type0 Song");
  EXPECT_EQ(track.end_tick, 600);
  EXPECT_EQ(Count(track, MidiEvent::Type::kNoteOn), 8);
  EXPECT_EQ(Count(track, MidiEvent::Type::kNoteOff), 8);  // 7 note-on velocity 0 + one 0x80
  EXPECT_EQ(Count(track, MidiEvent::Type::kProgramChange), 2);
  EXPECT_EQ(Count(track, MidiEvent::Type::kTempo), 1);
  EXPECT_EQ(Count(track, MidiEvent::Type::kTimeSignature), 1);
  // The second note-on at tick 0 came through running status.
  int index_64 = -1;
  for (size_t i = 0; i < track.events.size(); ++i) {
    const MidiEvent& e = track.events[i];
    if (e.type == MidiEvent::Type::kNoteOn && e.key == 64) index_64 = static_cast<int>(i);
  }
  ASSERT_GE(index_64, 0);
  EXPECT_EQ(track.events[index_64].tick, 0);
  EXPECT_EQ(track.events[index_64].channel, 0);
  EXPECT_EQ(track.events[index_64].velocity, 90);
  for (const MidiEvent& e : track.events) {
    if (e.type == MidiEvent::Type::kTempo) {
      EXPECT_EQ(e.tempo_us, 500000u);
    }
    if (e.type == MidiEvent::Type::kTimeSignature) {
      EXPECT_EQ(e.numerator, 4);
      EXPECT_EQ(e.denominator_log2, 2);
    }
  }
}

TEST(Smf, Type1KeepsEveryTrackChunkAndItsName) {
  StatusOr<SmfFile> smf = ReadSmfFile(Fixture("type1_multi.mid"));
  ASSERT_TRUE(smf.ok()) << smf.status();
  EXPECT_EQ(smf->format, 1);
  EXPECT_EQ(smf->ticks_per_quarter, 480);
  ASSERT_EQ(smf->tracks.size(), 11u);
  EXPECT_EQ(smf->tracks[0].name, "Tempo");
  EXPECT_EQ(smf->tracks[0].end_tick, 9600);
  EXPECT_EQ(Count(smf->tracks[0], MidiEvent::Type::kTempo), 3);
  EXPECT_EQ(smf->tracks[6].name, "Drums");
  EXPECT_EQ(smf->tracks[6].events[1].channel, 9);
}

TEST(Smf, UnknownChunksAreSkipped) {
  StatusOr<SmfFile> plain = ReadSmfFile(Fixture("type0_running_status.mid"));
  StatusOr<SmfFile> with_alien = ReadSmfFile(Fixture("unknown_chunk.mid"));
  ASSERT_TRUE(plain.ok()) << plain.status();
  ASSERT_TRUE(with_alien.ok()) << with_alien.status();
  ASSERT_EQ(with_alien->tracks.size(), 1u);
  EXPECT_EQ(with_alien->tracks[0].events.size(), plain->tracks[0].events.size());
}

TEST(Smf, BadFilesNameFileTrackOffsetAndExpectation) {
  EXPECT_THAT(ErrorOf("bad/truncated.mid"),
              HasSubstr("bad/truncated.mid: track 0 at byte 14: truncated chunk header: expected 8 bytes, 6 left"));
  EXPECT_THAT(ErrorOf("bad/truncated_event.mid"),
              HasSubstr("truncated_event.mid: track 0 at byte 25: track chunk ends inside a channel event "
                        "(status 0x90): expected 2 data bytes, got 1"));
  EXPECT_THAT(ErrorOf("bad/wrong_magic.mid"),
              HasSubstr("wrong_magic.mid: at byte 0: expected \"MThd\" (a Standard MIDI File header), got \"RIFF\""));
  EXPECT_THAT(ErrorOf("bad/chunk_too_long.mid"),
              HasSubstr("chunk_too_long.mid: track 0 at byte 14: \"MTrk\" chunk length 2147483632 runs past the "
                        "end of the file (12 bytes left)"));
  EXPECT_THAT(ErrorOf("bad/running_status_no_status.mid"),
              HasSubstr("running_status_no_status.mid: track 2 at byte 62: running status with no previous "
                        "status byte"));
  EXPECT_THAT(ErrorOf("bad/type2.mid", absl::StatusCode::kUnimplemented), HasSubstr("SMF format 2"));
  EXPECT_THAT(ErrorOf("bad/smpte.mid", absl::StatusCode::kUnimplemented), HasSubstr("SMPTE time division"));
}

TEST(Smf, MissingFileIsNotFound) {
  StatusOr<SmfFile> smf = ReadSmfFile(Fixture("no_such_file.mid"));
  EXPECT_EQ(smf.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(smf.status().message()), HasSubstr("no_such_file.mid"));
}

std::string Header(int format, int tracks, int division) {
  std::string h = "MThd";
  h += std::string("\0\0\0\x06", 4);
  for (int v : {format, tracks, division}) {
    h.push_back(static_cast<char>(v >> 8));
    h.push_back(static_cast<char>(v & 0xFF));
  }
  return h;
}

std::string Chunk(const std::string& body) {
  std::string c = "MTrk";
  for (int shift : {24, 16, 8, 0}) c.push_back(static_cast<char>((body.size() >> shift) & 0xFF));
  return c + body;
}

TEST(Smf, VariableLengthQuantities) {
  // Delta 0x0FFFFFFF (the largest 4-byte quantity) then a note-on.
  const std::string ok = Header(0, 1, 96) + Chunk(std::string("\xFF\xFF\xFF\x7F\x90\x3C\x40", 7));
  StatusOr<SmfFile> smf = ParseSmf(ok, "vlq.mid");
  ASSERT_TRUE(smf.ok()) << smf.status();
  EXPECT_EQ(smf->tracks[0].events.at(0).tick, 0x0FFFFFFF);
  EXPECT_EQ(smf->tracks[0].end_tick, 0x0FFFFFFF);  // no End-of-Track: the last event's tick

  const std::string five = Header(0, 1, 96) + Chunk(std::string("\x81\x81\x81\x81\x01\x90\x3C\x40", 8));
  EXPECT_THAT(std::string(ParseSmf(five, "vlq5.mid").status().message()),
              HasSubstr("vlq5.mid: track 0 at byte 22: variable-length quantity (delta time) is longer than 4"));
  const std::string cut = Header(0, 1, 96) + Chunk(std::string("\x00\xFF\x03\x85", 4));
  EXPECT_THAT(std::string(ParseSmf(cut, "cut.mid").status().message()),
              HasSubstr("cut.mid: track 0 at byte 26: track chunk ends inside a variable-length quantity "
                        "(meta event length)"));
}

TEST(Smf, MetaAndSysexLengthsAreBoundedByTheChunk) {
  const std::string meta = Header(0, 1, 96) + Chunk(std::string("\x00\xFF\x03\x7F" "abc", 7));
  EXPECT_THAT(std::string(ParseSmf(meta, "m.mid").status().message()),
              HasSubstr("m.mid: track 0 at byte 25: meta event 0x03 has length 127, past the end of the track "
                        "chunk (3 bytes left)"));
  const std::string sysex = Header(0, 1, 96) + Chunk(std::string("\x00\xF0\x8F\xFF\xFF\x7F\x01", 7));
  EXPECT_THAT(std::string(ParseSmf(sysex, "s.mid").status().message()),
              HasSubstr("sysex event has length 33554431"));
  const std::string tempo = Header(0, 1, 96) + Chunk(std::string("\x00\xFF\x51\x02\x07\xA1", 6));
  EXPECT_THAT(std::string(ParseSmf(tempo, "t.mid").status().message()),
              HasSubstr("tempo meta event (0x51) has length 2, expected 3"));
  const std::string status = Header(0, 1, 96) + Chunk(std::string("\x00\xF4\x00", 3));
  EXPECT_THAT(std::string(ParseSmf(status, "f4.mid").status().message()),
              HasSubstr("f4.mid: track 0 at byte 23: unexpected status byte 0xF4"));
  const std::string missing = Header(1, 2, 96) + Chunk(std::string("\x00\xFF\x2F\x00", 4));
  EXPECT_THAT(std::string(ParseSmf(missing, "two.mid").status().message()),
              HasSubstr("two.mid: track 1 at byte 26: file ends after 1 of 2 track chunks"));
}

// Every prefix and many single-byte corruptions of a real file must fail cleanly or parse: never crash,
// never read out of bounds (run under ASan to make this bite).
TEST(Smf, CorruptionNeverCrashes) {
  StatusOr<std::string> data = ReadFileToString(Fixture("type1_multi.mid"));
  ASSERT_TRUE(data.ok()) << data.status();
  for (size_t n = 0; n < data->size(); ++n) {
    StatusOr<SmfFile> smf = ParseSmf(std::string_view(*data).substr(0, n), "prefix.mid");
    EXPECT_FALSE(smf.ok()) << "prefix of " << n << " bytes parsed";
  }
  for (size_t i = 0; i < data->size(); ++i) {
    for (int value : {0x00, 0x7F, 0x80, 0xFF}) {
      std::string copy = *data;
      copy[i] = static_cast<char>(value);
      (void)ParseSmf(copy, "flip.mid");  // only absence of crashes matters here
    }
  }
}

TEST(Smf, EncodeThenParseGivesTheSameEvents) {
  SmfFile in;
  in.format = 1;
  in.ticks_per_quarter = 960;
  SmfTrack tempo;
  tempo.events = {MidiEvent::Tempo(0, 600000), MidiEvent::TimeSignature(0, 6, 3), MidiEvent::Tempo(200000, 1)};
  tempo.end_tick = 300000;
  SmfTrack notes;
  notes.name = "Lead";
  notes.events = {MidiEvent::ProgramChange(0, 3, 81), MidiEvent::NoteOn(0, 3, 127, 127),
                  MidiEvent::NoteOff(0x0FFFFFFF, 3, 127)};
  in.tracks = {tempo, notes};
  StatusOr<std::string> bytes = EncodeSmf(in);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  StatusOr<SmfFile> out = ParseSmf(*bytes, "encoded.mid");
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->tracks.size(), 2u);
  EXPECT_EQ(out->ticks_per_quarter, 960);
  EXPECT_EQ(out->tracks[0].end_tick, 300000);
  EXPECT_EQ(out->tracks[1].name, "Lead");
  EXPECT_EQ(out->tracks[1].end_tick, 0x0FFFFFFF);
  for (size_t t = 0; t < 2; ++t) {
    ASSERT_EQ(out->tracks[t].events.size(), in.tracks[t].events.size());
    for (size_t i = 0; i < in.tracks[t].events.size(); ++i) {
      const MidiEvent& a = in.tracks[t].events[i];
      const MidiEvent& b = out->tracks[t].events[i];
      EXPECT_EQ(a.tick, b.tick);
      EXPECT_EQ(a.type, b.type);
      EXPECT_EQ(a.channel, b.channel);
      EXPECT_EQ(a.key, b.key);
      EXPECT_EQ(a.velocity, b.velocity);
      EXPECT_EQ(a.tempo_us, b.tempo_us);
      EXPECT_EQ(a.numerator, b.numerator);
      EXPECT_EQ(a.denominator_log2, b.denominator_log2);
    }
  }
  in.tracks[1].events.push_back(MidiEvent::NoteOn(5, 3, 60, 100));  // out of order
  EXPECT_EQ(EncodeSmf(in).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tutti
