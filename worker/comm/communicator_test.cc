// Unit tests without MPI: LocalCommunicator against the shared contract, bucket splitting, agreements
// (agreement.h), and BucketedAllreducer over a wrapping communicator that records calls and can fail the
// Nth one. The agreements on 2 and 3 real ranks: mpi_test.cc (mode "agreement").

#include "worker/comm/communicator.h"

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/comm/agreement.h"
#include "worker/comm/comm_contract.h"
#include "worker/comm/comm_factory.h"
#include "worker/comm/local_communicator.h"

namespace tutti::comm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

// Wraps a real communicator: records each allreduce's count, and fails collective #fail_at.
class RecordingCommunicator final : public Communicator {
 public:
  explicit RecordingCommunicator(Communicator* inner, int fail_at = 0)
      : inner_(inner), fail_at_(fail_at) {}
  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  int local_rank() const override { return inner_->local_rank(); }
  int local_size() const override { return inner_->local_size(); }
  DeviceKind device() const override { return inner_->device(); }
  std::string backend() const override { return "recording"; }
  Status Allreduce(void* data, int64_t count, DataType type, ReduceOp op) override {
    counts.push_back(count);
    if (++calls == fail_at_) return absl::DeadlineExceededError("injected: peer 1 never arrived");
    return inner_->Allreduce(data, count, type, op);
  }
  Status Broadcast(void* data, int64_t count, DataType type, int root) override {
    broadcast_counts.push_back(count);
    if (++calls == fail_at_) return absl::DeadlineExceededError("injected: peer 1 never arrived");
    return inner_->Broadcast(data, count, type, root);
  }
  Status Barrier() override { return inner_->Barrier(); }
  Communicator& host() override { return *this; }
  [[noreturn]] void Abort(const Status& reason) override {
    inner_->Abort(reason);
    std::abort();  // inner Abort never returns; this tells the compiler so
  }

  std::vector<int64_t> counts;            // allreduce element counts, in call order
  std::vector<int64_t> broadcast_counts;  // broadcast element counts, in call order
  int calls = 0;                          // collectives of either kind

 private:
  Communicator* inner_;
  int fail_at_;
};

TEST(LocalCommunicator, MeetsTheContract) {
  LocalCommunicator comm;
  EXPECT_EQ(comm.rank(), 0);
  EXPECT_EQ(comm.size(), 1);
  EXPECT_EQ(comm.local_rank(), 0);
  EXPECT_EQ(comm.local_size(), 1);
  EXPECT_EQ(comm.backend(), "local");
  EXPECT_EQ(comm.device(), DeviceKind::kCpu);
  Status status = contract::CheckAll(comm);
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_GT(comm.collectives_started(), 50);
}

TEST(LocalCommunicator, CudaDeviceHasHostTwin) {
  LocalCommunicator comm(DeviceKind::kCuda);
  EXPECT_EQ(comm.device(), DeviceKind::kCuda);
  EXPECT_EQ(comm.host().device(), DeviceKind::kCpu);
  bool flag = true;
  ASSERT_TRUE(comm.AgreeOnFlag(&flag).ok());
  EXPECT_TRUE(flag);
}

TEST(LocalCommunicator, BadArgumentsNameWhatWasWrong) {
  LocalCommunicator comm;
  float x = 0;
  EXPECT_THAT(std::string(comm.AllreduceSum(&x, -4, DataType::kFloat32).message()),
              HasSubstr("count must be >= 0, got -4"));
  EXPECT_THAT(std::string(comm.Broadcast(&x, 1, DataType::kFloat32, 1).message()),
              HasSubstr("root must be in [0, 1), got 1"));
  EXPECT_THAT(std::string(AllreduceAverage(comm, &x, 1, DataType::kUint8).message()),
              HasSubstr("average needs float32 or float64, got uint8"));
}

