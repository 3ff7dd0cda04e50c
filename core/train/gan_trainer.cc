#include "core/train/gan_trainer.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/autograd.h>
#include <torch/cuda.h>
#include <torch/serialize.h>

namespace tutti {
namespace {

constexpr int64_t kStateFormat = 1;

// Re-homes every parameter of `module` (and its gradient) into one flat buffer.
std::vector<torch::Tensor> Flatten(torch::nn::Module& module, torch::Tensor& flat_params,
                                   torch::Tensor& flat_grads) {
  std::vector<torch::Tensor> params = module.parameters();
  int64_t total = 0;
  for (const auto& p : params) total += p.numel();
  const auto opts = params.front().options();
  flat_params = torch::empty({total}, opts);
  flat_grads = torch::zeros({total}, opts);
  torch::NoGradGuard no_grad;
  int64_t offset = 0;
  for (auto& p : params) {
    const int64_t n = p.numel();
    torch::Tensor slot = flat_params.narrow(0, offset, n).view(p.sizes());
    slot.copy_(p);
    p.set_data(slot);
    p.mutable_grad() = flat_grads.narrow(0, offset, n).view(p.sizes());
    offset += n;
  }
  // The optimiser sees one parameter whose gradient is the flat gradient buffer.
  flat_params.mutable_grad() = flat_grads;
  return params;
}

Status NonFinite(const char* name, double value, int64_t step, const char* consequence) {
  std::ostringstream v;
  v << value;
  return absl::InternalError(absl::StrCat("non-finite ", name, " (", v.str(), ") at step ", step,
                                          "; ", consequence));
}

torch::optim::AdamOptions AdamFor(double lr, const TrainOptions& o) {
  return torch::optim::AdamOptions(lr).betas(std::make_tuple(o.beta1, o.beta2)).eps(o.adam_eps);
}

}  // namespace

GanTrainer::GanTrainer(GeneratorOptions g, DiscriminatorOptions d, TrainOptions train)
    : g_options_(std::move(g)),
      d_options_(std::move(d)),
      options_(std::move(train)),
      device_(options_.device),
      rng_(at::detail::createCPUGenerator(options_.seed)) {}

GanTrainer::~GanTrainer() = default;

StatusOr<std::unique_ptr<GanTrainer>> GanTrainer::Create(GeneratorOptions g,
                                                         DiscriminatorOptions d,
                                                         TrainOptions train) {
  TUTTI_RETURN_IF_ERROR(ValidateModelPair(g, d));
  auto bad = [](const std::string& what) { return absl::InvalidArgumentError("TrainOptions." + what); };
  if (train.batch_size < 1) return bad(absl::StrCat("batch_size must be >= 1, got ", train.batch_size));
  if (!(train.g_lr > 0) || !(train.d_lr > 0)) return bad("g_lr and d_lr must be > 0");
  if (!(train.beta1 >= 0 && train.beta1 < 1 && train.beta2 >= 0 && train.beta2 < 1)) {
    return bad("beta1 and beta2 must be in [0, 1)");
  }
  if (!(train.adam_eps > 0)) return bad(absl::StrCat("adam_eps must be > 0, got ", train.adam_eps));
  if (train.critic_steps < 1) return bad(absl::StrCat("critic_steps must be >= 1, got ", train.critic_steps));
  if (!(train.gp_weight >= 0)) return bad("gp_weight must be >= 0");
  if (train.intra_op_threads < 0 || train.local_ranks < 1) {
    return bad("intra_op_threads must be >= 0 and local_ranks >= 1");
  }
  if (train.refiner_pretrain_steps < 0) {
    return bad(absl::StrCat("refiner_pretrain_steps must be >= 0, got ", train.refiner_pretrain_steps));
  }
  if (!(train.generator_ema >= 0 && train.generator_ema < 1)) {
    return bad(absl::StrCat("generator_ema must be in [0, 1), got ", train.generator_ema));
  }
  if (train.world_size < 1 || train.rank < 0 || train.rank >= train.world_size) {
    return bad(absl::StrCat("rank must be in [0, world_size), got rank ", train.rank,
                            " and world_size ", train.world_size));
  }
  try {
    const torch::Device device(train.device);
    if (device.is_cuda() && !torch::cuda::is_available()) {
      return absl::FailedPreconditionError(
          absl::StrCat("TrainOptions.device is ", train.device, " but CUDA is not available"));
    }
  } catch (const c10::Error& e) {
    return bad(absl::StrCat("device: cannot parse \"", train.device, "\": ",
                            std::string(e.what_without_backtrace())));
  }
  int threads = train.intra_op_threads;
  if (threads == 0) {
    threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / train.local_ranks);
  }
  at::set_num_threads(threads);

