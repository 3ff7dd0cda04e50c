#include "worker/comm/communicator.h"

#include <algorithm>
#include <cstdio>

namespace tutti::comm {

size_t DataTypeSize(DataType type) {
  switch (type) {
    case DataType::kFloat32:
      return 4;
    case DataType::kFloat64:
      return 8;
    case DataType::kInt64:
      return 8;
    case DataType::kUint8:
      return 1;
  }
  return 0;
}

std::string DataTypeName(DataType type) {
  switch (type) {
    case DataType::kFloat32:
      return "float32";
    case DataType::kFloat64:
      return "float64";
    case DataType::kInt64:
      return "int64";
    case DataType::kUint8:
      return "uint8";
  }
  return "unknown";
}

Communicator::~Communicator() = default;

Status Communicator::AgreeOnFlag(bool* flag) {
  if (flag == nullptr) return absl::InvalidArgumentError("AgreeOnFlag: flag is null");
  // uint8 max == logical OR; every backend supports it on host memory.
  uint8_t value = *flag ? 1 : 0;
  TUTTI_RETURN_IF_ERROR(host().Allreduce(&value, 1, DataType::kUint8, ReduceOp::kMax));
  *flag = value != 0;
  return absl::OkStatus();
}

Status AllreduceAverage(Communicator& comm, void* data, int64_t count, DataType type) {
  return comm.Allreduce(data, count, type, ReduceOp::kAvg);
}

std::vector<std::pair<int64_t, int64_t>> SplitIntoBuckets(int64_t count, int64_t bucket_elems) {
  std::vector<std::pair<int64_t, int64_t>> buckets;
  if (bucket_elems < 1) bucket_elems = 1;
  for (int64_t offset = 0; offset < count; offset += bucket_elems) {
    buckets.emplace_back(offset, std::min(bucket_elems, count - offset));
  }
  return buckets;
}

namespace internal {

Status CheckAllreduceArgs(const void* data, int64_t count, DataType type, ReduceOp op) {
  if (count < 0) {
    return absl::InvalidArgumentError(absl::StrCat("allreduce: count must be >= 0, got ", count));
  }
  if (data == nullptr && count > 0) {
    return absl::InvalidArgumentError(absl::StrCat("allreduce: data is null but count is ", count));
  }
  if (op == ReduceOp::kAvg && type != DataType::kFloat32 && type != DataType::kFloat64) {
    return absl::InvalidArgumentError(
        absl::StrCat("allreduce: average needs float32 or float64, got ", DataTypeName(type)));
  }
  return absl::OkStatus();
}

Status CheckBroadcastArgs(const void* data, int64_t count, int root, int size) {
  if (count < 0) {
    return absl::InvalidArgumentError(absl::StrCat("broadcast: count must be >= 0, got ", count));
  }
  if (data == nullptr && count > 0) {
    return absl::InvalidArgumentError(absl::StrCat("broadcast: data is null but count is ", count));
  }
  if (root < 0 || root >= size) {
    return absl::InvalidArgumentError(
        absl::StrCat("broadcast: root must be in [0, ", size, "), got ", root));
  }
  return absl::OkStatus();
}

}  // namespace internal

StatusOr<std::unique_ptr<BucketedAllreducer>> BucketedAllreducer::Create(Communicator* comm,
                                                                         double bucket_mb) {
  if (comm == nullptr) return absl::InvalidArgumentError("BucketedAllreducer: comm is null");
  if (!(bucket_mb > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("BucketedAllreducer: bucket_mb must be > 0, got ", bucket_mb));
  }
  const double elems = bucket_mb * 1024.0 * 1024.0 / sizeof(float);
  const int64_t bucket_elems = std::max<int64_t>(1, static_cast<int64_t>(elems));
  return std::unique_ptr<BucketedAllreducer>(new BucketedAllreducer(comm, bucket_elems));
}

namespace {

Status ReduceBuckets(Communicator* comm, float* flat, int64_t count, int64_t bucket_elems,
                     ReduceOp op) {
  TUTTI_RETURN_IF_ERROR(internal::CheckAllreduceArgs(flat, count, DataType::kFloat32, op));
  const auto buckets = SplitIntoBuckets(count, bucket_elems);
  for (size_t i = 0; i < buckets.size(); ++i) {
    const auto [offset, length] = buckets[i];
    Status status = comm->Allreduce(flat + offset, length, DataType::kFloat32, op);
    if (!status.ok()) {
      return Annotate(status, absl::StrCat("bucket ", i + 1, "/", buckets.size(), " (floats [",
                                           offset, ", ", offset + length, ") of ", count, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

Status BucketedAllreducer::AverageInPlace(float* flat, int64_t count) {
  return ReduceBuckets(comm_, flat, count, bucket_elems_, ReduceOp::kAvg);
}

Status BucketedAllreducer::SumInPlace(float* flat, int64_t count) {
  return ReduceBuckets(comm_, flat, count, bucket_elems_, ReduceOp::kSum);
}

}  // namespace tutti::comm
