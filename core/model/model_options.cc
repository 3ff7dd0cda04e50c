#include "core/model/model_options.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace tutti {
namespace {

Status CheckShape(const std::string& who, int64_t tracks, int64_t measures, int64_t steps,
                  int64_t pitches, int64_t num_genres) {
  auto bad = [&](const std::string& field, const std::string& rule, int64_t got) {
    return absl::InvalidArgumentError(
        absl::StrCat(who, ".", field, " must be ", rule, ", got ", got));
  };
  if (tracks < 1) return bad("tracks", ">= 1", tracks);
  if (measures < 2) return bad("measures", ">= 2", measures);
  if (steps < 4 || steps % 4 != 0) return bad("steps_per_measure", "a positive multiple of 4", steps);
  if (pitches < 6 || pitches % 6 != 0) return bad("pitches", "a positive multiple of 6", pitches);
  if (num_genres < 0) return bad("num_genres", ">= 0", num_genres);
  return absl::OkStatus();
}

// held_tracks and harmony_tracks: distinct tracks in increasing order, and the grouped layers they plug into.
Status CheckTrackList(const std::string& field, const std::vector<int64_t>& list, const GeneratorOptions& o) {
  int64_t previous = -1;
  for (const int64_t track : list) {
    if (track <= previous || track >= o.tracks()) {
      return absl::InvalidArgumentError(absl::StrCat("GeneratorOptions.", field, " must be distinct tracks in [0, ",
                                                     o.tracks(), ") in increasing order, got ", track));
    }
    previous = track;
  }
  if (!list.empty() && !o.grouped_tracks()) {
    return absl::InvalidArgumentError(absl::StrCat("GeneratorOptions.", field, " needs grouped_tracks"));
  }
  return absl::OkStatus();
}

// InvalidArgument "GeneratorOptions.<field> must be <what>, got <track>" for the first of `list` not in `of` (sorted).
Status CheckTracksWithin(const std::string& field, const std::vector<int64_t>& list, const std::vector<int64_t>& of,
                         const std::string& what) {
  for (const int64_t track : list) {
    if (!std::binary_search(of.begin(), of.end(), track)) {
      return absl::InvalidArgumentError(absl::StrCat("GeneratorOptions.", field, " must be ", what, ", got ", track));
    }
  }
  return absl::OkStatus();
}

// The gates multiply the activation's output by fractions, which binary 0/1 notes cannot carry.
Status CheckGateOnRealOutput(const std::string& field, bool gate_on, const GeneratorOptions& o) {
  if (!gate_on || o.output() != OutputActivation::kBinary) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("GeneratorOptions.", field, " needs output relu or sigmoid, got binary"));
}

}  // namespace

const char* RefinerKindName(RefinerKind kind) {
  switch (kind) {
    case RefinerKind::kNone: return "none";
    case RefinerKind::kDeterministic: return "deterministic";
    case RefinerKind::kStochastic: return "stochastic";
  }
  return "none";
}

bool ParseRefinerKind(const std::string& text, RefinerKind* kind) {
  for (RefinerKind k : {RefinerKind::kNone, RefinerKind::kDeterministic, RefinerKind::kStochastic}) {
    if (text == RefinerKindName(k)) {
      *kind = k;
      return true;
    }
  }
  return false;
}

const char* OutputActivationName(OutputActivation activation) {
  switch (activation) {
    case OutputActivation::kRelu: return "relu";
    case OutputActivation::kSigmoid: return "sigmoid";
    case OutputActivation::kBinary: return "binary";
  }
  return "relu";
}

bool ParseOutputActivation(const std::string& text, OutputActivation* activation) {
  for (OutputActivation a : {OutputActivation::kRelu, OutputActivation::kSigmoid, OutputActivation::kBinary}) {
    if (text == OutputActivationName(a)) {
      *activation = a;
      return true;
    }
  }
  return false;
}

