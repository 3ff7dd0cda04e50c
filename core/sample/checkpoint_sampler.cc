#include "core/sample/checkpoint_sampler.h"

#include <algorithm>
#include <cmath>
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

// Rows of every forward pass on `device` (see the header comment: a fixed shape is what makes a sample's
// bits independent of its batch). On the CPU the cost per sample is flat from 4 rows up (2-core Xeon, 2
// intra-op threads: 0.71 ms alone, 0.43 ms each at 4 rows, 0.44 ms at 16 and 32), so 4 keeps a lone
// request cheap (1.7 ms); a GPU runs 64 rows in about the time of one.
int64_t ForwardRowsOn(const torch::Device& device) { return device.is_cuda() ? 64 : 4; }

// The generator's outputs for `latents` (count, latent_dim) and `genre_ids` (count, or undefined), run as
// forwards of exactly `rows` rows: each slice of `rows` latents, the last one padded with zero latents (and
// genre 0), and only the real rows kept. On the generator's device.
torch::Tensor FixedRowsForward(Generator& generator, const torch::Device& device, int64_t rows,
                               const torch::Tensor& latents, const torch::Tensor& genre_ids,
                               const torch::Tensor& given) {
  torch::NoGradGuard no_grad;  // thread-local
  const int64_t count = latents.size(0);
  torch::Tensor z = latents.to(device, torch::kFloat);
  torch::Tensor ids = genre_ids.defined() ? genre_ids.to(device, torch::kInt64) : genre_ids;
  torch::Tensor parts = given.defined() ? given.to(device, torch::kFloat) : given;
  std::vector<torch::Tensor> outputs;
  for (int64_t start = 0; start < count; start += rows) {
    const int64_t take = std::min(rows, count - start);
    torch::Tensor z_rows = z.narrow(0, start, take);
    torch::Tensor id_rows = ids.defined() ? ids.narrow(0, start, take) : ids;
    torch::Tensor part_rows = parts.defined() ? parts.narrow(0, start, take) : parts;
    if (take < rows) {
      z_rows = torch::cat({z_rows, torch::zeros({rows - take, z.size(1)}, z.options())});
      if (ids.defined()) id_rows = torch::cat({id_rows, torch::zeros({rows - take}, ids.options())});
      if (parts.defined()) {
        part_rows = torch::cat({part_rows, torch::zeros({rows - take, parts.size(1), parts.size(2)}, parts.options())});
      }
    }
    outputs.push_back(generator->forward(z_rows, id_rows, torch::Tensor(), part_rows).narrow(0, 0, take));
  }
  return outputs.size() == 1 ? outputs[0] : torch::cat(outputs);
}

}  // namespace

struct GeneratorModel::Impl {
  // All constant after Load.
  std::string name;
  JobConfig config;
  int64_t step = 0;
  SampleShape shape;
  torch::Device device = torch::kCPU;
  int64_t forward_rows = 4;
  int64_t memory_bytes = 0;
  TrackSet track_set;                // from the checkpoint's extra "track_set"
  int condition_track = -1;          // model.condition_track's index, -1 for none
  std::string condition_track_name;  // "" for none
  Generator generator{nullptr};  // eval mode; parameters never written after Load
};

GeneratorModel::GeneratorModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GeneratorModel::~GeneratorModel() = default;

const JobConfig& GeneratorModel::config() const { return impl_->config; }
int64_t GeneratorModel::step() const { return impl_->step; }
SampleShape GeneratorModel::shape() const { return impl_->shape; }
const std::string& GeneratorModel::name() const { return impl_->name; }
std::string GeneratorModel::device() const { return impl_->device.str(); }
int64_t GeneratorModel::memory_bytes() const { return impl_->memory_bytes; }
int64_t GeneratorModel::forward_rows() const { return impl_->forward_rows; }
int GeneratorModel::condition_track() const { return impl_->condition_track; }
const TrackSet& GeneratorModel::track_set() const { return impl_->track_set; }
const std::string& GeneratorModel::condition_track_name() const { return impl_->condition_track_name; }

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
  impl->track_set = TrackSetFromJson(meta.extra.value("track_set", nlohmann::json()), m.tracks);
  TUTTI_ASSIGN_OR_RETURN(impl->device, ResolveDevice(device));
  impl->condition_track = ConditionTrackIndex(m);
  if (impl->condition_track >= 0) impl->condition_track_name = m.condition_track;
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
      const std::string difference = DescribeArchitectureDifference(stored, expected.str());
      return absl::FailedPreconditionError(absl::StrCat(name, ": the checkpoint's model is ", stored,
                                                        " but its config builds the generator ", expected.str(),
                                                        difference.empty() ? "" : " (" + difference + ")"));
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
    for (const torch::Tensor& tensor : impl->generator->parameters()) {
      impl->memory_bytes += tensor.numel() * static_cast<int64_t>(tensor.element_size());
    }
    for (const torch::Tensor& tensor : impl->generator->buffers()) {
      impl->memory_bytes += tensor.numel() * static_cast<int64_t>(tensor.element_size());
    }
    impl->forward_rows = ForwardRowsOn(impl->device);
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
  torch::Tensor given;      // (n, steps, pitches) float, undefined unless an accompaniment model
  GenerateFn generate;      // fixed-size forwards of the eval-mode generator on impl_->device
};

