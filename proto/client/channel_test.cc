#include "proto/client/channel.h"

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace tutti::rpc {
namespace {

std::string TempFile(const std::string& name, const std::string& content) {
  const std::string path = (std::filesystem::temp_directory_path() / (name + std::to_string(::getpid()))).string();
  std::ofstream(path) << content;
  return path;
}

TEST(Connection, TokenFileFirstLineTrimmed) {
  const std::string path = TempFile("token", "  s3cret \nignored\n");
  StatusOr<std::string> token = ReadTokenFile(path);
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, "s3cret");
  std::filesystem::remove(path);
}

TEST(Connection, EmptyOrMissingTokenFileNamesIt) {
  const std::string path = TempFile("empty-token", "\n");
  StatusOr<std::string> token = ReadTokenFile(path);
  ASSERT_FALSE(token.ok());
  EXPECT_NE(token.status().message().find(path), std::string::npos) << token.status();
  std::filesystem::remove(path);
  token = ReadTokenFile("/nonexistent/token");
  ASSERT_FALSE(token.ok());
  EXPECT_NE(token.status().message().find("/nonexistent/token"), std::string::npos) << token.status();
}

TEST(Connection, FlagsBeatEnvironmentBeatsDefault) {
  ::unsetenv("TUTTI_COORDINATOR");
  ::unsetenv("TUTTI_TOKEN");
  StatusOr<ConnectionOptions> o = ResolveConnectionOptions("", "");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->address, kDefaultAddress);
  EXPECT_EQ(o->token, "");
  ::setenv("TUTTI_COORDINATOR", "10.0.0.1:9000", 1);
  ::setenv("TUTTI_TOKEN", "from-env", 1);
  o = ResolveConnectionOptions("", "");
  EXPECT_EQ(o->address, "10.0.0.1:9000");
  EXPECT_EQ(o->token, "from-env");
  const std::string path = TempFile("token-flag", "from-file\n");
  o = ResolveConnectionOptions("127.0.0.1:1", path);
  EXPECT_EQ(o->address, "127.0.0.1:1");
  EXPECT_EQ(o->token, "from-file");
  std::filesystem::remove(path);
  ::unsetenv("TUTTI_COORDINATOR");
  ::unsetenv("TUTTI_TOKEN");
}

TEST(Connection, StatusCodesMapOneToOne) {
  for (int code = 0; code <= 16; ++code) {
    Status s(static_cast<absl::StatusCode>(code), code == 0 ? "" : "why");
    EXPECT_EQ(static_cast<int>(ToGrpcStatus(s).error_code()), code);
    EXPECT_EQ(FromGrpcStatus(ToGrpcStatus(s)), s);
  }
}

TEST(Connection, RetriesTransientErrorsOnlyAndGivesUp) {
  int calls = 0;
  RetryPolicy fast{std::chrono::milliseconds(1), std::chrono::milliseconds(2), std::chrono::milliseconds(2000)};
  Status s = CallWithRetry(fast, [&] { return ++calls < 3 ? absl::UnavailableError("down") : absl::OkStatus(); });
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(calls, 3);
  calls = 0;
  s = CallWithRetry(fast, [&] { ++calls; return absl::InvalidArgumentError("bad"); });
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(calls, 1);
  calls = 0;
  RetryPolicy short_total{std::chrono::milliseconds(5), std::chrono::milliseconds(5), std::chrono::milliseconds(60)};
  s = CallWithRetry(short_total, [&] { ++calls; return absl::UnavailableError("down"); });
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_GT(calls, 1);
  EXPECT_LT(calls, 30);
}

TEST(Connection, UnreachableCoordinatorIsNamed) {
  StatusOr<std::shared_ptr<Connection>> c = Connection::Create({"127.0.0.1:1", "", ""});
  ASSERT_TRUE(c.ok());
  Status s = (*c)->FromGrpc(grpc::Status(grpc::StatusCode::UNAVAILABLE, "failed to connect"), "listing experiments");
  EXPECT_NE(s.message().find("cannot reach the coordinator at 127.0.0.1:1"), std::string::npos) << s;
}

}  // namespace
}  // namespace tutti::rpc
