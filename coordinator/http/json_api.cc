#include "coordinator/http/json_api.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace tutti::coord {
namespace {

// One unary handler method as a JSON method: parse, call, print.
template <typename Request, typename Response, typename Handler>
std::function<StatusOr<std::string>(const std::string&)> Unary(const std::string& name, Handler* handler,
                                                               Status (Handler::*method)(const Request&, Response*)) {
  return [name, handler, method](const std::string& body) -> StatusOr<std::string> {
    Request request;
    TUTTI_RETURN_IF_ERROR(FromApiJson(body, name, &request));
    Response response;
    TUTTI_RETURN_IF_ERROR((handler->*method)(request, &response));
    return ToApiJson(response);
  };
}

}  // namespace

std::string ToApiJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

Status FromApiJson(const std::string& body, const std::string& what, google::protobuf::Message* message) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return absl::OkStatus();  // empty = {}
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(body, message, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": the body is not a ", message->GetTypeName(),
                                                   " in JSON: ", std::string(status.message())));
  }
  return absl::OkStatus();
}

JsonApi::JsonApi(JsonApiHandlers h) {
  const std::string e = "tutti.v1.ExperimentService/";
  ExperimentHandler* x = h.experiments;
  methods_[e + "SubmitExperiment"] = Unary(e + "SubmitExperiment", x, &ExperimentHandler::Submit);
  methods_[e + "ListExperiments"] = Unary(e + "ListExperiments", x, &ExperimentHandler::List);
  methods_[e + "GetExperiment"] = Unary(e + "GetExperiment", x, &ExperimentHandler::Get);
  methods_[e + "KillExperiment"] = Unary(e + "KillExperiment", x, &ExperimentHandler::Kill);
  methods_[e + "ListTrials"] = Unary(e + "ListTrials", x, &ExperimentHandler::ListTrials);
  methods_[e + "GetTrial"] = Unary(e + "GetTrial", x, &ExperimentHandler::GetTrial);
  methods_[e + "KillTrial"] = Unary(e + "KillTrial", x, &ExperimentHandler::KillTrial);
  methods_[e + "PauseExperiment"] = Unary(e + "PauseExperiment", x, &ExperimentHandler::Pause);
  methods_[e + "ResumeExperiment"] = Unary(e + "ResumeExperiment", x, &ExperimentHandler::Resume);
  methods_[e + "ExtendExperiment"] = Unary(e + "ExtendExperiment", x, &ExperimentHandler::Extend);
  methods_[e + "ForkTrial"] = Unary(e + "ForkTrial", x, &ExperimentHandler::Fork);
  methods_[e + "StreamTrialMetrics"] = [x, name = e + "StreamTrialMetrics"](const std::string& body) -> StatusOr<std::string> {
    v1::StreamTrialMetricsRequest request;
    TUTTI_RETURN_IF_ERROR(FromApiJson(body, name, &request));
    request.set_follow(false);  // one answer with everything so far; pages poll to follow
    v1::StreamTrialMetricsResponse joined;
    TUTTI_RETURN_IF_ERROR(x->StreamMetrics(
        request,
        [&](const v1::StreamTrialMetricsResponse& batch) {
          joined.mutable_points()->MergeFrom(batch.points());
          joined.set_trial_state(batch.trial_state());
          return true;
        },
        [] { return false; }));
    return ToApiJson(joined);
  };

  const std::string c = "tutti.v1.CheckpointService/";
  CheckpointHandler* k = h.checkpoints;
  methods_[c + "ListCheckpoints"] = Unary(c + "ListCheckpoints", k, &CheckpointHandler::List);
  methods_[c + "GetCheckpoint"] = Unary(c + "GetCheckpoint", k, &CheckpointHandler::Get);
  methods_[c + "DeleteCheckpoint"] = Unary(c + "DeleteCheckpoint", k, &CheckpointHandler::Delete);
  methods_[c + "BestCheckpoint"] = Unary(c + "BestCheckpoint", k, &CheckpointHandler::Best);

  const std::string s = "tutti.v1.SampleService/";
  SampleHandler* sh = h.samples;
  methods_[s + "ListGenres"] = Unary(s + "ListGenres", sh, &SampleHandler::ListGenres);
  methods_[s + "Generate"] = [sh, name = s + "Generate"](const std::string& body) -> StatusOr<std::string> {
    v1::GenerateRequest request;
    TUTTI_RETURN_IF_ERROR(FromApiJson(body, name, &request));
    SampleSource source;
    TUTTI_ASSIGN_OR_RETURN(std::vector<SampleFile> files, sh->GenerateFiles(request, &source));
    nlohmann::json out = {{"checkpoint_id", std::to_string(source.checkpoint.id)},
                          {"step", std::to_string(source.checkpoint.step)},
                          {"trial_id", std::to_string(source.trial_id)},
                          {"experiment_id", std::to_string(source.experiment_id)},
                          {"genre", source.genre},
                          {"files", nlohmann::json::array()}};
    for (const SampleFile& file : files) {
      out["files"].push_back({{"name", file.name}, {"data", absl::Base64Escape(file.bytes)}});
    }
    return out.dump();
  };

  const std::string l = "tutti.v1.ListenService/";
  ListenHandler* lh = h.listen;
  methods_[l + "CreateListenPair"] = Unary(l + "CreateListenPair", lh, &ListenHandler::CreatePair);
  methods_[l + "RateListenPair"] = Unary(l + "RateListenPair", lh, &ListenHandler::Rate);
  methods_[l + "ListRatings"] = Unary(l + "ListRatings", lh, &ListenHandler::ListRatings);
  methods_[l + "Leaderboard"] = Unary(l + "Leaderboard", lh, &ListenHandler::Leaderboard);
}

StatusOr<std::string> JsonApi::Call(const std::string& method, const std::string& body) const {
  auto it = methods_.find(method);
  if (it == methods_.end()) {
    if (method.rfind("tutti.v1.WorkerService/", 0) == 0) {
      return absl::NotFoundError(absl::StrCat(method, " is not served over HTTP: workers speak gRPC"));
    }
    return absl::NotFoundError(absl::StrCat("no API method ", method, "; served: tutti.v1.ExperimentService, "
                                            "tutti.v1.CheckpointService, tutti.v1.SampleService, "
                                            "tutti.v1.ListenService (see docs/http_api.md)"));
  }
  return it->second(body);
}

std::vector<std::string> JsonApi::Methods() const {
  std::vector<std::string> names;
  for (const auto& [name, method] : methods_) names.push_back(name);
  return names;
}

}  // namespace tutti::coord
