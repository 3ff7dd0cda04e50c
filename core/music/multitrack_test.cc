#include "core/music/multitrack.h"

#include "gtest/gtest.h"

namespace tutti {
namespace {

TEST(SparsePianoroll, BuilderSortsDeduplicatesAndCountsNotes) {
  SparsePianorollBuilder builder;
  builder.AddNote(60, 10, 14, 90);  // one note of 4 steps
  builder.Set(40, 2, 50);
  builder.Set(40, 2, 70);           // duplicate keeps the louder
  builder.AddNote(60, 20, 22);      // a second note on the same pitch
  SparsePianoroll roll = builder.Build(8);
  EXPECT_EQ(roll.Validate(), "");
  EXPECT_EQ(roll.n_steps, 41);      // grown to cover the last active step
  EXPECT_EQ(roll.nnz(), 7);
  EXPECT_EQ(roll.CountNotes(), 3);
  EXPECT_EQ(roll.ActiveLength(), 41);
  EXPECT_EQ(roll.indptr[3] - roll.indptr[2], 1);
  EXPECT_EQ(roll.velocities[roll.indptr[2]], 70);
}

TEST(SparsePianoroll, ValidateNamesTheProblem) {
  SparsePianoroll roll;
  roll.n_steps = 4;
  roll.steps = {5};
  roll.velocities = {1};
  for (int p = 1; p <= kMidiPitches; ++p) roll.indptr[p] = 1;
  EXPECT_NE(roll.Validate().find("outside [0, 4)"), std::string::npos);
  SparsePianoroll empty;
  EXPECT_EQ(empty.Validate(), "");
  EXPECT_EQ(empty.ActiveLength(), 0);
}

}  // namespace
}  // namespace tutti
