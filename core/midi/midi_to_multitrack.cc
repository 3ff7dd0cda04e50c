#include "core/midi/midi_to_multitrack.h"

#include <cctype>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <vector>

#include "absl/strings/str_cat.h"

namespace tutti {
namespace {

constexpr int kDrumChannel = 9;
constexpr double kDefaultQpm = 120.0;

struct Note {
  int group;  // index into kLpd5TrackSpecs
  int pitch;
  int64_t start_tick;
  int64_t end_tick;
  uint8_t velocity;
};

// The grid conversion: round(tick * resolution / tpq), halves up. Inputs are bounded (tick <= 2^40,
// resolution <= 10^4), so the products fit in int64.
class Grid {
 public:
  Grid(int ticks_per_quarter, int resolution) : tpq_(ticks_per_quarter), resolution_(resolution) {}
  int64_t Step(int64_t tick) const { return (2 * tick * resolution_ + tpq_) / (2 * tpq_); }
  // Same rounding for a fractional tick given as numerator / denominator.
  int64_t Step(int64_t tick_num, int64_t tick_den) const {
    return (2 * tick_num * resolution_ + tpq_ * tick_den) / (2 * tpq_ * tick_den);
  }

 private:
  int64_t tpq_;
  int64_t resolution_;
};

// Program of each channel over time, from every chunk's program changes (MIDI channels are shared by
// all chunks of a file).
class ProgramMap {
 public:
  explicit ProgramMap(const SmfFile& smf) {
    for (const SmfTrack& track : smf.tracks) {
      for (const MidiEvent& e : track.events) {
        if (e.type == MidiEvent::Type::kProgramChange) changes_[e.channel].push_back({e.tick, e.key});
      }
    }
    for (auto& list : changes_) {
      std::stable_sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    }
  }
  // Last program change at or before `tick` on `channel`; 0 (Acoustic Grand Piano) when none.
  int At(int channel, int64_t tick) const {
    const auto& list = changes_[channel];
    auto it = std::upper_bound(list.begin(), list.end(), tick,
                               [](int64_t t, const std::pair<int64_t, int>& c) { return t < c.first; });
    return it == list.begin() ? 0 : std::prev(it)->second;
  }

