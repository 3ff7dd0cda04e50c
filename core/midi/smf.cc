#include "core/midi/smf.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/base/file_util.h"

namespace tutti {
namespace {

constexpr uint32_t kMaxVlq = 0x0FFFFFFF;  // four 7-bit groups

uint32_t ReadBigEndian(std::string_view data, size_t pos, int n) {
  uint32_t value = 0;
  for (int i = 0; i < n; ++i) value = (value << 8) | static_cast<uint8_t>(data[pos + i]);
  return value;
}

std::string Hex(uint32_t byte) { return absl::StrFormat("0x%02X", byte); }

// Chunk ids printed safely: printable ASCII as is, anything else as \xNN.
std::string Printable(std::string_view bytes) {
  std::string out;
  for (char c : bytes) {
    if (c >= 0x20 && c < 0x7F) {
      out.push_back(c);
    } else {
      out += absl::StrFormat("\\x%02X", static_cast<uint8_t>(c));
    }
  }
  return out;
}

Status FileError(const std::string& file, size_t offset, const std::string& what) {
  return absl::DataLossError(absl::StrCat(file, ": at byte ", offset, ": ", what));
}

Status TrackError(const std::string& file, int track, size_t offset, const std::string& what) {
  return absl::DataLossError(absl::StrCat(file, ": track ", track, " at byte ", offset, ": ", what));
}

// Decodes the events of one MTrk chunk whose payload is data[begin, end).
class TrackParser {
 public:
  TrackParser(std::string_view data, size_t begin, size_t end, const std::string& file, int index)
      : data_(data), pos_(begin), end_(end), file_(file), index_(index) {}

  Status Parse(SmfTrack* track) {
    uint8_t running_status = 0;  // 0: none seen yet
    int64_t tick = 0;
    bool have_name = false;
    while (pos_ < end_) {
      TUTTI_ASSIGN_OR_RETURN(uint32_t delta, ReadVlq("delta time"));
      tick += delta;
      if (tick > kMaxSmfTick) {
        return Error(pos_, absl::StrCat("absolute time ", tick, " ticks exceeds the limit of ", kMaxSmfTick));
      }
      if (pos_ >= end_) return Error(pos_, "track chunk ends after a delta time, expected an event");
      const uint8_t first = Byte(pos_);
      if (first == 0xFF) {  // meta event: FF type length data
        ++pos_;
        if (pos_ >= end_) return Error(pos_, "track chunk ends inside a meta event, expected its type byte");
        const uint8_t type = Byte(pos_++);
        const size_t length_offset = pos_;
        TUTTI_ASSIGN_OR_RETURN(uint32_t length, ReadVlq("meta event length"));
        if (length > end_ - pos_) {
          return Error(length_offset, absl::StrCat("meta event ", Hex(type), " has length ", length,
                                                   ", past the end of the track chunk (", end_ - pos_,
                                                   " bytes left)"));
        }
        if (type == 0x2F) {  // End of Track: anything after it in the chunk is ignored.
          track->end_tick = tick;
          return absl::OkStatus();
        }
        if (type == 0x03 && !have_name) {
          track->name.assign(data_.substr(pos_, length));
          have_name = true;
        } else if (type == 0x51) {
          if (length != 3) {
            return Error(length_offset, absl::StrCat("tempo meta event (0x51) has length ", length, ", expected 3"));
          }
          track->events.push_back(MidiEvent::Tempo(tick, ReadBigEndian(data_, pos_, 3)));
        } else if (type == 0x58) {
          if (length != 4) {
            return Error(length_offset,
                         absl::StrCat("time signature meta event (0x58) has length ", length, ", expected 4"));
          }
          track->events.push_back(MidiEvent::TimeSignature(tick, Byte(pos_), Byte(pos_ + 1)));
        }
        pos_ += length;
      } else if (first == 0xF0 || first == 0xF7) {  // sysex: F0/F7 length data; skipped
        ++pos_;
        const size_t length_offset = pos_;
        TUTTI_ASSIGN_OR_RETURN(uint32_t length, ReadVlq("sysex length"));
        if (length > end_ - pos_) {
          return Error(length_offset, absl::StrCat("sysex event has length ", length,
                                                   ", past the end of the track chunk (", end_ - pos_,
                                                   " bytes left)"));
        }
        pos_ += length;
      } else if (first >= 0xF0) {
        return Error(pos_, absl::StrCat("unexpected status byte ", Hex(first),
                                        ", expected a channel, meta (0xFF) or sysex (0xF0/0xF7) event"));
      } else {
        uint8_t status = first;
        if (first & 0x80) {
          running_status = first;
          ++pos_;
        } else if (running_status == 0) {
          return Error(pos_, absl::StrCat("running status with no previous status byte (found data byte ",
                                          Hex(first), " where a status byte was expected)"));
        } else {
          status = running_status;
        }
        TUTTI_RETURN_IF_ERROR(ChannelEvent(status, tick, track));
      }
    }
    track->end_tick = tick;  // no End-of-Track event: tolerated
    return absl::OkStatus();
  }

