// A real CoordinatorServer in this process, a real channel, and both reflection versions (v1alpha: grpcurl
// and grpc_cli; v1: newer clients): what a client needs to discover and call the coordinator, and the token.

#include "coordinator/server/reflection/reflection_service.h"

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/descriptor_database.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "coordinator/server/coordinator_server.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"

namespace tutti::coord {
namespace {

namespace pb = google::protobuf;

template <typename ServiceT, typename RequestT, typename ResponseT>
struct Version {
  using Service = ServiceT;
  using Request = RequestT;
  using Response = ResponseT;
};
using V1Alpha = Version<grpc::reflection::v1alpha::ServerReflection, grpc::reflection::v1alpha::ServerReflectionRequest,
                        grpc::reflection::v1alpha::ServerReflectionResponse>;
using V1 = Version<grpc::reflection::v1::ServerReflection, grpc::reflection::v1::ServerReflectionRequest,
                   grpc::reflection::v1::ServerReflectionResponse>;

template <typename V>
class ReflectionTest : public ::testing::Test {
 protected:
  using Request = typename V::Request;
  using Response = typename V::Response;

  void SetUp() override {
    char dir[] = "/tmp/tutti-reflection-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    home_ = dir;
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(std::chrono::milliseconds(0));
    server_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(home_, ignored);
  }

  void Start(const std::string& token = "") {
    CoordinatorServerOptions options;
    options.home = home_;
    options.listen = "127.0.0.1:0";
    options.token = token;
    StatusOr<std::unique_ptr<CoordinatorServer>> server = CoordinatorServer::Start(std::move(options));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server).value();
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
  }

  // Sends `requests` on one stream (one at a time, each answered before the next), closes it, and returns
  // the call's status; the answers go to `responses`.
  grpc::Status Exchange(const std::vector<Request>& requests, std::vector<Response>* responses,
                        const std::string& token = "") {
    auto stub = V::Service::NewStub(channel_);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    auto stream = stub->ServerReflectionInfo(&context);
    for (const Request& request : requests) {
      if (!stream->Write(request)) break;
      Response response;
      if (!stream->Read(&response)) break;
      responses->push_back(std::move(response));
    }
    stream->WritesDone();
    Response extra;
    while (stream->Read(&extra)) ADD_FAILURE() << "unexpected extra response: " << extra.DebugString();
    return stream->Finish();
  }

  // One request on its own stream; the call must succeed and answer once.
  Response Ask(const Request& request, const std::string& token = "") {
    std::vector<Response> responses;
    grpc::Status status = Exchange({request}, &responses, token);
    EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
    EXPECT_EQ(responses.size(), 1u);
    return responses.empty() ? Response() : responses[0];
  }

  static Request ListServices() {
    Request request;
    request.set_list_services("*");
    return request;
  }
  static Request Symbol(const std::string& name) {
    Request request;
    request.set_file_containing_symbol(name);
    return request;
  }

  static std::vector<std::string> ServiceNames(const Response& response) {
    std::vector<std::string> names;
    for (const auto& service : response.list_services_response().service()) names.push_back(service.name());
    return names;
  }

  // The FileDescriptorProtos of a file_descriptor_response, parsed (failing the test for any that does not).
  static std::vector<pb::FileDescriptorProto> Files(const Response& response) {
    std::vector<pb::FileDescriptorProto> files;
    for (const std::string& bytes : response.file_descriptor_response().file_descriptor_proto()) {
      pb::FileDescriptorProto file;
      EXPECT_TRUE(file.ParseFromString(bytes));
      files.push_back(std::move(file));
    }
    return files;
  }
  static std::vector<std::string> FileNames(const Response& response) {
    std::vector<std::string> names;
    for (const pb::FileDescriptorProto& file : Files(response)) names.push_back(file.name());
    return names;
  }

