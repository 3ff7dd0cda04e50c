#include "core/config/internal/field_registry.h"

#include <set>
#include <type_traits>
#include <utility>

#include "core/base/sha256.h"
#include "core/config/internal/yaml_values.h"

namespace tutti::config_internal {
namespace {

void Emit(int v, YAML::Emitter* out) { *out << v; }
void Emit(int64_t v, YAML::Emitter* out) { *out << v; }
void Emit(uint64_t v, YAML::Emitter* out) { *out << v; }
void Emit(bool v, YAML::Emitter* out) { *out << v; }
// Plain scalar: FormatDouble's text ("0.001", "1e-05") is valid YAML and reads back bit-exactly.
void Emit(double v, YAML::Emitter* out) { *out << FormatDouble(v); }
// Quoted so that names like "yes", "123" or "~" stay strings for any YAML reader.
void Emit(const std::string& v, YAML::Emitter* out) { *out << YAML::DoubleQuoted << v; }
void Emit(const std::vector<std::string>& v, YAML::Emitter* out) {
  *out << YAML::Flow << YAML::BeginSeq;
  for (const std::string& s : v) *out << YAML::DoubleQuoted << s;
  *out << YAML::EndSeq;
}

// `get` is a generic accessor `[](auto& c) -> auto& { ... }` that works on both const and mutable configs;
// `ok` is the range rule on the decoded value.
template <typename Get, typename Ok>
Field MakeFieldWith(std::string path, Get get, std::string expected, Ok ok) {
  using T = std::decay_t<decltype(get(std::declval<JobConfig&>()))>;
  Field f;
  f.path = std::move(path);
  f.expected = std::move(expected);
  f.set = [get, ok](const YAML::Node& node, JobConfig* config) {
    T value{};
    if (!Decode(node, &value) || !ok(value)) return false;
    get(*config) = std::move(value);
    return true;
  };
  f.valid = [get, ok](const JobConfig& config) { return ok(get(config)); };
  f.show = [get](const JobConfig& config) { return Show(get(config)); };
  f.emit = [get](const JobConfig& config, YAML::Emitter* out) { Emit(get(config), out); };
  f.same = [get](const JobConfig& a, const JobConfig& b) { return get(a) == get(b); };
  return f;
}

// A top-level field: JobConfig::member.
template <typename T, typename Ok>
Field MakeField(std::string path, T JobConfig::*member, std::string expected, Ok ok) {
  return MakeFieldWith(
      std::move(path), [member](auto& c) -> auto& { return c.*member; }, std::move(expected), ok);
}

// A field inside a section: JobConfig::section.member.
template <typename S, typename T, typename Ok>
Field MakeField(std::string path, S JobConfig::*section, T S::*member, std::string expected, Ok ok) {
  return MakeFieldWith(
      std::move(path), [ section, member ](auto& c) -> auto& { return (c.*section).*member; },
      std::move(expected), ok);
}

// Range rules. Decoding already guarantees the type (and finiteness for doubles).
const auto kAny = [](const auto&) { return true; };
const auto kPositive = [](const auto& v) { return v > 0; };
const auto kNonNegative = [](const auto& v) { return v >= 0; };
const auto kUnitHalfOpen = [](double v) { return v >= 0 && v < 1; };
const auto kNonEmpty = [](const std::string& s) { return !s.empty(); };
const auto kNames = [](const std::vector<std::string>& names) {
  if (names.empty()) return false;
  for (const std::string& n : names) {
    if (n.empty()) return false;
  }
  return true;
};
// Possibly empty, no empty entry.
const auto kNameList = [](const std::vector<std::string>& names) {
  for (const std::string& n : names) {
    if (n.empty()) return false;
  }
  return true;
};
const auto kPinList = [](const std::vector<std::string>& pins) {
  for (const std::string& pin : pins) {
    const size_t eq = pin.rfind('=');
    if (eq == std::string::npos || eq == 0 || !IsSha256Hex(std::string_view(pin).substr(eq + 1))) return false;
  }
  return true;
};
auto OneOf(std::vector<std::string> allowed) {
  return [allowed = std::move(allowed)](const std::string& s) {
    for (const std::string& a : allowed) {
      if (s == a) return true;
    }
    return false;
  };
}

constexpr char kPosInt[] = "a positive integer";
constexpr char kNonNegInt[] = "a non-negative integer";
constexpr char kPosNum[] = "a positive number";
constexpr char kBool[] = "true or false";
constexpr char kString[] = "a non-empty string";

std::vector<Field> BuildFields() {
  using J = JobConfig;
  using D = DataConfig;
  using M = ModelConfig;
  using T = TrainConfig;
  using C = CheckpointConfig;
  using E = EvalConfig;
  using X = DistributedConfig;
  using S = SampleConfig;
  const char* const kBeta = "a number in [0, 1)";
  const char* const kNonNegNum = "a non-negative number";
  const char* const kGenres = "a non-empty list of genre names";
  // clang-format off
  return {
    MakeField("name",                      &J::name,                         kString,    kNonEmpty),
    MakeField("output_dir",                &J::output_dir,                   kString,    kNonEmpty),

    MakeField("data.packs_dir",            &J::data, &D::packs_dir,          kString,    kNonEmpty),
    MakeField("data.genres",               &J::data, &D::genres,             kGenres,    kNames),
    MakeField("data.pack_pins",            &J::data, &D::pack_pins,
              "a list of \"<genre>=<manifest sha256>\" entries ([] = none)",               kPinList),
    MakeField("data.prefetch_batches",     &J::data, &D::prefetch_batches,   kPosInt,    kPositive),

    MakeField("model.latent_dim",          &J::model, &M::latent_dim,        kPosInt,    kPositive),
    MakeField("model.tracks",              &J::model, &M::tracks,            kPosInt,    kPositive),
    MakeField("model.measures",            &J::model, &M::measures,          kPosInt,    kPositive),
    MakeField("model.steps_per_measure",   &J::model, &M::steps_per_measure, kPosInt,    kPositive),
    MakeField("model.pitches",             &J::model, &M::pitches,           kPosInt,    kPositive),
    MakeField("model.genre_conditional",   &J::model, &M::genre_conditional, kBool,      kAny),
    MakeField("model.refiner",             &J::model, &M::refiner,           "one of none, deterministic, stochastic",
                                                                             OneOf({"none", "deterministic", "stochastic"})),
    MakeField("model.refiner_units",       &J::model, &M::refiner_units,     kPosInt,    kPositive),
    MakeField("model.refiner_pretrain_steps", &J::model, &M::refiner_pretrain_steps, kNonNegInt, kNonNegative),
    MakeField("model.refiner_generator",   &J::model, &M::refiner_generator, "one of frozen, fine_tune",
                                                                             OneOf({"frozen", "fine_tune"})),
    MakeField("model.onset_stream",        &J::model, &M::onset_stream,      kBool,      kAny),
    MakeField("model.chroma_stream",       &J::model, &M::chroma_stream,     kBool,      kAny),
    MakeField("model.condition_track",     &J::model, &M::condition_track,
              "one of none, drums, piano, guitar, bass, strings",  OneOf({"none", "drums", "piano", "guitar", "bass", "strings"})),
    MakeField("model.held_tracks",         &J::model, &M::held_tracks,
              "a list of track names (drums, piano, guitar, bass, strings) or 0-based indices ([] = none)", kNameList),
    MakeField("model.held_on_eighths",     &J::model, &M::held_on_eighths,   kBool,      kAny),
    MakeField("model.held_detail",         &J::model, &M::held_detail,       kBool,      kAny),
    MakeField("model.output",              &J::model, &M::output,            "one of relu, sigmoid, binary",
                                                                             OneOf({"relu", "sigmoid", "binary"})),
    MakeField("model.critic_minibatch_stddev", &J::model, &M::critic_minibatch_stddev, kBool, kAny),
    MakeField("model.critic_bar_silence",  &J::model, &M::critic_bar_silence, kBool,     kAny),
    MakeField("model.harmony_tracks",      &J::model, &M::harmony_tracks,
              "a list of track names (drums, piano, guitar, bass, strings) or 0-based indices ([] = none)", kNameList),
    MakeField("model.bar_levels",          &J::model, &M::bar_levels,        kBool,      kAny),
    MakeField("model.bar_gate",            &J::model, &M::bar_gate,          kBool,      kAny),
    MakeField("model.bar_gate_hard",       &J::model, &M::bar_gate_hard,     kBool,      kAny),
    MakeField("model.bar_level_scale",     &J::model, &M::bar_level_scale,   kPosNum,    kPositive),
    MakeField("model.rest_plans",          &J::model, &M::rest_plans,        kBool,      kAny),
    MakeField("model.harmony_gain",        &J::model, &M::harmony_gain,      kNonNegNum, kNonNegative),
    MakeField("model.harmony_after_norm",  &J::model, &M::harmony_after_norm, kBool,     kAny),
    MakeField("model.held_release",        &J::model, &M::held_release,      kBool,      kAny),
    MakeField("model.harmony_gate",        &J::model, &M::harmony_gate,      kBool,      kAny),
    MakeField("model.held_release_tracks", &J::model, &M::held_release_tracks,
              "a list of held track names (drums, piano, guitar, bass, strings) or 0-based indices ([] = every held track)",
              kNameList),
    MakeField("model.harmony_gate_lower_only", &J::model, &M::harmony_gate_lower_only, kBool, kAny),
    MakeField("model.held_release_late_tracks", &J::model, &M::held_release_late_tracks,
              "a list of gated track names (drums, piano, guitar, bass, strings) or 0-based indices ([] = none)",
              kNameList),
    MakeField("model.harmony_root_tracks", &J::model, &M::harmony_root_tracks,
              "a list of harmony track names (drums, piano, guitar, bass, strings) or 0-based indices ([] = none)",
              kNameList),

    MakeField("train.steps",               &J::train, &T::steps,             kPosInt,    kPositive),
    MakeField("train.batch_size",          &J::train, &T::batch_size,        kPosInt,    kPositive),
    MakeField("train.g_lr",                &J::train, &T::g_lr,              kPosNum,    kPositive),
    MakeField("train.d_lr",                &J::train, &T::d_lr,              kPosNum,    kPositive),
    MakeField("train.beta1",               &J::train, &T::beta1,             kBeta,      kUnitHalfOpen),
    MakeField("train.beta2",               &J::train, &T::beta2,             kBeta,      kUnitHalfOpen),
    MakeField("train.adam_eps",            &J::train, &T::adam_eps,          kPosNum,    kPositive),
    MakeField("train.critic_steps",        &J::train, &T::critic_steps,      kPosInt,    kPositive),
    MakeField("train.gp_weight",           &J::train, &T::gp_weight,         kNonNegNum, kNonNegative),
    MakeField("train.generator_ema",       &J::train, &T::generator_ema,     kBeta,      kUnitHalfOpen),
    MakeField("train.generator_ema_warmup", &J::train, &T::generator_ema_warmup, kBool,  kAny),
    MakeField("train.seed",                &J::train, &T::seed,              kNonNegInt, kAny),
    MakeField("train.intra_op_threads",    &J::train, &T::intra_op_threads,
              "a non-negative integer (0 = cores / local ranks)",                        kNonNegative),
    MakeField("train.log_every",           &J::train, &T::log_every,         kPosInt,    kPositive),
    MakeField("train.metrics_file",        &J::train, &T::metrics_file,      kString,    kNonEmpty),
    MakeField("train.device",              &J::train, &T::device,            "one of cpu, cuda, auto",
                                                                             OneOf({"cpu", "cuda", "auto"})),

    MakeField("checkpoint.dir",            &J::checkpoint, &C::dir,          kString,    kNonEmpty),
    MakeField("checkpoint.every",          &J::checkpoint, &C::every,        kPosInt,    kPositive),
    MakeField("checkpoint.keep",           &J::checkpoint, &C::keep,         kPosInt,    kPositive),
    MakeField("checkpoint.keep_best",      &J::checkpoint, &C::keep_best,    kNonNegInt, kNonNegative),
    MakeField("checkpoint.best_metric",    &J::checkpoint, &C::best_metric,  "a metric name (\"\" = none)", kAny),
    MakeField("checkpoint.best_mode",      &J::checkpoint, &C::best_mode,    "one of min, max", OneOf({"min", "max"})),

    MakeField("eval.every",                &J::eval, &E::every,              kPosInt,    kPositive),
    MakeField("eval.samples",              &J::eval, &E::samples,            kPosInt,    kPositive),
    MakeField("eval.seed",                 &J::eval, &E::seed,               kNonNegInt, kAny),
    MakeField("eval.realism",              &J::eval, &E::realism,            kBool,      kAny),
    MakeField("eval.realism_draws",        &J::eval, &E::realism_draws,      kPosInt,    kPositive),
    MakeField("eval.realism_seed",         &J::eval, &E::realism_seed,       kNonNegInt, kAny),

    MakeField("distributed.backend",       &J::distributed, &X::backend,     "one of auto, mpi, nccl",
                                                                             OneOf({"auto", "mpi", "nccl"})),
    MakeField("distributed.bucket_mb",     &J::distributed, &X::bucket_mb,   kPosNum,    kPositive),
    MakeField("distributed.sync_batchnorm", &J::distributed, &X::sync_batchnorm, kBool,  kAny),
    MakeField("distributed.timeout_s",     &J::distributed, &X::timeout_s,   kPosNum,    kPositive),
    MakeField("distributed.stall_warning_s", &J::distributed, &X::stall_warning_s, kPosNum, kPositive),

    MakeField("sample.tempo_qpm",          &J::sample, &S::tempo_qpm,        kPosNum,    kPositive),
    MakeField("sample.threshold",          &J::sample, &S::threshold,        kNonNegNum, kNonNegative),
  };
  // clang-format on
}

std::string SectionOf(const std::string& path) {
  const size_t dot = path.find('.');
  return dot == std::string::npos ? std::string() : path.substr(0, dot);
}

std::string LeafOf(const std::string& path) { return path.substr(path.find('.') + 1); }

}  // namespace

const std::vector<Field>& Fields() {
  static const std::vector<Field>* const fields = new std::vector<Field>(BuildFields());
  return *fields;
}

const Field* FindField(const std::string& path) {
  for (const Field& f : Fields()) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

bool IsSection(const std::string& path) {
  for (const Field& f : Fields()) {
    if (SectionOf(f.path) == path && !path.empty()) return true;
  }
  return false;
}

std::vector<std::string> ChildNames(const std::string& prefix) {
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const Field& f : Fields()) {
    const std::string section = SectionOf(f.path);
    std::string name;
    if (prefix.empty()) {
      name = section.empty() ? f.path : section;
    } else if (section == prefix) {
      name = LeafOf(f.path);
    } else {
      continue;
    }
    if (seen.insert(name).second) names.push_back(name);
  }
  return names;
}

std::vector<std::string> PathsWithLeafLike(const std::string& leaf) {
  std::vector<std::string> leaves;
  std::set<std::string> seen;
  for (const Field& f : Fields()) {
    if (seen.insert(LeafOf(f.path)).second) leaves.push_back(LeafOf(f.path));
  }
  std::vector<std::string> paths;
  for (const std::string& match : ClosestMatches(leaf, leaves)) {
    for (const Field& f : Fields()) {
      if (LeafOf(f.path) == match) paths.push_back(f.path);
    }
  }
  return paths;
}

}  // namespace tutti::config_internal