 private:
  uint8_t Byte(size_t pos) const { return static_cast<uint8_t>(data_[pos]); }

  Status Error(size_t offset, const std::string& what) const { return TrackError(file_, index_, offset, what); }

  StatusOr<uint32_t> ReadVlq(const char* what) {
    const size_t start = pos_;
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      if (pos_ >= end_) {
        return Error(pos_, absl::StrCat("track chunk ends inside a variable-length quantity (", what, ")"));
      }
      const uint8_t b = Byte(pos_++);
      value = (value << 7) | (b & 0x7F);
      if (!(b & 0x80)) return value;
    }
    return Error(start, absl::StrCat("variable-length quantity (", what, ") is longer than 4 bytes"));
  }

  Status ChannelEvent(uint8_t status, int64_t tick, SmfTrack* track) {
    const uint8_t kind = status & 0xF0;
    const uint8_t channel = status & 0x0F;
    const int n_data = (kind == 0xC0 || kind == 0xD0) ? 1 : 2;
    uint8_t d[2] = {0, 0};
    for (int i = 0; i < n_data; ++i) {
      if (pos_ >= end_) {
        return Error(pos_, absl::StrCat("track chunk ends inside a channel event (status ", Hex(status),
                                        "): expected ", n_data, " data bytes, got ", i));
      }
      d[i] = Byte(pos_);
      if (d[i] & 0x80) {
        return Error(pos_, absl::StrCat("expected a data byte (< 0x80) of channel event ", Hex(status),
                                        ", got ", Hex(d[i])));
      }
      ++pos_;
    }
    if (kind == 0x90 && d[1] > 0) {
      track->events.push_back(MidiEvent::NoteOn(tick, channel, d[0], d[1]));
    } else if (kind == 0x80 || kind == 0x90) {
      MidiEvent off = MidiEvent::NoteOff(tick, channel, d[0]);
      off.velocity = kind == 0x80 ? d[1] : 0;
      track->events.push_back(off);
    } else if (kind == 0xC0) {
      track->events.push_back(MidiEvent::ProgramChange(tick, channel, d[0]));
    }
    return absl::OkStatus();  // aftertouch, control change, channel pressure, pitch bend: skipped
  }

