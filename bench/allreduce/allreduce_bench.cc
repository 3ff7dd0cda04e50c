// tutti-bench-allreduce: averages float buffers across ranks two ways in one run and prints both:
//   ours: BucketedAllreducer::AverageInPlace over MpiCommunicator (25 MiB buckets, each bucket an
//         MPI_Iallreduce polled under the stall/timeout protocol, then a divide by n);
//   mpi:  MPI_Allreduce(MPI_IN_PLACE, SUM) on MPI_COMM_WORLD followed by the same divide, i.e. the
//         plain blocking call a hand-written trainer would make.
// Sizes: 1, 2, 4, ..., 64 MiB, plus the generator's (313,951 floats) and the discriminator's
// (204,321 floats) real gradients. Both are verified on every timed iteration against the exact
// mean; any wrong element on any rank makes the exit code 1 (nccl-tests' rule: a fast wrong answer
// is a failure, not a number).
//
// Metrics, as nccl-tests defines them (doc/PERFORMANCE.md):
//   time   median over iterations of the slowest rank's time for one call (each iteration starts
//          after an MPI_Barrier so ranks enter together);
//   algbw  = bytes / time, bytes = count * 4;
//   busbw  = algbw * 2 (n - 1) / n: an allreduce must move 2 (n - 1) / n of the buffer through each
//          rank's link, so busbw is comparable across rank counts and with the hardware's
//          bandwidth.
//   ratio  = mpi time / ours time (>= 0.9 is the goal; > 1 means ours is faster); "best" is the
//          same ratio of the fastest iterations, which is steadier on a shared, loaded machine.
//
// Usage: mpirun -np 2 tutti-bench-allreduce [--min_iters 5] [--max_iters 40] [--bucket_mb 25]

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "worker/comm/communicator.h"
#include "worker/comm/mpi_communicator.h"

