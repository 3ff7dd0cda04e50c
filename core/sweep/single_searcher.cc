// Single: one trial with the const values, trained to max_length (a plain job run as an experiment).

#include <memory>

#include "core/sweep/internal/fixed_length_searcher.h"
#include "core/sweep/internal/sweep_internal.h"

namespace tutti::sweep::internal {
namespace {

class SingleSearcher final : public FixedLengthSearcher {
 public:
  SingleSearcher(const SearcherConfig& config, const std::vector<HyperparameterSpec>& space)
      : FixedLengthSearcher("single", config, /*max_trials=*/1) {
    // CreateSearcher checked that nothing varies: a const, or a categorical whose values are all alike.
    for (const HyperparameterSpec& spec : space) hparams_[spec.path] = spec.values.at(0);
  }

  StatusOr<std::vector<Operation>> SetMaxTrials(int max_trials) override {
    if (max_trials == 1) return std::vector<Operation>{};
    return absl::InvalidArgumentError(
        absl::StrCat("searcher.max_trials: single runs one trial; expected 1, got ", max_trials));
  }

 protected:
  Assignment NextAssignment() override { return hparams_; }

 private:
  Assignment hparams_;  // constant after construction
};

}  // namespace

std::unique_ptr<Searcher> NewSingleSearcher(const SearcherConfig& config,
                                            const std::vector<HyperparameterSpec>& space) {
  return std::make_unique<SingleSearcher>(config, space);
}

}  // namespace tutti::sweep::internal
