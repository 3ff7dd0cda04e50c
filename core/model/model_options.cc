#include "core/model/model_options.h"

#include <string>

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

}  // namespace

Status ValidateGeneratorOptions(const GeneratorOptions& o) {
  if (o.latent_dim() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("GeneratorOptions.latent_dim must be >= 1, got ", o.latent_dim()));
  }
  return CheckShape("GeneratorOptions", o.tracks(), o.measures(), o.steps_per_measure(),
                    o.pitches(), o.num_genres());
}

Status ValidateDiscriminatorOptions(const DiscriminatorOptions& o) {
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

}  // namespace tutti
