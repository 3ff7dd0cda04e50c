#include "coordinator/cli/pack_upload.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "core/base/file_util.h"
#include "core/base/progress.h"
#include "core/base/sha256.h"
#include "core/data/pack_manifest.h"
#include "tutti/v1/pack_service.grpc.pb.h"

namespace tutti::cli {
namespace {

namespace fs = std::filesystem;

// One file of a pack: where it is here and what it must hash to.
struct PackFile {
  std::string path;
  std::string sha256;
  int64_t size = 0;
};

Status SendBlob(const rpc::Connection& connection, v1::PackService::Stub& stub, const PackFile& file,
                const std::string& bytes, double timeout_s, Progress* progress) {
  // The deadline grows with the size: a slow link must not time out a large shard.
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000) + file.size / 1000);
  std::unique_ptr<grpc::ClientContext> context = connection.NewContext(timeout);
  v1::UploadBlobResponse response;
  std::unique_ptr<grpc::ClientWriter<v1::UploadBlobRequest>> writer = stub.UploadBlob(context.get(), &response);
  v1::UploadBlobRequest message;
  message.mutable_header()->set_sha256(file.sha256);
  message.mutable_header()->set_size_bytes(file.size);
  bool ok = writer->Write(message);
  for (size_t offset = 0; ok && offset < bytes.size(); offset += static_cast<size_t>(rpc::kChunkBytes)) {
    message.set_data(bytes.substr(offset, static_cast<size_t>(rpc::kChunkBytes)));
    ok = writer->Write(message);
    if (ok && progress != nullptr) progress->Advance(static_cast<int64_t>(message.data().size()));
  }
  if (ok) writer->WritesDone();
  return connection.FromGrpc(writer->Finish(), absl::StrCat("uploading ", file.path));
}

StatusOr<PackUpload> UploadPack(const rpc::Connection& connection, v1::PackService::Stub& stub,
                                const std::string& dir, const std::string& genre, double timeout_s, bool progress) {
  const std::string manifest_path = (fs::path(dir) / "manifest.json").string();
  TUTTI_ASSIGN_OR_RETURN(std::string manifest_bytes, ReadFileToString(manifest_path));
  TUTTI_ASSIGN_OR_RETURN(PackManifest manifest, ReadManifest(manifest_path));
  if (manifest.genre != genre) {
    return absl::FailedPreconditionError(absl::StrCat(manifest_path, ": the pack's genre is \"", manifest.genre,
                                                      "\", not \"", genre, "\""));
  }
  PackUpload upload;
  upload.genre = genre;
  upload.manifest_sha256 = Sha256Hex(manifest_bytes);
  std::vector<PackFile> files = {{manifest_path, upload.manifest_sha256, static_cast<int64_t>(manifest_bytes.size())}};
  for (Split split : kAllSplits) {
    for (const ShardInfo& shard : manifest.shards(split)) {
      files.push_back({(fs::path(dir) / shard.file).string(), shard.sha256, static_cast<int64_t>(shard.bytes)});
    }
  }
  upload.files = static_cast<int>(files.size());
  for (const PackFile& f : files) upload.bytes += f.size;

  v1::MissingBlobsRequest ask;
  for (const PackFile& f : files) ask.add_sha256(f.sha256);
  v1::MissingBlobsResponse missing;
  {
    std::unique_ptr<grpc::ClientContext> context =
        connection.NewContext(std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000)));
    TUTTI_RETURN_IF_ERROR(connection.FromGrpc(stub.MissingBlobs(context.get(), ask, &missing),
                                              absl::StrCat("asking which blobs of the ", genre, " pack are stored")));
  }
  const std::set<std::string> wanted(missing.sha256().begin(), missing.sha256().end());
  int64_t to_send = 0;
  for (const PackFile& f : files) to_send += wanted.count(f.sha256) ? f.size : 0;
  {
    Progress bar(absl::StrCat("[upload ", genre, "]"), to_send, "B", progress && to_send > 0);
    std::set<std::string> sent;
    for (const PackFile& f : files) {
      if (wanted.count(f.sha256) == 0 || !sent.insert(f.sha256).second) continue;
      TUTTI_ASSIGN_OR_RETURN(std::string bytes, f.path == manifest_path ? manifest_bytes : ReadFileToString(f.path));
      TUTTI_RETURN_IF_ERROR(SendBlob(connection, stub, f, bytes, timeout_s, &bar));
      ++upload.files_sent;
      upload.bytes_sent += f.size;
    }
  }
  v1::RegisterPackRequest register_request;
  register_request.set_manifest_sha256(upload.manifest_sha256);
  v1::RegisterPackResponse registered;
  std::unique_ptr<grpc::ClientContext> context =
      connection.NewContext(std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000)));
  TUTTI_RETURN_IF_ERROR(connection.FromGrpc(stub.RegisterPack(context.get(), register_request, &registered),
                                            absl::StrCat("registering the ", genre, " pack (", dir, ")")));
  upload.registered_now = registered.created();
  return upload;
}

}  // namespace

StatusOr<std::vector<std::string>> GenresOfExperiment(const ExperimentConfig& experiment) {
  std::set<std::string> genres(experiment.job.data.genres.begin(), experiment.job.data.genres.end());
  for (const sweep::HyperparameterSpec& h : experiment.hyperparameters) {
    if (h.path != "data.genres") continue;
    for (const std::string& value : h.values) {
      try {
        const YAML::Node node = YAML::Load(value);
        if (node.IsScalar()) {
          genres.insert(node.Scalar());
        } else if (node.IsSequence()) {
          for (const YAML::Node& g : node) genres.insert(g.as<std::string>());
        } else {
          throw YAML::Exception(YAML::Mark::null_mark(), "not a genre or a list of genres");
        }
      } catch (const YAML::Exception& e) {
        return absl::InvalidArgumentError(absl::StrCat("hyperparameters: data.genres value \"", value, "\": ", e.what()));
      }
    }
  }
  return std::vector<std::string>(genres.begin(), genres.end());
}

StatusOr<std::vector<PackUpload>> UploadPacks(const rpc::Connection& connection, const std::string& packs_dir,
                                              const std::vector<std::string>& genres, double timeout_s,
                                              bool progress) {
  std::unique_ptr<v1::PackService::Stub> stub = v1::PackService::NewStub(connection.channel());
  std::vector<PackUpload> uploads;
  for (const std::string& genre : genres) {
    StatusOr<PackUpload> upload =
        UploadPack(connection, *stub, (fs::path(packs_dir) / genre).string(), genre, timeout_s, progress);
    if (!upload.ok()) return Annotate(upload.status(), absl::StrCat("uploading the ", genre, " pack"));
    uploads.push_back(*std::move(upload));
  }
  return uploads;
}

}  // namespace tutti::cli