Status ValidateGeneratorOptions(const GeneratorOptions& o) {
  if (o.latent_dim() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("GeneratorOptions.latent_dim must be >= 1, got ", o.latent_dim()));
  }
  if (o.refiner() != RefinerKind::kNone && o.refiner_units() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("GeneratorOptions.refiner_units must be >= 1 with a refiner, got ", o.refiner_units()));
  }
  if (o.condition_track() < -1 || o.condition_track() >= o.tracks()) {
    return absl::InvalidArgumentError(absl::StrCat("GeneratorOptions.condition_track must be -1 (none) or a track in [0, ",
                                                   o.tracks(), "), got ", o.condition_track()));
  }
  if (o.condition_track() >= 0 && o.tracks() < 2) {
    return absl::InvalidArgumentError("GeneratorOptions.condition_track needs at least 2 tracks: one given, one written");
  }
  TUTTI_RETURN_IF_ERROR(CheckTrackList("held_tracks", o.held_tracks(), o));
  TUTTI_RETURN_IF_ERROR(CheckTrackList("harmony_tracks", o.harmony_tracks(), o));
  if (o.held_on_eighths() && o.held_tracks().empty()) {
    return absl::InvalidArgumentError("GeneratorOptions.held_on_eighths needs held_tracks");
  }
  if (o.held_detail() && o.held_tracks().empty()) {
    return absl::InvalidArgumentError("GeneratorOptions.held_detail needs held_tracks");
  }
  if (o.held_release() && !o.held_on_eighths()) {
    return absl::InvalidArgumentError("GeneratorOptions.held_release needs held_tracks with held_on_eighths");
  }
  TUTTI_RETURN_IF_ERROR(CheckGateOnRealOutput("held_release", o.held_release(), o));
  TUTTI_RETURN_IF_ERROR(CheckTrackList("held_release_tracks", o.held_release_tracks(), o));
  if (!o.held_release_tracks().empty() && !o.held_release()) {
    return absl::InvalidArgumentError("GeneratorOptions.held_release_tracks needs held_release");
  }
  TUTTI_RETURN_IF_ERROR(
      CheckTracksWithin("held_release_tracks", o.held_release_tracks(), o.held_tracks(), "held tracks"));
  TUTTI_RETURN_IF_ERROR(CheckTrackList("held_release_late_tracks", o.held_release_late_tracks(), o));
  TUTTI_RETURN_IF_ERROR(CheckTracksWithin("held_release_late_tracks", o.held_release_late_tracks(), ReleasedTracks(o),
                                          "tracks held_release gates"));
  if (o.bar_levels() && !o.grouped_tracks()) {
    return absl::InvalidArgumentError("GeneratorOptions.bar_levels needs grouped_tracks");
  }
  if (o.bar_gate() && !o.bar_levels()) {
    return absl::InvalidArgumentError("GeneratorOptions.bar_gate needs bar_levels");
  }
  if (o.bar_gate_hard() && !o.bar_gate()) {
    return absl::InvalidArgumentError("GeneratorOptions.bar_gate_hard needs bar_gate");
  }
  TUTTI_RETURN_IF_ERROR(CheckGateOnRealOutput("bar_gate", o.bar_gate(), o));
  if (!(o.bar_level_scale() > 0) || !std::isfinite(o.bar_level_scale())) {
    return absl::InvalidArgumentError(
        absl::StrCat("GeneratorOptions.bar_level_scale must be a positive number, got ", o.bar_level_scale()));
  }
  if (o.bar_level_scale() != 1.0 && !o.bar_levels()) {
    return absl::InvalidArgumentError("GeneratorOptions.bar_level_scale needs bar_levels");
  }
  if (!(o.harmony_gain() >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("GeneratorOptions.harmony_gain must be >= 0, got ", o.harmony_gain()));
  }
  if (o.harmony_gate() && o.harmony_tracks().empty()) {
    return absl::InvalidArgumentError("GeneratorOptions.harmony_gate needs harmony_tracks");
  }
  TUTTI_RETURN_IF_ERROR(CheckGateOnRealOutput("harmony_gate", o.harmony_gate(), o));
  if (o.harmony_gate_lower_only() && !o.harmony_gate()) {
    return absl::InvalidArgumentError("GeneratorOptions.harmony_gate_lower_only needs harmony_gate");
  }
  TUTTI_RETURN_IF_ERROR(CheckTrackList("harmony_root_tracks", o.harmony_root_tracks(), o));
  if (!o.harmony_root_tracks().empty() && !o.harmony_gate()) {
    return absl::InvalidArgumentError("GeneratorOptions.harmony_root_tracks needs harmony_gate");
  }
  TUTTI_RETURN_IF_ERROR(
      CheckTracksWithin("harmony_root_tracks", o.harmony_root_tracks(), o.harmony_tracks(), "harmony tracks"));
  if (o.harmony_after_norm() && o.harmony_tracks().empty()) {
    return absl::InvalidArgumentError("GeneratorOptions.harmony_after_norm needs harmony_tracks");
  }
  if (!o.harmony_tracks().empty() && o.pitches() != 72) {
    return absl::InvalidArgumentError(absl::StrCat(
        "GeneratorOptions.harmony_tracks needs pitches == 72 (six octaves of 12 pitch classes), got ", o.pitches()));
  }
  if (o.output() != OutputActivation::kRelu && !o.grouped_tracks()) {
    return absl::InvalidArgumentError(absl::StrCat("GeneratorOptions.output ", OutputActivationName(o.output()),
                                                   " needs grouped_tracks"));
  }
  return CheckShape("GeneratorOptions", o.tracks(), o.measures(), o.steps_per_measure(),
                    o.pitches(), o.num_genres());
}

