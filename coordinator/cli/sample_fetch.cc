#include "coordinator/cli/sample_fetch.h"

#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "coordinator/cli/cli_status.h"
#include "core/base/file_util.h"
#include "tutti/v1/sample_service.grpc.pb.h"

namespace tutti::cli {

std::vector<std::string> SplitFormats(const std::string& formats) {
  std::vector<std::string> out;
  for (size_t start = 0; start <= formats.size();) {
    size_t comma = formats.find(',', start);
    if (comma == std::string::npos) comma = formats.size();
    if (comma > start) out.push_back(formats.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

int FetchSamples(const RemoteFlags& remote, const v1::GenerateRequest& request, const std::string& out) {
  auto connection = Connect(remote);
  if (!connection.ok()) return ReportFailure(connection.status());
  auto stub = v1::SampleService::NewStub((*connection)->channel());
  // Generation may wait for a model to load and for WAV rendering: more than a plain call's timeout.
  std::unique_ptr<grpc::ClientContext> context = (*connection)->NewContext(CallTimeout(remote) + std::chrono::minutes(5));
  auto reader = stub->Generate(context.get(), request);
  v1::GenerateResponse message;
  std::map<std::string, std::string> files;
  std::vector<std::string> order;
  v1::GenerateResponse first;
  bool have_first = false;
  while (reader->Read(&message)) {
    if (!have_first) {
      first = message;
      have_first = true;
    }
    if (files.find(message.name()) == files.end()) order.push_back(message.name());
    files[message.name()] += message.data();
  }
  Status s = (*connection)->FromGrpc(reader->Finish(), "generating samples");
  if (!s.ok()) return ReportFailure(s);
  s = CreateDirectories(out);
  for (const std::string& name : order) {
    if (!s.ok()) break;
    // Names come from the coordinator: never let one climb out of --out.
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
      s = absl::DataLossError(absl::StrCat("the coordinator sent a file named \"", name, "\""));
      break;
    }
    s = WriteFileAtomically(out + "/" + name, files[name]);
  }
  if (!s.ok()) return ReportFailure(s);
  if (remote.json) {
    nlohmann::json j = {{"checkpoint_id", first.checkpoint_id()}, {"step", first.step()},
                        {"trial_id", first.trial_id()},           {"experiment_id", first.experiment_id()},
                        {"genre", first.genre()},                 {"files", nlohmann::json::array()}};
    for (const std::string& name : order) j["files"].push_back(out + "/" + name);
    std::cout << j.dump(1) << "\n";
  } else {
    std::cout << "wrote " << order.size() << " file(s) to " << out << " from checkpoint " << first.checkpoint_id()
              << " (trial " << first.trial_id() << ", experiment " << first.experiment_id() << ", step "
              << first.step() << (first.genre().empty() ? "" : ", genre " + first.genre()) << ")\n";
    for (const std::string& name : order) std::cout << "  " << out << "/" << name << "\n";
  }
  return 0;
}

}  // namespace tutti::cli
