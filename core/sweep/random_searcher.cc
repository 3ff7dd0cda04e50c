// Random: max_trials independent draws from the search space, each trained to max_length.

#include <memory>

#include <nlohmann/json.hpp>

#include "core/sweep/internal/fixed_length_searcher.h"
#include "core/sweep/internal/sweep_internal.h"

namespace tutti::sweep::internal {
namespace {

class RandomSearcher final : public FixedLengthSearcher {
 public:
  RandomSearcher(const SearcherConfig& config, const std::vector<HyperparameterSpec>& space)
      : FixedLengthSearcher("random", config, config.max_trials), space_(space), rng_(config.seed) {}

 protected:
  // Drawn when the trial is created (not up front), so raising max_trials continues the same sequence.
  Assignment NextAssignment() override { return DrawAssignment(space_, rng_); }
  void SaveExtra(nlohmann::json* state) const override {
    (*state)["seed"] = rng_.seed();
    (*state)["draws"] = rng_.draws();
  }
  Status CheckExtra(const nlohmann::json& state) const override {
    (void)state.at("seed").get<uint64_t>();  // throws (-> InvalidArgument) when missing or not a number
    (void)state.at("draws").get<uint64_t>();
    return absl::OkStatus();
  }
  void ApplyExtra(const nlohmann::json& state) override {
    rng_.Restore(state.at("seed").get<uint64_t>(), state.at("draws").get<uint64_t>());
  }

 private:
  const std::vector<HyperparameterSpec> space_;
  Rng rng_;
};

}  // namespace

std::unique_ptr<Searcher> NewRandomSearcher(const SearcherConfig& config,
                                            const std::vector<HyperparameterSpec>& space) {
  return std::make_unique<RandomSearcher>(config, space);
}

}  // namespace tutti::sweep::internal
