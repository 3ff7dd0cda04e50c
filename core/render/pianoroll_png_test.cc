#include "core/render/pianoroll_png.h"

#include <png.h>
#include <unistd.h>

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

  // Signature and IHDR: 8-byte signature, chunk length, "IHDR", width, height.
  ASSERT_GT(png->size(), 24u);
  EXPECT_EQ(png->compare(0, 8, "\x89PNG\r\n\x1a\n"), 0);
  EXPECT_EQ(png->compare(12, 4, "IHDR"), 0);
  const PngOptions o;
  EXPECT_EQ(BigEndian32(*png, 16), static_cast<uint32_t>(kSteps * o.px_per_step));
  EXPECT_EQ(BigEndian32(*png, 20),
            static_cast<uint32_t>(kTracks * kPitches * o.px_per_pitch + (kTracks - 1) * o.track_gap_px));

  const Decoded img = Decode(*png);
  ASSERT_EQ(img.width, 256);
  ASSERT_EQ(img.height, 5 * 144 + 4 * 2);
  const Rgb piano = TrackColor(kNames, 1), strings = TrackColor(kNames, 4), drums = TrackColor(kNames, 0);
  EXPECT_NE(piano, o.background);
  EXPECT_NE(piano, strings);
  auto [x, y] = Centre(1, 5, 36);
  EXPECT_EQ(img.At(x, y), piano);
  std::tie(x, y) = Centre(4, 63, 71);
  EXPECT_EQ(img.At(x, y), strings);
  EXPECT_EQ(y, 4 * (144 + 2) + 1);  // highest pitch on the top row of its band
  // The note on the bar line covers the line.
  std::tie(x, y) = PianorollCellOrigin(0, 0, 0, kPitches);
  EXPECT_EQ(img.At(x, y), drums);
  // Inactive cells: background off the grid lines, bar line / beat line on them, separator between bands.
  std::tie(x, y) = Centre(1, 6, 36);
  EXPECT_EQ(img.At(x, y), o.background);
  std::tie(x, y) = PianorollCellOrigin(2, 16, 10, kPitches);
  EXPECT_EQ(img.At(x, y), o.bar_line);
  std::tie(x, y) = PianorollCellOrigin(2, 20, 10, kPitches);
  EXPECT_EQ(img.At(x, y), o.beat_line);
  EXPECT_EQ(img.At(10, 144), o.separator);
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