  std::unique_ptr<GanTrainer> t(new GanTrainer(std::move(g), std::move(d), std::move(train)));
  try {
    t->g_ = Generator(t->g_options_);
    t->d_ = Discriminator(t->d_options_);
    // Weights come from the trainer's seeded stream, not LibTorch's global generator.
    t->g_->reset_parameters(t->rng_);
    t->d_->reset_parameters(t->rng_);
    t->g_->to(t->device_);
    t->d_->to(t->device_);
    t->g_flat_.module_params = Flatten(*t->g_, t->g_flat_.params, t->g_flat_.grads);
    t->d_flat_.module_params = Flatten(*t->d_, t->d_flat_.params, t->d_flat_.grads);
    if (t->g_->refiner) t->refiner_params_ = t->g_->refiner->parameters();
    if (t->options_.generator_ema > 0) {
      // The calibration latents get their own seed, so they never touch the training stream.
      t->average_ = std::make_unique<GeneratorAverage>(t->g_options_, t->options_.generator_ema, t->g_flat_.params,
                                                       t->options_.seed ^ 0x9e3779b97f4a7c15ULL,
                                                       t->options_.generator_ema_warmup);
    }
    if (t->SyncsBatchNorm()) {
      GanTrainer* self = t.get();  // owns the generator, so outlives its BatchNorm layers
      t->g_->set_batchnorm_sync([self](torch::Tensor& stats) { self->AllreduceBatchStats(stats); });
    }
    t->g_opt_ = std::make_unique<torch::optim::Adam>(std::vector<torch::Tensor>{t->g_flat_.params},
                                                     AdamFor(t->options_.g_lr, t->options_));
    t->d_opt_ = std::make_unique<torch::optim::Adam>(std::vector<torch::Tensor>{t->d_flat_.params},
                                                     AdamFor(t->options_.d_lr, t->options_));
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("building the GAN: ", std::string(e.what_without_backtrace())));
  }
  return t;
}

Status GanTrainer::CheckInput(const torch::Tensor& x, const torch::Tensor& genre_ids,
                              int64_t dim1, const char* what) const {
  const int64_t t = g_options_.tracks(), time = g_options_.measures() * g_options_.steps_per_measure(),
                p = g_options_.pitches();
  const bool is_real = dim1 < 0;
  if (!x.defined() || (is_real ? (x.dim() != 4 || x.size(0) < 1 || x.size(1) != t ||
                                   x.size(2) != time || x.size(3) != p)
                               : (x.dim() != 2 || x.size(0) < 1 || x.size(1) != dim1))) {
    std::ostringstream got;
    if (x.defined()) got << x.sizes(); else got << "undefined";
    return absl::InvalidArgumentError(
        is_real ? absl::StrCat(what, ": expected (B, ", t, ", ", time, ", ", p, "), got ", got.str())
                : absl::StrCat(what, ": expected (B, ", dim1, "), got ", got.str()));
  }
  const int64_t genres = g_options_.num_genres();
  if (genres == 0 && genre_ids.defined()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": unconditional model got genre_ids"));
  }
  if (genres > 0 && (!genre_ids.defined() || genre_ids.dim() != 1 ||
                     genre_ids.size(0) != x.size(0) || genre_ids.scalar_type() != torch::kLong)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": conditional model needs int64 genre_ids of shape (", x.size(0), ")"));
  }
  return absl::OkStatus();
}

