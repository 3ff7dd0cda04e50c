#include "coordinator/server/auth.h"

namespace tutti::coord {

bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

grpc::Status TokenAuth::Check(const grpc::ServerContext& context) const {
  if (token_.empty()) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return CheckValue("", false);
  return CheckValue(std::string(it->second.data(), it->second.size()), true);
}

grpc::Status TokenAuth::CheckValue(const std::string& value, bool present, bool bearer) const {
  if (token_.empty()) return grpc::Status::OK;
  if (!present) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "this coordinator requires a token: send \"authorization: Bearer <token>\" (tutti reads it "
                        "from --token-file or TUTTI_TOKEN)");
  }
  static const std::string kPrefix = "Bearer ";
  if (bearer && value.compare(0, kPrefix.size(), kPrefix) != 0) {
    // Say which part is wrong (a Basic header, a bare token) without echoing what was sent.
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "wrong token: expected \"authorization: Bearer <token>\", got a value without the "
                        "\"Bearer \" scheme");
  }
  if (!ConstantTimeEquals(bearer ? value.substr(kPrefix.size()) : value, token_)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "wrong token");
  }
  return grpc::Status::OK;
}

}  // namespace tutti::coord
