#include "core/midi/midi_writer.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "core/base/file_util.h"

namespace tutti {
namespace {

constexpr int kDrumChannel = 9;

struct TimedEvent {
  int rank;  // at equal ticks: 0 program change, 1 note-off, 2 note-on
  MidiEvent event;
};

// Appends the note events of one roll: runs of consecutive steps with one velocity.
void AppendNotes(const SparsePianoroll& roll, int channel, int64_t tpq, int64_t resolution,
                 std::vector<TimedEvent>* out) {
  auto tick_of = [&](int64_t step) { return (2 * step * tpq + resolution) / (2 * resolution); };
  auto emit = [&](int pitch, int64_t start, int64_t end, int velocity) {
    out->push_back({2, MidiEvent::NoteOn(tick_of(start), channel, pitch, velocity)});
    out->push_back({1, MidiEvent::NoteOff(tick_of(end), channel, pitch)});
  };
  for (int pitch = 0; pitch < kMidiPitches; ++pitch) {
    int64_t start = -1, last = -1;
    int velocity = 0;
    for (int32_t i = roll.indptr[pitch]; i < roll.indptr[pitch + 1]; ++i) {
      if (roll.velocities[i] == 0) continue;  // an explicit zero is silence
      const int64_t step = roll.steps[i];
      const int v = roll.binary ? 100 : std::min<int>(roll.velocities[i], 127);
      if (start >= 0 && step == last + 1 && v == velocity) {
        last = step;
        continue;
      }
      if (start >= 0) emit(pitch, start, last + 1, velocity);
      start = last = step;
      velocity = v;
    }
    if (start >= 0) emit(pitch, start, last + 1, velocity);
  }
}

}  // namespace

StatusOr<SmfFile> MultitrackToSmf(const Multitrack& song, const MidiExportOptions& options) {
  auto bad = [](const std::string& what) { return absl::InvalidArgumentError(absl::StrCat("MIDI export: ", what)); };
  if (options.ticks_per_quarter < 1 || options.ticks_per_quarter > 0x7FFF) {
    return bad(absl::StrCat("ticks_per_quarter ", options.ticks_per_quarter, ", expected 1..32767"));
  }
  if (song.resolution < 1) return bad(absl::StrCat("song resolution ", song.resolution, ", expected >= 1"));
  const double us = std::isfinite(options.tempo_qpm) && options.tempo_qpm > 0 ? std::round(60e6 / options.tempo_qpm)
                                                                               : 0;
  if (us < 1 || us > 0xFFFFFF) {
    return bad(absl::StrCat("tempo_qpm ", options.tempo_qpm, " gives ", us,
                            " us per quarter, expected 1..16777215"));
  }
  if (!options.programs_override.empty() && options.programs_override.size() != song.tracks.size()) {
    return bad(absl::StrCat("programs_override has ", options.programs_override.size(), " programs for ",
                            song.tracks.size(), " tracks"));
  }
  const int64_t tpq = options.ticks_per_quarter;
  const int64_t length = song.MaxLength();
  const int64_t end_tick = (2 * length * tpq + song.resolution) / (2 * song.resolution);
  if (end_tick > kMaxSmfTick) return bad(absl::StrCat("song of ", length, " steps is too long for MIDI"));

  SmfFile smf;
  smf.format = 1;
  smf.ticks_per_quarter = options.ticks_per_quarter;
  SmfTrack tempo_track;
  tempo_track.events.push_back(MidiEvent::Tempo(0, static_cast<uint32_t>(us)));
  tempo_track.events.push_back(MidiEvent::TimeSignature(0, 4, 2));
  tempo_track.end_tick = end_tick;
  smf.tracks.push_back(std::move(tempo_track));

  int next_channel = 0;
  // MIDI has 15 melodic channels. With more non-drum tracks than that (LPD-17 has 16), only tracks that play get
  // one; a silent track is still written (named, no events), so the file keeps the song's track list.
  int melodic = 0;
  for (const Track& track : song.tracks) melodic += !track.is_drum;
  const bool crowded = melodic > 15;
  for (size_t i = 0; i < song.tracks.size(); ++i) {
    const Track& track = song.tracks[i];
    const std::string label = absl::StrCat("track ", i, " (", track.name, ")");
    const std::string problem = track.pianoroll.Validate();
    if (!problem.empty()) return bad(absl::StrCat(label, ": invalid pianoroll: ", problem));
    const int program = options.programs_override.empty() ? track.program : options.programs_override[i];
    if (program < 0 || program > 127) return bad(absl::StrCat(label, ": program ", program, ", expected 0..127"));
    int channel = kDrumChannel;
    const bool silent = crowded && !track.is_drum && track.pianoroll.nnz() == 0;
    if (!track.is_drum && !silent) {
      if (next_channel == kDrumChannel) ++next_channel;
      if (next_channel > 15) {
        return bad(absl::StrCat(label, ": more than 15 non-drum tracks with notes, MIDI has 15 channels"));
      }
      channel = next_channel++;
    }
    std::vector<TimedEvent> events;
    if (!silent) {
      events.push_back({0, MidiEvent::ProgramChange(0, channel, program)});
      AppendNotes(track.pianoroll, channel, tpq, song.resolution, &events);
    }
    std::stable_sort(events.begin(), events.end(), [](const TimedEvent& a, const TimedEvent& b) {
      return a.event.tick != b.event.tick ? a.event.tick < b.event.tick : a.rank < b.rank;
    });
    SmfTrack out;
    out.name = track.name.empty() ? absl::StrCat("Track ", i) : track.name;
    out.events.reserve(events.size());
    for (const TimedEvent& e : events) out.events.push_back(e.event);
    out.end_tick = end_tick;
    smf.tracks.push_back(std::move(out));
  }
  return smf;
}

Status WriteMidiFile(const Multitrack& song, const std::string& path, const MidiExportOptions& options) {
  StatusOr<SmfFile> smf = MultitrackToSmf(song, options);
  if (!smf.ok()) return Annotate(smf.status(), path);
  StatusOr<std::string> bytes = EncodeSmf(*smf);
  if (!bytes.ok()) return Annotate(bytes.status(), path);
  return WriteFileAtomically(path, *bytes);
}

}  // namespace tutti
