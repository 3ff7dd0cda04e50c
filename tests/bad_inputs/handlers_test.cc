// The coordinator's request handlers and token check over their folders of bad requests (see
// bad_input_suite.h, handler_world.h and README.md). Requests are protobuf text format files whose sidecar
// names the method ("method: WorkerService.Heartbeat"); each runs against a fresh HandlerWorld.
#include <gtest/gtest.h>

#include "coordinator/server/auth.h"
#include "core/base/file_util.h"
#include "tests/bad_inputs/bad_input_suite.h"
#include "tests/bad_inputs/handler_world.h"

namespace tutti::bad_inputs {
namespace {

Status CallHandler(const BadInput& input) {
  const std::string method = input.param("method");
  if (method.empty()) return absl::InvalidArgumentError("bad test input: the sidecar names no method");
  TUTTI_ASSIGN_OR_RETURN(std::string text, ReadFileToString(input.path));
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<HandlerWorld> world, HandlerWorld::Create(input.scratch_dir));
  return world->Call(method, text);
}

void RunHandlerFolder(const std::string& row, const std::string& folder) {
  SuiteOptions options;
  options.message_names_input = false;  // a request has no file name; sidecars name the field or id instead
  RunBadInputSuite(row, folder, CallHandler, options);
}

// The control: the world seeds, and a good request of each kind is accepted, so a bad request's error comes
// from what is wrong with it, not from a broken set-up.
TEST(BadInputsControls, GoodRequestsAreAccepted) {
  const std::string dir = ::testing::TempDir() + "/bad-inputs-world-control";
  RemoveAllQuietly(dir);
  ASSERT_TRUE(CreateDirectories(dir).ok());
  StatusOr<std::unique_ptr<HandlerWorld>> world = HandlerWorld::Create(dir);
  ASSERT_TRUE(world.ok()) << world.status();
  const std::pair<const char*, const char*> good[] = {
      {"ExperimentService.GetTrial", "trial_id: 1"},
      {"ExperimentService.ListTrials", "experiment_id: 2"},
      {"WorkerService.Heartbeat", "lease_id: \"${LEASE}\" trial_id: 1 step: 12"},
      {"WorkerService.ReportMetrics",
       "lease_id: \"${LEASE}\" trial_id: 1 points { step: 12 kind: \"train\" values { key: \"loss\" value: 1 } }"},
      {"CheckpointService.GetCheckpoint", "checkpoint_id: 1"},
      {"CheckpointService.BestCheckpoint", "genre: \"rock\""},
      {"PackService.MissingBlobs", "sha256: \"${SHA_SHARD}\""},
      {"SampleService.ListGenres", ""},
      {"ListenService.Leaderboard", "genre: \"rock\""},
  };
  for (const auto& [method, text] : good) {
    Status s = (*world)->Call(method, text);
    EXPECT_TRUE(s.ok()) << method << " " << text << ": " << s;
  }
  // The tripwire backend: a valid sample request reaches it (and only a valid one should).
  Status generated = (*world)->Call("SampleService.Generate", "checkpoint_id: 1 n: 1");
  EXPECT_EQ(generated.code(), absl::StatusCode::kInternal) << generated;
  RemoveAllQuietly(dir);
}

TEST(BadInputs, ExperimentHandler) { RunHandlerFolder("ExperimentHandler requests", "handlers/experiment"); }
TEST(BadInputs, WorkerHandler) { RunHandlerFolder("WorkerHandler requests", "handlers/worker"); }
TEST(BadInputs, CheckpointHandler) { RunHandlerFolder("CheckpointHandler requests", "handlers/checkpoint"); }
TEST(BadInputs, PackHandler) { RunHandlerFolder("PackHandler requests", "handlers/pack"); }
TEST(BadInputs, SampleHandler) { RunHandlerFolder("SampleHandler requests", "handlers/sample"); }
TEST(BadInputs, ListenHandler) { RunHandlerFolder("ListenHandler requests", "handlers/listen"); }

// Token check (coordinator/server/auth.h) against the token "tutti-bad-inputs-token": each file holds the
// "authorization" value as a client would send it (`present: false`: no header at all; `bearer: false`: the
// HTTP API's bare ?token= form).
TEST(BadInputs, TokenAuth) {
  SuiteOptions options;
  options.message_names_input = false;
  RunBadInputSuite("coordinator token check (TokenAuth)", "auth_token", [](const BadInput& input) -> Status {
    TUTTI_ASSIGN_OR_RETURN(std::string value, ReadFileToString(input.path));
    const coord::TokenAuth auth("tutti-bad-inputs-token");
    grpc::Status s = auth.CheckValue(value, input.param("present", "true") == "true",
                                     input.param("bearer", "true") == "true");
    return Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
  }, options);
}

}  // namespace
}  // namespace tutti::bad_inputs
