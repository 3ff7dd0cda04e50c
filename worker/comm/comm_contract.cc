#include "worker/comm/comm_contract.h"

#include <cmath>
#include <string>
#include <vector>

namespace tutti::comm::contract {
namespace {

std::string Where(const Communicator& comm, const std::string& what, int64_t count) {
  return absl::StrCat("rank ", comm.rank(), "/", comm.size(), " (", comm.backend(), "): ", what,
                      " count ", count);
}

// Element i on rank r: (r + 1) * (i % 13 + 1), exact in float32 for the sizes used here.
double Value(int rank, int64_t i) { return (rank + 1.0) * static_cast<double>(i % 13 + 1); }

template <typename T>
Status CheckEqual(const std::vector<T>& got, const std::vector<T>& want, const std::string& where) {
  for (size_t i = 0; i < want.size(); ++i) {
    const double g = static_cast<double>(got[i]), w = static_cast<double>(want[i]);
    if (std::fabs(g - w) > 1e-6 * std::fabs(w)) {
      return absl::InternalError(
          absl::StrCat(where, ": element ", i, " expected ", w, ", got ", g));
    }
  }
  return absl::OkStatus();
}

template <typename T>
Status CheckFloatAllreduce(Communicator& comm, DataType type, int64_t count) {
  const int n = comm.size();
  const double sum_of_factors = n * (n + 1) / 2.0;  // sum over r of (r + 1)
  std::vector<T> data(static_cast<size_t>(count)), want(static_cast<size_t>(count));
  for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kAvg, ReduceOp::kMax, ReduceOp::kMin}) {
    for (int64_t i = 0; i < count; ++i) {
      const double base = Value(0, i);
      data[i] = static_cast<T>(Value(comm.rank(), i));
      const double factor = op == ReduceOp::kSum   ? sum_of_factors
                            : op == ReduceOp::kAvg ? sum_of_factors / n
                            : op == ReduceOp::kMax ? n
                                                   : 1.0;
      want[i] = static_cast<T>(base * factor);
    }
    const std::string where = Where(
        comm, absl::StrCat("allreduce op ", static_cast<int>(op), " ", DataTypeName(type)), count);
    TUTTI_RETURN_IF_ERROR(Annotate(comm.Allreduce(data.data(), count, type, op), where));
    TUTTI_RETURN_IF_ERROR(CheckEqual(data, want, where));
  }
  return absl::OkStatus();
}

Status CheckIntegerAllreduce(Communicator& comm) {
  const int n = comm.size(), r = comm.rank();
  const int64_t count = 1001;
  std::vector<int64_t> ints(count), want(count);
  for (int64_t i = 0; i < count; ++i) {
    ints[i] = (int64_t{1} << 40) * r + i;  // needs all 64 bits
    want[i] = (int64_t{1} << 40) * (int64_t{n} * (n - 1) / 2) + i * n;
  }
  std::string where = Where(comm, "allreduce sum int64", count);
  TUTTI_RETURN_IF_ERROR(Annotate(comm.AllreduceSum(ints.data(), count, DataType::kInt64), where));
  TUTTI_RETURN_IF_ERROR(CheckEqual(ints, want, where));

  std::vector<uint8_t> bytes(count), want_bytes(count);
  for (int64_t i = 0; i < count; ++i) {
    bytes[i] = static_cast<uint8_t>((r * 7 + i) % 251);
    uint8_t m = 0;
    for (int k = 0; k < n; ++k) m = std::max<uint8_t>(m, static_cast<uint8_t>((k * 7 + i) % 251));
    want_bytes[i] = m;
  }
  where = Where(comm, "allreduce max uint8", count);
  TUTTI_RETURN_IF_ERROR(
      Annotate(comm.Allreduce(bytes.data(), count, DataType::kUint8, ReduceOp::kMax), where));
  return CheckEqual(bytes, want_bytes, where);
}

Status CheckBucketed(Communicator& comm, double bucket_mb, int64_t count) {
  TUTTI_ASSIGN_OR_RETURN(auto reducer, BucketedAllreducer::Create(&comm, bucket_mb));
  std::vector<float> flat(static_cast<size_t>(count)), want(static_cast<size_t>(count));
  const int n = comm.size();
  for (int64_t i = 0; i < count; ++i) {
    flat[i] = static_cast<float>(Value(comm.rank(), i));
    want[i] = static_cast<float>(Value(0, i) * (n + 1) / 2.0);
  }
  const std::string where =
      Where(comm, absl::StrCat("bucketed average (", bucket_mb, " MiB buckets)"), count);
  TUTTI_RETURN_IF_ERROR(Annotate(reducer->AverageInPlace(flat.data(), count), where));
  return CheckEqual(flat, want, where);
}

}  // namespace