  std::string home_;
  std::unique_ptr<CoordinatorServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

using Versions = ::testing::Types<V1Alpha, V1>;
TYPED_TEST_SUITE(ReflectionTest, Versions);

TYPED_TEST(ReflectionTest, ListsEveryServiceIncludingHealthAndReflection) {
  this->Start();
  const auto response = this->Ask(this->ListServices());
  ASSERT_TRUE(response.has_list_services_response()) << response.DebugString();
  const std::vector<std::string> names = this->ServiceNames(response);
  for (const char* expected :
       {"tutti.v1.ExperimentService", "tutti.v1.WorkerService", "tutti.v1.CheckpointService",
        "tutti.v1.SampleService", "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection",
        "grpc.reflection.v1.ServerReflection"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
  EXPECT_EQ(response.original_request().list_services(), "*");
}

TYPED_TEST(ReflectionTest, FileContainingServiceComesWithItsDependenciesAndDescribesTheMethods) {
  this->Start();
  const auto response = this->Ask(this->Symbol("tutti.v1.WorkerService"));
  ASSERT_TRUE(response.has_file_descriptor_response()) << response.DebugString();
  const std::vector<pb::FileDescriptorProto> files = this->Files(response);
  ASSERT_FALSE(files.empty());
  EXPECT_EQ(files[0].name(), "tutti/v1/worker_service.proto");  // the file asked for comes first
  const std::vector<std::string> names = this->FileNames(response);
  EXPECT_NE(std::find(names.begin(), names.end(), "tutti/v1/common.proto"), names.end());

  // What a client does with them: build a pool from exactly these files (no fallback to ours); it builds
  // only if every import and every type the file uses resolves.
  pb::SimpleDescriptorDatabase database;
  for (const pb::FileDescriptorProto& file : files) ASSERT_TRUE(database.Add(file)) << file.name();
  pb::DescriptorPool pool(&database);
  const pb::ServiceDescriptor* service = pool.FindServiceByName("tutti.v1.WorkerService");
  ASSERT_NE(service, nullptr);
  const pb::MethodDescriptor* lease = service->FindMethodByName("LeaseTrial");
  ASSERT_NE(lease, nullptr);
  EXPECT_EQ(lease->input_type()->full_name(), "tutti.v1.LeaseTrialRequest");
  EXPECT_EQ(lease->output_type()->full_name(), "tutti.v1.LeaseTrialResponse");
}

TYPED_TEST(ReflectionTest, FindsMethodsMessagesAndFilesByName) {
  this->Start();
  const auto method = this->Ask(this->Symbol("tutti.v1.WorkerService.LeaseTrial"));
  ASSERT_FALSE(this->FileNames(method).empty()) << method.DebugString();
  EXPECT_EQ(this->FileNames(method)[0], "tutti/v1/worker_service.proto");

  const auto message = this->Ask(this->Symbol("tutti.v1.LeaseTrialRequest"));
  ASSERT_FALSE(this->FileNames(message).empty()) << message.DebugString();
  EXPECT_EQ(this->FileNames(message)[0], "tutti/v1/worker_service.proto");

  typename TestFixture::Request by_name;
  by_name.set_file_by_filename("tutti/v1/common.proto");
  const auto file = this->Ask(by_name);
  EXPECT_EQ(this->FileNames(file), std::vector<std::string>{"tutti/v1/common.proto"});
}

TYPED_TEST(ReflectionTest, UnknownNamesGetNotFoundAndTheStreamGoesOn) {
  this->Start();
  typename TestFixture::Request no_file;
  no_file.set_file_by_filename("tutti/v1/nope.proto");
  typename TestFixture::Request no_extension;
  no_extension.mutable_file_containing_extension()->set_containing_type("tutti.v1.LeaseTrialRequest");
  no_extension.mutable_file_containing_extension()->set_extension_number(4242);
  typename TestFixture::Request no_type;
  no_type.set_all_extension_numbers_of_type("tutti.v1.NoSuchMessage");
  std::vector<typename TestFixture::Response> responses;
  grpc::Status status = this->Exchange(
      {this->Symbol("tutti.v1.NoSuchService"), no_file, no_extension, no_type, this->ListServices()}, &responses);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(responses.size(), 5u);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(responses[i].has_error_response()) << i << ": " << responses[i].DebugString();
    EXPECT_EQ(responses[i].error_response().error_code(), static_cast<int>(grpc::StatusCode::NOT_FOUND)) << i;
    EXPECT_FALSE(responses[i].error_response().error_message().empty()) << i;
  }
  EXPECT_NE(responses[0].error_response().error_message().find("tutti.v1.NoSuchService"), std::string::npos);
  EXPECT_EQ(responses[0].original_request().file_containing_symbol(), "tutti.v1.NoSuchService");
  EXPECT_TRUE(responses[4].has_list_services_response());  // errors do not end the stream
}

TYPED_TEST(ReflectionTest, ExtensionNumbersOfAMessageWithoutExtensions) {
  this->Start();
  typename TestFixture::Request request;
  request.set_all_extension_numbers_of_type("tutti.v1.LeaseTrialRequest");
  const auto response = this->Ask(request);
  ASSERT_TRUE(response.has_all_extension_numbers_response()) << response.DebugString();
  EXPECT_EQ(response.all_extension_numbers_response().base_type_name(), "tutti.v1.LeaseTrialRequest");
  EXPECT_EQ(response.all_extension_numbers_response().extension_number_size(), 0);
}

TYPED_TEST(ReflectionTest, DependenciesAreSentOncePerStream) {
  this->Start();
  std::vector<typename TestFixture::Response> responses;
  grpc::Status status = this->Exchange({this->Symbol("tutti.v1.WorkerService"),
                                        this->Symbol("tutti.v1.ExperimentService"),
                                        this->Symbol("tutti.v1.WorkerService")},
                                       &responses);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(responses.size(), 3u);
  const std::vector<std::string> first = this->FileNames(responses[0]);
  EXPECT_NE(std::find(first.begin(), first.end(), "tutti/v1/common.proto"), first.end());
  // experiment_service.proto also imports common.proto, already sent on this stream.
  EXPECT_EQ(this->FileNames(responses[1]), std::vector<std::string>{"tutti/v1/experiment_service.proto"});
  // A file asked for again is sent again (it was asked for), its dependencies are not.
  EXPECT_EQ(this->FileNames(responses[2]), std::vector<std::string>{"tutti/v1/worker_service.proto"});

  // A new stream starts afresh.
  const auto again = this->Ask(this->Symbol("tutti.v1.ExperimentService"));
  const std::vector<std::string> fresh = this->FileNames(again);
  EXPECT_NE(std::find(fresh.begin(), fresh.end(), "tutti/v1/common.proto"), fresh.end());
}

TYPED_TEST(ReflectionTest, TokenIsRequiredWhenConfigured) {
  this->Start("s3cret");
  std::vector<typename TestFixture::Response> responses;
  grpc::Status missing = this->Exchange({this->ListServices()}, &responses);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::UNAUTHENTICATED) << missing.error_message();
  grpc::Status wrong = this->Exchange({this->ListServices()}, &responses, "not-it");
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED) << wrong.error_message();
  EXPECT_TRUE(responses.empty());  // nothing was answered to either

