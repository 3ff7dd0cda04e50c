// HttpServer on 127.0.0.1 port 0 with a real client: routing, token, errors, limits, the embedded page.
#include "coordinator/http/http_server.h"

#include <httplib.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "coordinator/http/web_assets.h"
#include "coordinator/service/service_test_util.h"
#include "nlohmann/json.hpp"

namespace tutti::coord {
namespace {

using ::testing::HasSubstr;
using testing::Fixture;

struct Served {
  Fixture f;
  ExperimentHandler experiments{f.store.get(), f.lifecycle.get(), f.registry.get(), f.manager.get()};
  CheckpointHandler checkpoints{f.store.get(), f.lifecycle.get(), f.registry.get()};
  GenreCatalog catalog{f.store.get(), f.lifecycle.get(), f.registry.get()};
  SampleHandler samples{f.lifecycle.get(), f.registry.get(), &catalog, nullptr};
  ListenHandler listen{f.store.get(), f.lifecycle.get(), f.registry.get(), &catalog, &samples, &f.clock};
  JsonApi api{JsonApiHandlers{&experiments, &checkpoints, &samples, &listen}};
  TokenAuth auth;
  std::unique_ptr<HttpServer> server;
  std::unique_ptr<httplib::Client> client;

  Served(const std::string& name, const std::string& token) : f(name, {}, true), auth(token) {
    HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    options.max_body_bytes = 4096;
    auto started = HttpServer::Start(options, &api, &samples, &checkpoints, &auth);
    EXPECT_TRUE(started.ok()) << started.status();
    server = *std::move(started);
    client = std::make_unique<httplib::Client>("http://" + server->address());
    client->set_read_timeout(30, 0);
  }
};

TEST(HttpServer, ApiNeedsTheTokenThePageDoesNot) {
  Served s("http-token", "s3cret");
  auto health = s.client->Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  auto anonymous = s.client->Post("/api/tutti.v1.ExperimentService/ListExperiments", "{}", "application/json");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  EXPECT_EQ(nlohmann::json::parse(anonymous->body)["code"], "UNAUTHENTICATED");

  auto wrong = s.client->Post("/api/tutti.v1.ExperimentService/ListExperiments", {{"Authorization", "Bearer nope"}},
                              "{}", "application/json");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_THAT(wrong->body, HasSubstr("wrong token"));

  auto header = s.client->Post("/api/tutti.v1.ExperimentService/ListExperiments",
                               {{"Authorization", "Bearer s3cret"}}, "{}", "application/json");
  ASSERT_TRUE(header);
  EXPECT_EQ(header->status, 200) << header->body;
  EXPECT_TRUE(nlohmann::json::parse(header->body).contains("experiments"));

  auto query = s.client->Post("/api/tutti.v1.ExperimentService/ListExperiments?token=s3cret", "{}", "application/json");
  ASSERT_TRUE(query);
  EXPECT_EQ(query->status, 200);

  // Every embedded page file is served without the token, with its type.
  for (const WebAsset& asset : WebAssets()) {
    auto file = s.client->Get(("/" + std::string(asset.path)).c_str());
    ASSERT_TRUE(file);
    EXPECT_EQ(file->status, 200) << asset.path;
    EXPECT_EQ(file->body, std::string(asset.bytes));
    EXPECT_EQ(file->get_header_value("Content-Type"), ContentTypeFor(std::string(asset.path)));
  }
}

TEST(HttpServer, ErrorsAreJsonWithTheRightStatus) {
  Served s("http-errors", "");
  auto malformed = s.client->Post("/api/tutti.v1.ExperimentService/ListTrials", "{oops", "application/json");
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 400);
  const nlohmann::json body = nlohmann::json::parse(malformed->body);
  EXPECT_EQ(body["code"], "INVALID_ARGUMENT");
  EXPECT_THAT(body["message"].get<std::string>(), HasSubstr("ListTrialsRequest"));

  auto missing = s.client->Post("/api/tutti.v1.ExperimentService/GetTrial", R"({"trial_id": "9"})", "application/json");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_THAT(missing->body, HasSubstr("trial 9 not found"));

  auto no_backend = s.client->Get("/api/sample?genre=rock&seed=1&format=wav");
  ASSERT_TRUE(no_backend);
  EXPECT_EQ(no_backend->status, 501);
  auto bad_format = s.client->Get("/api/sample?genre=rock&format=mp3");
  ASSERT_TRUE(bad_format);
  EXPECT_EQ(bad_format->status, 400);
  EXPECT_THAT(bad_format->body, HasSubstr("format: expected midi, npz, png or wav"));
  auto bad_seed = s.client->Get("/api/sample?genre=rock&seed=x");
  ASSERT_TRUE(bad_seed);
  EXPECT_EQ(bad_seed->status, 400);

  auto big = s.client->Post("/api/tutti.v1.ExperimentService/ListTrials", std::string(10000, ' '), "application/json");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);

  auto unknown_api = s.client->Get("/api/nothing");
  ASSERT_TRUE(unknown_api);
  EXPECT_EQ(unknown_api->status, 404);
  auto unknown_file = s.client->Get("/no-such-file.js");
  ASSERT_TRUE(unknown_file);
  EXPECT_EQ(unknown_file->status, 404);

  auto download = s.client->Get("/api/checkpoints/5/download");
  ASSERT_TRUE(download);
  EXPECT_EQ(download->status, 404);
}

TEST(HttpServer, StatusMappingAndContentTypes) {
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kFailedPrecondition), 400);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kDeadlineExceeded), 504);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kDataLoss), 500);
  EXPECT_EQ(ContentTypeFor("a.wav"), "audio/wav");
  EXPECT_EQ(ContentTypeFor("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("x.bin"), "application/octet-stream");
  EXPECT_EQ(ErrorBody(absl::NotFoundError("x")), R"({"code":"NOT_FOUND","message":"x"})");
}

TEST(HttpServer, ABusyPortIsAClearError) {
  Served s("http-port", "");
  HttpServerOptions options;
  options.listen = s.server->address();
  auto second = HttpServer::Start(options, &s.api, &s.samples, &s.checkpoints, &s.auth);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  options.listen = "nonsense";
  EXPECT_EQ(HttpServer::Start(options, &s.api, &s.samples, &s.checkpoints, &s.auth).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tutti::coord