namespace {

using tutti::comm::BucketedAllreducer;
using tutti::comm::MpiCommunicator;

struct Flags {
  int min_iters = 5;
  int max_iters = 40;
  double bucket_mb = 25;
};

// Element i on rank r is (r + 1) * (i % 13 + 1); the mean over n ranks is (n + 1) / 2 * (i % 13 +
// 1).
void Fill(std::vector<float>& buffer, int rank) {
  for (size_t i = 0; i < buffer.size(); ++i)
    buffer[i] = static_cast<float>((rank + 1) * (i % 13 + 1));
}

int64_t CountWrong(const std::vector<float>& buffer, int n) {
  int64_t wrong = 0;
  for (size_t i = 0; i < buffer.size(); ++i) {
    const double want = (n + 1) / 2.0 * static_cast<double>(i % 13 + 1);
    if (std::fabs(buffer[i] - want) > 1e-6 * want) ++wrong;
  }
  return wrong;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// One timed call: barrier, run, slowest rank's seconds.
template <typename Fn>
double TimeOnce(Fn fn) {
  MPI_Barrier(MPI_COMM_WORLD);
  const auto start = std::chrono::steady_clock::now();
  fn();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MPI_Allreduce(MPI_IN_PLACE, &seconds, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return seconds;
}

int Run(const Flags& flags) {
  auto created = MpiCommunicator::Create();
  if (!created.ok()) {
    std::fprintf(stderr, "tutti-bench-allreduce: %s\n", created.status().ToString().c_str());
    return 1;
  }
  MpiCommunicator& comm = **created;
  auto reducer_or = BucketedAllreducer::Create(&comm, flags.bucket_mb);
  if (!reducer_or.ok()) {
    std::fprintf(stderr, "tutti-bench-allreduce: %s\n", reducer_or.status().ToString().c_str());
    return 1;
  }
  BucketedAllreducer& reducer = **reducer_or;
  const int n = comm.size(), rank = comm.rank();

  struct Size {
    std::string name;
    int64_t count;
  };
  std::vector<Size> sizes = {{"D grads", 204321}, {"G grads", 313951}};
  for (int mb = 1; mb <= 64; mb *= 2) sizes.push_back({std::to_string(mb) + " MiB", mb * 262144});

  if (rank == 0) {
    std::printf(
        "allreduce-average of float32 over %d ranks; ours = BucketedAllreducer (%g MiB "
        "buckets), mpi = MPI_Allreduce + divide\n",
        n, flags.bucket_mb);
    std::printf("busbw = algbw * 2(n-1)/n; ratio = mpi time / ours time (goal >= 0.90)\n");
    std::printf("%-9s %10s %6s | %10s %8s %8s | %10s %8s %8s | %6s %6s\n", "size", "bytes", "iters",
                "ours us", "algbw", "busbw", "mpi us", "algbw", "busbw", "ratio", "best");
    std::printf("%-9s %10s %6s | %10s %8s %8s | %10s %8s %8s | %6s %6s\n", "", "", "", "(median)",
                "GB/s", "GB/s", "(median)", "GB/s", "GB/s", "", "");
  }
  int64_t wrong_total = 0;
  for (const Size& size : sizes) {
    const int64_t bytes = size.count * 4;
    const int iters =
        std::clamp<int>(static_cast<int>((256LL << 20) / bytes), flags.min_iters, flags.max_iters);
    std::vector<float> buffer(static_cast<size_t>(size.count));
    std::vector<double> ours, mpi;
    int64_t wrong = 0;
    for (int it = -1; it < iters; ++it) {  // it == -1: warm-up, not timed
      Fill(buffer, rank);
      const double t_ours = TimeOnce([&] {
        tutti::Status status = reducer.AverageInPlace(buffer.data(), size.count);
        if (!status.ok()) comm.Abort(status);
      });
      wrong += CountWrong(buffer, n);
      Fill(buffer, rank);
      const double t_mpi = TimeOnce([&] {
        MPI_Allreduce(MPI_IN_PLACE, buffer.data(), static_cast<int>(size.count), MPI_FLOAT, MPI_SUM,
                      MPI_COMM_WORLD);
        for (float& x : buffer) x /= static_cast<float>(n);
      });
      wrong += CountWrong(buffer, n);
      if (it >= 0) {
        ours.push_back(t_ours);
        mpi.push_back(t_mpi);
      }
    }
    MPI_Allreduce(MPI_IN_PLACE, &wrong, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
    wrong_total += wrong;
    const double t_o = Median(ours), t_m = Median(mpi);
    const double best_o = *std::min_element(ours.begin(), ours.end());
    const double best_m = *std::min_element(mpi.begin(), mpi.end());
    const double bus = 2.0 * (n - 1) / n;
    if (rank == 0) {
      std::printf("%-9s %10lld %6d | %10.1f %8.3f %8.3f | %10.1f %8.3f %8.3f | %6.2f %6.2f%s\n",
                  size.name.c_str(), static_cast<long long>(bytes), iters, t_o * 1e6,
                  bytes / t_o / 1e9, bytes / t_o / 1e9 * bus, t_m * 1e6, bytes / t_m / 1e9,
                  bytes / t_m / 1e9 * bus, t_m / t_o, best_m / best_o,
                  wrong ? "  WRONG RESULTS" : "");
      std::fflush(stdout);
    }
  }
  if (wrong_total != 0) {
    if (rank == 0)
      std::fprintf(stderr, "FAILED: %lld wrong elements\n", static_cast<long long>(wrong_total));
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--min_iters")
      flags.min_iters = std::atoi(argv[i + 1]);
    else if (key == "--max_iters")
      flags.max_iters = std::atoi(argv[i + 1]);
    else if (key == "--bucket_mb")
      flags.bucket_mb = std::atof(argv[i + 1]);
    else {
      std::fprintf(
          stderr, "usage: tutti-bench-allreduce [--min_iters N] [--max_iters N] [--bucket_mb X]\n");
      return 2;
    }
  }
  if ((argc - 1) % 2 != 0) {
    std::fprintf(stderr,
                 "usage: tutti-bench-allreduce [--min_iters N] [--max_iters N] [--bucket_mb X]\n");
    return 2;
  }
  return Run(flags);
}
