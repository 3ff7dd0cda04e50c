// The checkpoint header reader over its folder of bad files (see bad_input_suite.h and README.md).
// ReadCheckpointMeta is what `tutti inspect`, resume and the sample service run before any model is built.
#include <gtest/gtest.h>

#include "core/checkpoint/checkpoint_format.h"
#include "tests/bad_inputs/bad_input_suite.h"

namespace tutti::bad_inputs {
namespace {

TEST(BadInputs, CheckpointHeader) {
  RunBadInputSuite("checkpoint file (ReadCheckpointMeta)", "checkpoint",
                   [](const BadInput& input) { return ReadCheckpointMeta(input.path).status(); });
}

// The good twin (controls/checkpoint.tutti, written by make_bad_inputs.py) is accepted.
TEST(BadInputsControls, GoodCheckpointIsAccepted) {
  StatusOr<CheckpointMeta> meta = ReadCheckpointMeta(BadInputsDir("controls/checkpoint.tutti"));
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_EQ(meta->step, 10);
}

}  // namespace
}  // namespace tutti::bad_inputs