Status GeneratorModel::CheckItem(const BatchItem& item) const {
  if (item.n < 1) return absl::InvalidArgumentError(absl::StrCat("expected at least 1 sample, got ", item.n));
  if (!(item.latent_variation >= 0 && item.latent_variation <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("latent variation ", item.latent_variation, ", expected 0..1"));
  }
  const int64_t part_cells = impl_->shape.steps * impl_->shape.pitches;
  if (impl_->condition_track >= 0 && item.given.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        impl_->name, ": this model accompanies a given ", impl_->condition_track_name,
        " part (model.condition_track: ", impl_->condition_track_name,
        ") and writes the other tracks around it, so every sample needs that part: use `tutti accompany "
        "--checkpoint <file> --input <song.mid|song.npz>`"));
  }
  if (impl_->condition_track < 0 && !item.given.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(impl_->name, ": got a given part, but this model has no condition track (model.condition_track: none)"));
  }
  if (!item.given.empty() && static_cast<int64_t>(item.given.size()) != item.n * part_cells) {
    return absl::InvalidArgumentError(absl::StrCat("the given ", impl_->condition_track_name, " part holds ",
                                                   item.given.size(), " cells, expected ", item.n, " samples x ",
                                                   impl_->shape.steps, " steps x ", impl_->shape.pitches, " pitches"));
  }
  return ResolveGenre(impl_->config, item.genre, item.default_genre).status();
}

StatusOr<GeneratorModel::Inputs> GeneratorModel::MakeInputs(const BatchItem& item) const {
  TUTTI_RETURN_IF_ERROR(CheckItem(item));
  Inputs in;
  TUTTI_ASSIGN_OR_RETURN(in.genre_index, ResolveGenre(impl_->config, item.genre, item.default_genre));
  try {
    // One stream per call (nothing shared between threads); all latents at once, so n and the seed alone
    // decide every sample whatever the chunking and batching.
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(item.seed);
    const int64_t latent_dim = impl_->config.model.latent_dim;
    if (item.shared_latent) {
      const torch::Tensor shared = torch::randn({1, latent_dim}, gen, torch::kFloat).expand({item.n, latent_dim});
      if (item.latent_variation > 0) {
        const double v = std::min(1.0, item.latent_variation);
        const torch::Tensor own = torch::randn({item.n, latent_dim}, gen, torch::kFloat);
        in.latents = (std::sqrt(1 - v * v) * shared + v * own).contiguous();
      } else {
        in.latents = shared.contiguous();
      }
    } else {
      in.latents = torch::randn({item.n, latent_dim}, gen, torch::kFloat);
    }
    if (in.genre_index >= 0) in.genre_ids = torch::full({item.n}, in.genre_index, torch::kInt64);
    if (!item.given.empty()) {
      in.given = torch::from_blob(const_cast<uint8_t*>(item.given.data()),
                                  {item.n, impl_->shape.steps, impl_->shape.pitches}, torch::kUInt8)
                     .to(torch::kFloat);
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat(impl_->name, ": drawing latents: ", std::string(e.what_without_backtrace())));
  }
  // What GanTrainer::Generate does, minus its switch back to train mode (this generator stays in eval mode,
  // which is what makes concurrent calls safe), in forwards of forward_rows rows.
  Generator generator = impl_->generator;  // a handle (shared_ptr copy), not a copy of the module
  const torch::Device device = impl_->device;
  const int64_t rows = impl_->forward_rows;
  // mutable: forward() is not const in LibTorch, though in eval mode without autograd it writes nothing.
  in.generate = [generator, device, rows](const at::Tensor& z, const at::Tensor& ids,
                                          const at::Tensor& given) mutable -> StatusOr<at::Tensor> {
    return FixedRowsForward(generator, device, rows, z, ids, given);
  };
  return in;
}