StatusOr<StepMetrics> GanTrainer::Step(const torch::Tensor& real_in, const torch::Tensor& genre_ids_in) {
  TUTTI_RETURN_IF_ERROR(CheckInput(real_in, genre_ids_in, -1, "GanTrainer::Step real"));
  if (SyncsBatchNorm() && !allreduce_sum_) {
    return absl::FailedPreconditionError(
        "GanTrainer::Step: world_size > 1 with sync_batchnorm needs set_allreduce_sum()");
  }
  sync_status_ = absl::OkStatus();
  try {
    const torch::Tensor real = real_in.to(device_, torch::kFloat);
    const torch::Tensor genre_ids = genre_ids_in.defined() ? genre_ids_in.to(device_) : genre_ids_in;
    StartRefinerStageIfDue();
    g_->train();
    d_->train();
    StepMetrics metrics;
    torch::Tensor fakes;
    for (int c = 0; c < options_.critic_steps; ++c) {
      TUTTI_RETURN_IF_ERROR(
          CriticUpdate(real, genre_ids, c + 1 == options_.critic_steps, fakes, metrics));
    }
    TUTTI_RETURN_IF_ERROR(GeneratorUpdate(fakes, genre_ids, metrics));
    if (average_) {
      average_->Update(g_flat_.params, step_);
      if (g_options_.condition_track() >= 0) last_given_ = real.select(1, g_options_.condition_track()).detach();
    }
    ++step_;
    return metrics;
  } catch (const std::exception& e) {
    // A failed SyncBatchNorm allreduce surfaces as an exception (possibly rethrown by the
    // autograd engine): report the allreduce's own status.
    if (!sync_status_.ok()) {
      return Annotate(sync_status_, absl::StrCat("SyncBatchNorm allreduce at step ", step_));
    }
    const auto* c10_error = dynamic_cast<const c10::Error*>(&e);
    return absl::InternalError(absl::StrCat(
        "training step ", step_, ": ",
        std::string(c10_error ? c10_error->what_without_backtrace() : e.what())));
  }
}

// One critic update. `last`: the fakes are made with the generator's graph and kept in `fakes`
// for the generator update; earlier critic updates make theirs without autograd.
Status GanTrainer::CriticUpdate(const torch::Tensor& real, const torch::Tensor& genre_ids,
                                bool last, torch::Tensor& fakes, StepMetrics& metrics) {
  const int64_t batch = real.size(0), global = batch * options_.world_size;
  // Drawn for the global batch, this rank's rows used (see the class comment).
  const torch::Tensor z =
      RankRows(torch::randn({global, g_options_.latent_dim()}, rng_), batch).to(device_);
  const torch::Tensor alpha = RankRows(torch::rand({global, 1, 1, 1}, rng_), batch).to(device_);
  const torch::Tensor noise = RefinerNoise(batch);
  torch::Tensor fake_d;
  // An accompaniment model writes around the real batch's own part of its condition track.
  const torch::Tensor given =
      g_options_.condition_track() >= 0 ? real.select(1, g_options_.condition_track()) : torch::Tensor();
  if (last) {
    fakes = g_(z, genre_ids, noise, given);
    fake_d = fakes.detach();
  } else {
    torch::NoGradGuard no_grad;
    fake_d = g_(z, genre_ids, noise, given);
  }
  const torch::Tensor x_hat = (alpha * real + (1 - alpha) * fake_d).requires_grad_(true);

  // Real and fake share one forward pass (D has no batch statistics); x_hat needs its own
  // graph for the input gradient.
  const torch::Tensor both_genres =
      genre_ids.defined() ? torch::cat({genre_ids, genre_ids}) : genre_ids;
  // Two spread groups: a minibatch-stddev critic measures the real half's spread and the fake half's apart.
  const torch::Tensor d_both = d_(torch::cat({real, fake_d}), both_genres, /*spread_groups=*/2);
  const torch::Tensor d_real_mean = d_both.narrow(0, 0, batch).mean();
  const torch::Tensor d_fake_mean = d_both.narrow(0, batch, batch).mean();
  const torch::Tensor d_hat = d_(x_hat, genre_ids);
  const torch::Tensor grad = torch::autograd::grad({d_hat.sum()}, {x_hat}, {},
                                                   /*retain_graph=*/true, /*create_graph=*/true)[0];
  const torch::Tensor gp = options_.gp_weight * (grad.reshape({batch, -1}).norm(2, 1) - 1).pow(2).mean();
  const torch::Tensor d_loss = d_fake_mean - d_real_mean;

  d_flat_.grads.zero_();
  (d_loss + gp).backward({}, /*retain_graph=*/false, /*create_graph=*/false, d_flat_.module_params);
  if (gradient_hook_) {
    TUTTI_RETURN_IF_ERROR(Annotate(gradient_hook_(Network::kDiscriminator, *d_, d_flat_.grads),
                                   absl::StrCat("gradient hook (discriminator) at step ", step_)));
  }
  // The one host sync of the critic update: metrics, checked before the weights change.
  const torch::Tensor host =
      torch::stack({d_loss.detach(), gp.detach(), d_flat_.grads.norm()}).to(torch::kCPU, torch::kDouble);
  const double* v = host.data_ptr<double>();
  metrics.d_loss = v[0];
  metrics.gradient_penalty = v[1];
  metrics.wasserstein_estimate = -v[0];
  metrics.d_grad_norm = v[2];
  const char* names[] = {"d_loss", "gradient_penalty", "d_grad_norm"};
  for (int i = 0; i < 3; ++i) {
    if (!std::isfinite(v[i])) return NonFinite(names[i], v[i], step_, "the critic was not updated");
  }
  d_opt_->step();
  return absl::OkStatus();
}