  const auto response = this->Ask(this->Symbol("tutti.v1.WorkerService"), "s3cret");
  EXPECT_TRUE(response.has_file_descriptor_response()) << response.DebugString();
}

// Extensions, answered from a pool of our own (nothing compiled into the coordinator declares any):
//   ext/base.proto   message Base { extensions 100 to 199; }
//   ext/more.proto   import "ext/base.proto"; extend Base { optional int32 extra = 100; optional string note = 101; }
// on a bare server with only the reflection service, both versions' stubs sharing the same answers.
TEST(ReflectionExtensionsTest, FileContainingExtensionAndAllExtensionNumbers) {
  pb::FileDescriptorProto base;
  base.set_name("ext/base.proto");
  base.set_package("ext");
  pb::DescriptorProto* message = base.add_message_type();
  message->set_name("Base");
  message->add_extension_range()->set_start(100);
  message->mutable_extension_range(0)->set_end(200);
  pb::FileDescriptorProto more;
  more.set_name("ext/more.proto");
  more.set_package("ext");
  more.add_dependency("ext/base.proto");
  for (auto [name, number, type] : {std::tuple{"extra", 100, pb::FieldDescriptorProto::TYPE_INT32},
                                    std::tuple{"note", 101, pb::FieldDescriptorProto::TYPE_STRING}}) {
    pb::FieldDescriptorProto* extension = more.add_extension();
    extension->set_name(name);
    extension->set_number(number);
    extension->set_type(type);
    extension->set_label(pb::FieldDescriptorProto::LABEL_OPTIONAL);
    extension->set_extendee(".ext.Base");
  }
  pb::DescriptorPool pool;
  ASSERT_NE(pool.BuildFile(base), nullptr);
  ASSERT_NE(pool.BuildFile(more), nullptr);

  TokenAuth auth("");
  ReflectionService reflection(&auth, {"ext.Nothing"}, &pool);
  EXPECT_EQ(reflection.service_names(),
            (std::vector<std::string>{"ext.Nothing", "grpc.reflection.v1alpha.ServerReflection",
                                      "grpc.reflection.v1.ServerReflection"}));
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(reflection.v1alpha());
  builder.RegisterService(reflection.v1());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());

