#include "core/render/pianoroll_png.h"

#include <png.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "core/base/file_util.h"
#include "core/render/bitmap_font.h"

namespace tutti {
namespace {

using render_internal::GlyphPixel;
using render_internal::kGlyphAdvance;
using render_internal::kGlyphWidth;
using render_internal::TextWidth;

constexpr int kMaxSide = 16384;
// Label geometry inside the margins (see the header): the pitch tick's length, the gaps around the texts, and
// the height of a capital or a digit (glyph rows 0..6; row 7 is only for descenders).
constexpr int kTickPx = 4;
constexpr int kTextGapPx = 2;
constexpr int kCapHeightPx = 7;
constexpr int kBarTickPx = 3;

// A plain 8-bit RGB raster.
struct Image {
  Image(int w, int h, Rgb fill) : width(w), height(h), pixels(static_cast<size_t>(w) * h * 3) {
    for (size_t i = 0; i < pixels.size(); i += 3) {
      pixels[i] = fill.r;
      pixels[i + 1] = fill.g;
      pixels[i + 2] = fill.b;
    }
  }
  void Set(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    uint8_t* p = &pixels[(static_cast<size_t>(y) * width + x) * 3];
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
  }
  void Fill(int x0, int y0, int w, int h, Rgb c) {
    for (int y = y0; y < y0 + h; ++y) {
      uint8_t* p = &pixels[(static_cast<size_t>(y) * width + x0) * 3];
      for (int x = 0; x < w; ++x, p += 3) {
        p[0] = c.r;
        p[1] = c.g;
        p[2] = c.b;
      }
    }
  }
  int width, height;
  std::vector<uint8_t> pixels;
};

std::pair<int, int> LabelMargins(const PngOptions& o) {
  return o.labels ? std::make_pair(kPianorollLabelLeftPx, kPianorollLabelTopPx) : std::make_pair(0, 0);
}

Status CheckArguments(const uint8_t* data, int tracks, int steps, int pitches,
                      const std::vector<std::string>& track_names, const PngOptions& o) {
  auto bad = [](const std::string& what) { return absl::InvalidArgumentError("pianoroll PNG: " + what); };
  if (data == nullptr) return bad("null pianoroll data");
  if (tracks <= 0 || steps <= 0 || pitches <= 0) {
    return bad(absl::StrCat("shape must be positive, got (", tracks, ", ", steps, ", ", pitches, ")"));
  }
  if (o.px_per_step <= 0 || o.px_per_pitch <= 0 || o.track_gap_px < 0 || o.grid_gap_px < 0 ||
      o.steps_per_bar < 0 || o.steps_per_beat < 0) {
    return bad(absl::StrCat("pixel sizes must be positive and gaps/grid steps >= 0, got px_per_step ",
                            o.px_per_step, ", px_per_pitch ", o.px_per_pitch, ", track_gap_px ", o.track_gap_px,
                            ", grid_gap_px ", o.grid_gap_px, ", steps_per_bar ", o.steps_per_bar,
                            ", steps_per_beat ", o.steps_per_beat));
  }
  if (!track_names.empty() && static_cast<int>(track_names.size()) != tracks) {
    return bad(absl::StrCat("expected ", tracks, " track names (or none), got ", track_names.size()));
  }
  if (!o.track_colors.empty() && static_cast<int>(o.track_colors.size()) != tracks) {
    return bad(absl::StrCat("expected ", tracks, " track colours (or none), got ", o.track_colors.size()));
  }
  if (o.lowest_pitch < 0 || o.lowest_pitch > 127) {
    return bad(absl::StrCat("lowest_pitch must be a MIDI pitch 0..127, got ", o.lowest_pitch));
  }
  // Side lengths in 64 bits so that absurd sizes are reported, not overflowed.
  const auto [left, top] = LabelMargins(o);
  const int64_t w = left + int64_t{steps} * o.px_per_step;
  const int64_t h = top + int64_t{tracks} * pitches * o.px_per_pitch + int64_t{tracks - 1} * o.track_gap_px;
  if (w > kMaxSide || h > kMaxSide) {
    return bad(absl::StrCat("tile of ", w, " x ", h, " pixels exceeds ", kMaxSide, " on a side"));
  }
  return absl::OkStatus();
}

// `text` in the bitmap font with the top-left of its first glyph cell at (x, y).
void DrawText(const std::string& text, int x, int y, Rgb color, Image* image) {
  for (size_t i = 0; i < text.size(); ++i) {
    const int gx = x + static_cast<int>(i) * kGlyphAdvance;
    for (int row = 0; row < render_internal::kGlyphHeight; ++row) {
      for (int col = 0; col < kGlyphWidth; ++col) {
        if (GlyphPixel(text[i], col, row)) image->Set(gx + col, y + row, color);
      }
    }
  }
}

// The longest prefix of `text` that fits in `width_px`.
std::string FitText(const std::string& text, int width_px) {
  const int chars = std::max(0, (width_px + 1) / kGlyphAdvance);
  return text.substr(0, std::min(text.size(), static_cast<size_t>(chars)));
}

// Scientific pitch notation of a C: "C4" for MIDI 60, "C-1" for MIDI 0.
std::string NameOfC(int midi_pitch) { return absl::StrCat("C", midi_pitch / 12 - 1); }

// The pitch indices of a band that are a C, given the MIDI pitch of index 0.
std::vector<int> CRows(int pitches, int lowest_pitch) {
  std::vector<int> rows;
  for (int p = 0; p < pitches && lowest_pitch + p <= 127; ++p) {
    if ((lowest_pitch + p) % 12 == 0) rows.push_back(p);
  }
  return rows;
}

// Width of the widest C name of a band, which sets where the track-name column ends.
int PitchLabelWidth(int pitches, int lowest_pitch) {
  int widest = 0;
  for (int p : CRows(pitches, lowest_pitch)) widest = std::max(widest, TextWidth(NameOfC(lowest_pitch + p)));
  return widest;
}

// A band's labels in the left margin: the track name in its colour on the left, and right-aligned against
// the band a tick and a name at every C row. (x0, y0) is the tile's top-left corner, band_y the band's top
// inside the tile.
void DrawBandLabels(const std::string& name, Rgb color, int pitches, int band_y, const PngOptions& o, int x0,
                    int y0, Image* image) {
  const int band_h = pitches * o.px_per_pitch;
  const int tick_x = x0 + kPianorollLabelLeftPx - kTickPx;
  const int band_top = y0 + band_y;
  const int lowest_text_y = band_top + std::max(0, band_h - kCapHeightPx);
  for (int p : CRows(pitches, o.lowest_pitch)) {
    const int row_y = band_top + (pitches - 1 - p) * o.px_per_pitch;
    image->Fill(tick_x, row_y, kTickPx, o.px_per_pitch, o.label);
    const std::string text = NameOfC(o.lowest_pitch + p);
    // Centred on the row, but kept inside the band so that it never runs into the neighbouring band.
    const int text_y = std::clamp(row_y + o.px_per_pitch / 2 - kCapHeightPx / 2, band_top, lowest_text_y);
    DrawText(text, tick_x - kTextGapPx - TextWidth(text), text_y, o.label, image);
  }
  if (band_h < kCapHeightPx) return;  // no room for a name
  const int name_width =
      kPianorollLabelLeftPx - kTickPx - 2 * kTextGapPx - PitchLabelWidth(pitches, o.lowest_pitch) - kTextGapPx;
  DrawText(FitText(name, name_width), x0 + kTextGapPx, band_top + (band_h - kCapHeightPx) / 2, color, image);
}

// Bar numbers along the top margin, each beside a short tick above its bar line.
void DrawBarNumbers(int steps, int tile_w, const PngOptions& o, int x0, int y0, Image* image) {
  if (o.steps_per_bar <= 0) return;
  int free_from_x = x0;
  for (int bar = 0; int64_t{bar} * o.steps_per_bar < steps; ++bar) {
    const int line_x = x0 + kPianorollLabelLeftPx + bar * o.steps_per_bar * o.px_per_step;
    image->Fill(line_x, y0 + kPianorollLabelTopPx - kBarTickPx, 1, kBarTickPx, o.bar_line);
    const std::string text = std::to_string(bar + 1);
    const int text_x = line_x + kTextGapPx;
    if (text_x < free_from_x || text_x + TextWidth(text) > x0 + tile_w) continue;
    DrawText(text, text_x, y0 + 1, o.label, image);
    free_from_x = text_x + TextWidth(text) + kGlyphAdvance;
  }
}

// A band's background lines, its top-left corner at (x, y): the shaded C rows (with labels), then the bar
// and beat lines across them.
void DrawBandGrid(int steps, int pitches, const PngOptions& o, int x, int y, Image* image) {
  const int band_h = pitches * o.px_per_pitch;
  if (o.labels) {
    for (int p : CRows(pitches, o.lowest_pitch)) {
      image->Fill(x, y + (pitches - 1 - p) * o.px_per_pitch, steps * o.px_per_step, o.px_per_pitch, o.octave_row);
    }
  }
  for (int s = 0; s < steps; ++s) {
    if (o.steps_per_bar > 0 && s % o.steps_per_bar == 0) {
      image->Fill(x + s * o.px_per_step, y, 1, band_h, o.bar_line);
    } else if (o.steps_per_beat > 0 && s % o.steps_per_beat == 0) {
      image->Fill(x + s * o.px_per_step, y, 1, band_h, o.beat_line);
    }
  }
}

std::string TrackLabel(const std::vector<std::string>& track_names, int track) {
  return track < static_cast<int>(track_names.size()) ? track_names[track] : absl::StrCat("Track ", track);
}

// Draws one sample with its top-left corner at (x0, y0).
void DrawTile(const uint8_t* sample, int tracks, int steps, int pitches,
              const std::vector<std::string>& track_names, const PngOptions& o, int x0, int y0,
              Image* image) {
  const auto [tile_w, tile_h] = PianorollTileSize(tracks, steps, pitches, o);
  const auto [left, top] = LabelMargins(o);
  const int band_h = pitches * o.px_per_pitch;
  image->Fill(x0, y0, tile_w, tile_h, o.background);
  if (o.labels) DrawBarNumbers(steps, tile_w, o, x0, y0, image);
  for (int t = 0; t < tracks; ++t) {
    const int band_y = top + t * (band_h + o.track_gap_px);  // inside the tile
    if (t > 0 && o.track_gap_px > 0) {
      image->Fill(x0, y0 + band_y - o.track_gap_px, tile_w, o.track_gap_px, o.separator);
    }
    DrawBandGrid(steps, pitches, o, x0 + left, y0 + band_y, image);
    const Rgb color = TrackColor(track_names, t, o);
    if (o.labels) DrawBandLabels(TrackLabel(track_names, t), color, pitches, band_y, o, x0, y0, image);
    const uint8_t* roll = sample + int64_t{t} * steps * pitches;
    for (int s = 0; s < steps; ++s) {
      for (int p = 0; p < pitches; ++p) {
        if (roll[int64_t{s} * pitches + p] == 0) continue;
        const auto [cx, cy] = PianorollCellOrigin(t, s, p, pitches, o);
        image->Fill(x0 + cx, y0 + cy, o.px_per_step, o.px_per_pitch, color);
      }
    }
  }
}

// libpng's simplified write API encodes to memory without setjmp/longjmp crossing C++ frames.
StatusOr<std::string> Encode(const Image& image) {
  png_image png;
  std::memset(&png, 0, sizeof(png));
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(image.width);
  png.height = static_cast<png_uint_32>(image.height);
  png.format = PNG_FORMAT_RGB;
  // No row filters and zlib level 3: pianorolls are large flat areas that compress well anyway, and the
  // default settings made encoding the slowest step of serving a sample (~10x the generator's forward pass).
  png.flags = PNG_IMAGE_FLAG_FAST;
  png_alloc_size_t size = PNG_IMAGE_PNG_SIZE_MAX(png);
  std::string out(size, '\0');
  if (!png_image_write_to_memory(&png, out.data(), &size, /*convert_to_8_bit=*/0, image.pixels.data(),
                                 /*row_stride=*/0, /*colormap=*/nullptr)) {
    const std::string message = png.message;
    png_image_free(&png);
    return absl::InternalError(absl::StrCat("libpng failed to encode a ", image.width, " x ", image.height,
                                            " image: ", message));
  }
  out.resize(size);
  return out;
}

}  // namespace

Rgb TrackColor(const std::vector<std::string>& track_names, int track, const PngOptions& options) {
  if (track >= 0 && track < static_cast<int>(options.track_colors.size())) return options.track_colors[track];
  static const std::pair<const char*, Rgb> kByName[] = {
      {"Drums", {214, 39, 40}},  {"Piano", {31, 119, 180}},   {"Guitar", {44, 160, 44}},
      {"Bass", {148, 103, 189}}, {"Strings", {255, 127, 14}},
  };
  if (track >= 0 && track < static_cast<int>(track_names.size())) {
    for (const auto& [name, color] : kByName) {
      if (track_names[track] == name) return color;
    }
  }
  static const Rgb kPalette[] = {{214, 39, 40},   {31, 119, 180}, {44, 160, 44},  {148, 103, 189},
                                 {255, 127, 14},  {140, 86, 75},  {227, 119, 194}, {23, 190, 207},
                                 {188, 189, 34},  {127, 127, 127}};
  constexpr int kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);
  return kPalette[((track % kPaletteSize) + kPaletteSize) % kPaletteSize];
}