std::vector<int64_t> ReleasedTracks(const GeneratorOptions& o) {
  if (!o.held_release()) return {};
  return o.held_release_tracks().empty() ? o.held_tracks() : o.held_release_tracks();
}

std::string JoinedTracks(const std::vector<int64_t>& tracks) {
  std::string out;
  for (size_t i = 0; i < tracks.size(); ++i) absl::StrAppend(&out, i ? "+" : "", tracks[i]);
  return out;
}

std::vector<int64_t> ListedSlots(const std::vector<int64_t>& listed, int64_t tracks) {
  std::vector<int64_t> slots(static_cast<size_t>(std::max<int64_t>(tracks, 0)), -1);
  for (size_t i = 0; i < listed.size(); ++i) {
    if (listed[i] >= 0 && listed[i] < tracks) slots[static_cast<size_t>(listed[i])] = static_cast<int64_t>(i);
  }
  return slots;
}

Status ValidateDiscriminatorOptions(const DiscriminatorOptions& o) {
  if (o.chroma_stream() && o.pitches() % 12 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "DiscriminatorOptions.chroma_stream needs pitches to be a multiple of 12 (whole octaves), got ",
        o.pitches()));
  }
  return CheckShape("DiscriminatorOptions", o.tracks(), o.measures(), o.steps_per_measure(),
                    o.pitches(), o.num_genres());
}

Status ValidateModelPair(const GeneratorOptions& g, const DiscriminatorOptions& d) {
  TUTTI_RETURN_IF_ERROR(ValidateGeneratorOptions(g));
  TUTTI_RETURN_IF_ERROR(ValidateDiscriminatorOptions(d));
  if (g.tracks() != d.tracks() || g.measures() != d.measures() ||
      g.steps_per_measure() != d.steps_per_measure() || g.pitches() != d.pitches()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "generator makes (", g.tracks(), ", ", g.measures() * g.steps_per_measure(), ", ",
        g.pitches(), ") samples but the discriminator reads (", d.tracks(), ", ",
        d.measures() * d.steps_per_measure(), ", ", d.pitches(), ")"));
  }
  if (g.num_genres() != d.num_genres()) {
    return absl::InvalidArgumentError(absl::StrCat("num_genres differs: generator ", g.num_genres(),
                                                   ", discriminator ", d.num_genres()));
  }
  return absl::OkStatus();
}

namespace {

// "tutti::Generator(a=1, b=x) tutti::Discriminator(...)" -> {"Generator.a": "1", ...}.
std::map<std::string, std::string> FingerprintOptions(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t at = 0;
  while ((at = text.find("tutti::", at)) != std::string::npos) {
    const size_t open = text.find('(', at);
    const size_t close = text.find(')', open == std::string::npos ? at : open);
    if (open == std::string::npos || close == std::string::npos) break;
    const std::string module = text.substr(at + 7, open - at - 7);
    const std::string body = text.substr(open + 1, close - open - 1);
    size_t start = 0;
    while (start <= body.size()) {
      size_t end = body.find(", ", start);
      if (end == std::string::npos) end = body.size();
      const std::string item = body.substr(start, end - start);
      const size_t eq = item.find('=');
      if (eq != std::string::npos) out[module + "." + item.substr(0, eq)] = item.substr(eq + 1);
      start = end + 2;
    }
    at = close;
  }
  return out;
}

}  // namespace