  auto stub = grpc::reflection::v1::ServerReflection::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto stream = stub->ServerReflectionInfo(&context);
  grpc::reflection::v1::ServerReflectionRequest request;
  grpc::reflection::v1::ServerReflectionResponse response;

  request.set_all_extension_numbers_of_type("ext.Base");
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_TRUE(response.has_all_extension_numbers_response()) << response.DebugString();
  EXPECT_EQ(response.all_extension_numbers_response().base_type_name(), "ext.Base");
  std::vector<int> numbers(response.all_extension_numbers_response().extension_number().begin(),
                           response.all_extension_numbers_response().extension_number().end());
  std::sort(numbers.begin(), numbers.end());
  EXPECT_EQ(numbers, (std::vector<int>{100, 101}));

  request.mutable_file_containing_extension()->set_containing_type("ext.Base");
  request.mutable_file_containing_extension()->set_extension_number(101);
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_TRUE(response.has_file_descriptor_response()) << response.DebugString();
  std::vector<std::string> names;
  for (const std::string& bytes : response.file_descriptor_response().file_descriptor_proto()) {
    pb::FileDescriptorProto file;
    ASSERT_TRUE(file.ParseFromString(bytes));
    names.push_back(file.name());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"ext/more.proto", "ext/base.proto"}));

  request.mutable_file_containing_extension()->set_extension_number(150);  // in range, not declared
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_TRUE(response.has_error_response()) << response.DebugString();
  EXPECT_EQ(response.error_response().error_code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));

  request.set_file_containing_symbol("ext.extra");  // an extension is a symbol too
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_EQ(response.file_descriptor_response().file_descriptor_proto_size(), 1) << response.DebugString();

  request.Clear();  // no request kind set
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_TRUE(response.has_error_response()) << response.DebugString();
  EXPECT_EQ(response.error_response().error_code(), static_cast<int>(grpc::StatusCode::UNIMPLEMENTED));

  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  server->Shutdown(std::chrono::system_clock::now());
}

// The health service stays open without the token (probes carry none); it is gRPC's own.
TEST(ReflectionServerTest, HealthNeedsNoTokenWhileReflectionDoes) {
  char dir[] = "/tmp/tutti-reflection-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  {
    CoordinatorServerOptions options;
    options.home = dir;
    options.listen = "127.0.0.1:0";
    options.token = "s3cret";
    StatusOr<std::unique_ptr<CoordinatorServer>> server = CoordinatorServer::Start(std::move(options));
    ASSERT_TRUE(server.ok()) << server.status();
    auto channel = grpc::CreateChannel((*server)->address(), grpc::InsecureChannelCredentials());
    // grpc.health.v1.Health/Check with an empty HealthCheckRequest (service "" = the server); the reply
    // {status: SERVING} is the bytes 08 01.
    grpc::GenericStub generic(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    grpc::ByteBuffer request;
    grpc::Slice empty("");
    request = grpc::ByteBuffer(&empty, 1);
    grpc::ByteBuffer reply;
    grpc::Status status;
    bool done = false;
    std::mutex mu;
    std::condition_variable cv;
    generic.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &reply,
                      [&](grpc::Status s) {
                        std::lock_guard<std::mutex> lock(mu);
                        status = std::move(s);
                        done = true;
                        cv.notify_one();
                      });
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return done; });
    }
    EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
    std::vector<grpc::Slice> slices;
    ASSERT_TRUE(reply.Dump(&slices).ok());
    std::string bytes;
    for (const grpc::Slice& slice : slices) bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    EXPECT_EQ(bytes, std::string("\x08\x01", 2));

    auto stub = grpc::reflection::v1alpha::ServerReflection::NewStub(channel);
    grpc::ClientContext reflection_context;
    reflection_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    auto stream = stub->ServerReflectionInfo(&reflection_context);
    grpc::reflection::v1alpha::ServerReflectionRequest list;
    list.set_list_services("");
    stream->Write(list);
    stream->WritesDone();
    grpc::reflection::v1alpha::ServerReflectionResponse ignored;
    while (stream->Read(&ignored)) {
    }
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
    (*server)->Shutdown(std::chrono::milliseconds(0));
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

}  // namespace
}  // namespace tutti::coord
