#include "core/accompany/given_part.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/ingest/segmenter.h"
#include "core/midi/midi_to_multitrack.h"
#include "core/midi/smf.h"
#include "core/npz/pianoroll_npz.h"

namespace tutti {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool ParseIndex(const std::string& text, int64_t* out) {
  if (text.empty() || text.size() > 9) return false;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  *out = std::stoll(text);
  return true;
}

bool IsNoteEvent(const MidiEvent& e) {
  return e.type == MidiEvent::Type::kNoteOn || e.type == MidiEvent::Type::kNoteOff;
}

// One line per track chunk: what a user needs to pick one with --input-track.
std::string DescribeChunks(const SmfFile& smf) {
  std::vector<std::string> lines;
  for (size_t k = 0; k < smf.tracks.size(); ++k) {
    const SmfTrack& chunk = smf.tracks[k];
    std::set<int> channels;
    int64_t notes = 0;
    for (const MidiEvent& e : chunk.events) {
      if (e.type == MidiEvent::Type::kNoteOn) {
        channels.insert(e.channel + 1);
        ++notes;
      }
    }
    lines.push_back(absl::StrCat(k, " \"", chunk.name, "\" (", notes, " notes",
                                 channels.empty() ? "" : ", channels " + absl::StrJoin(channels, ","), ")"));
  }
  return absl::StrJoin(lines, "; ");
}

std::string DescribeTracks(const Multitrack& song) {
  std::vector<std::string> lines;
  for (size_t k = 0; k < song.tracks.size(); ++k) {
    lines.push_back(absl::StrCat(k, " \"", song.tracks[k].name, "\" (", song.tracks[k].pianoroll.CountNotes(), " notes)"));
  }
  return absl::StrJoin(lines, "; ");
}

// The union of every track of `song` as one track (any program, any channel): a chosen part is all its notes.
Track MergedTrack(const Multitrack& song, const std::string& name) {
  SparsePianorollBuilder builder;
  int64_t n_steps = 0;
  for (const Track& track : song.tracks) {
    const SparsePianoroll& roll = track.pianoroll;
    n_steps = std::max(n_steps, roll.n_steps);
    for (int p = 0; p < kMidiPitches; ++p) {
      for (int32_t i = roll.indptr[p]; i < roll.indptr[p + 1]; ++i) {
        if (roll.velocities[i] > 0) builder.Set(roll.steps[i], p, roll.velocities[i]);
      }
    }
  }
  Track merged;
  merged.name = name;
  merged.pianoroll = builder.Build(n_steps);
  return merged;
}

struct Selected {
  Multitrack song;  // the whole song (its length decides the piece's)
  Track part;
  std::string source;
};

StatusOr<Selected> SelectFromMidi(const std::string& path, const GivenPartOptions& options) {
  TUTTI_ASSIGN_OR_RETURN(SmfFile smf, ReadSmfFile(path));
  const std::string stem = std::filesystem::path(path).stem().string();
  Selected out;
  {
    StatusOr<Multitrack> grouped = SmfToLpd5(smf, stem);
    if (!grouped.ok()) return Annotate(grouped.status(), path);
    out.song = *std::move(grouped);
  }
  const std::string& wanted = options.input_track;
  if (wanted.empty()) {
    out.part = out.song.tracks[static_cast<size_t>(options.condition_track)];
    out.source = absl::StrCat(path, ": the notes of its ", out.part.name,
                              options.condition_track == 0 ? " (MIDI channel 10)" : " instruments (by General MIDI program)");
    return out;
  }
  SmfFile chosen = smf;
  std::string what;
  int64_t index = 0;
  if (Lower(wanted).rfind("channel:", 0) == 0) {
    int64_t channel = 0;
    if (!ParseIndex(wanted.substr(8), &channel) || channel < 1 || channel > 16) {
      return absl::InvalidArgumentError(absl::StrCat("--input-track ", wanted, ": expected channel:<1-16>"));
    }
    for (SmfTrack& chunk : chosen.tracks) {
      chunk.events.erase(std::remove_if(chunk.events.begin(), chunk.events.end(),
                                        [&](const MidiEvent& e) { return IsNoteEvent(e) && e.channel != channel - 1; }),
                         chunk.events.end());
    }
    what = absl::StrCat("MIDI channel ", channel);
  } else {
    int64_t found = -1;
    if (ParseIndex(wanted, &index)) {
      if (index >= static_cast<int64_t>(smf.tracks.size())) {
        return absl::InvalidArgumentError(absl::StrCat("--input-track ", wanted, ": ", path, " has ", smf.tracks.size(),
                                                       " track chunks (0-based): ", DescribeChunks(smf)));
      }
      found = index;
    } else {
      for (size_t k = 0; k < smf.tracks.size(); ++k) {
        if (Lower(smf.tracks[k].name) == Lower(wanted)) {
          found = static_cast<int64_t>(k);
          break;
        }
      }
      if (found < 0) {
        return absl::InvalidArgumentError(absl::StrCat("--input-track ", wanted, ": no track chunk of ", path,
                                                       " has that name; its chunks: ", DescribeChunks(smf)));
      }
    }
    // Program changes of the chosen chunk stay with it; which LPD-5 group its notes would join does not matter,
    // since every note of the chosen part is taken.
    chosen.tracks = {smf.tracks[static_cast<size_t>(found)]};
    what = absl::StrCat("MIDI track chunk ", found, " \"", smf.tracks[static_cast<size_t>(found)].name, "\"");
  }
  StatusOr<Multitrack> grouped = SmfToLpd5(chosen, stem);
  if (!grouped.ok()) return Annotate(grouped.status(), path);
  out.part = MergedTrack(*grouped, what);
  out.source = absl::StrCat(path, ": ", what);
  return out;
}

StatusOr<Selected> SelectFromNpz(const std::string& path, const GivenPartOptions& options) {
  NpzReadOptions read;
  read.load_downbeat = false;
  Selected out;
  TUTTI_ASSIGN_OR_RETURN(out.song, ReadPianorollNpz(path, read));
  const std::string wanted = options.input_track.empty() ? options.condition_track_name : options.input_track;
  int64_t found = -1, index = 0;
  if (ParseIndex(wanted, &index)) {
    if (index < static_cast<int64_t>(out.song.tracks.size())) found = index;
  } else {
    for (size_t k = 0; k < out.song.tracks.size(); ++k) {
      if (Lower(out.song.tracks[k].name) == Lower(wanted)) {
        found = static_cast<int64_t>(k);
        break;
      }
    }
  }
  if (found < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.input_track.empty() ? "" : "--input-track " + wanted + ": ", path, " has no track ",
        options.input_track.empty() ? "named " + wanted : std::string("so named or numbered"),
        " (its tracks: ", DescribeTracks(out.song), "); choose one with --input-track <index|name>"));
  }
  out.part = out.song.tracks[static_cast<size_t>(found)];
  out.source = absl::StrCat(path, ": track ", found, " \"", out.part.name, "\"");
  return out;
}

}  // namespace

