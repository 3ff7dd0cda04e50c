#pragma once
// A tiny pixel font for the labels on pianoroll images (internal to core/render).
//
// Every glyph is a cell of kGlyphWidth x kGlyphHeight pixels: capitals, digits and lowercase letters sit on
// row 6 (the baseline; capitals and ascenders start at row 0, lowercase at row 2), and only the descenders of
// g, j, p, q, y use row 7. Characters are kGlyphAdvance pixels apart (one empty column between them).
// The font has A-Z, a-z, 0-9, '#', '-' and ' '; any other character is drawn as a hollow box, so a missing
// glyph shows instead of vanishing.

#include <string>

namespace tutti::render_internal {

inline constexpr int kGlyphWidth = 5;
inline constexpr int kGlyphHeight = 8;
inline constexpr int kGlyphAdvance = kGlyphWidth + 1;

// True when pixel (x, y) of the glyph for `c` is ink; false outside the cell.
bool GlyphPixel(char c, int x, int y);

// True when the font has a glyph for `c` (otherwise GlyphPixel draws the hollow box).
bool HasGlyph(char c);

// Width in pixels of `text` drawn in one line: no trailing gap after the last character; 0 for "".
int TextWidth(const std::string& text);

}  // namespace tutti::render_internal