 private:
  std::vector<std::pair<int64_t, int>> changes_[16];
};

// Pairs note-ons with note-offs within one chunk: FIFO per (channel, key).
void CollectNotes(const SmfTrack& track, const ProgramMap& programs, const TrackSet* set, std::vector<Note>* notes) {
  struct Open {
    int64_t tick;
    uint8_t velocity;
  };
  std::vector<std::vector<Open>> open(16 * kMidiPitches);
  auto finish = [&](int channel, int key, const Open& o, int64_t end_tick) {
    const int program = programs.At(channel, o.tick);
    const int group = set == nullptr ? (channel == kDrumChannel ? 0 : Lpd5TrackForProgram(program))
                      : channel == kDrumChannel ? set->drum_track
                                                : set->by_program[static_cast<size_t>(program & 127)];
    if (group >= 0) notes->push_back({group, key, o.tick, end_tick, o.velocity});
  };
  for (const MidiEvent& e : track.events) {
    if (e.type == MidiEvent::Type::kNoteOn) {
      open[e.channel * kMidiPitches + e.key].push_back({e.tick, e.velocity});
    } else if (e.type == MidiEvent::Type::kNoteOff) {
      std::vector<Open>& list = open[e.channel * kMidiPitches + e.key];
      if (list.empty()) continue;  // stray note-off
      finish(e.channel, e.key, list.front(), e.tick);
      list.erase(list.begin());
    }
  }
  for (int i = 0; i < 16 * kMidiPitches; ++i) {
    for (const Open& o : open[i]) finish(i / kMidiPitches, i % kMidiPitches, o, track.end_tick);
  }
}

std::vector<double> TempoPerStep(const SmfFile& smf, const Grid& grid, int64_t n_steps) {
  std::vector<std::pair<int64_t, double>> changes;  // (step, qpm)
  for (const SmfTrack& track : smf.tracks) {
    for (const MidiEvent& e : track.events) {
      if (e.type == MidiEvent::Type::kTempo && e.tempo_us > 0) {
        changes.push_back({grid.Step(e.tick), 60e6 / e.tempo_us});
      }
    }
  }
  std::stable_sort(changes.begin(), changes.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<double> tempo(n_steps, kDefaultQpm);
  for (size_t i = 0; i < changes.size(); ++i) {
    const int64_t from = std::min(changes[i].first, n_steps);
    const int64_t to = i + 1 < changes.size() ? std::min(changes[i + 1].first, n_steps) : n_steps;
    std::fill(tempo.begin() + from, tempo.begin() + to, changes[i].second);
  }
  return tempo;
}

std::vector<uint8_t> DownbeatPerStep(const SmfFile& smf, const Grid& grid, int64_t n_steps) {
  struct Signature {
    int64_t tick;
    int numerator;
    int denominator_log2;
  };
  std::vector<Signature> signatures = {{0, 4, 2}};
  for (const SmfTrack& track : smf.tracks) {
    for (const MidiEvent& e : track.events) {
      // Denominators beyond 1/64 or a zero numerator are corrupt; such events are ignored.
      if (e.type == MidiEvent::Type::kTimeSignature && e.numerator > 0 && e.denominator_log2 <= 6) {
        signatures.push_back({e.tick, e.numerator, e.denominator_log2});
      }
    }
  }
  std::stable_sort(signatures.begin(), signatures.end(),
                   [](const Signature& a, const Signature& b) { return a.tick < b.tick; });
  std::vector<uint8_t> downbeat(n_steps, 0);
  if (n_steps > 0) downbeat[0] = 1;
  const int64_t tpq = smf.ticks_per_quarter;
  for (size_t i = 0; i < signatures.size(); ++i) {
    const Signature& s = signatures[i];
    const int64_t end_tick = i + 1 < signatures.size() ? signatures[i + 1].tick : kMaxSmfTick + 1;
    const int64_t den = int64_t{1} << s.denominator_log2;
    const int64_t bar_num = int64_t{s.numerator} * 4 * tpq;  // bar length in ticks = bar_num / den
    for (int64_t bar = 0;; ++bar) {
      const int64_t tick_num = s.tick * den + bar * bar_num;
      if (tick_num >= end_tick * den) break;  // the next signature starts a new bar
      const int64_t step = grid.Step(tick_num, den);
      if (step >= n_steps) break;
      downbeat[step] = 1;
    }
  }
  return downbeat;
}

}  // namespace

int Lpd5TrackForProgram(int program) {
  if (program < 0 || program > 127) return -1;
  if (program < 24) return 1;    // piano, chromatic percussion, organ
  if (program < 32) return 2;    // guitar
  if (program < 40) return 3;    // bass
  if (program < 96) return 4;    // strings, ensemble, brass, reed, pipe, synth lead, synth pad
  if (program < 104) return -1;  // synth effects
  if (program < 112) return 4;   // ethnic
  return -1;                     // percussive, sound effects
}

StatusOr<Multitrack> SmfToLpd5(const SmfFile& smf, const std::string& name, const MidiImportOptions& options) {
  if (options.resolution < 1 || options.resolution > 10000) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": resolution ", options.resolution, " steps per quarter, expected 1..10000"));
  }
  if (options.max_steps < 0 || options.max_steps > INT32_MAX) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": max_steps ", options.max_steps, ", expected 0..2^31-1 (rolls index steps as int32)"));
  }
  if (smf.ticks_per_quarter < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": ", smf.ticks_per_quarter, " ticks per quarter, expected at least 1"));
  }
  const Grid grid(smf.ticks_per_quarter, options.resolution);
  const ProgramMap programs(smf);
  std::vector<Note> notes;
  int64_t n_steps = 0;
  for (const SmfTrack& track : smf.tracks) {
    CollectNotes(track, programs, options.track_set, &notes);
    n_steps = std::max(n_steps, grid.Step(track.end_tick));
  }
  for (const Note& n : notes) n_steps = std::max({n_steps, grid.Step(n.start_tick) + 1, grid.Step(n.end_tick)});
  if (n_steps > options.max_steps) {
    return absl::ResourceExhaustedError(absl::StrCat(name, ": song is ", n_steps, " steps long at ",
                                                     options.resolution, " steps per quarter, more than max_steps ",
                                                     options.max_steps));
  }
  int64_t cells = 0;  // each note is at most max_steps (< 2^31) long: no overflow
  for (const Note& n : notes) {
    const int64_t start = grid.Step(n.start_tick);
    cells += std::max(grid.Step(n.end_tick), start + 1) - start;
  }
  if (cells > options.max_active_cells) {
    return absl::ResourceExhaustedError(absl::StrCat(name, ": notes cover ", cells,
                                                     " (step, pitch) cells, more than max_active_cells ",
                                                     options.max_active_cells));
  }

  const TrackSet lpd5 = options.track_set == nullptr ? Lpd5TrackSet() : TrackSet();
  const TrackSet& set = options.track_set == nullptr ? lpd5 : *options.track_set;
  std::vector<SparsePianorollBuilder> builders(static_cast<size_t>(set.size()));
  for (const Note& n : notes) {
    const int64_t start = grid.Step(n.start_tick);
    const int64_t end = std::max(grid.Step(n.end_tick), start + 1);
    builders[n.group].AddNote(n.pitch, start, end, n.velocity);
  }
  Multitrack song;
  song.name = name;
  song.resolution = options.resolution;
  song.tempo = TempoPerStep(smf, grid, n_steps);
  song.downbeat = DownbeatPerStep(smf, grid, n_steps);
  for (int i = 0; i < set.size(); ++i) {
    Track track;
    track.name = set.tracks[static_cast<size_t>(i)].name;
    track.program = set.tracks[static_cast<size_t>(i)].program;
    track.is_drum = set.tracks[static_cast<size_t>(i)].is_drum;
    track.pianoroll = builders[static_cast<size_t>(i)].Build(n_steps, /*binary=*/false);
    track.pianoroll.n_steps = n_steps;  // Build never shrinks; every note ends by n_steps
    song.tracks.push_back(std::move(track));
  }
  return song;
}

bool IsMidiFileName(const std::string& path) {
  const size_t dot = path.rfind('.');
  if (dot == std::string::npos || path.find('/', dot) != std::string::npos) return false;
  std::string ext = path.substr(dot);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".mid" || ext == ".midi" || ext == ".smf";
}

StatusOr<Multitrack> ReadMidiAsLpd5(const std::string& path, const MidiImportOptions& options) {
  TUTTI_ASSIGN_OR_RETURN(SmfFile smf, ReadSmfFile(path));
  // SmfToLpd5's errors name the song (the stem); put the file in front so `tutti pack` says which one.
  StatusOr<Multitrack> song = SmfToLpd5(smf, std::filesystem::path(path).stem().string(), options);
  if (!song.ok()) return Annotate(song.status(), path);
  return song;
}

}  // namespace tutti