namespace {

// Notes (runs of active steps) of `roll` ((steps, 128) bytes) on the pitches `counted` accepts.
template <typename Counted>
int64_t CountRuns(const std::vector<uint8_t>& roll, int64_t steps, Counted counted) {
  int64_t runs = 0;
  for (int p = 0; p < kMidiPitches; ++p) {
    if (!counted(p)) continue;
    for (int64_t s = 0; s < steps; ++s) {
      const bool on = roll[static_cast<size_t>(s * kMidiPitches + p)] != 0;
      runs += on && (s == 0 || roll[static_cast<size_t>((s - 1) * kMidiPitches + p)] == 0);
    }
  }
  return runs;
}

}  // namespace

int64_t GivenPart::NotesOutside(int lowest, int pitches) const {
  return CountRuns(roll, steps(), [&](int p) { return p < lowest || p >= lowest + pitches; });
}

StatusOr<GivenPart> ReadGivenPart(const std::string& path, const GivenPartOptions& options) {
  if (options.steps_per_beat < 1 || options.steps_per_bar < 1 || options.start_bar < 0 || options.bars < 0 ||
      options.condition_track < 0) {
    return absl::InvalidArgumentError("ReadGivenPart: options out of range");
  }
  StatusOr<Selected> selected =
      IsMidiFileName(path) ? SelectFromMidi(path, options) : SelectFromNpz(path, options);
  if (!selected.ok()) return selected.status();
  const Multitrack& song = selected->song;

  SegmentOptions grid;
  grid.beat_resolution = options.steps_per_beat;
  grid.steps_per_bar = options.steps_per_bar;
  grid.lowest_pitch = 0;
  grid.pitches = kMidiPitches;
  grid.tracks = 1;
  const DownsampledSong whole = Downsample(song, grid);
  const int64_t song_bars = (whole.length + options.steps_per_bar - 1) / options.steps_per_bar;
  if (options.start_bar >= song_bars) {
    return absl::InvalidArgumentError(absl::StrCat("--start-bar ", options.start_bar, ": ", path, " has ", song_bars,
                                                   " bars of ", options.steps_per_bar, " steps (bars count from 0)"));
  }
  GivenPart out;
  out.steps_per_bar = options.steps_per_bar;
  out.bars = options.bars > 0 ? std::min(options.bars, song_bars - options.start_bar) : song_bars - options.start_bar;
  out.source = selected->source;
  out.tempo_qpm = song.tempo.empty() ? 0 : song.tempo.front();
  grid.bars_per_sample = static_cast<int>(out.bars);
  Multitrack part_song;
  part_song.resolution = song.resolution;
  part_song.tracks = {selected->part};
  const DownsampledSong part = Downsample(part_song, grid);
  out.roll.resize(static_cast<size_t>(out.steps() * kMidiPitches));
  RenderSegment(part, options.start_bar, grid, out.roll.data());
  out.notes = CountRuns(out.roll, out.steps(), [](int) { return true; });
  if (out.notes == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        out.source, ": no notes in bars ", options.start_bar, "-", options.start_bar + out.bars - 1,
        ", so there is nothing to accompany; choose the part with --input-track (", IsMidiFileName(path) ? "a track chunk index or name, or channel:<1-16>" : "a track index or name", ")"));
  }
  return out;
}

}  // namespace tutti
