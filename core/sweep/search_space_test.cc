#include "core/sweep/search_space.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "core/sweep/internal/sweep_internal.h"

namespace tutti::sweep {
namespace {

using Type = HyperparameterSpec::Type;

TEST(FormatValueTest, IntegersHaveNoDecimalPoint) {
  EXPECT_EQ(FormatValue(16, Type::kInt), "16");
  EXPECT_EQ(FormatValue(-3, Type::kInt), "-3");
  EXPECT_EQ(FormatValue(0, Type::kInt), "0");
  EXPECT_EQ(FormatValue(9007199254740992.0, Type::kInt), "9007199254740992");  // 2^53, not 9.007e+15
  EXPECT_EQ(FormatValue(2.5, Type::kInt), "3");  // rounds half away from zero
  EXPECT_EQ(FormatValue(-2.5, Type::kInt), "-3");
  EXPECT_EQ(FormatValue(16, Type::kDouble), "16");
}

TEST(FormatValueTest, DoublesAreTheShortestTextThatReadsBack) {
  EXPECT_EQ(FormatValue(1e-3, Type::kLogUniform), "0.001");
  EXPECT_EQ(FormatValue(0.1, Type::kDouble), "0.1");
  EXPECT_EQ(FormatValue(0.1 + 0.2, Type::kDouble), "0.30000000000000004");
  EXPECT_EQ(FormatValue(1.0 / 3, Type::kDouble), "0.3333333333333333");
  EXPECT_EQ(FormatValue(2e-4, Type::kLogUniform), "2e-04");  // scientific when shorter, as FormatDouble does
  EXPECT_EQ(FormatValue(1e20, Type::kDouble), "1e+20");
  EXPECT_EQ(FormatValue(-0.5, Type::kDouble), "-0.5");
  EXPECT_EQ(FormatValue(123456.75, Type::kDouble), "123456.75");
}

TEST(FormatValueTest, RoundTripsManyValues) {
  internal::Rng rng(42);
  for (int i = 0; i < 2000; ++i) {
    const double v = std::ldexp(rng.UniformUnit() - 0.5, static_cast<int>(rng.UniformInt(-60, 60)));
    const std::string text = FormatValue(v, Type::kDouble);
    EXPECT_EQ(std::strtod(text.c_str(), nullptr), v) << text;
    EXPECT_LE(text.size(), 24u) << text;
  }
}

TEST(FormatValueTest, NonFiniteValuesAreNamed) {
  EXPECT_EQ(FormatValue(std::nan(""), Type::kDouble), "nan");
  EXPECT_EQ(FormatValue(-HUGE_VAL, Type::kInt), "-inf");
}

TEST(RngTest, UniformIntCoversTheRangeAndStaysInside) {
  internal::Rng rng(7);
  int seen[5] = {0, 0, 0, 0, 0};
  for (int i = 0; i < 5000; ++i) {
    const int64_t v = rng.UniformInt(-2, 2);
    ASSERT_GE(v, -2);
    ASSERT_LE(v, 2);
    ++seen[v + 2];
  }
  for (int count : seen) EXPECT_NEAR(count, 1000, 150);
  EXPECT_EQ(rng.UniformInt(5, 5), 5);
  // The full 64-bit range does not overflow.
  (void)rng.UniformInt(INT64_MIN, INT64_MAX);
}

TEST(RngTest, RestoreContinuesTheSameSequence) {
  internal::Rng a(99);
  for (int i = 0; i < 37; ++i) (void)a.UniformInt(0, 1000);
  internal::Rng b(1);
  b.Restore(a.seed(), a.draws());
  for (int i = 0; i < 100; ++i) ASSERT_EQ(a.Next(), b.Next());
}

TEST(RngTest, MatchesTheStandardMt19937_64Sequence) {
  // The standard fixes the 10000th output of a default-seeded mt19937_64: our draws build on it.
  internal::Rng rng(5489u);
  uint64_t v = 0;
  for (int i = 0; i < 10000; ++i) v = rng.Next();
  EXPECT_EQ(v, 9981545732273789042ull);
}

TEST(FormatRoundedTest, KeepsSignificantDigits) {
  EXPECT_EQ(internal::FormatRounded(100.0 / 3, 6), "33.3333");
  EXPECT_EQ(internal::FormatRounded(312.5, 6), "312.5");
  EXPECT_EQ(internal::RoundToDigits(0.0009999999999999998, 12), 0.001);
  EXPECT_EQ(internal::RoundToDigits(9.99999999999999e-05, 12), 1e-4);
}

}  // namespace
}  // namespace tutti::sweep
