#include "core/sample/checkpoint_sampler.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <sstream>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/cuda.h>
#include <torch/serialize/archive.h>
#include <torch/types.h>

#include "absl/strings/str_join.h"
#include "core/base/file_util.h"
#include "core/checkpoint/checkpoint.h"
#include "core/config/job_config_yaml.h"
#include "core/model/networks.h"
#include "core/sample/binarize.h"
#include "core/train/trainer_from_config.h"

namespace tutti {
namespace {

std::string KnownGenres(const JobConfig& config) { return absl::StrJoin(config.data.genres, ", "); }

std::string ShapeText(const std::vector<int64_t>& shape) { return absl::StrCat("(", absl::StrJoin(shape, ", "), ")"); }

// "auto" -> CUDA when visible; errors like GanTrainer::Create's for the same strings.
StatusOr<torch::Device> ResolveDevice(const std::string& device) {
  const std::string chosen = device == "auto" ? (torch::cuda::is_available() ? "cuda" : "cpu") : device;
  try {
    torch::Device parsed(chosen);
    if (parsed.is_cuda() && !torch::cuda::is_available()) {
      return absl::FailedPreconditionError(absl::StrCat("device ", device, ": CUDA is not available"));
    }
    return parsed;
  } catch (const c10::Error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("device: cannot parse \"", device, "\": ", std::string(e.what_without_backtrace())));
  }
}

// name -> shape of every parameter and buffer of `module`.
std::map<std::string, std::vector<int64_t>> Shapes(const torch::nn::Module& module) {
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& item : module.named_parameters()) shapes[item.key()] = item.value().sizes().vec();
  for (const auto& item : module.named_buffers()) shapes[item.key()] = item.value().sizes().vec();
  return shapes;
}

}  // namespace

struct GeneratorModel::Impl {
  // All constant after Load.
  std::string name;
  JobConfig config;
  int64_t step = 0;
  SampleShape shape;
  torch::Device device = torch::kCPU;
  Generator generator{nullptr};  // eval mode; parameters never written after Load
};

GeneratorModel::GeneratorModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GeneratorModel::~GeneratorModel() = default;

const JobConfig& GeneratorModel::config() const { return impl_->config; }
int64_t GeneratorModel::step() const { return impl_->step; }
SampleShape GeneratorModel::shape() const { return impl_->shape; }
const std::string& GeneratorModel::name() const { return impl_->name; }
std::string GeneratorModel::device() const { return impl_->device.str(); }

StatusOr<std::unique_ptr<GeneratorModel>> GeneratorModel::Load(const std::string& checkpoint_path,
                                                               const std::string& device) {
  TUTTI_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(checkpoint_path));
  return LoadFromBytes(bytes, checkpoint_path, device);
}

