// The portable random source and the JSON state envelope shared by every searcher.

#include <algorithm>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "core/sweep/internal/sweep_internal.h"

namespace tutti::sweep::internal {

int64_t Rng::UniformInt(int64_t lo, int64_t hi) {
  const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);  // hi - lo, wrap-safe
  if (span == std::numeric_limits<uint64_t>::max()) return static_cast<int64_t>(Next());
  const uint64_t n = span + 1;
  // Reject the lowest 2^64 mod n outputs so the accepted ones are a whole number of blocks of n.
  const uint64_t threshold = (0 - n) % n;
  uint64_t x = Next();
  while (x < threshold) x = Next();
  return static_cast<int64_t>(static_cast<uint64_t>(lo) + x % n);
}

void Rng::Restore(uint64_t seed, uint64_t draws) {
  engine_.seed(seed);
  engine_.discard(draws);  // O(draws): a few per trial, microseconds even for thousands of trials
  seed_ = seed;
  draws_ = draws;
}

Status CheckNewMaxTrials(bool done, int created, int max_trials) {
  if (done) {
    return absl::FailedPreconditionError(
        absl::StrCat("searcher.max_trials: the search is over (all ", created, " trials finished)"));
  }
  if (max_trials < 1 || max_trials < created) {
    return absl::InvalidArgumentError(absl::StrCat("searcher.max_trials: ", created,
                                                   " trials were already created; expected at least ",
                                                   std::max(created, 1), ", got ", max_trials));
  }
  return absl::OkStatus();
}

Status ParseState(const std::string& text, const char* kind, nlohmann::json* out) {
  nlohmann::json state = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (state.is_discarded() || !state.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("searcher state: expected a JSON object, got '",
                                                   text.substr(0, 80), text.size() > 80 ? "...'" : "'"));
  }
  const auto saved_kind = state.find("searcher");
  if (saved_kind == state.end() || !saved_kind->is_string()) {
    return absl::InvalidArgumentError("searcher state: no \"searcher\" field naming its kind");
  }
  if (saved_kind->get<std::string>() != kind) {
    return absl::InvalidArgumentError(absl::StrCat("searcher state: saved by a ", saved_kind->get<std::string>(),
                                                   " searcher; this one is ", kind));
  }
  const auto version = state.find("version");
  if (version == state.end() || !version->is_number_integer() || version->get<int>() != kStateVersion) {
    return absl::InvalidArgumentError(absl::StrCat("searcher state: expected version ", kStateVersion, ", got ",
                                                   version == state.end() ? "none" : version->dump()));
  }
  *out = std::move(state);
  return absl::OkStatus();
}

}  // namespace tutti::sweep::internal
