#include "core/render/pianoroll_png.h"

#include <png.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/base/file_util.h"

namespace tutti {
namespace {

using ::testing::HasSubstr;

const std::vector<std::string> kNames = {"Drums", "Piano", "Guitar", "Bass", "Strings"};
constexpr int kTracks = 5, kSteps = 64, kPitches = 72;

// A decoded RGB image read back with libpng's simplified read API.
struct Decoded {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
  Rgb At(int x, int y) const {
    const uint8_t* p = &rgb[(static_cast<size_t>(y) * width + x) * 3];
    return Rgb{p[0], p[1], p[2]};
  }
};

Decoded Decode(const std::string& png) {
  Decoded out;
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, png.data(), png.size())) {
    ADD_FAILURE() << "not a PNG: " << image.message;
    return out;
  }
  image.format = PNG_FORMAT_RGB;
  out.width = static_cast<int>(image.width);
  out.height = static_cast<int>(image.height);
  out.rgb.resize(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, out.rgb.data(), 0, nullptr)) {
    ADD_FAILURE() << "decoding failed: " << image.message;
  }
  return out;
}

uint32_t BigEndian32(const std::string& s, size_t at) {
  const auto* b = reinterpret_cast<const unsigned char*>(s.data() + at);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
}

std::string TempDir() {
  std::string dir = testing::TempDir() + "tutti_render_png_" + std::to_string(::getpid());
  EXPECT_TRUE(CreateDirectories(dir).ok());
  return dir;
}

std::vector<uint8_t> Sample() {
  std::vector<uint8_t> cells(kTracks * kSteps * kPitches, 0);
  auto set = [&](int t, int s, int p) { cells[(t * kSteps + s) * kPitches + p] = 1; };
  set(1, 5, 36);   // piano, step 5, pitch index 36 (MIDI 60)
  set(4, 63, 71);  // strings, last step, highest pitch
  set(0, 0, 0);    // drums, first step, lowest pitch (on a bar line)
  return cells;
}

// Centre pixel of a cell.
std::pair<int, int> Centre(int t, int s, int p, const PngOptions& o = {}) {
  const auto [x, y] = PianorollCellOrigin(t, s, p, kPitches, o);
  return {x + o.px_per_step / 2, y + o.px_per_pitch / 2};
}

TEST(PianorollPngTest, WritesAReadablePngWithTrackColoursOnBackground) {
  const std::vector<uint8_t> cells = Sample();
  const std::string path = TempDir() + "/sample.png";
  ASSERT_TRUE(WritePianorollPng(cells.data(), kTracks, kSteps, kPitches, kNames, path).ok());
  StatusOr<std::string> png = ReadFileToString(path);
  ASSERT_TRUE(png.ok()) << png.status();

  // Signature and IHDR: 8-byte signature, chunk length, "IHDR", width, height. Labels add the margins.
  ASSERT_GT(png->size(), 24u);
  EXPECT_EQ(png->compare(0, 8, "\x89PNG\r\n\x1a\n"), 0);
  EXPECT_EQ(png->compare(12, 4, "IHDR"), 0);
  const PngOptions o;
  EXPECT_EQ(BigEndian32(*png, 16), static_cast<uint32_t>(kPianorollLabelLeftPx + kSteps * o.px_per_step));
  EXPECT_EQ(BigEndian32(*png, 20), static_cast<uint32_t>(kPianorollLabelTopPx + kTracks * kPitches * o.px_per_pitch +
                                                         (kTracks - 1) * o.track_gap_px));

  const Decoded img = Decode(*png);
  ASSERT_EQ(img.width, 64 + 256);
  ASSERT_EQ(img.height, 12 + 5 * 144 + 4 * 2);
  const auto [tile_w, tile_h] = PianorollTileSize(kTracks, kSteps, kPitches);
  EXPECT_EQ(img.width, tile_w);
  EXPECT_EQ(img.height, tile_h);
  const Rgb piano = TrackColor(kNames, 1), strings = TrackColor(kNames, 4), drums = TrackColor(kNames, 0);
  EXPECT_NE(piano, o.background);
  EXPECT_NE(piano, strings);
  auto [x, y] = Centre(1, 5, 36);
  EXPECT_EQ(img.At(x, y), piano);
  std::tie(x, y) = Centre(4, 63, 71);
  EXPECT_EQ(img.At(x, y), strings);
  EXPECT_EQ(x, 64 + 63 * 4 + 2);        // last step, right of the left margin
  EXPECT_EQ(y, 12 + 4 * (144 + 2) + 1);  // highest pitch on the top row of its band, below the top margin
  // The note on the bar line covers the line.
  std::tie(x, y) = PianorollCellOrigin(0, 0, 0, kPitches);
  EXPECT_EQ(img.At(x, y), drums);
  // Inactive cells: background off the grid lines, bar line / beat line on them, separator between bands.
  std::tie(x, y) = Centre(1, 6, 37);
  EXPECT_EQ(img.At(x, y), o.background);
  std::tie(x, y) = Centre(1, 6, 36);  // MIDI 60, a C row
  EXPECT_EQ(img.At(x, y), o.octave_row);
  std::tie(x, y) = PianorollCellOrigin(2, 16, 10, kPitches);
  EXPECT_EQ(img.At(x, y), o.bar_line);
  std::tie(x, y) = PianorollCellOrigin(2, 20, 10, kPitches);
  EXPECT_EQ(img.At(x, y), o.beat_line);
  EXPECT_EQ(img.At(64 + 10, 12 + 144), o.separator);
  EXPECT_EQ(img.At(2, 12 + 144), o.separator);  // across the margin too
}

