// JsonApi without a socket: the same handlers as gRPC, in the proto3 JSON mapping docs/http_api.md names.
#include "coordinator/http/json_api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "coordinator/service/service_test_util.h"
#include "nlohmann/json.hpp"

namespace tutti::coord {
namespace {

using ::testing::HasSubstr;
using testing::Fixture;

struct Api {
  Fixture f;
  ExperimentHandler experiments{f.store.get(), f.lifecycle.get(), f.registry.get(), f.manager.get()};
  CheckpointHandler checkpoints{f.store.get(), f.lifecycle.get(), f.registry.get()};
  GenreCatalog catalog{f.store.get(), f.lifecycle.get(), f.registry.get()};
  SampleHandler samples{f.lifecycle.get(), f.registry.get(), &catalog, /*backend=*/nullptr};
  ListenHandler listen{f.store.get(), f.lifecycle.get(), f.registry.get(), &catalog, &samples, &f.clock};
  JsonApi api{JsonApiHandlers{&experiments, &checkpoints, &samples, &listen}};
  explicit Api(const std::string& name) : f(name, {}, /*with_manager=*/true) {}

  nlohmann::json Call(const std::string& method, const std::string& body) {
    StatusOr<std::string> answer = api.Call(method, body);
    EXPECT_TRUE(answer.ok()) << method << ": " << answer.status();
    return answer.ok() ? nlohmann::json::parse(*answer) : nlohmann::json();
  }
};

TEST(JsonApi, MirrorsTheHandlersInTheDocumentedMapping) {
  Api a("json-mirror");
  const nlohmann::json submitted =
      a.Call("tutti.v1.ExperimentService/SubmitExperiment",
             R"({"config_yaml": "name: web\ndata:\n  genres: [rock]\ntrain:\n  steps: 10\n", "source_name": "w.yaml"})");
  ASSERT_EQ(submitted["trials"].size(), 1u);
  EXPECT_EQ(submitted["trials"][0]["id"], "1");  // int64 as a string
  EXPECT_EQ(submitted["trials"][0]["state"], "TRIAL_QUEUED");

  const nlohmann::json listed = a.Call("tutti.v1.ExperimentService/ListExperiments", "");
  ASSERT_EQ(listed["experiments"].size(), 1u);
  EXPECT_EQ(listed["experiments"][0]["name"], "web");

  // camelCase is accepted in requests; answers always use the proto names and print every field.
  const nlohmann::json trials = a.Call("tutti.v1.ExperimentService/ListTrials", R"({"experimentId": "1"})");
  ASSERT_EQ(trials["trials"].size(), 1u);
  EXPECT_TRUE(trials["trials"][0].contains("stop_reason"));
  EXPECT_EQ(trials["trials"][0]["restarts"], 0);

  const nlohmann::json metrics = a.Call("tutti.v1.ExperimentService/StreamTrialMetrics", R"({"trial_id": "1"})");
  EXPECT_TRUE(metrics["points"].is_array());

  const nlohmann::json genres = a.Call("tutti.v1.SampleService/ListGenres", "{}");
  ASSERT_EQ(genres["genres"].size(), 1u);
  EXPECT_EQ(genres["genres"][0]["genre"], "rock");
  EXPECT_EQ(genres["genres"][0]["checkpoint_id"], "0");  // none yet
}

TEST(JsonApi, BadCallsAreClearErrors) {
  Api a("json-errors");
  auto malformed = a.api.Call("tutti.v1.ExperimentService/ListTrials", "{\"experiment_id\": ");
  EXPECT_EQ(malformed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(malformed.status().message()),
              HasSubstr("tutti.v1.ExperimentService/ListTrials: the body is not a tutti.v1.ListTrialsRequest"));
  auto unknown_field = a.api.Call("tutti.v1.ExperimentService/ListTrials", R"({"experiment": 1})");
  EXPECT_EQ(unknown_field.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(unknown_field.status().message()), HasSubstr("experiment"));

  auto missing = a.api.Call("tutti.v1.ExperimentService/ListTrials", R"({"experiment_id": "42"})");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("42"));

  auto worker = a.api.Call("tutti.v1.WorkerService/LeaseTrial", "{}");
  EXPECT_EQ(worker.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(worker.status().message()), HasSubstr("workers speak gRPC"));
  EXPECT_EQ(a.api.Call("tutti.v1.Nope/Nothing", "{}").status().code(), absl::StatusCode::kNotFound);

  // No LibTorch backend here: generation says so instead of failing obscurely.
  auto generate = a.api.Call("tutti.v1.SampleService/Generate", R"({"genre": "rock", "n": 1})");
  EXPECT_EQ(generate.status().code(), absl::StatusCode::kUnimplemented);

  auto board = a.api.Call("tutti.v1.ListenService/Leaderboard", R"({"genre": "jazz"})");
  EXPECT_EQ(board.status().code(), absl::StatusCode::kNotFound);
}

TEST(JsonApi, ServesEveryNonWorkerMethodOfTheProto) {
  Api a("json-methods");
  const std::vector<std::string> methods = a.api.Methods();
  for (const char* expected :
       {"tutti.v1.CheckpointService/BestCheckpoint", "tutti.v1.ExperimentService/ForkTrial",
        "tutti.v1.ExperimentService/StreamTrialMetrics", "tutti.v1.ListenService/RateListenPair",
        "tutti.v1.SampleService/Generate", "tutti.v1.SampleService/ListGenres"}) {
    EXPECT_NE(std::find(methods.begin(), methods.end(), expected), methods.end()) << expected;
  }
  for (const std::string& m : methods) EXPECT_EQ(m.rfind("tutti.v1.WorkerService/", 0), std::string::npos) << m;
}

}  // namespace
}  // namespace tutti::coord
