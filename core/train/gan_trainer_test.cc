#include "core/train/gan_trainer.h"

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/train/gan_trainer_test_util.h"

namespace tutti {
namespace {


TEST(GanTrainerTest, StepReturnsFiniteMetricsAndAdvances) {
  auto t = MakeTrainer();
  const auto before = t->generator()->transconv0->transconv->weight.clone();
  auto m = t->Step(RealBatch(0));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(t->step(), 1);
  for (double v : {m->d_loss, m->g_loss, m->gradient_penalty, m->wasserstein_estimate,
                   m->d_grad_norm, m->g_grad_norm}) {
    EXPECT_TRUE(std::isfinite(v));
  }
  EXPECT_DOUBLE_EQ(m->wasserstein_estimate, -m->d_loss);
  EXPECT_GT(m->gradient_penalty, 0);
  EXPECT_GT(m->d_grad_norm, 0);
  EXPECT_GT(m->g_grad_norm, 0);
  EXPECT_FALSE(torch::equal(before, t->generator()->transconv0->transconv->weight));
  // Parameters are still the registered ones (views into the flat buffer).
  EXPECT_EQ(t->generator()->parameters().size(), 24u);
}

TEST(GanTrainerTest, ResumeIsBitIdentical) {
  auto straight = MakeTrainer();
  RunSteps(*straight, 0, 20);

  auto first = MakeTrainer();
  RunSteps(*first, 0, 10);
  std::stringstream bytes;
  {
    torch::serialize::OutputArchive archive;
    ASSERT_TRUE(first->SaveState(archive).ok());
    archive.save_to(bytes);
  }
  first.reset();
  TrainOptions other_seed = SmallOptions();
  other_seed.seed = 999;  // everything must come from the checkpoint
  auto resumed = MakeTrainer(other_seed);
  {
    torch::serialize::InputArchive archive;
    archive.load_from(bytes);
    Status s = resumed->LoadState(archive);
    ASSERT_TRUE(s.ok()) << s;
  }
  EXPECT_EQ(resumed->step(), 10);
  RunSteps(*resumed, 10, 20);

  auto expect_equal = [](const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "tensor " << i;
  };
  expect_equal(straight->generator()->parameters(), resumed->generator()->parameters());
  expect_equal(straight->generator()->buffers(), resumed->generator()->buffers());
  expect_equal(straight->discriminator()->parameters(), resumed->discriminator()->parameters());
}

TEST(GanTrainerTest, LoadStateRejectsAnotherArchitecture) {
  auto a = MakeTrainer();
  torch::serialize::OutputArchive out;
  ASSERT_TRUE(a->SaveState(out).ok());
  std::stringstream bytes;
  out.save_to(bytes);
  auto b = MakeTrainer(SmallOptions(), GeneratorOptions().num_genres(2),
                       DiscriminatorOptions().num_genres(2));
  torch::serialize::InputArchive in;
  in.load_from(bytes);
  Status s = b->LoadState(in);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
}

TEST(GanTrainerTest, NonFiniteLossIsAnErrorNamingLossAndStep) {
  auto t = MakeTrainer();
  RunSteps(*t, 0, 3);
  const auto d_before = t->discriminator()->conv2->conv->weight.clone();
  auto poisoned = RealBatch(0);
  poisoned[1][2][3][4] = std::nan("");
  auto m = t->Step(poisoned);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(std::string(m.status().message()).find("non-finite d_loss (nan) at step 3"),
            std::string::npos)
      << m.status();
  EXPECT_EQ(t->step(), 3);
  EXPECT_TRUE(torch::equal(d_before, t->discriminator()->conv2->conv->weight));
}

TEST(GanTrainerTest, GradientHookSeesFlatGradientsBeforeTheOptimiser) {
  auto t = MakeTrainer();
  std::vector<Network> calls;
  t->set_gradient_hook([&](Network n, torch::nn::Module& m, torch::Tensor& flat) {
    calls.push_back(n);
    int64_t numel = 0;
    for (const auto& p : m.parameters()) numel += p.numel();
    EXPECT_EQ(flat.numel(), numel);
    EXPECT_EQ(flat.numel(), n == Network::kGenerator ? 313951 : 204321);
    flat.zero_();  // a zero gradient at the first Adam step leaves the weights unchanged
    return absl::OkStatus();
  });
  const auto g_before = t->generator()->transconv3->transconv->weight.clone();
  const auto d_before = t->discriminator()->dense->weight.clone();
  auto m = t->Step(RealBatch(0));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(calls, (std::vector<Network>{Network::kDiscriminator, Network::kGenerator}));
  EXPECT_EQ(m->d_grad_norm, 0);
  EXPECT_TRUE(torch::equal(g_before, t->generator()->transconv3->transconv->weight));
  EXPECT_TRUE(torch::equal(d_before, t->discriminator()->dense->weight));

  t->set_gradient_hook([](Network, torch::nn::Module&, torch::Tensor&) {
    return absl::UnavailableError("peer rank 3 gone");
  });
  auto failed = t->Step(RealBatch(0));
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(std::string(failed.status().message()).find("discriminator"), std::string::npos);
}

// The fused step (one backward, flat Adam, grouped tracks) computes the tutorial's gradients:
// three backward calls on separate modules with the same weights, latents and alphas.
TEST(GanTrainerTest, GradientsMatchTheTutorialStep) {
  TrainOptions o = SmallOptions();
  auto t = MakeTrainer(o);
  torch::Tensor ours_d, ours_g;
  t->set_gradient_hook([&](Network n, torch::nn::Module&, torch::Tensor& flat) {
    (n == Network::kGenerator ? ours_g : ours_d) = flat.clone();
    return absl::OkStatus();
  });
  // Replay the trainer's random stream: weights (G then D), then latents and alphas.
  auto gen = at::detail::createCPUGenerator(o.seed);
  Generator g;
  Discriminator d;
  g->reset_parameters(gen);
  d->reset_parameters(gen);
  const auto z = torch::randn({4, 128}, gen);
  const auto alpha = torch::rand({4, 1, 1, 1}, gen);
  const auto real = RealBatch(0);
  ASSERT_TRUE(t->Step(real).ok());

  auto d_opt = torch::optim::Adam(d->parameters(), torch::optim::AdamOptions(1e-3).betas({0.5, 0.9}));
  d->zero_grad();
  (-d(real).mean()).backward();
  const auto fake = g(z);
  d(fake.detach()).mean().backward();
  const auto x_hat = (alpha * real + (1 - alpha) * fake.detach()).requires_grad_(true);
  const auto grad = torch::autograd::grad({d(x_hat)}, {x_hat}, {torch::ones({4, 1})}, true, true)[0];
  (10.0 * (grad.view({4, -1}).norm(2, 1) - 1).pow(2).mean()).backward();
  std::vector<torch::Tensor> d_grads;
  for (const auto& p : d->parameters()) d_grads.push_back(p.grad().reshape(-1));
  EXPECT_TRUE(torch::allclose(torch::cat(d_grads), ours_d, 1e-3, 1e-6));
  d_opt.step();
  g->zero_grad();
  (-d(fake).mean()).backward();
  std::vector<torch::Tensor> g_grads;
  for (const auto& p : g->parameters()) g_grads.push_back(p.grad().reshape(-1));
  // Loose: the critic weights it differentiates through come from an Adam step on
  // float-rounding-different gradients.
  EXPECT_TRUE(torch::allclose(torch::cat(g_grads), ours_g, 5e-2, 1e-4));
}

TEST(GanTrainerTest, GenerateUsesEvalModeAndRestoresTraining) {
  auto t = MakeTrainer();
  RunSteps(*t, 0, 2);
  const auto z = torch::randn({3, 128});
  auto a = t->Generate(z);
  auto b = t->Generate(z.narrow(0, 0, 1));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->sizes(), (std::vector<int64_t>{3, 5, 64, 72}));
  // Eval mode: a sample does not depend on the rest of its batch.
  EXPECT_TRUE(torch::allclose(a->narrow(0, 0, 1), *b, 1e-5, 1e-6));
  EXPECT_FALSE(a->requires_grad());
  EXPECT_TRUE(t->generator()->is_training());
  EXPECT_EQ(t->Generate(torch::randn({3, 64})).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(GanTrainerTest, OptionsAndInputsAreValidated) {
  TrainOptions o = SmallOptions();
  o.critic_steps = 0;
  EXPECT_EQ(GanTrainer::Create({}, {}, o).status().code(), absl::StatusCode::kInvalidArgument);
  o = SmallOptions();
  o.device = "tpu:7";
  EXPECT_EQ(GanTrainer::Create({}, {}, o).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(GanTrainer::Create(GeneratorOptions().tracks(4), {}, SmallOptions()).ok());
  auto t = MakeTrainer();
  auto m = t->Step(torch::zeros({4, 5, 64, 71}));
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(m.status().message()).find("expected (B, 5, 64, 72), got [4, 5, 64, 71]"),
            std::string::npos)
      << m.status();
}

TEST(GanTrainerTest, ConditionalAndMultiCriticTraining) {
  TrainOptions o = SmallOptions();
  o.critic_steps = 3;
  auto t = MakeTrainer(o, GeneratorOptions().num_genres(4), DiscriminatorOptions().num_genres(4));
  const auto genres = torch::tensor({0, 1, 3, 3}, torch::kLong);
  for (int i = 0; i < 2; ++i) {
    auto m = t->Step(RealBatch(i), genres);
    ASSERT_TRUE(m.ok()) << m.status();
  }
  EXPECT_EQ(t->step(), 2);
  EXPECT_GT(t->generator()->genre_embedding->weight.abs().sum().item<double>(), 0);
  EXPECT_FALSE(t->Step(RealBatch(0)).ok());  // genre ids required
  auto fake = t->Generate(torch::randn({4, 128}), genres);
  ASSERT_TRUE(fake.ok()) << fake.status();
}

}  // namespace
}  // namespace tutti

namespace tutti {
namespace {

// BinaryMuseGAN's two-stage training (GeneratorOptions::refiner, TrainOptions::refiner_pretrain_steps).
std::vector<torch::Tensor> BaseParameters(Generator& g) {
  std::vector<torch::Tensor> out;
  for (const auto& p : g->named_parameters()) {
    if (p.key().rfind("refiner.", 0) != 0) out.push_back(p.value().detach().clone());
  }
  return out;
}

bool AllEqual(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!torch::equal(a[i], b[i])) return false;
  }
  return true;
}

std::vector<torch::Tensor> Clones(const std::vector<torch::Tensor>& v) {
  std::vector<torch::Tensor> out;
  for (const auto& t : v) out.push_back(t.detach().clone());
  return out;
}

TrainOptions RefinerOptions(bool freeze) {
  TrainOptions o = SmallOptions();
  o.refiner_pretrain_steps = 2;
  o.refiner_freeze_generator = freeze;
  return o;
}

const GeneratorOptions kRefined = GeneratorOptions().refiner(RefinerKind::kDeterministic);
const DiscriminatorOptions kStreams = DiscriminatorOptions().onset_stream(true).chroma_stream(true);

TEST(GanTrainerRefinerTest, StageTwoTrainsTheRefinerWithTheGeneratorFrozen) {
  auto t = MakeTrainer(RefinerOptions(/*freeze=*/true), kRefined, kStreams);
  RunSteps(*t, 0, 2);
  EXPECT_FALSE(t->generator()->refiner_active());
  const auto base = BaseParameters(t->generator());
  const auto refiner = Clones(t->generator()->refiner->parameters());
  RunSteps(*t, 2, 5);  // step 3 switches the refiner on
  EXPECT_TRUE(t->generator()->refiner_active());
  EXPECT_TRUE(AllEqual(base, BaseParameters(t->generator()))) << "the frozen generator moved";
  EXPECT_FALSE(AllEqual(refiner, t->generator()->refiner->parameters())) << "the refiner did not learn";
  auto samples = t->Generate(torch::randn({6, 128}));
  ASSERT_TRUE(samples.ok()) << samples.status();
  EXPECT_TRUE(torch::equal(*samples, samples->round()));  // exactly 0/1, no threshold needed
  EXPECT_TRUE(((*samples == 0) | (*samples == 1)).all().item<bool>());
}

TEST(GanTrainerRefinerTest, FineTuningMovesTheGeneratorToo) {
  auto t = MakeTrainer(RefinerOptions(/*freeze=*/false), kRefined, {});
  RunSteps(*t, 0, 2);
  const auto base = BaseParameters(t->generator());
  RunSteps(*t, 2, 4);
  EXPECT_TRUE(t->generator()->refiner_active());
  EXPECT_FALSE(AllEqual(base, BaseParameters(t->generator())));
}

// Stochastic neurons draw from the trainer's stream; resuming at the boundary (refiner still off, Adam
// about to restart) and after it gives the same bits as one straight run.
TEST(GanTrainerRefinerTest, ResumeAcrossTheStageBoundaryIsBitIdentical) {
  const GeneratorOptions stochastic = GeneratorOptions().refiner(RefinerKind::kStochastic);
  auto straight = MakeTrainer(RefinerOptions(true), stochastic, kStreams);
  RunSteps(*straight, 0, 5);
  for (int64_t cut : {2, 3}) {
    auto first = MakeTrainer(RefinerOptions(true), stochastic, kStreams);
    RunSteps(*first, 0, cut);
    std::stringstream bytes;
    {
      torch::serialize::OutputArchive archive;
      ASSERT_TRUE(first->SaveState(archive).ok());
      archive.save_to(bytes);
    }
    auto resumed = MakeTrainer(RefinerOptions(true), stochastic, kStreams);
    torch::serialize::InputArchive archive;
    archive.load_from(bytes);
    ASSERT_TRUE(resumed->LoadState(archive).ok());
    RunSteps(*resumed, cut, 5);
    EXPECT_TRUE(AllEqual(Clones(straight->generator()->parameters()), resumed->generator()->parameters()))
        << "cut at " << cut;
    EXPECT_TRUE(AllEqual(Clones(straight->generator()->buffers()), resumed->generator()->buffers())) << cut;
    EXPECT_TRUE(AllEqual(Clones(straight->discriminator()->parameters()), resumed->discriminator()->parameters()))
        << "cut at " << cut;
  }
}

TEST(GanTrainerRefinerTest, ACheckpointOfAnotherModelIsRefusedByName) {
  auto refined = MakeTrainer(RefinerOptions(true), kRefined, kStreams);
  torch::serialize::OutputArchive out;
  ASSERT_TRUE(refined->SaveState(out).ok());
  std::stringstream bytes;
  out.save_to(bytes);
  auto plain = MakeTrainer();
  torch::serialize::InputArchive in;
  in.load_from(bytes);
  const Status s = plain->LoadState(in);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  for (const char* part : {"model.refiner: deterministic in the checkpoint, none here",
                           "model.onset_stream: true in the checkpoint, false here",
                           "model.chroma_stream: true in the checkpoint, false here"}) {
    EXPECT_NE(s.ToString().find(part), std::string::npos) << s;
  }
}

// Accompaniment (GeneratorOptions::condition_track): fakes are written around the real batch's own part.
TEST(GanTrainerAccompanimentTest, TrainsAroundTheRealPartAndGeneratesAroundAGivenOne) {
  const GeneratorOptions bass = GeneratorOptions().condition_track(3);
  auto t = MakeTrainer(SmallOptions(), bass, {});
  const auto encoder = Clones(t->generator()->condition_encoder->parameters());
  RunSteps(*t, 0, 3);
  EXPECT_FALSE(AllEqual(encoder, t->generator()->condition_encoder->parameters())) << "the encoder did not learn";
  const torch::Tensor part = RealBatch(7, 6).select(1, 3).contiguous();
  auto samples = t->Generate(torch::randn({6, 128}), torch::Tensor(), part);
  ASSERT_TRUE(samples.ok()) << samples.status();
  EXPECT_TRUE(torch::equal(samples->select(1, 3), part));
  EXPECT_EQ(t->Generate(torch::randn({6, 128})).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(t->Generate(torch::randn({6, 128}), torch::Tensor(), part.narrow(0, 0, 5)).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto plain = MakeTrainer();
  EXPECT_EQ(plain->Generate(torch::randn({6, 128}), torch::Tensor(), part).status().code(), absl::StatusCode::kInvalidArgument);

  // Its checkpoint is refused by a plain model, naming the key.
  torch::serialize::OutputArchive out;
  ASSERT_TRUE(t->SaveState(out).ok());
  std::stringstream bytes;
  out.save_to(bytes);
  torch::serialize::InputArchive in;
  in.load_from(bytes);
  const Status s = plain->LoadState(in);
  EXPECT_NE(s.ToString().find("model.condition_track: 3 in the checkpoint, none here"), std::string::npos) << s;
}

}  // namespace
}  // namespace tutti