Status GanTrainer::GeneratorUpdate(const torch::Tensor& fakes, const torch::Tensor& genre_ids,
                                   StepMetrics& metrics) {
  const torch::Tensor g_loss = -d_(fakes, genre_ids).mean();
  g_flat_.grads.zero_();
  // Only the generator's gradients: the critic's weight gradients are never computed (and with the
  // generator frozen, only the refiner's: the rest stay zero, which a fresh Adam turns into no change).
  g_loss.backward({}, /*retain_graph=*/false, /*create_graph=*/false,
                  GeneratorFrozen() ? refiner_params_ : g_flat_.module_params);
  if (gradient_hook_) {
    TUTTI_RETURN_IF_ERROR(Annotate(gradient_hook_(Network::kGenerator, *g_, g_flat_.grads),
                                   absl::StrCat("gradient hook (generator) at step ", step_)));
  }
  const torch::Tensor host =
      torch::stack({g_loss.detach(), g_flat_.grads.norm()}).to(torch::kCPU, torch::kDouble);
  const double* v = host.data_ptr<double>();
  metrics.g_loss = v[0];
  metrics.g_grad_norm = v[1];
  if (!std::isfinite(v[0])) return NonFinite("g_loss", v[0], step_, "the critic was updated, the generator not");
  if (!std::isfinite(v[1])) return NonFinite("g_grad_norm", v[1], step_, "the critic was updated, the generator not");
  g_opt_->step();
  return absl::OkStatus();
}

StatusOr<torch::Tensor> GanTrainer::Generate(const torch::Tensor& latents,
                                             const torch::Tensor& genre_ids, const torch::Tensor& given) {
  TUTTI_RETURN_IF_ERROR(CheckInput(latents, genre_ids, g_options_.latent_dim(), "GanTrainer::Generate latents"));
  const int64_t time = g_options_.measures() * g_options_.steps_per_measure();
  if (g_options_.condition_track() >= 0 &&
      (!given.defined() || given.dim() != 3 || given.size(0) != latents.size(0) || given.size(1) != time ||
       given.size(2) != g_options_.pitches())) {
    return absl::InvalidArgumentError(absl::StrCat("GanTrainer::Generate: an accompaniment model needs the given part (",
                                                   latents.size(0), ", ", time, ", ", g_options_.pitches(), ")"));
  }
  if (g_options_.condition_track() < 0 && given.defined()) {
    return absl::InvalidArgumentError("GanTrainer::Generate: got a given part but the model has no condition track");
  }
  try {
    torch::NoGradGuard no_grad;
    Generator& g = average_ ? average_->Model(g_, last_given_) : g_;
    g->eval();
    torch::Tensor out = g(latents.to(device_, torch::kFloat),
                          genre_ids.defined() ? genre_ids.to(device_) : genre_ids, torch::Tensor(),
                          given.defined() ? given.to(device_, torch::kFloat) : given);
    g_->train();
    return out;
  } catch (const c10::Error& e) {
    g_->train();
    return absl::InternalError(absl::StrCat("Generate: ", std::string(e.what_without_backtrace())));
  }
}

void GanTrainer::StartRefinerStageIfDue() {
  if (!g_->refiner || g_->refiner_active() || step_ < options_.refiner_pretrain_steps) return;
  g_->set_refiner_active(true);
  if (options_.refiner_freeze_generator) {
    g_->set_base_frozen(true);
    // Adam's moments from stage one would keep moving the generator's weights with zero gradients: start
    // its state afresh (m = v = 0 gives an update of exactly 0 where the gradient stays 0).
    g_opt_ = std::make_unique<torch::optim::Adam>(std::vector<torch::Tensor>{g_flat_.params},
                                                  AdamFor(options_.g_lr, options_));
  }
}

torch::Tensor GanTrainer::RefinerNoise(int64_t batch) {
  if (g_options_.refiner() != RefinerKind::kStochastic || !g_->refiner_active()) return {};
  const int64_t global = batch * options_.world_size;
  return RankRows(torch::rand({global, g_options_.tracks(), g_options_.measures() * g_options_.steps_per_measure(),
                               g_options_.pitches()},
                              rng_),
                  batch)
      .to(device_);
}

std::string GanTrainer::ArchitectureFingerprint() const {
  std::ostringstream s;
  g_->pretty_print(s);
  s << " ";
  d_->pretty_print(s);
  return s.str();
}