Status CheckAllreduce(Communicator& comm) {
  for (int64_t count : {0, 1, 7, 1000, 300000}) {
    TUTTI_RETURN_IF_ERROR(CheckFloatAllreduce<float>(comm, DataType::kFloat32, count));
    TUTTI_RETURN_IF_ERROR(CheckFloatAllreduce<double>(comm, DataType::kFloat64, count));
  }
  TUTTI_RETURN_IF_ERROR(CheckIntegerAllreduce(comm));
  TUTTI_RETURN_IF_ERROR(CheckBucketed(comm, 0.25, 300000));  // 5 buckets of 65,536 floats
  TUTTI_RETURN_IF_ERROR(CheckBucketed(comm, 25, 313951));    // the generator's gradient
  return CheckBucketed(comm, 25, 7000000);                   // 2 buckets of 25 MiB
}

Status CheckBroadcast(Communicator& comm) {
  for (int root = 0; root < comm.size(); ++root) {
    for (int64_t count : {0, 1, 1000, 100000}) {
      std::vector<double> d(count);
      std::vector<float> f(count);
      std::vector<int64_t> l(count);
      std::vector<uint8_t> b(count);
      std::vector<double> want(count);
      for (int64_t i = 0; i < count; ++i) {
        d[i] = f[i] = static_cast<float>(Value(comm.rank(), i));
        l[i] = comm.rank() * 100000 + i;
        b[i] = static_cast<uint8_t>(comm.rank() + i);
        want[i] = Value(root, i);
      }
      const std::string where = Where(comm, absl::StrCat("broadcast from ", root), count);
      TUTTI_RETURN_IF_ERROR(
          Annotate(comm.Broadcast(d.data(), count, DataType::kFloat64, root), where));
      TUTTI_RETURN_IF_ERROR(
          Annotate(comm.Broadcast(f.data(), count, DataType::kFloat32, root), where));
      TUTTI_RETURN_IF_ERROR(
          Annotate(comm.Broadcast(l.data(), count, DataType::kInt64, root), where));
      TUTTI_RETURN_IF_ERROR(
          Annotate(comm.Broadcast(b.data(), count, DataType::kUint8, root), where));
      TUTTI_RETURN_IF_ERROR(CheckEqual(d, want, where + " float64"));
      TUTTI_RETURN_IF_ERROR(
          CheckEqual(f, std::vector<float>(want.begin(), want.end()), where + " float32"));
      for (int64_t i = 0; i < count; ++i) {
        if (l[i] != root * 100000 + i || b[i] != static_cast<uint8_t>(root + i)) {
          return absl::InternalError(absl::StrCat(where, ": int64/uint8 element ", i, " expected ",
                                                  root * 100000 + i, "/", (root + i) % 256,
                                                  ", got ", l[i], "/", int{b[i]}));
        }
      }
    }
  }
  return absl::OkStatus();
}

Status CheckAgreeOnFlag(Communicator& comm) {
  const int last = comm.size() - 1;
  struct Case {
    const char* name;
    bool mine;
    bool want;
  };
  const Case cases[] = {
      {"nobody", false, false},
      {"last rank only", comm.rank() == last, true},
      {"rank 0 only", comm.rank() == 0, true},
      {"everybody", true, true},
  };
  for (const Case& c : cases) {
    bool flag = c.mine;
    const std::string where = Where(comm, absl::StrCat("agree on flag (", c.name, ")"), 1);
    TUTTI_RETURN_IF_ERROR(Annotate(comm.AgreeOnFlag(&flag), where));
    if (flag != c.want) {
      return absl::InternalError(absl::StrCat(where, ": expected ", c.want, ", got ", flag));
    }
  }
  return absl::OkStatus();
}

Status CheckArgumentErrors(Communicator& comm) {
  float x = 1;
  int64_t l = 1;
  struct Case {
    const char* name;
    Status status;
  };
  const Case cases[] = {
      {"negative count", comm.AllreduceSum(&x, -1, DataType::kFloat32)},
      {"null data", comm.AllreduceSum(nullptr, 3, DataType::kFloat32)},
      {"average of int64", AllreduceAverage(comm, &l, 1, DataType::kInt64)},
      {"root == size", comm.Broadcast(&x, 1, DataType::kFloat32, comm.size())},
      {"root < 0", comm.Broadcast(&x, 1, DataType::kFloat32, -1)},
      {"null flag", comm.AgreeOnFlag(nullptr)},
      {"bucket_mb 0", BucketedAllreducer::Create(&comm, 0).status()},
  };
  for (const Case& c : cases) {
    if (!absl::IsInvalidArgument(c.status)) {
      return absl::InternalError(absl::StrCat(
          Where(comm, c.name, 1), ": expected INVALID_ARGUMENT, got ", c.status.ToString()));
    }
  }
  return absl::OkStatus();
}

Status CheckBarrier(Communicator& comm) {
  for (int i = 0; i < 3; ++i)
    TUTTI_RETURN_IF_ERROR(Annotate(comm.Barrier(), Where(comm, "barrier", 0)));
  return absl::OkStatus();
}

Status CheckAll(Communicator& comm) {
  TUTTI_RETURN_IF_ERROR(CheckArgumentErrors(comm));
  TUTTI_RETURN_IF_ERROR(CheckAllreduce(comm));
  TUTTI_RETURN_IF_ERROR(CheckBroadcast(comm));
  TUTTI_RETURN_IF_ERROR(CheckAgreeOnFlag(comm));
  return CheckBarrier(comm);
}

}  // namespace tutti::comm::contract