TEST(Agreement, BroadcastStringSendsTheLengthThenTheBytes) {
  LocalCommunicator local;
  RecordingCommunicator comm(&local);
  StatusOr<std::string> got = BroadcastString(comm, std::string("ckpt-00000010.tutti"), 0);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "ckpt-00000010.tutti");
  // Binary bytes survive (a checkpoint travels this way), and "" still makes both collectives, so the
  // number of collectives never depends on the value.
  const std::string binary("\0\x01\xff\0TUTTICKP", 12);
  got = BroadcastString(comm, binary, 0);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, binary);
  got = BroadcastString(comm, "", 0);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "");
  EXPECT_THAT(comm.broadcast_counts, ElementsAre(1, 19, 1, 12, 1, 0));
}

TEST(Agreement, BroadcastStringRefusesAnOverLongValueAfterTheLength) {
  LocalCommunicator local;
  RecordingCommunicator comm(&local);
  StatusOr<std::string> got = BroadcastString(comm, "0123456789", 0, /*max_bytes=*/4);
  EXPECT_TRUE(absl::IsResourceExhausted(got.status())) << got.status();
  EXPECT_THAT(std::string(got.status().message()), HasSubstr("rank 0's value is 10 bytes, more than the limit of 4"));
  // Only the length went out: every rank learns it and fails the same way, nobody waits for the bytes.
  EXPECT_THAT(comm.broadcast_counts, ElementsAre(1));
  EXPECT_TRUE(BroadcastString(comm, "0123", 0, 4).ok());
}

TEST(Agreement, BadArgumentsStartNoCollective) {
  LocalCommunicator local;
  RecordingCommunicator comm(&local);
  Status status = BroadcastString(comm, "x", 1).status();
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("root must be in [0, 1), got 1"));
  EXPECT_TRUE(absl::IsInvalidArgument(BroadcastString(comm, "x", 0, -1).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(BroadcastInt64(comm, 3, -1).status()));
  EXPECT_EQ(comm.calls, 0);
}

TEST(Agreement, IntegersAndFailuresKeepTheCause) {
  LocalCommunicator local;
  RecordingCommunicator comm(&local);
  StatusOr<int64_t> max = AllreduceMax(comm, int64_t{1} << 40);
  ASSERT_TRUE(max.ok()) << max.status();
  EXPECT_EQ(*max, int64_t{1} << 40);
  StatusOr<int64_t> step = BroadcastInt64(comm, -7, 0);
  ASSERT_TRUE(step.ok()) << step.status();
  EXPECT_EQ(*step, -7);

  RecordingCommunicator failing(&local, /*fail_at=*/2);
  Status status = BroadcastString(failing, "abc", 0).status();
  EXPECT_TRUE(absl::IsDeadlineExceeded(status)) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("BroadcastString bytes: injected: peer 1"));
}

TEST(SplitIntoBuckets, CoversTheBufferInOrder) {
  EXPECT_TRUE(SplitIntoBuckets(0, 10).empty());
  EXPECT_THAT(SplitIntoBuckets(10, 10), ElementsAre(Pair(0, 10)));
  EXPECT_THAT(SplitIntoBuckets(25, 10), ElementsAre(Pair(0, 10), Pair(10, 10), Pair(20, 5)));
  EXPECT_THAT(SplitIntoBuckets(3, 100), ElementsAre(Pair(0, 3)));
}

TEST(BucketedAllreducer, DefaultBucketIs25MiBOfFloats) {
  LocalCommunicator comm;
  auto reducer = BucketedAllreducer::Create(&comm);
  ASSERT_TRUE(reducer.ok()) << reducer.status();
  EXPECT_EQ((*reducer)->bucket_elems(), 25 * 1024 * 1024 / 4);
}

TEST(BucketedAllreducer, OneAllreducePerBucket) {
  LocalCommunicator local;
  RecordingCommunicator comm(&local);
  auto reducer = BucketedAllreducer::Create(&comm, 1.0);  // 262,144 floats
  ASSERT_TRUE(reducer.ok());
  std::vector<float> grads(600000, 2.5f);
  ASSERT_TRUE((*reducer)->AverageInPlace(grads.data(), 600000).ok());
  EXPECT_THAT(comm.counts, ElementsAre(262144, 262144, 75712));
  EXPECT_EQ(grads.front(), 2.5f);
  EXPECT_EQ(grads.back(), 2.5f);
}