TEST(PianorollPngTest, WithoutLabelsTheImageIsTheBarePianoroll) {
  const std::vector<uint8_t> cells = Sample();
  PngOptions o;
  o.labels = false;
  StatusOr<std::string> png = EncodePianorollPng(cells.data(), kTracks, kSteps, kPitches, kNames, o);
  ASSERT_TRUE(png.ok()) << png.status();
  const Decoded img = Decode(*png);
  EXPECT_EQ(img.width, 256);
  EXPECT_EQ(img.height, 5 * 144 + 4 * 2);
  EXPECT_EQ(PianorollCellOrigin(4, 63, 71, kPitches, o), std::make_pair(63 * 4, 4 * (144 + 2)));
  auto [x, y] = Centre(1, 5, 36, o);
  EXPECT_EQ(img.At(x, y), TrackColor(kNames, 1));
  EXPECT_EQ(img.At(0, 142), TrackColor(kNames, 0));  // drums' lowest note at step 0, no margin
  EXPECT_EQ(img.At(10, 144), o.separator);
}

// Pixels of colour `c` inside the rectangle [x0, x1) x [y0, y1), clipped to the image: the label boxes
// around the lowest C of the last band reach past the bottom edge (AddressSanitizer caught the read
// beyond the pixel buffer).
int CountColour(const Decoded& img, Rgb c, int x0, int y0, int x1, int y1) {
  x0 = std::max(x0, 0), y0 = std::max(y0, 0);
  x1 = std::min(x1, img.width), y1 = std::min(y1, img.height);
  int n = 0;
  for (int y = y0; y < y1; ++y) {
    for (int x = x0; x < x1; ++x) n += img.At(x, y) == c ? 1 : 0;
  }
  return n;
}