std::string DescribeArchitectureDifference(const std::string& checkpoint, const std::string& current) {
  // Options a fingerprint may leave out, with the value that means.
  const std::map<std::string, std::string> defaults = {
      {"Generator.refiner", "none"},          {"Generator.refiner_units", "(no refiner)"},
      {"Generator.condition_track", "none"},   {"Generator.held_tracks", "none"}, {"Generator.output", "relu"},
      {"Generator.harmony_tracks", "none"},    {"Generator.bar_levels", "false"},
      {"Generator.bar_gate", "false"},        {"Generator.bar_gate_hard", "false"},
      {"Generator.bar_level_scale", "1"},     {"Generator.rest_plans", "false"},
      {"Generator.held_on_eighths", "false"},  {"Generator.held_detail", "false"},
      {"Generator.harmony_after_norm", "false"}, {"Generator.held_release", "false"},
      {"Generator.harmony_gate", "false"},     {"Generator.harmony_gate_lower_only", "false"},
      {"Generator.held_release_tracks", "every held track"},
      {"Generator.held_release_late_tracks", "none"}, {"Generator.harmony_root_tracks", "none"},
      {"Discriminator.onset_stream", "false"}, {"Discriminator.chroma_stream", "false"},
      {"Discriminator.minibatch_stddev", "false"}, {"Discriminator.bar_silence", "false"}};
  const std::map<std::string, std::string> config_key = {
      {"latent_dim", "model.latent_dim"},   {"tracks", "model.tracks"},
      {"measures", "model.measures"},       {"steps_per_measure", "model.steps_per_measure"},
      {"pitches", "model.pitches"},         {"num_genres", "model.genre_conditional (genres)"},
      {"refiner", "model.refiner"},         {"refiner_units", "model.refiner_units"},
      {"onset_stream", "model.onset_stream"}, {"chroma_stream", "model.chroma_stream"},
      {"condition_track", "model.condition_track"}, {"held_tracks", "model.held_tracks"},
      {"output", "model.output"},           {"harmony_tracks", "model.harmony_tracks"},
      {"bar_levels", "model.bar_levels"},  {"bar_gate", "model.bar_gate"},
      {"bar_gate_hard", "model.bar_gate_hard"},  {"held_on_eighths", "model.held_on_eighths"},
      {"bar_level_scale", "model.bar_level_scale"}, {"rest_plans", "model.rest_plans"},
      {"held_detail", "model.held_detail"}, {"harmony_after_norm", "model.harmony_after_norm"},
      {"held_release", "model.held_release"}, {"harmony_gate", "model.harmony_gate"},
      {"held_release_tracks", "model.held_release_tracks"},
      {"harmony_gate_lower_only", "model.harmony_gate_lower_only"},
      {"held_release_late_tracks", "model.held_release_late_tracks"},
      {"harmony_root_tracks", "model.harmony_root_tracks"},
      {"minibatch_stddev", "model.critic_minibatch_stddev"},
      {"bar_silence", "model.critic_bar_silence"}};
  std::map<std::string, std::string> a = FingerprintOptions(checkpoint), b = FingerprintOptions(current);
  for (const auto& [key, value] : defaults) {
    a.emplace(key, value);
    b.emplace(key, value);
  }
  std::vector<std::string> keys;
  for (const auto& [key, value] : a) keys.push_back(key);
  for (const auto& [key, value] : b) {
    if (!a.count(key)) keys.push_back(key);
  }
  std::string out;
  for (const std::string& key : keys) {
    const auto in_a = a.find(key), in_b = b.find(key);
    const std::string va = in_a == a.end() ? "(absent)" : in_a->second;
    const std::string vb = in_b == b.end() ? "(absent)" : in_b->second;
    if (va == vb) continue;
    const std::string leaf = key.substr(key.find('.') + 1);
    const auto named = config_key.find(leaf);
    const std::string name =
        named != config_key.end() ? named->second : "the " + key.substr(0, key.find('.')) + "'s " + leaf;
    // Several modules share a shape option: name each config key once.
    if (out.find(name + ":") != std::string::npos) continue;
    absl::StrAppend(&out, out.empty() ? "" : "; ", name, ": ", va, " in the checkpoint, ", vb, " here");
  }
  return out;
}

}  // namespace tutti