TEST(BucketedAllreducer, GeneratorAndDiscriminatorFitOneDefaultBucket) {
  LocalCommunicator local;
  RecordingCommunicator comm(&local);
  auto reducer = BucketedAllreducer::Create(&comm);
  ASSERT_TRUE(reducer.ok());
  std::vector<float> g(313951), d(204321);
  ASSERT_TRUE((*reducer)->AverageInPlace(g.data(), 313951).ok());
  ASSERT_TRUE((*reducer)->AverageInPlace(d.data(), 204321).ok());
  EXPECT_THAT(comm.counts, ElementsAre(313951, 204321));
}

TEST(BucketedAllreducer, FailureNamesTheBucketAndKeepsTheCause) {
  LocalCommunicator local;
  RecordingCommunicator comm(&local, /*fail_at=*/2);
  auto reducer = BucketedAllreducer::Create(&comm, 1.0);
  ASSERT_TRUE(reducer.ok());
  std::vector<float> grads(600000);
  Status status = (*reducer)->AverageInPlace(grads.data(), 600000);
  EXPECT_TRUE(absl::IsDeadlineExceeded(status)) << status;
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("bucket 2/3 (floats [262144, 524288) of 600000): injected: peer 1"));
  EXPECT_EQ(comm.calls, 2) << "must stop at the first failed bucket";
}

TEST(BucketedAllreducer, RejectsBadOptions) {
  LocalCommunicator comm;
  EXPECT_TRUE(absl::IsInvalidArgument(BucketedAllreducer::Create(nullptr).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(BucketedAllreducer::Create(&comm, -1).status()));
}

TEST(CommFactory, DetectsLaunchersFromTheEnvironment) {
  auto env = [](std::map<std::string, std::string> vars) {
    return [vars](const char* name) -> const char* {
      auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  };
  EXPECT_FALSE(LaunchedByMpi(env({})));
  EXPECT_FALSE(LaunchedByMpi(env({{"HOME", "/root"}})));
  EXPECT_TRUE(LaunchedByMpi(env({{"OMPI_COMM_WORLD_SIZE", "2"}})));
  EXPECT_TRUE(LaunchedByMpi(env({{"PMI_SIZE", "4"}})));
  EXPECT_TRUE(LaunchedByMpi(env({{"PMIX_RANK", "0"}})));
  EXPECT_TRUE(LaunchedByMpi(env({{"SLURM_NTASKS", "8"}})));
}

TEST(CommFactory, ChoosesTheBackendFromDeviceAndLauncher) {
  CommOptions cpu, cuda;
  cuda.device = DeviceKind::kCuda;
  EXPECT_EQ(ChooseBackend(cpu, /*launched_by_mpi=*/false, /*nccl_available=*/true), "local");
  EXPECT_EQ(ChooseBackend(cuda, false, true), "local");
  EXPECT_EQ(ChooseBackend(cpu, true, true), "mpi");
  EXPECT_EQ(ChooseBackend(cuda, true, true), "nccl");
  EXPECT_EQ(ChooseBackend(cuda, true, false), "mpi");  // then refused: tensors on CUDA
  cpu.backend = "nccl";
  EXPECT_EQ(ChooseBackend(cpu, false, false), "nccl");
  cpu.backend = "gloo";
  EXPECT_EQ(ChooseBackend(cpu, true, true), "gloo");
}

TEST(CommFactory, PicksLocalWithoutALauncherAndRejectsUnknownBackends) {
  if (LaunchedByMpi()) GTEST_SKIP() << "running under an MPI launcher";
  CommOptions options;
  auto comm = CreateCommunicator(options);
  ASSERT_TRUE(comm.ok()) << comm.status();
  EXPECT_EQ((*comm)->backend(), "local");
  options.backend = "gloo";
  Status status = CreateCommunicator(options).status();
  EXPECT_TRUE(absl::IsInvalidArgument(status));
  EXPECT_THAT(std::string(status.message()), HasSubstr("got \"gloo\""));
  if (!NcclAvailable()) {
    options.backend = "nccl";
    EXPECT_TRUE(absl::IsUnimplemented(CreateCommunicator(options).status()));
  }
}

}  // namespace
}  // namespace tutti::comm
