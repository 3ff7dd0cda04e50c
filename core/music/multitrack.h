#pragma once
// The in-memory song: pypianoroll's Multitrack, kept sparse.
//
// Every reader (LPD .npz, Standard MIDI Files, the synthetic corpus) produces a Multitrack and every writer
// consumes one. Pianorolls stay in compressed-sparse-column form, as pypianoroll stores them on disk, so
// memory follows the number of active cells and never the song's length: LPD holds 959,040-step songs
// whose dense roll would be 614 MB.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tutti {

inline constexpr int kMidiPitches = 128;

// One track's pianoroll: a (n_steps, 128) matrix in CSC form (column = MIDI pitch, row = time step),
// exactly pypianoroll's `pianoroll_<i>_csc_*` members.
struct SparsePianoroll {
  int64_t n_steps = 0;                 // rows of the dense matrix (0 for LPD's empty tracks)
  std::vector<int32_t> indptr = std::vector<int32_t>(kMidiPitches + 1, 0);  // 129 column pointers
  std::vector<int32_t> steps;          // row (time step) of each non-zero; ascending within a pitch
  std::vector<uint8_t> velocities;     // value of each non-zero: 1..127, or 1 for binary rolls
  bool binary = false;                 // stored as bool (|b1) rather than velocity (|u1)

  int64_t nnz() const { return static_cast<int64_t>(steps.size()); }
  // Number of notes: maximal runs of consecutive active steps on one pitch.
  int64_t CountNotes() const;
  // Last active step + 1 (0 when empty).
  int64_t ActiveLength() const;
  // Structural check: indptr size/monotonicity, steps in [0, n_steps) and ascending per pitch,
  // velocities sized like steps. Returns a description of the first violation, or "" when valid.
  std::string Validate() const;
};

// Builds a SparsePianoroll from cells given in any order; duplicate cells keep the larger velocity.
class SparsePianorollBuilder {
 public:
  void Set(int64_t step, int pitch, uint8_t velocity = 100);
  // Sets steps [start, end) of `pitch`.
  void AddNote(int pitch, int64_t start, int64_t end, uint8_t velocity = 100);
  // n_steps = max(n_steps, last active step + 1).
  SparsePianoroll Build(int64_t n_steps, bool binary = false);

 private:
  struct Cell {
    int32_t pitch;
    int32_t step;
    uint8_t velocity;
  };
  std::vector<Cell> cells_;
};

struct Track {
  std::string name;
  int program = 0;        // General MIDI program 0..127
  bool is_drum = false;
  SparsePianoroll pianoroll;
};

struct Multitrack {
  std::optional<std::string> name;  // pypianoroll >= 1.0 allows null
  int resolution = 24;              // time steps per quarter note
  std::vector<double> tempo;        // qpm per step; may be empty (member absent or not loaded)
  std::vector<uint8_t> downbeat;    // 0/1 per step; may be empty. In LPD only step 0 is set.
  std::vector<Track> tracks;

  // Longest track (pypianoroll's get_max_length), which is also LPD's song length T.
  int64_t MaxLength() const;
};

// LPD-5's five tracks in their fixed order.
inline constexpr int kLpd5Tracks = 5;
struct Lpd5TrackSpec {
  const char* name;
  int program;
  bool is_drum;
};
inline constexpr std::array<Lpd5TrackSpec, kLpd5Tracks> kLpd5TrackSpecs = {{
    {"Drums", 0, true},
    {"Piano", 0, false},
    {"Guitar", 24, false},
    {"Bass", 32, false},
    {"Strings", 48, false},
}};

}  // namespace tutti