TEST(PianorollPngTest, LabelsTrackNamesBarNumbersAndOctaves) {
  const std::vector<uint8_t> cells = Sample();
  const PngOptions o;
  StatusOr<std::string> png = EncodePianorollPng(cells.data(), kTracks, kSteps, kPitches, kNames, o);
  ASSERT_TRUE(png.ok()) << png.status();
  const Decoded img = Decode(*png);
  const int band_h = kPitches * o.px_per_pitch;

  // Each band's name is written in its track's colour in the left margin (and that colour is nowhere else in
  // the margin), about as wide as the name.
  for (int t = 0; t < kTracks; ++t) {
    const Rgb color = TrackColor(kNames, t);
    const int band_y = kPianorollLabelTopPx + t * (band_h + o.track_gap_px);
    EXPECT_GT(CountColour(img, color, 0, band_y, kPianorollLabelLeftPx, band_y + band_h), 10) << kNames[t];
    int rightmost = -1;
    for (int y = band_y; y < band_y + band_h; ++y) {
      for (int x = 0; x < kPianorollLabelLeftPx; ++x) {
        if (img.At(x, y) == color) rightmost = std::max(rightmost, x);
      }
    }
    EXPECT_NEAR(rightmost, 2 + 6 * static_cast<int>(kNames[t].size()) - 2, 1) << kNames[t];
    for (int other = 0; other < kTracks; ++other) {
      if (other == t) continue;
      EXPECT_EQ(CountColour(img, TrackColor(kNames, other), 0, band_y, kPianorollLabelLeftPx, band_y + band_h), 0)
          << kNames[other] << " colour in the " << kNames[t] << " band's margin";
    }
  }

  // Pitch axis: LPD-5 rows are MIDI 24..95, so C1..C6 sit at pitch indices 0, 12, ..., 60: a tick of label
  // colour against the band and the name left of it; no tick on other rows.
  for (int t = 0; t < kTracks; ++t) {
    for (int p = 0; p < kPitches; ++p) {
      const auto [cx, cy] = PianorollCellOrigin(t, 0, p, kPitches, o);
      const bool is_c = p % 12 == 0;
      EXPECT_EQ(img.At(cx - 1, cy) == o.label, is_c) << "track " << t << " pitch index " << p;
      if (is_c) {
        EXPECT_GT(CountColour(img, o.label, cx - 4 - 2 - 11, std::max(cy - 4, 0), cx - 4, cy + 5), 8)
            << "no name beside the C at pitch index " << p;
      }
    }
  }
  // "C4" (MIDI 60, pitch index 36) in the piano band: the C's left column is ink, its 'C' top-right corner not.
  {
    const auto [cx, cy] = PianorollCellOrigin(1, 0, 36, kPitches, o);
    const int text_x = cx - 4 - 2 - 11, text_y = cy + 1 - 3;
    EXPECT_EQ(img.At(text_x, text_y + 3), o.label);             // C: left stroke
    EXPECT_EQ(img.At(text_x + 4, text_y + 3), o.background);    // C: open on the right
    EXPECT_EQ(img.At(text_x + 6 + 3, text_y + 0), o.label);     // 4: top of its stem
  }

  // Bar numbers 1..4 along the top: ink of label colour right of each bar line, a tick above the line.
  for (int bar = 0; bar < 4; ++bar) {
    const int line_x = kPianorollLabelLeftPx + bar * 16 * o.px_per_step;
    EXPECT_GT(CountColour(img, o.label, line_x + 2, 0, line_x + 8, kPianorollLabelTopPx), 6) << "bar " << bar + 1;
    EXPECT_EQ(img.At(line_x, kPianorollLabelTopPx - 1), o.bar_line) << "bar " << bar + 1;
  }
  EXPECT_EQ(img.At(kPianorollLabelLeftPx + 2 + 2, 1), o.label);  // the top of the '1'
  EXPECT_EQ(CountColour(img, o.label, 0, 0, kPianorollLabelLeftPx, kPianorollLabelTopPx), 0);  // corner is empty
}

TEST(PianorollPngTest, SameInputSameBytes) {
  const std::vector<uint8_t> cells = Sample();
  StatusOr<std::string> a = EncodePianorollPng(cells.data(), kTracks, kSteps, kPitches, kNames);
  StatusOr<std::string> b = EncodePianorollPng(cells.data(), kTracks, kSteps, kPitches, kNames);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(*a == *b);
  StatusOr<std::string> grid_a = EncodePianorollGridPng(cells.data(), 1, kTracks, kSteps, kPitches, kNames);
  StatusOr<std::string> grid_b = EncodePianorollGridPng(cells.data(), 1, kTracks, kSteps, kPitches, kNames);
  ASSERT_TRUE(grid_a.ok() && grid_b.ok());
  EXPECT_TRUE(*grid_a == *grid_b);
}

