// The harness itself: each way an input can fail to get its clear error is reported (so a green suite means
// something), and the folder rules (sidecars, distinct content) hold. Folders are made in a temp directory.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <new>
#include <stdexcept>
#include <thread>

#include "core/base/file_util.h"
#include "tests/bad_inputs/bad_input_suite.h"

namespace tutti::bad_inputs {
namespace {

namespace fs = std::filesystem;

class BadInputSuiteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/bad-input-suite-test-" + std::to_string(::getpid());
    RemoveAllQuietly(dir_);
    ASSERT_TRUE(CreateDirectories(dir_).ok());
    Write("input.bin", "some bytes");
    Write("input.bin.expect", "why: a test input\ncode: INVALID_ARGUMENT\ncontains: expected bytes\n");
    options_.record_row = false;
    options_.timeout = std::chrono::milliseconds(1500);
  }
  void TearDown() override { RemoveAllQuietly(dir_); }
  void Write(const std::string& name, const std::string& text) {
    ASSERT_TRUE(WriteFileAtomically(dir_ + "/" + name, text).ok());
  }
  // The error the sidecar asks for.
  static Status Good(const BadInput& input) {
    return absl::InvalidArgumentError(input.path + ": expected bytes, got some");
  }

  std::string dir_;
  SuiteOptions options_;
};

TEST_F(BadInputSuiteTest, TheExpectedErrorPasses) { RunBadInputSuite("self", dir_, Good, options_); }

TEST_F(BadInputSuiteTest, OkIsAFailure) {
  EXPECT_NONFATAL_FAILURE(RunBadInputSuite("self", dir_, [](const BadInput&) { return absl::OkStatus(); }, options_),
                          "the parser returned OK for a bad input");
}

TEST_F(BadInputSuiteTest, WrongCodeMissingTextAndMissingFileNameAreFailures) {
  EXPECT_NONFATAL_FAILURE(
      RunBadInputSuite("self", dir_, [](const BadInput&) { return absl::DataLossError("something"); }, options_),
      "expected code INVALID_ARGUMENT, got DATA_LOSS");
  EXPECT_NONFATAL_FAILURE(
      RunBadInputSuite("self", dir_, [](const BadInput&) { return absl::InvalidArgumentError("bad"); }, options_),
      "message lacks 'expected bytes'");
  EXPECT_NONFATAL_FAILURE(RunBadInputSuite(
                              "self", dir_,
                              [](const BadInput&) { return absl::InvalidArgumentError("expected bytes"); }, options_),
                          "message does not name the file input.bin");
}

TEST_F(BadInputSuiteTest, CrashExceptionHangAndHugeAllocationAreReported) {
  EXPECT_NONFATAL_FAILURE(RunBadInputSuite("self", dir_, [](const BadInput&) -> Status { std::abort(); }, options_),
                          "crashed with signal 6");
  EXPECT_NONFATAL_FAILURE(RunBadInputSuite(
                              "self", dir_, [](const BadInput&) -> Status { throw std::runtime_error("boom"); },
                              options_),
                          "threw instead of returning a Status: boom");
  EXPECT_NONFATAL_FAILURE(RunBadInputSuite(
                              "self", dir_,
                              [](const BadInput&) -> Status {
                                for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
                              },
                              options_),
                          "hang: still running after 1500 ms");
  // What a lying length field does to a reader that trusts it: the address-space limit turns it into
  // bad_alloc in the child. Not under AddressSanitizer (scripts/test.sh --sanitize): its operator new
  // never throws; a failed allocation is an ASan out-of-memory report and exit instead, which the
  // sanitized run counts as a failure anyway.
#if !defined(__SANITIZE_ADDRESS__)
  EXPECT_NONFATAL_FAILURE(RunBadInputSuite(
                              "self", dir_,
                              [](const BadInput&) -> Status {
                                std::string huge(size_t{8} << 30, 'x');
                                return absl::InvalidArgumentError(huge.substr(0, 1));
                              },
                              options_),
                          "threw instead of returning a Status");
#endif
}

TEST_F(BadInputSuiteTest, CopiesAreCountedOnce) {
  Write("copy.bin", "some bytes");
  Write("copy.bin.expect", "why: the same bytes again\ncode: INVALID_ARGUMENT\ncontains: expected bytes\n");
  EXPECT_NONFATAL_FAILURE(RunBadInputSuite("self", dir_, Good, options_), "has the same content");
}

TEST_F(BadInputSuiteTest, EveryFileNeedsASidecarAndEverySidecarItsParts) {
  Write("orphan.bin", "no sidecar");
  StatusOr<std::vector<BadInput>> listed = ListBadInputs(dir_);
  EXPECT_EQ(listed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(listed.status().message().find("orphan.bin: expected a sidecar orphan.bin.expect"), std::string::npos)
      << listed.status();
  ASSERT_TRUE(fs::remove(dir_ + "/orphan.bin"));
  Write("input.bin.expect", "why: no code\ncontains: expected bytes\n");
  EXPECT_NE(ListBadInputs(dir_).status().message().find("expected a 'code:' line"), std::string::npos);
  Write("input.bin.expect", "why: a wrong code\ncode: INVALID\ncontains: x\n");
  EXPECT_NE(ListBadInputs(dir_).status().message().find("got 'INVALID'"), std::string::npos);
  Write("gone.expect", "why: points nowhere\ncode: INTERNAL\ncontains: x\n");
  Write("input.bin.expect", "why: fine\ncode: INVALID_ARGUMENT\ncontains: x\n");
  EXPECT_EQ(ListBadInputs(dir_).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace tutti::bad_inputs