StatusOr<GeneratedSamples> GeneratorModel::Generate(int64_t n, uint64_t seed, const std::string& genre,
                                                    std::optional<double> threshold,
                                                    const std::string& default_genre) const {
  const BatchItem item{n, seed, genre, threshold, default_genre};
  TUTTI_RETURN_IF_ERROR(CheckItem(item));  // so errors carry no "item 0"
  TUTTI_ASSIGN_OR_RETURN(std::vector<GeneratedSamples> out, GenerateBatch({item}));
  return std::move(out[0]);
}

StatusOr<std::vector<GeneratedSamples>> GeneratorModel::GenerateBatch(const std::vector<BatchItem>& items) const {
  if (items.empty()) return absl::InvalidArgumentError("GenerateBatch: expected at least one item, got none");
  const Impl& impl = *impl_;
  std::vector<Inputs> inputs;
  inputs.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    StatusOr<Inputs> in = MakeInputs(items[i]);
    if (!in.ok()) return Annotate(in.status(), absl::StrCat("item ", i));
    inputs.push_back(*std::move(in));
  }
  const int64_t cells = impl.shape.cells();
  std::vector<GeneratedSamples> out(items.size());
  try {
    // Every item's rows through the same fixed-size forwards, in item order.
    std::vector<torch::Tensor> latents, genre_ids, given;
    for (const Inputs& in : inputs) {
      latents.push_back(in.latents);
      if (in.genre_ids.defined()) genre_ids.push_back(in.genre_ids);
      if (in.given.defined()) given.push_back(in.given);
    }
    const torch::Tensor all_ids = genre_ids.empty() ? torch::Tensor() : torch::cat(genre_ids);
    const torch::Tensor all_given = given.empty() ? torch::Tensor() : torch::cat(given);
    TUTTI_ASSIGN_OR_RETURN(torch::Tensor raw, inputs[0].generate(torch::cat(latents), all_ids, all_given));
    raw = raw.to(torch::kCPU, torch::kFloat).contiguous();
    int64_t rows = 0;
    for (const BatchItem& item : items) rows += item.n;
    if (raw.numel() != rows * cells) {
      return absl::InternalError(absl::StrCat(impl.name, ": generator returned ", raw.numel(), " values, expected ",
                                              rows * cells, " for ", rows, " samples of ", cells, " cells"));
    }
    int64_t first_row = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      const BatchItem& item = items[i];
      GeneratedSamples& samples = out[i];
      samples.config = impl.config;
      samples.track_set = impl.track_set;
      samples.step = impl.step;
      samples.shape = impl.shape;
      samples.genre_index = inputs[i].genre_index;
      if (samples.genre_index >= 0) {
        samples.genre = impl.config.data.genres[static_cast<size_t>(samples.genre_index)];
      } else if (impl.config.data.genres.size() == 1) {
        samples.genre = impl.config.data.genres[0];
      }
      samples.threshold = item.threshold.value_or(impl.config.sample.threshold);
      samples.n = item.n;
      samples.binary.resize(static_cast<size_t>(item.n * cells));
      const BinarizeStats stats = BinarizeRaw(raw.narrow(0, first_row, item.n), samples.threshold, samples.binary.data());
      samples.max_value = stats.max_value;
      samples.active_fraction = static_cast<double>(stats.active) / static_cast<double>(item.n * cells);
      if (item.keep_raw) {
        const float* first = raw.data_ptr<float>() + first_row * cells;
        samples.raw.assign(first, first + item.n * cells);
      }
      first_row += item.n;
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat(impl.name, ": generating samples: ", std::string(e.what_without_backtrace())));
  }
  return out;
}

StatusOr<std::vector<float>> GeneratorModel::GenerateRaw(int64_t n, uint64_t seed, const std::string& genre,
                                                         const std::string& default_genre) const {
  BatchItem item{n, seed, genre, std::nullopt, default_genre};
  item.keep_raw = true;
  TUTTI_RETURN_IF_ERROR(CheckItem(item));
  TUTTI_ASSIGN_OR_RETURN(std::vector<GeneratedSamples> out, GenerateBatch({item}));
  return std::move(out[0].raw);
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
