#pragma once
// The common machinery of single, grid and random search: every trial trains to max_length once, at most
// max_concurrent_trials at a time; a new one is created whenever one finishes, until max_trials were
// created; kShutdown when the last one finished. Subclasses say what the next trial's hyperparameters are.

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/sweep/searcher.h"

namespace tutti::sweep::internal {

class FixedLengthSearcher : public Searcher {
 public:
  std::vector<Operation> Start() override;
  // Grid and random search do not rank trials: validations are not needed.
  std::vector<Operation> OnValidation(int64_t, int64_t, double) override { return {}; }
  std::vector<Operation> OnLengthReached(int64_t request_id, int64_t length) override;
  std::vector<Operation> OnTrialEnded(int64_t request_id, bool failed) override;
  // Random search's rule; single and grid override it to refuse.
  StatusOr<std::vector<Operation>> SetMaxTrials(int max_trials) override;
  std::string SaveState() const override;
  Status LoadState(const std::string& state) override;
  // Trials finished (completed or ended) / max_trials; 1 once done.
  double Progress() const override;
  bool done() const override { return done_; }

 protected:
  // `kind` names the searcher in its saved state ("single", "grid", "random").
  FixedLengthSearcher(const char* kind, const SearcherConfig& config, int max_trials);

  // The hyperparameters of the trial created next (the `created_`-th, 0-based).
  virtual Assignment NextAssignment() = 0;
  // The subclass's own part of the state (the random generator). LoadState is all or nothing: CheckExtra
  // (which may throw nlohmann::json exceptions: they become InvalidArgument) runs before anything is
  // assigned, ApplyExtra after the common part was committed.
  virtual void SaveExtra(nlohmann::json* /*state*/) const {}
  virtual Status CheckExtra(const nlohmann::json& /*state*/) const { return absl::OkStatus(); }
  virtual void ApplyExtra(const nlohmann::json& /*state*/) {}

  int created() const { return created_; }
  int max_trials() const { return max_trials_; }

 private:
  // Creates trials while slots are free and max_trials allows, then kShutdown when nothing is left.
  void Fill(std::vector<Operation>* ops);

  // Constant after construction.
  const char* const kind_;
  const SearcherConfig config_;

  int max_trials_;
  bool started_ = false;
  bool done_ = false;
  int created_ = 0;   // request ids 1..created_ were handed out
  int finished_ = 0;  // completed (kClose) or ended
  std::set<int64_t> training_;  // request ids training toward max_length
};

}  // namespace tutti::sweep::internal
