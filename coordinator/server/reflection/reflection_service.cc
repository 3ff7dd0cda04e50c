#include "coordinator/server/reflection/reflection_service.h"

#include <unordered_set>
#include <utility>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>

#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"

namespace tutti::coord {

namespace pb = google::protobuf;

struct ReflectionService::Core {
  const TokenAuth* auth;
  std::vector<std::string> services;
  const pb::DescriptorPool* pool;
};

namespace {

// Both versions' generated messages have the same fields and accessors, so the logic is written once over
// the (Request, Response) pair of either package.

template <typename Response>
void SetError(Response* response, grpc::StatusCode code, std::string message) {
  auto* error = response->mutable_error_response();
  error->set_error_code(static_cast<int32_t>(code));
  error->set_error_message(std::move(message));
}

// `file` (always: it is what was asked for), then each file it depends on, directly or not, that `sent`
// does not hold yet. Whenever a file enters `sent` so do all its dependencies (same response), so a
// dependency already sent needs no walk below it.
template <typename FileDescriptorResponse>
void AddFileAndDependencies(const pb::FileDescriptor* file, std::unordered_set<std::string>* sent,
                            FileDescriptorResponse* out) {
  std::vector<const pb::FileDescriptor*> order{file};
  sent->insert(file->name());
  for (size_t i = 0; i < order.size(); ++i) {
    for (int d = 0; d < order[i]->dependency_count(); ++d) {
      const pb::FileDescriptor* dependency = order[i]->dependency(d);
      if (sent->insert(dependency->name()).second) order.push_back(dependency);
    }
  }
  for (const pb::FileDescriptor* f : order) {
    pb::FileDescriptorProto proto;
    f->CopyTo(&proto);
    out->add_file_descriptor_proto(proto.SerializeAsString());
  }
}

template <typename Request, typename Response>
void Answer(const ReflectionService::Core& core, const Request& request, std::unordered_set<std::string>* sent,
            Response* response) {
  response->set_valid_host(request.host());
  *response->mutable_original_request() = request;
  const pb::DescriptorPool& pool = *core.pool;
  switch (request.message_request_case()) {
    case Request::kFileByFilename: {
      const pb::FileDescriptor* file = pool.FindFileByName(request.file_by_filename());
      if (file == nullptr) {
        return SetError(response, grpc::StatusCode::NOT_FOUND,
                        "no file named \"" + request.file_by_filename() + "\"");
      }
      return AddFileAndDependencies(file, sent, response->mutable_file_descriptor_response());
    }
    case Request::kFileContainingSymbol: {
      const pb::FileDescriptor* file = pool.FindFileContainingSymbol(request.file_containing_symbol());
      if (file == nullptr) {
        return SetError(response, grpc::StatusCode::NOT_FOUND,
                        "no symbol named \"" + request.file_containing_symbol() + "\"");
      }
      return AddFileAndDependencies(file, sent, response->mutable_file_descriptor_response());
    }
    case Request::kFileContainingExtension: {
      const auto& wanted = request.file_containing_extension();
      const pb::Descriptor* type = pool.FindMessageTypeByName(wanted.containing_type());
      if (type == nullptr) {
        return SetError(response, grpc::StatusCode::NOT_FOUND,
                        "no message type named \"" + wanted.containing_type() + "\"");
      }
      const pb::FieldDescriptor* extension = pool.FindExtensionByNumber(type, wanted.extension_number());
      if (extension == nullptr) {
        return SetError(response, grpc::StatusCode::NOT_FOUND,
                        "no extension " + std::to_string(wanted.extension_number()) + " of \"" +
                            wanted.containing_type() + "\"");
      }
      return AddFileAndDependencies(extension->file(), sent, response->mutable_file_descriptor_response());
    }
    case Request::kAllExtensionNumbersOfType: {
      const pb::Descriptor* type = pool.FindMessageTypeByName(request.all_extension_numbers_of_type());
      if (type == nullptr) {
        return SetError(response, grpc::StatusCode::NOT_FOUND,
                        "no message type named \"" + request.all_extension_numbers_of_type() + "\"");
      }
      std::vector<const pb::FieldDescriptor*> extensions;
      pool.FindAllExtensions(type, &extensions);
      auto* numbers = response->mutable_all_extension_numbers_response();
      numbers->set_base_type_name(type->full_name());
      for (const pb::FieldDescriptor* extension : extensions) numbers->add_extension_number(extension->number());
      return;
    }
    case Request::kListServices: {
      auto* list = response->mutable_list_services_response();
      for (const std::string& name : core.services) list->add_service()->set_name(name);
      return;
    }
    case Request::MESSAGE_REQUEST_NOT_SET:
      break;
  }
  // Nothing set, or a request kind newer than our copy of reflection.proto (an unknown field).
  SetError(response, grpc::StatusCode::UNIMPLEMENTED,
           "unsupported reflection request: set one of list_services, file_by_filename, file_containing_symbol, "
           "file_containing_extension, all_extension_numbers_of_type");
}

template <typename Request, typename Response>
grpc::Status Serve(const ReflectionService::Core& core, grpc::ServerContext* context,
                   grpc::ServerReaderWriter<Response, Request>* stream) {
  grpc::Status allowed = core.auth->Check(*context);
  if (!allowed.ok()) return allowed;
  std::unordered_set<std::string> sent;  // files already sent on this stream
  Request request;
  while (stream->Read(&request)) {
    Response response;
    Answer(core, request, &sent, &response);
    if (!stream->Write(response)) break;  // the client went away
  }
  return grpc::Status::OK;
}

class V1AlphaService final : public grpc::reflection::v1alpha::ServerReflection::Service {
 public:
  explicit V1AlphaService(const ReflectionService::Core* core) : core_(core) {}
  grpc::Status ServerReflectionInfo(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<grpc::reflection::v1alpha::ServerReflectionResponse,
                               grpc::reflection::v1alpha::ServerReflectionRequest>* stream) override {
    return Serve(*core_, context, stream);
  }

 private:
  const ReflectionService::Core* core_;
};

class V1Service final : public grpc::reflection::v1::ServerReflection::Service {
 public:
  explicit V1Service(const ReflectionService::Core* core) : core_(core) {}
  grpc::Status ServerReflectionInfo(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<grpc::reflection::v1::ServerReflectionResponse,
                               grpc::reflection::v1::ServerReflectionRequest>* stream) override {
    return Serve(*core_, context, stream);
  }

 private:
  const ReflectionService::Core* core_;
};

}  // namespace

ReflectionService::ReflectionService(const TokenAuth* auth, std::vector<std::string> services,
                                     const pb::DescriptorPool* pool) {
  services.push_back(grpc::reflection::v1alpha::ServerReflection::service_full_name());
  services.push_back(grpc::reflection::v1::ServerReflection::service_full_name());
  core_.reset(new Core{auth, std::move(services), pool != nullptr ? pool : pb::DescriptorPool::generated_pool()});
  v1alpha_ = std::make_unique<V1AlphaService>(core_.get());
  v1_ = std::make_unique<V1Service>(core_.get());
}

ReflectionService::~ReflectionService() = default;

const std::vector<std::string>& ReflectionService::service_names() const { return core_->services; }

}  // namespace tutti::coord