Status GanTrainer::SaveState(torch::serialize::OutputArchive& archive) const {
  try {
    archive.write("format", torch::tensor(kStateFormat));
    archive.write("architecture", c10::IValue(ArchitectureFingerprint()));
    archive.write("step", torch::tensor(step_));
    {
      std::lock_guard<std::mutex> lock(rng_.mutex());
      archive.write("rng_state", rng_.get_state());
    }
    torch::serialize::OutputArchive g, d, g_opt, d_opt;
    if (average_) {
      // Samplers read "generator": the average. Resuming reads the live weights back from "generator_live".
      torch::serialize::OutputArchive live;
      g_->save(live);
      archive.write("generator_live", live);
      average_->Model(g_, last_given_)->save(g);
      // What the calibration played around, so a resumed accompaniment model calibrates as the run it continues.
      if (last_given_.defined()) archive.write("average_given_parts", last_given_.cpu());
    } else {
      g_->save(g);
    }
    d_->save(d);
    g_opt_->save(g_opt);
    d_opt_->save(d_opt);
    archive.write("generator", g);
    archive.write("discriminator", d);
    archive.write("g_optimizer", g_opt);
    archive.write("d_optimizer", d_opt);
    return absl::OkStatus();
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("saving trainer state: ", std::string(e.what_without_backtrace())));
  }
}

Status GanTrainer::LoadState(torch::serialize::InputArchive& archive) {
  try {
    torch::Tensor format;
    archive.read("format", format);
    if (format.item<int64_t>() != kStateFormat) {
      return absl::FailedPreconditionError(absl::StrCat(
          "trainer state format ", format.item<int64_t>(), ", expected ", kStateFormat));
    }
    c10::IValue arch;
    archive.read("architecture", arch);
    if (arch.toStringRef() != ArchitectureFingerprint()) {
      const std::string difference = DescribeArchitectureDifference(arch.toStringRef(), ArchitectureFingerprint());
      return absl::FailedPreconditionError(absl::StrCat(
          "the checkpoint's model differs from this config's: ", difference.empty() ? "" : difference + " ",
          "(checkpoint: ", arch.toStringRef(), "; this config: ", ArchitectureFingerprint(), ")"));
    }
    // Module::load would re-seat each parameter's storage (breaking the flat views): load into
    // scratch networks and copy values in place.
    Generator g_scratch(g_options_);
    Discriminator d_scratch(d_options_);
    torch::serialize::InputArchive g, d, g_opt, d_opt, live;
    // With an average, "generator" is the average and "generator_live" the weights that train.
    const bool has_average = archive.try_read("generator_live", live);
    archive.read("generator", g);
    archive.read("discriminator", d);
    Generator average_scratch{nullptr};
    torch::Tensor given_parts;
    if (average_ && archive.try_read("average_given_parts", given_parts)) last_given_ = given_parts.to(device_);
    if (has_average) {
      g_scratch->load(live);
      if (average_) {
        average_scratch = Generator(g_options_);
        average_scratch->load(g);
      }
    } else {
      g_scratch->load(g);
    }
    d_scratch->load(d);
    archive.read("g_optimizer", g_opt);
    archive.read("d_optimizer", d_opt);
    torch::Tensor step, rng_state;
    archive.read("step", step);
    archive.read("rng_state", rng_state);
    {
      torch::NoGradGuard no_grad;
      auto copy_all = [](const std::vector<torch::Tensor>& from, std::vector<torch::Tensor> to) {
        for (size_t i = 0; i < to.size(); ++i) to[i].copy_(from[i]);
      };
      copy_all(g_scratch->parameters(), g_->parameters());
      copy_all(g_scratch->buffers(), g_->buffers());
      copy_all(d_scratch->parameters(), d_->parameters());
      copy_all(d_scratch->buffers(), d_->buffers());
      if (average_) {
        // The stored average where there is one; otherwise the average starts here, from the live weights.
        average_->ResetFrom(average_scratch ? average_scratch : g_scratch);
      }
    }
    g_opt_->load(g_opt);
    d_opt_->load(d_opt);
    step_ = step.item<int64_t>();
    // The refiner's stage came with the generator's buffers.
    g_->set_base_frozen(GeneratorFrozen());
    std::lock_guard<std::mutex> lock(rng_.mutex());
    rng_.set_state(rng_state);
    return absl::OkStatus();
  } catch (const c10::Error& e) {
    return absl::DataLossError(absl::StrCat("loading trainer state: ", std::string(e.what_without_backtrace())));
  }
}

}  // namespace tutti