  std::string_view data_;
  size_t pos_;
  const size_t end_;
  const std::string& file_;
  const int index_;
};

void AppendBigEndian(std::string* out, uint32_t value, int n) {
  for (int i = n - 1; i >= 0; --i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

void AppendVlq(std::string* out, uint32_t value) {
  char groups[4];
  int n = 0;
  do {
    groups[n++] = static_cast<char>(value & 0x7F);
    value >>= 7;
  } while (value != 0 && n < 4);
  for (int i = n - 1; i >= 0; --i) out->push_back(static_cast<char>(groups[i] | (i > 0 ? 0x80 : 0)));
}

Status EncodeTrack(const SmfTrack& track, size_t index, std::string* out) {
  auto bad = [index](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat("EncodeSmf: track ", index, ": ", what));
  };
  std::string body;
  int64_t last = 0;
  auto delta_to = [&](int64_t tick) -> Status {
    if (tick < last) return bad(absl::StrCat("event at tick ", tick, " follows an event at tick ", last));
    if (tick - last > kMaxVlq) return bad(absl::StrCat("gap of ", tick - last, " ticks exceeds ", kMaxVlq));
    AppendVlq(&body, static_cast<uint32_t>(tick - last));
    last = tick;
    return absl::OkStatus();
  };
  if (!track.name.empty()) {
    if (track.name.size() > kMaxVlq) return bad("track name too long");
    TUTTI_RETURN_IF_ERROR(delta_to(0));
    body += "\xFF\x03";
    AppendVlq(&body, static_cast<uint32_t>(track.name.size()));
    body += track.name;
  }
  for (const MidiEvent& e : track.events) {
    if (e.channel > 15 || e.key > 127 || e.velocity > 127) {
      return bad(absl::StrCat("event at tick ", e.tick, " has channel ", e.channel, ", key ", e.key,
                              ", velocity ", e.velocity, "; expected 0..15, 0..127, 0..127"));
    }
    TUTTI_RETURN_IF_ERROR(delta_to(e.tick));
    switch (e.type) {
      case MidiEvent::Type::kNoteOn:
        body.push_back(static_cast<char>(0x90 | e.channel));
        body.push_back(static_cast<char>(e.key));
        body.push_back(static_cast<char>(e.velocity));
        break;
      case MidiEvent::Type::kNoteOff:
        body.push_back(static_cast<char>(0x80 | e.channel));
        body.push_back(static_cast<char>(e.key));
        body.push_back(0);
        break;
      case MidiEvent::Type::kProgramChange:
        body.push_back(static_cast<char>(0xC0 | e.channel));
        body.push_back(static_cast<char>(e.key));
        break;
      case MidiEvent::Type::kTempo:
        if (e.tempo_us == 0 || e.tempo_us > 0xFFFFFF) {
          return bad(absl::StrCat("tempo ", e.tempo_us, " us per quarter, expected 1..16777215"));
        }
        body += "\xFF\x51\x03";
        AppendBigEndian(&body, e.tempo_us, 3);
        break;
      case MidiEvent::Type::kTimeSignature:
        if (e.numerator == 0) return bad("time signature numerator 0");
        body += "\xFF\x58\x04";
        body.push_back(static_cast<char>(e.numerator));
        body.push_back(static_cast<char>(e.denominator_log2));
        body.push_back(24);  // MIDI clocks per metronome click
        body.push_back(8);   // 32nd notes per quarter
        break;
    }
  }
  TUTTI_RETURN_IF_ERROR(delta_to(std::max(track.end_tick, last)));
  body += std::string("\xFF\x2F\x00", 3);
  if (body.size() > 0xFFFFFFFFu) return bad("track chunk larger than 4 GiB");
  *out += "MTrk";
  AppendBigEndian(out, static_cast<uint32_t>(body.size()), 4);
  *out += body;
  return absl::OkStatus();
}

}  // namespace

MidiEvent MidiEvent::NoteOn(int64_t tick, int channel, int key, int velocity) {
  MidiEvent e;
  e.tick = tick;
  e.type = Type::kNoteOn;
  e.channel = static_cast<uint8_t>(channel);
  e.key = static_cast<uint8_t>(key);
  e.velocity = static_cast<uint8_t>(velocity);
  return e;
}

MidiEvent MidiEvent::NoteOff(int64_t tick, int channel, int key) {
  MidiEvent e = NoteOn(tick, channel, key, 0);
  e.type = Type::kNoteOff;
  return e;
}

MidiEvent MidiEvent::ProgramChange(int64_t tick, int channel, int program) {
  MidiEvent e = NoteOn(tick, channel, program, 0);
  e.type = Type::kProgramChange;
  return e;
}

MidiEvent MidiEvent::Tempo(int64_t tick, uint32_t us_per_quarter) {
  MidiEvent e;
  e.tick = tick;
  e.type = Type::kTempo;
  e.tempo_us = us_per_quarter;
  return e;
}

MidiEvent MidiEvent::TimeSignature(int64_t tick, int numerator, int denominator_log2) {
  MidiEvent e;
  e.tick = tick;
  e.type = Type::kTimeSignature;
  e.numerator = static_cast<uint8_t>(numerator);
  e.denominator_log2 = static_cast<uint8_t>(denominator_log2);
  return e;
}

StatusOr<SmfFile> ParseSmf(std::string_view data, const std::string& file_name) {
  const size_t size = data.size();
  if (size >= 4 && data.substr(0, 4) != "MThd") {
    return FileError(file_name, 0, absl::StrCat("expected \"MThd\" (a Standard MIDI File header), got \"",
                                                 Printable(data.substr(0, 4)), "\""));
  }
  if (size < 14) {
    return FileError(file_name, 0, absl::StrCat("file is ", size, " bytes, too short for the 14-byte MThd header"));
  }
  const uint32_t header_length = ReadBigEndian(data, 4, 4);
  if (header_length < 6 || header_length > size - 8) {
    return FileError(file_name, 4, absl::StrCat("MThd length is ", header_length, ", expected 6..", size - 8,
                                                " (the bytes left in the file)"));
  }
  SmfFile file;
  file.format = static_cast<int>(ReadBigEndian(data, 8, 2));
  const uint32_t n_tracks = ReadBigEndian(data, 10, 2);
  const uint32_t division = ReadBigEndian(data, 12, 2);
  if (file.format == 2) {
    return absl::UnimplementedError(absl::StrCat(
        file_name, ": at byte 8: SMF format 2 (independent sequences) is not supported, expected format 0 or 1"));
  }
  if (file.format > 2) {
    return FileError(file_name, 8, absl::StrCat("unknown SMF format ", file.format, ", expected 0 or 1"));
  }
  if (division & 0x8000) {
    return absl::UnimplementedError(absl::StrCat(
        file_name, ": at byte 12: SMPTE time division (", Hex(division >> 8), " ", Hex(division & 0xFF),
        ") is not supported, expected ticks per quarter note"));
  }
  if (division == 0) return FileError(file_name, 12, "division is 0 ticks per quarter note, expected 1..32767");
  if (file.format == 0 && n_tracks != 1) {
    return FileError(file_name, 10, absl::StrCat("format 0 file announces ", n_tracks, " tracks, expected 1"));
  }
  file.ticks_per_quarter = static_cast<int>(division);

  size_t pos = 8 + header_length;
  while (file.tracks.size() < n_tracks) {
    const int index = static_cast<int>(file.tracks.size());
    if (pos == size) {
      return TrackError(file_name, index, pos, absl::StrCat("file ends after ", index, " of ", n_tracks,
                                                            " track chunks, expected an \"MTrk\" chunk"));
    }
    if (size - pos < 8) {
      return TrackError(file_name, index, pos, absl::StrCat("truncated chunk header: expected 8 bytes, ",
                                                            size - pos, " left in the file"));
    }
    const std::string_view id = data.substr(pos, 4);
    const uint32_t length = ReadBigEndian(data, pos + 4, 4);
    if (length > size - pos - 8) {
      return TrackError(file_name, index, pos,
                        absl::StrCat("\"", Printable(id), "\" chunk length ", length,
                                     " runs past the end of the file (", size - pos - 8, " bytes left)"));
    }
    if (id == "MTrk") {
      SmfTrack track;
      TUTTI_RETURN_IF_ERROR(TrackParser(data, pos + 8, pos + 8 + length, file_name, index).Parse(&track));
      file.tracks.push_back(std::move(track));
    }  // any other chunk type is skipped, as the SMF specification asks
    pos += 8 + static_cast<size_t>(length);
  }
  return file;
}

StatusOr<SmfFile> ReadSmfFile(const std::string& path) {
  TUTTI_ASSIGN_OR_RETURN(uint64_t size, FileSize(path));
  if (size > static_cast<uint64_t>(kMaxSmfFileBytes)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": file is ", size, " bytes, more than the ",
                                                   kMaxSmfFileBytes, " accepted for a MIDI file"));
  }
  TUTTI_ASSIGN_OR_RETURN(std::string data, ReadFileToString(path));
  return ParseSmf(data, path);
}