StatusOr<std::unique_ptr<GeneratorModel>> GeneratorModel::LoadFromBytes(const std::string& bytes,
                                                                        const std::string& name,
                                                                        const std::string& device) {
  // Verify the whole file first (sizes, payload sha256), so any later failure is a model mismatch, not
  // damage.
  TUTTI_ASSIGN_OR_RETURN(CheckpointMeta meta, ReadCheckpointMetaFromBytes(bytes, name));
  auto impl = std::make_unique<Impl>();
  impl->name = name;
  impl->step = meta.step;
  {
    StatusOr<JobConfig> config = ParseJobConfig(meta.config_yaml, name + " (config inside)");
    if (!config.ok()) return config.status();
    impl->config = *std::move(config);
  }
  const ModelConfig& m = impl->config.model;
  impl->shape = SampleShape{m.tracks, m.measures * m.steps_per_measure, m.pitches};
  TUTTI_ASSIGN_OR_RETURN(impl->device, ResolveDevice(device));
  const GeneratorOptions options = GeneratorOptionsFromConfig(impl->config);
  TUTTI_RETURN_IF_ERROR(Annotate(ValidateGeneratorOptions(options), name + " (config inside)"));

  torch::serialize::InputArchive archive;
  try {
    // Onto the CPU first: the generator moves to `device` as a whole below.
    archive.load_from(bytes.data() + meta.payload_offset, static_cast<size_t>(meta.payload_bytes), torch::kCPU);
  } catch (const c10::Error& e) {
    return absl::DataLossError(
        absl::StrCat(name, ": cannot read the checkpoint's archive: ", std::string(e.what_without_backtrace())));
  }
  try {
    impl->generator = Generator(options);
    // GanTrainer writes the architecture as "<generator> <discriminator>" (pretty_print of each): the
    // generator's part must be this one's. Checked first because Module::load swaps tensors in without
    // comparing shapes.
    std::ostringstream expected;
    impl->generator->pretty_print(expected);
    c10::IValue architecture;
    archive.read("architecture", architecture);
    const std::string& stored = architecture.toStringRef();
    if (stored.compare(0, expected.str().size() + 1, expected.str() + " ") != 0) {
      return absl::FailedPreconditionError(absl::StrCat(name, ": the checkpoint's model is ", stored,
                                                        " but its config builds the generator ", expected.str()));
    }
    const auto before = Shapes(*impl->generator);
    torch::serialize::InputArchive generator_archive;
    archive.read("generator", generator_archive);
    impl->generator->load(generator_archive);
    for (const auto& [key, shape] : Shapes(*impl->generator)) {
      const auto it = before.find(key);
      if (it == before.end() || it->second != shape) {
        return absl::FailedPreconditionError(absl::StrCat(
            name, ": the stored generator's ", key, " has shape ", ShapeText(shape), " but the config's model ",
            it == before.end() ? std::string("has no such tensor") : "expects " + ShapeText(it->second)));
      }
    }
    impl->generator->to(impl->device);
    impl->generator->eval();
  } catch (const c10::Error& e) {
    // The bytes were verified above, so a read failure here means another layout (a missing entry).
    return absl::FailedPreconditionError(absl::StrCat(name, ": cannot load the generator: ",
                                                      std::string(e.what_without_backtrace())));
  }
  return std::unique_ptr<GeneratorModel>(new GeneratorModel(std::move(impl)));
}

struct GeneratorModel::Inputs {
  int64_t genre_index = -1;
  torch::Tensor latents;    // (n, latent_dim) float32 on the CPU
  torch::Tensor genre_ids;  // (n) int64, undefined for unconditional models
  GenerateFn generate;      // the eval-mode generator on impl_->device
};

StatusOr<GeneratorModel::Inputs> GeneratorModel::MakeInputs(int64_t n, uint64_t seed, const std::string& genre,
                                                            const std::string& default_genre) const {
  if (n < 1) return absl::InvalidArgumentError(absl::StrCat("expected at least 1 sample, got ", n));
  Inputs in;
  TUTTI_ASSIGN_OR_RETURN(in.genre_index, ResolveGenre(impl_->config, genre, default_genre));
  try {
    // One stream per call (nothing shared between threads); all latents at once, so n and the seed alone
    // decide every sample whatever the chunking.
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    in.latents = torch::randn({n, static_cast<int64_t>(impl_->config.model.latent_dim)}, gen, torch::kFloat);
    if (in.genre_index >= 0) in.genre_ids = torch::full({n}, in.genre_index, torch::kInt64);
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat(impl_->name, ": drawing latents: ", std::string(e.what_without_backtrace())));
  }
  // What GanTrainer::Generate does, minus its switch back to train mode: this generator stays in eval mode,
  // which is what makes concurrent calls safe.
  Generator generator = impl_->generator;  // a handle (shared_ptr copy), not a copy of the module
  const torch::Device device = impl_->device;
  // mutable: forward() is not const in LibTorch, though in eval mode without autograd it writes nothing.
  in.generate = [generator, device](const at::Tensor& z, const at::Tensor& ids) mutable -> StatusOr<at::Tensor> {
    torch::NoGradGuard no_grad;  // thread-local
    return generator->forward(z.to(device, torch::kFloat), ids.defined() ? ids.to(device) : ids);
  };
  return in;
}