std::pair<int, int> PianorollTileSize(int tracks, int steps, int pitches, const PngOptions& options) {
  const auto [left, top] = LabelMargins(options);
  return {left + steps * options.px_per_step,
          top + tracks * pitches * options.px_per_pitch + std::max(0, tracks - 1) * options.track_gap_px};
}

std::pair<int, int> PianorollCellOrigin(int track, int step, int pitch, int pitches, const PngOptions& options) {
  const auto [left, top] = LabelMargins(options);
  const int band_y = top + track * (pitches * options.px_per_pitch + options.track_gap_px);
  return {left + step * options.px_per_step, band_y + (pitches - 1 - pitch) * options.px_per_pitch};
}

StatusOr<std::string> EncodePianorollPng(const uint8_t* sample, int tracks, int steps, int pitches,
                                         const std::vector<std::string>& track_names, const PngOptions& options) {
  TUTTI_RETURN_IF_ERROR(CheckArguments(sample, tracks, steps, pitches, track_names, options));
  const auto [w, h] = PianorollTileSize(tracks, steps, pitches, options);
  Image image(w, h, options.background);
  DrawTile(sample, tracks, steps, pitches, track_names, options, 0, 0, &image);
  return Encode(image);
}

StatusOr<std::string> EncodePianorollGridPng(const uint8_t* samples, int64_t n, int tracks, int steps,
                                             int pitches, const std::vector<std::string>& track_names,
                                             const PngOptions& options) {
  TUTTI_RETURN_IF_ERROR(CheckArguments(samples, tracks, steps, pitches, track_names, options));
  if (n < 1 || options.grid_columns < 1) {
    return absl::InvalidArgumentError(absl::StrCat("pianoroll grid PNG: need n >= 1 and grid_columns >= 1, got n ",
                                                   n, ", grid_columns ", options.grid_columns));
  }
  const auto [tile_w, tile_h] = PianorollTileSize(tracks, steps, pitches, options);
  const int64_t columns = std::min<int64_t>(n, options.grid_columns);
  const int64_t rows = (n + columns - 1) / columns;
  const int64_t w = columns * tile_w + (columns - 1) * options.grid_gap_px;
  const int64_t h = rows * tile_h + (rows - 1) * options.grid_gap_px;
  if (w > kMaxSide || h > kMaxSide) {
    return absl::InvalidArgumentError(absl::StrCat("pianoroll grid PNG: ", n, " tiles make ", w, " x ", h,
                                                   " pixels, over ", kMaxSide, " on a side"));
  }
  Image image(static_cast<int>(w), static_cast<int>(h), options.separator);
  const int64_t sample_cells = int64_t{tracks} * steps * pitches;
  for (int64_t i = 0; i < n; ++i) {
    const int x0 = static_cast<int>((i % columns) * (tile_w + options.grid_gap_px));
    const int y0 = static_cast<int>((i / columns) * (tile_h + options.grid_gap_px));
    DrawTile(samples + i * sample_cells, tracks, steps, pitches, track_names, options, x0, y0, &image);
  }
  return Encode(image);
}

Status WritePianorollPng(const uint8_t* sample, int tracks, int steps, int pitches,
                         const std::vector<std::string>& track_names, const std::string& path,
                         const PngOptions& options) {
  TUTTI_ASSIGN_OR_RETURN(std::string png,
                         EncodePianorollPng(sample, tracks, steps, pitches, track_names, options));
  return WriteFileAtomically(path, png);  // its errors already name the path
}

Status WritePianorollGridPng(const uint8_t* samples, int64_t n, int tracks, int steps, int pitches,
                             const std::vector<std::string>& track_names, const std::string& path,
                             const PngOptions& options) {
  TUTTI_ASSIGN_OR_RETURN(std::string png,
                         EncodePianorollGridPng(samples, n, tracks, steps, pitches, track_names, options));
  return WriteFileAtomically(path, png);  // its errors already name the path
}

}  // namespace tutti
