// Grid: every point of GridPoints, in its order, each trained to max_length.

#include <memory>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/sweep/internal/fixed_length_searcher.h"
#include "core/sweep/internal/sweep_internal.h"

namespace tutti::sweep::internal {
namespace {

class GridSearcher final : public FixedLengthSearcher {
 public:
  GridSearcher(const SearcherConfig& config, std::vector<Assignment> points)
      : FixedLengthSearcher("grid", config, static_cast<int>(points.size())), points_(std::move(points)) {}

  StatusOr<std::vector<Operation>> SetMaxTrials(int max_trials) override {
    return absl::InvalidArgumentError(absl::StrCat("searcher.max_trials: a grid runs each of its ", points_.size(),
                                                   " points once; max_trials cannot change (got ", max_trials,
                                                   ")"));
  }

 protected:
  Assignment NextAssignment() override { return points_.at(static_cast<size_t>(created())); }
  // The points come from the config: the state only checks it was saved by a grid of the same size.
  void SaveExtra(nlohmann::json* state) const override { (*state)["points"] = points_.size(); }
  Status CheckExtra(const nlohmann::json& state) const override {
    if (state.at("points").get<size_t>() != points_.size()) {
      return absl::InvalidArgumentError(absl::StrCat("searcher state: saved by a grid of ",
                                                     state.at("points").dump(), " points; this one has ",
                                                     points_.size()));
    }
    return absl::OkStatus();
  }

 private:
  const std::vector<Assignment> points_;
};

}  // namespace

std::unique_ptr<Searcher> NewGridSearcher(const SearcherConfig& config, std::vector<Assignment> points) {
  return std::make_unique<GridSearcher>(config, std::move(points));
}

}  // namespace tutti::sweep::internal
