#pragma once
// JsonApi: the coordinator's gRPC API as JSON — the HTTP mirror's whole logic, without HTTP (so it is tested
// without a socket). A call names "tutti.v1.<Service>/<Method>" and passes the request message in the proto3
// JSON mapping; the answer is the response message in the same mapping with the proto field names, every
// field printed and 64-bit integers as strings (docs/http_api.md). The handlers are the ones the gRPC
// adapters call, so both front ends answer the same.
//
// Streaming methods are joined: StreamTrialMetrics answers every point stored so far in one response
// (follow is ignored), Generate answers {"checkpoint_id", "step", "trial_id", "experiment_id", "genre",
// "files": [{"name", "data" (base64)}]}. The worker protocol is not mirrored (workers speak gRPC).
//
// Thread-safety: Call may run on many threads at once (the handlers are thread-safe).

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "coordinator/service/checkpoint_handler.h"
#include "coordinator/service/experiment_handler.h"
#include "coordinator/service/listen_handler.h"
#include "coordinator/service/sample_handler.h"
#include "core/base/status.h"

namespace tutti::coord {

struct JsonApiHandlers {
  ExperimentHandler* experiments = nullptr;
  CheckpointHandler* checkpoints = nullptr;
  SampleHandler* samples = nullptr;
  ListenHandler* listen = nullptr;
};

class JsonApi {
 public:
  explicit JsonApi(JsonApiHandlers handlers);

  // `method`: "tutti.v1.ExperimentService/ListTrials". NotFound for a method that is not served (the
  // message lists the services that are); InvalidArgument for a body that is not the request message in
  // JSON (naming the method and the parser's complaint); otherwise the handler's Status.
  StatusOr<std::string> Call(const std::string& method, const std::string& body) const;

  // Every method served, sorted.
  std::vector<std::string> Methods() const;

 private:
  using Method = std::function<StatusOr<std::string>(const std::string& body)>;
  std::map<std::string, Method> methods_;
};

// A message as the API prints it (proto field names, every field, int64 as strings).
std::string ToApiJson(const google::protobuf::Message& message);
// Parses `body` ("" = {}) into `message`; InvalidArgument naming `what` on failure. Unknown fields are errors.
Status FromApiJson(const std::string& body, const std::string& what, google::protobuf::Message* message);

}  // namespace tutti::coord
