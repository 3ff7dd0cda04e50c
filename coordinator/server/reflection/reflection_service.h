#pragma once
// ReflectionService: gRPC server reflection (grpc.reflection.v1alpha.ServerReflection, which grpcurl and
// grpc_cli use, and grpc.reflection.v1.ServerReflection, which newer clients try first) behind the
// coordinator's bearer token. gRPC's built-in reflection plugin cannot be made to check the token, so this
// replaces it: every call starts with TokenAuth::Check and fails with UNAUTHENTICATED like any other call.
//
// Answers, on one bidirectional stream, any number of requests, one response each:
//   list_services                  the names given at construction plus the two reflection services
//   file_by_filename               that file
//   file_containing_symbol         the file defining a service, method, message, field, enum, enum value...
//   file_containing_extension      the file defining extension <number> of <containing_type>
//   all_extension_numbers_of_type  the numbers of the known extensions of a message type
// Files come as serialized FileDescriptorProtos: the requested file first, then those of its transitive
// dependencies that this stream has not sent yet (clients need them to resolve the file's types).
// Unknown names get an error_response (NOT_FOUND), as reflection.proto says; the call itself stays OK.
// Files and symbols are looked up in DescriptorPool::generated_pool() (everything compiled in).
//
// Thread-safety: immutable after construction; calls run concurrently on the server's threads.

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "coordinator/server/auth.h"

namespace google::protobuf {
class DescriptorPool;
}  // namespace google::protobuf

namespace tutti::coord {

class ReflectionService {
 public:
  // services: full names of the other services registered on the server (e.g. "tutti.v1.WorkerService",
  // "grpc.health.v1.Health"); list_services adds the two reflection services. auth is not owned and must
  // outlive this. pool: where files and symbols are found; null = the generated pool. Not owned.
  ReflectionService(const TokenAuth* auth, std::vector<std::string> services,
                    const google::protobuf::DescriptorPool* pool = nullptr);
  ~ReflectionService();
  ReflectionService(const ReflectionService&) = delete;
  ReflectionService& operator=(const ReflectionService&) = delete;

  // Register both on the server builder; they live as long as this object.
  grpc::Service* v1alpha() { return v1alpha_.get(); }
  grpc::Service* v1() { return v1_.get(); }

  // What list_services answers (the given names, then grpc.reflection.v1alpha.ServerReflection and
  // grpc.reflection.v1.ServerReflection).
  const std::vector<std::string>& service_names() const;

  struct Core;  // shared by both versions (reflection_service.cc)

 private:
  std::unique_ptr<const Core> core_;
  std::unique_ptr<grpc::Service> v1alpha_;
  std::unique_ptr<grpc::Service> v1_;
};

}  // namespace tutti::coord
