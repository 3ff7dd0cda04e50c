#include "core/render/bitmap_font.h"

#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tutti::render_internal {
namespace {

const std::string kRequired =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789#- ";

// The glyph of `c` as 8 strings of 5 characters ('#' = ink), for comparisons and readable failures.
std::vector<std::string> Picture(char c) {
  std::vector<std::string> rows;
  for (int y = 0; y < kGlyphHeight; ++y) {
    std::string row;
    for (int x = 0; x < kGlyphWidth; ++x) row += GlyphPixel(c, x, y) ? '#' : '.';
    rows.push_back(row);
  }
  return rows;
}

int Ink(char c) {
  int ink = 0;
  for (const std::string& row : Picture(c)) {
    for (char p : row) ink += p == '#' ? 1 : 0;
  }
  return ink;
}

TEST(BitmapFontTest, HasEveryCharacterTheLabelsUse) {
  for (char c : kRequired) {
    EXPECT_TRUE(HasGlyph(c)) << "'" << c << "'";
    if (c != ' ') {
      EXPECT_GT(Ink(c), 4) << "'" << c << "' is (nearly) empty";
    }
  }
  EXPECT_EQ(Ink(' '), 0);
}

TEST(BitmapFontTest, GlyphsAreDistinct) {
  std::set<std::vector<std::string>> seen;
  for (char c : kRequired) EXPECT_TRUE(seen.insert(Picture(c)).second) << "'" << c << "' looks like another glyph";
}

TEST(BitmapFontTest, OnlyDescendersUseTheLastRow) {
  const std::string descenders = "gjpqy";
  for (char c : kRequired) {
    const bool uses_last_row = Picture(c)[kGlyphHeight - 1] != ".....";
    EXPECT_EQ(uses_last_row, descenders.find(c) != std::string::npos) << "'" << c << "'";
  }
}

TEST(BitmapFontTest, MissingCharactersShowAsABoxAndOutsideIsBlank) {
  EXPECT_FALSE(HasGlyph('%'));
  EXPECT_FALSE(HasGlyph('\xe9'));
  EXPECT_EQ(Picture('%')[0], "#####");
  EXPECT_EQ(Picture('%')[3], "#...#");
  EXPECT_FALSE(GlyphPixel('A', -1, 0));
  EXPECT_FALSE(GlyphPixel('A', kGlyphWidth, 3));
  EXPECT_FALSE(GlyphPixel('A', 0, kGlyphHeight));
}

TEST(BitmapFontTest, TextWidth) {
  EXPECT_EQ(TextWidth(""), 0);
  EXPECT_EQ(TextWidth("C"), 5);
  EXPECT_EQ(TextWidth("C4"), 11);
  EXPECT_EQ(TextWidth("Strings"), 41);
}

}  // namespace
}  // namespace tutti::render_internal
