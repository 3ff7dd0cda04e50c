#pragma once
// Pianoroll images: one sample, or a grid of samples for a training overview, as PNG.
//
// Layout of one sample (a "tile"), for a dense uint8 pianoroll of shape (tracks, steps, pitches), index
// ((track * steps) + step) * pitches + pitch, any non-zero byte active:
//   * one horizontal band per track, track 0 at the top, bands separated by `track_gap_px` rows of
//     `separator` colour (across the whole tile width); band height = pitches * px_per_pitch;
//   * time runs left to right, px_per_step columns per step; pitch runs bottom to top inside a band (pitch
//     index 0 on the bottom row), px_per_pitch rows per pitch;
//   * the first pixel column of every bar is `bar_line`, of every other beat `beat_line`; active cells are
//     filled with the track's colour on top of the lines, so a note is never hidden by the grid.
//   * labels (PngOptions::labels, on by default): a left margin of kPianorollLabelLeftPx columns and a top
//     margin of kPianorollLabelTopPx rows, in `background`, hold
//       - each track's name, in the track's colour, at the left of its band (vertically centred; cut to
//         what fits, about 7 characters);
//       - the pitch axis: at every C row a tick of `label` colour against the band and the note's name,
//         scientific pitch notation with C4 = MIDI 60 (so LPD-5's rows 24..95 show C1 to C6); inside the
//         band the C rows are shaded `octave_row` (under the bar and beat lines);
//       - bar numbers from 1 in `label` colour along the top, beside a short tick above each bar line (a
//         number that would overlap the previous one is left out).
//     The labels use the 5 x 8 pixel font of core/render/bitmap_font.h.
// A grid puts tiles row-major, `grid_columns` per row, `grid_gap_px` pixels of `separator` between them;
// every tile carries its own labels.
//
// Files are written all-or-nothing (core/base/file_util.h WriteFileAtomically). All functions are pure
// apart from the file write and are thread-safe.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/base/status.h"

namespace tutti {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  friend bool operator==(const Rgb& a, const Rgb& b) { return a.r == b.r && a.g == b.g && a.b == b.b; }
  friend bool operator!=(const Rgb& a, const Rgb& b) { return !(a == b); }
};

struct PngOptions {
  // Pixels per time step (x) and per pitch (y). 4 x 2 gives a 256 x 764 image for a (5, 64, 72) sample.
  int px_per_step = 4;
  int px_per_pitch = 2;
  // Grid lines: a bar line every steps_per_bar steps, a lighter beat line every steps_per_beat steps
  // (0 disables either).
  int steps_per_bar = 16;
  int steps_per_beat = 4;
  // Rows between track bands.
  int track_gap_px = 2;
  // Grid images: tiles per row (rows follow from the sample count) and pixels between tiles.
  int grid_columns = 4;
  int grid_gap_px = 8;
  Rgb background = {255, 255, 255};
  Rgb bar_line = {150, 150, 150};
  Rgb beat_line = {225, 225, 225};
  Rgb separator = {80, 80, 80};
  // Track colours by index; empty (default) = by track name (Drums, Piano, Guitar, Bass, Strings have fixed
  // colours), otherwise a fixed palette by index. When non-empty it needs one colour per track.
  std::vector<Rgb> track_colors;
  // Track names, bar numbers and the pitch axis in margins left of and above the pianoroll (see the layout
  // above). false = the bare pianoroll, no margins.
  bool labels = true;
  // MIDI pitch of pitch index 0, 0..127, for the pitch axis. LPD-5 samples: 24 (C1).
  int lowest_pitch = 24;
  // Bar numbers, pitch names and pitch ticks.
  Rgb label = {70, 70, 70};
  // With labels, every C row is shaded across its band in this colour, so a note can be followed to the axis.
  Rgb octave_row = {241, 241, 241};
};

// Label margins (PngOptions::labels): columns left of the pianoroll and rows above it.
inline constexpr int kPianorollLabelLeftPx = 64;
inline constexpr int kPianorollLabelTopPx = 12;

// The colour a track is drawn in under `options` (see PngOptions::track_colors).
Rgb TrackColor(const std::vector<std::string>& track_names, int track, const PngOptions& options = {});

// Size of one tile in pixels (width, height), label margins included.
std::pair<int, int> PianorollTileSize(int tracks, int steps, int pitches, const PngOptions& options = {});

// Top-left pixel (x, y) of cell (track, step, pitch) inside a tile, label margins included; the cell covers
// px_per_step x px_per_pitch pixels from there.
std::pair<int, int> PianorollCellOrigin(int track, int step, int pitch, int pitches,
                                        const PngOptions& options = {});

// Encodes one sample as PNG bytes (8-bit RGB). `track_names` is empty or one name per track (they pick the
// colours and label the bands; with none, bands are labelled "Track 0", "Track 1", ...). InvalidArgument for a
// null sample, non-positive dims or pixel sizes, a track_names or track_colors size that does not match
// `tracks`, lowest_pitch outside 0..127, or an image over 16384 pixels on a side; Internal when libpng fails.
StatusOr<std::string> EncodePianorollPng(const uint8_t* sample, int tracks, int steps, int pitches,
                                         const std::vector<std::string>& track_names,
                                         const PngOptions& options = {});

// `n` samples stored contiguously (n * tracks * steps * pitches bytes) as a grid of tiles. Errors as above,
// plus InvalidArgument for n < 1 or grid_columns < 1.
StatusOr<std::string> EncodePianorollGridPng(const uint8_t* samples, int64_t n, int tracks, int steps,
                                             int pitches, const std::vector<std::string>& track_names,
                                             const PngOptions& options = {});

// EncodePianorollPng + WriteFileAtomically(path); file errors name the path.
Status WritePianorollPng(const uint8_t* sample, int tracks, int steps, int pitches,
                         const std::vector<std::string>& track_names, const std::string& path,
                         const PngOptions& options = {});

// EncodePianorollGridPng + WriteFileAtomically(path).
Status WritePianorollGridPng(const uint8_t* samples, int64_t n, int tracks, int steps, int pitches,
                             const std::vector<std::string>& track_names, const std::string& path,
                             const PngOptions& options = {});

}  // namespace tutti
