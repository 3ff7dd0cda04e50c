// Data-parallel equivalence of GanTrainer: ranks run as threads (gloo style) with an in-memory
// allreduce; N ranks x B rows must train like one process with N * B rows.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <iostream>

#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/train/gan_trainer.h"

namespace tutti {
namespace {

// Sum across `n` threads: each rank deposits its tensor, the last one to arrive sums them in rank
// order (so every rank gets the same bits), everyone copies the result back. Times out instead of
// hanging when a rank is missing.
class ThreadAllreduce {
 public:
  explicit ThreadAllreduce(int n) : n_(n), contributions_(n) {}

  Status Sum(int rank, torch::Tensor& tensor) {
    std::unique_lock<std::mutex> lock(mu_);
    const int64_t generation = generation_;
    contributions_[rank] = tensor;
    if (++arrived_ == n_) {
      result_ = contributions_[0].clone();
      for (int r = 1; r < n_; ++r) result_ += contributions_[r];
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
    } else if (!cv_.wait_for(lock, std::chrono::seconds(60),
                             [&] { return generation_ != generation; })) {
      return absl::DeadlineExceededError("ThreadAllreduce: a rank did not arrive");
    }
    if (result_.sizes() != tensor.sizes()) return absl::InternalError("ThreadAllreduce: shape mismatch");
    tensor.copy_(result_);
    return absl::OkStatus();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  const int n_;
  int arrived_ = 0;
  int64_t generation_ = 0;
  std::vector<torch::Tensor> contributions_;
  torch::Tensor result_;
};

constexpr int64_t kRankBatch = 3;

TrainOptions Options(int rank, int world_size, bool sync = true) {
  TrainOptions o;
  o.batch_size = kRankBatch * (world_size == 1 ? 2 : 1);
  o.seed = 7;
  o.intra_op_threads = 1;  // process-wide: every trainer of this test runs single-threaded
  o.rank = rank;
  o.world_size = world_size;
  o.sync_batchnorm = sync;
  return o;
}

// Global batch i (2 * kRankBatch rows), the same in every call.
torch::Tensor GlobalBatch(int64_t i) {
  auto gen = at::detail::createCPUGenerator(500 + i);
  return (torch::rand({2 * kRankBatch, 5, 64, 72}, gen) < 0.1).to(torch::kFloat);
}

torch::Tensor GlobalGenres(int64_t i, int64_t num_genres) {
  if (num_genres == 0) return {};
  auto gen = at::detail::createCPUGenerator(900 + i);
  return torch::randint(num_genres, {2 * kRankBatch}, gen, torch::kLong);
}

struct Model {
  GeneratorOptions g;
  DiscriminatorOptions d;
  int critic_steps = 1;
};

std::unique_ptr<GanTrainer> Make(const Model& m, TrainOptions o) {
  o.critic_steps = m.critic_steps;
  auto t = GanTrainer::Create(m.g, m.d, o);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? std::move(t).value() : nullptr;
}

// Every parameter and buffer of both networks, flattened (buffers as float).
torch::Tensor AllState(GanTrainer& t) {
  std::vector<torch::Tensor> all;
  for (const auto& p : t.generator()->parameters()) all.push_back(p.detach().reshape(-1));
  for (const auto& b : t.generator()->buffers()) all.push_back(b.reshape(-1).to(torch::kFloat));
  for (const auto& p : t.discriminator()->parameters()) all.push_back(p.detach().reshape(-1));
  return torch::cat(all);
}

double MaxAbsDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

// Adam's first updates are sign-like (lr * g / (|g| + 1e-8)): gradient entries within float noise
// of zero (the conv biases in front of BatchNorm, whose exact gradient is 0; the critic's output
// bias under the WGAN loss) move by +-lr in a direction that depends on summation order, in any
// two runs that sum differently. A `grad_scale` of 1e-10 (applied by the hook after averaging, in
// every run) with lr 0.1 puts Adam in its eps-dominated regime, SGD with momentum at
// lr 0.1 * 1e-10 / 1e-8 = 1e-3, where such noise is not amplified and parameters can be compared
// tightly.
struct Setup {
  Model model;
  int world_size = 2;  // 1: one process on the global batches; 2: two threads as ranks
  int steps = 5;
  bool sync = true;
  double grad_scale = 1;
};

struct Result {
  std::vector<std::unique_ptr<GanTrainer>> ranks;
  torch::Tensor first_g_grad, first_d_grad;  // rank 0's averaged gradients of step 1
};

// Rank r steps on rows [r * B, (r + 1) * B) of each global batch; the gradient hook averages
// gradients through the same in-memory allreduce that SyncBatchNorm uses.
Result Train(const Setup& s) {
  const int n = s.world_size;
  const int64_t rows = 2 * kRankBatch / n;
  auto comm = std::make_shared<ThreadAllreduce>(n);
  Result run;
  for (int r = 0; r < n; ++r) {  // Create() sets the process-wide thread count: not in threads
    TrainOptions o = Options(r, n, s.sync);
    o.g_lr = o.d_lr = s.grad_scale == 1 ? 1e-3 : 1e-1;
    run.ranks.push_back(Make(s.model, o));
    GanTrainer* t = run.ranks[r].get();
    t->set_allreduce_sum([comm, r](torch::Tensor& x) { return comm->Sum(r, x); });
    t->set_gradient_hook([comm, r, n, t, &run, &s](Network net, torch::nn::Module&, torch::Tensor& flat) {
      if (n > 1) {
        TUTTI_RETURN_IF_ERROR(comm->Sum(r, flat));
        flat.div_(n);
      }
      if (r == 0 && t->step() == 0) {
        (net == Network::kGenerator ? run.first_g_grad : run.first_d_grad) = flat.clone();
      }
      if (s.grad_scale != 1) flat.mul_(s.grad_scale);
      return absl::OkStatus();
    });
  }
  auto work = [&](int r) {
    for (int i = 0; i < s.steps; ++i) {
      const torch::Tensor genres = GlobalGenres(i, s.model.g.num_genres());
      auto res = run.ranks[r]->Step(GlobalBatch(i).narrow(0, r * rows, rows),
                                    genres.defined() ? genres.narrow(0, r * rows, rows) : genres);
      EXPECT_TRUE(res.ok()) << "rank " << r << ": " << res.status();
      if (!res.ok()) return;
    }
  };
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r) threads.emplace_back(work, r);
  for (auto& t : threads) t.join();
  return run;
}

// After `steps` steps, 2 ranks x B equal 1 process x 2B: parameters, running statistics and
// (before Adam) the step-1 gradients.
void ExpectEquivalent(Setup s) {
  s.world_size = 1;
  Result single = Train(s);
  s.world_size = 2;
  Result ranks = Train(s);
  // Both ranks apply the same averaged gradients and the same global statistics.
  EXPECT_TRUE(torch::equal(AllState(*ranks.ranks[0]), AllState(*ranks.ranks[1])));
  const double g = MaxAbsDiff(single.first_g_grad, ranks.first_g_grad);
  const double d = MaxAbsDiff(single.first_d_grad, ranks.first_d_grad);
  const double all = MaxAbsDiff(AllState(*single.ranks[0]), AllState(*ranks.ranks[0]));
  std::cout << "2 ranks x " << kRankBatch << " vs 1 process x " << 2 * kRankBatch
            << ": max abs difference of step-1 gradients G " << g << ", D " << d
            << "; of all parameters and buffers after " << s.steps << " steps " << all
            << " (largest step-1 gradient entries: G " << single.first_g_grad.abs().max().item<double>() << ", D "
            << single.first_d_grad.abs().max().item<double>() << ")\n";
  // Gradients are compared relative to their largest entry: with several critic updates the captured D
  // gradient is the last update's, computed after an (SGD-like) update whose float noise the critic's
  // O(5) gradients scale up; 2.5e-4 absolute (6e-5 relative) was seen on one Xeon with OpenBLAS.
  EXPECT_LT(g, 1e-4 * std::max(1.0, single.first_g_grad.abs().max().item<double>()));
  EXPECT_LT(d, 1e-4 * std::max(1.0, single.first_d_grad.abs().max().item<double>()));
  EXPECT_LT(all, 1e-5);
  // What is compared moved well beyond the tolerance.
  auto fresh = Make(s.model, Options(0, 1));
  EXPECT_GT(MaxAbsDiff(AllState(*single.ranks[0]), AllState(*fresh)), 1e-3);
}

TEST(DistributedStepTest, TwoRanksMatchOneProcessWithTheGlobalBatch) {
  ExpectEquivalent({Model{}, 2, 5, true, 1e-10});
}

// Per-track modules (every BatchNorm through GeneratorBlock::forward), genre conditioning and
// several critic updates per step (the first one's fakes made without autograd).
TEST(DistributedStepTest, ConditionalUngroupedMultiCriticAlsoMatch) {
  Model m;
  m.g.num_genres(3).grouped_tracks(false);
  m.d.num_genres(3).grouped_tracks(false);
  m.critic_steps = 2;
  ExpectEquivalent({m, 2, 3, true, 1e-10});
}

// The training defaults (Adam in its sign-like regime): gradients still match closely; after
// Adam, noise-level entries have moved by +-lr, so parameters agree only to ~2 * lr per step.
TEST(DistributedStepTest, DefaultAdamFirstStepGradientsMatch) {
  Result single = Train({Model{}, 1, 1, true, 1});
  Result ranks = Train({Model{}, 2, 1, true, 1});
  const double g = MaxAbsDiff(single.first_g_grad, ranks.first_g_grad);
  const double d = MaxAbsDiff(single.first_d_grad, ranks.first_d_grad);
  std::cout << "default Adam, step-1 gradients: max abs difference G " << g << ", D " << d << "\n";
  EXPECT_LT(g, 1e-5);
  EXPECT_LT(d, 1e-5);
  EXPECT_LT(MaxAbsDiff(AllState(*single.ranks[0]), AllState(*ranks.ranks[0])), 2.5e-3);
}

// Proves the equivalence test can fail: per-rank BatchNorm statistics give another result.
TEST(DistributedStepTest, WithoutSyncBatchNormTheResultDiffers) {
  Result single = Train({Model{}, 1, 5, true, 1e-10});
  Result ranks = Train({Model{}, 2, 5, /*sync=*/false, 1e-10});
  const double g = MaxAbsDiff(single.first_g_grad, ranks.first_g_grad);
  const double all = MaxAbsDiff(AllState(*single.ranks[0]), AllState(*ranks.ranks[0]));
  std::cout << "without sync: step-1 G gradients differ by " << g << ", state after 5 steps by "
            << all << "\n";
  EXPECT_GT(g, 1e-3);
  EXPECT_GT(all, 1e-3);
}

TEST(DistributedStepTest, OptionsAndMissingAllreduce) {
  EXPECT_EQ(GanTrainer::Create({}, {}, Options(2, 2)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GanTrainer::Create({}, {}, Options(0, 0)).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto t = Make(Model{}, Options(1, 2));
  const torch::Tensor rows = GlobalBatch(0).narrow(0, 0, kRankBatch);
  EXPECT_EQ(t->Step(rows).status().code(), absl::StatusCode::kFailedPrecondition);
  // A failing allreduce aborts the step with its own status.
  t->set_allreduce_sum([](torch::Tensor&) { return absl::UnavailableError("rank 0 gone"); });
  auto failed = t->Step(rows);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable) << failed.status();
  EXPECT_EQ(t->step(), 0);
  // Without sync a single trainer of a 2-rank job steps on its own.
  auto unsynced = Make(Model{}, Options(1, 2, /*sync=*/false));
  EXPECT_TRUE(unsynced->Step(rows).ok());
}

TEST(DistributedStepTest, BroadcastParametersCopiesRankZerosState) {
  auto rank0 = Make(Model{}, Options(0, 1));
  ASSERT_TRUE(rank0->Step(GlobalBatch(0)).ok());  // non-trivial running statistics and counters
  TrainOptions other = Options(0, 1);
  other.seed = 99;
  auto rank1 = Make(Model{}, other);
  ASSERT_FALSE(torch::equal(AllState(*rank0), AllState(*rank1)));
  // Rank 0 records what it sends, rank 1 receives it in the same order.
  std::vector<torch::Tensor> sent;
  ASSERT_TRUE(rank0->BroadcastParameters([&](torch::Tensor& t) {
                     sent.push_back(t.clone());
                     return absl::OkStatus();
                   }).ok());
  EXPECT_EQ(sent.size(), 3u);  // generator params, critic params, generator buffers
  size_t next = 0;
  ASSERT_TRUE(rank1->BroadcastParameters([&](torch::Tensor& t) {
                     t.copy_(sent.at(next++));
                     return absl::OkStatus();
                   }).ok());
  EXPECT_TRUE(torch::equal(AllState(*rank0), AllState(*rank1)));
  EXPECT_EQ(rank1->generator()->transconv0->batchnorm->num_batches_tracked.item<int64_t>(), 1);
  EXPECT_EQ(rank1->BroadcastParameters([](torch::Tensor&) { return absl::AbortedError("x"); }).code(),
            absl::StatusCode::kAborted);
}

}  // namespace
}  // namespace tutti