TEST(PianorollPngTest, UnnamedTracksAndOtherPitchRanges) {
  // Without names the bands read "Track 0", ... in the palette colours; lowest_pitch moves the C marks.
  std::vector<uint8_t> cells(2 * 32 * 24, 0);
  PngOptions o;
  o.lowest_pitch = 55;  // G3: the Cs are MIDI 60 and 72, pitch indices 5 and 17
  StatusOr<std::string> png = EncodePianorollPng(cells.data(), 2, 32, 24, {}, o);
  ASSERT_TRUE(png.ok()) << png.status();
  const Decoded img = Decode(*png);
  for (int p = 0; p < 24; ++p) {
    const auto [cx, cy] = PianorollCellOrigin(0, 0, p, 24, o);
    EXPECT_EQ(img.At(cx - 1, cy) == o.label, p == 5 || p == 17) << p;
  }
  EXPECT_GT(CountColour(img, TrackColor({}, 1, o), 0, kPianorollLabelTopPx + 48 + 2, kPianorollLabelLeftPx,
                        img.height),
            10);
  o.lowest_pitch = 128;
  EXPECT_EQ(EncodePianorollPng(cells.data(), 2, 32, 24, {}, o).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PianorollPngTest, GridPlacesSamplesRowMajor) {
  // 5 samples, 4 columns: a 4 x 2 grid; sample i has one piano note at step i.
  constexpr int kN = 5;
  std::vector<uint8_t> cells(static_cast<size_t>(kN) * kTracks * kSteps * kPitches, 0);
  for (int i = 0; i < kN; ++i) {
    cells[static_cast<size_t>(i) * kTracks * kSteps * kPitches + (1 * kSteps + i + 1) * kPitches + 40] = 1;
  }
  PngOptions o;
  o.px_per_step = 2;
  o.px_per_pitch = 1;
  StatusOr<std::string> png = EncodePianorollGridPng(cells.data(), kN, kTracks, kSteps, kPitches, kNames, o);
  ASSERT_TRUE(png.ok()) << png.status();
  const Decoded img = Decode(*png);
  const auto [tile_w, tile_h] = PianorollTileSize(kTracks, kSteps, kPitches, o);
  EXPECT_EQ(img.width, 4 * tile_w + 3 * o.grid_gap_px);
  EXPECT_EQ(img.height, 2 * tile_h + o.grid_gap_px);
  const Rgb piano = TrackColor(kNames, 1, o);
  for (int i = 0; i < kN; ++i) {
    const int x0 = (i % 4) * (tile_w + o.grid_gap_px), y0 = (i / 4) * (tile_h + o.grid_gap_px);
    const auto [cx, cy] = PianorollCellOrigin(1, i + 1, 40, kPitches, o);
    EXPECT_EQ(img.At(x0 + cx, y0 + cy), piano) << "sample " << i;
    const auto [ex, ey] = PianorollCellOrigin(1, i + 2, 40, kPitches, o);
    EXPECT_EQ(img.At(x0 + ex + 1, y0 + ey), o.background) << "sample " << i;
  }
  // The empty slot of the second row is gap colour.
  EXPECT_EQ(img.At(img.width - 1, img.height - 1), o.separator);
}

TEST(PianorollPngTest, ColoursByNameByIndexAndExplicit) {
  EXPECT_EQ(TrackColor({"Bass", "Drums"}, 1), TrackColor(kNames, 0));  // Drums keep their colour anywhere
  EXPECT_NE(TrackColor({}, 0), TrackColor({}, 1));
  PngOptions o;
  o.track_colors = {{1, 2, 3}, {4, 5, 6}};
  EXPECT_EQ(TrackColor({}, 1, o), (Rgb{4, 5, 6}));
}

TEST(PianorollPngTest, RejectsBadArgumentsWithoutWriting) {
  const std::vector<uint8_t> cells = Sample();
  const std::string path = TempDir() + "/bad.png";
  Status s = WritePianorollPng(cells.data(), kTracks, kSteps, kPitches, {"Drums"}, path);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("expected 5 track names"));
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(EncodePianorollPng(nullptr, kTracks, kSteps, kPitches, kNames).ok());
  EXPECT_FALSE(EncodePianorollPng(cells.data(), 0, kSteps, kPitches, kNames).ok());
  PngOptions huge;
  huge.px_per_step = 1000;
  EXPECT_THAT(std::string(EncodePianorollPng(cells.data(), kTracks, kSteps, kPitches, kNames, huge)
                              .status()
                              .message()),
              HasSubstr("exceeds"));
  EXPECT_FALSE(EncodePianorollGridPng(cells.data(), 0, kTracks, kSteps, kPitches, kNames).ok());
  // A directory that does not exist: the write error names the path.
  s = WritePianorollPng(cells.data(), kTracks, kSteps, kPitches, kNames, "/nonexistent-dir/x.png");
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("/nonexistent-dir/x.png"));
}

}  // namespace
}  // namespace tutti