StatusOr<std::string> EncodeSmf(const SmfFile& file) {
  if (file.format != 0 && file.format != 1) {
    return absl::InvalidArgumentError(absl::StrCat("EncodeSmf: format ", file.format, ", expected 0 or 1"));
  }
  if (file.ticks_per_quarter < 1 || file.ticks_per_quarter > 0x7FFF) {
    return absl::InvalidArgumentError(
        absl::StrCat("EncodeSmf: ", file.ticks_per_quarter, " ticks per quarter, expected 1..32767"));
  }
  if (file.tracks.size() > 0xFFFF || (file.format == 0 && file.tracks.size() != 1)) {
    return absl::InvalidArgumentError(absl::StrCat("EncodeSmf: ", file.tracks.size(),
                                                   " tracks for format ", file.format));
  }
  std::string out = "MThd";
  AppendBigEndian(&out, 6, 4);
  AppendBigEndian(&out, static_cast<uint32_t>(file.format), 2);
  AppendBigEndian(&out, static_cast<uint32_t>(file.tracks.size()), 2);
  AppendBigEndian(&out, static_cast<uint32_t>(file.ticks_per_quarter), 2);
  for (size_t i = 0; i < file.tracks.size(); ++i) TUTTI_RETURN_IF_ERROR(EncodeTrack(file.tracks[i], i, &out));
  return out;
}

}  // namespace tutti