StatusOr<GeneratedSamples> GeneratorModel::Generate(int64_t n, uint64_t seed, const std::string& genre,
                                                    std::optional<double> threshold,
                                                    const std::string& default_genre) const {
  TUTTI_ASSIGN_OR_RETURN(Inputs in, MakeInputs(n, seed, genre, default_genre));
  const Impl& impl = *impl_;
  GeneratedSamples out;
  out.config = impl.config;
  out.step = impl.step;
  out.shape = impl.shape;
  out.genre_index = in.genre_index;
  if (out.genre_index >= 0) {
    out.genre = impl.config.data.genres[static_cast<size_t>(out.genre_index)];
  } else if (impl.config.data.genres.size() == 1) {
    out.genre = impl.config.data.genres[0];
  }
  out.threshold = threshold.value_or(impl.config.sample.threshold);
  out.n = n;
  const int64_t cells = out.shape.cells();
  out.binary.resize(static_cast<size_t>(n * cells));
  TUTTI_ASSIGN_OR_RETURN(BinarizeStats stats, GenerateBinary(in.generate, in.latents, in.genre_ids, cells,
                                                             out.threshold, out.binary.data(), impl.name));
  out.max_value = stats.max_value;
  out.active_fraction = static_cast<double>(stats.active) / static_cast<double>(n * cells);
  return out;
}

StatusOr<std::vector<float>> GeneratorModel::GenerateRaw(int64_t n, uint64_t seed, const std::string& genre,
                                                         const std::string& default_genre) const {
  TUTTI_ASSIGN_OR_RETURN(Inputs in, MakeInputs(n, seed, genre, default_genre));
  const int64_t cells = impl_->shape.cells();
  std::vector<float> raw(static_cast<size_t>(n * cells));
  try {
    for (int64_t start = 0; start < n; start += kGenerateChunk) {  // the chunks GenerateBinary uses
      const int64_t count = std::min(kGenerateChunk, n - start);
      TUTTI_ASSIGN_OR_RETURN(
          torch::Tensor chunk,
          in.generate(in.latents.narrow(0, start, count),
                      in.genre_ids.defined() ? in.genre_ids.narrow(0, start, count) : torch::Tensor()));
      chunk = chunk.to(torch::kCPU, torch::kFloat).contiguous();
      if (chunk.numel() != count * cells) {
        return absl::InternalError(absl::StrCat(impl_->name, ": generator returned ", chunk.numel(),
                                                " values, expected ", count * cells));
      }
      std::memcpy(raw.data() + start * cells, chunk.data_ptr<float>(), static_cast<size_t>(count * cells) * sizeof(float));
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat(impl_->name, ": generating samples: ", std::string(e.what_without_backtrace())));
  }
  return raw;
}

StatusOr<GeneratedSamples> GenerateFromCheckpoint(const SampleRequest& request) {
  if (request.n < 1) {
    return absl::InvalidArgumentError(absl::StrCat("expected at least 1 sample, got ", request.n));
  }
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<GeneratorModel> model, GeneratorModel::Load(request.checkpoint, request.device));
  return model->Generate(request.n, request.seed, request.genre, request.threshold, request.default_genre);
}

StatusOr<int64_t> ResolveGenre(const JobConfig& config, const std::string& genre,
                               const std::string& default_genre) {
  const std::vector<std::string>& genres = config.data.genres;
  if (config.model.genre_conditional) {
    if (genre.empty()) {
      auto it = std::find(genres.begin(), genres.end(), default_genre);
      return it == genres.end() ? 0 : static_cast<int64_t>(it - genres.begin());
    }
    auto it = std::find(genres.begin(), genres.end(), genre);
    if (it == genres.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown genre '", genre, "': this model generates ",
                                                     KnownGenres(config)));
    }
    return static_cast<int64_t>(it - genres.begin());
  }
  if (!genre.empty() && (genres.size() != 1 || genres[0] != genre)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--genre ", genre, ": the model is unconditional (model.genre_conditional is false) and was trained on ",
        genres.size() == 1 ? "" : "a mix of ", KnownGenres(config), "; it cannot be asked for a genre"));
  }
  return -1;
}

}  // namespace tutti
