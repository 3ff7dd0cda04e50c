#pragma once
// Shared pieces of the searchers (not part of the public API): the portable random source, value drawing
// and grids, number formatting for messages, search-space validation, the state (JSON) helpers and the
// per-kind factories CreateSearcher dispatches to.

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/base/status.h"
#include "core/sweep/search_space.h"
#include "core/sweep/searcher.h"

namespace tutti::sweep::internal {

// std::mt19937_64 (whose output sequence the standard fixes) behind our own uniform-int / uniform-real
// code: std::uniform_*_distribution and std::shuffle are implementation-defined, so they would give
// other draws under another standard library.
//
// The state is saved as (seed, number of 64-bit outputs consumed) and restored by re-seeding and
// discard(n). The engine's operator<< text would be shorter to restore but is not portable:
// libstdc++ writes the 312 state words in storage order followed by its position index (313 numbers),
// libc++ writes the 312 words rotated to the standard's order; neither reads the other's.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed), seed_(seed) {}

  uint64_t Next() {
    ++draws_;
    return engine_();
  }
  // Uniform over [lo, hi] (lo <= hi), unbiased (rejection of the short last block).
  int64_t UniformInt(int64_t lo, int64_t hi);
  // Uniform over [0, 1): the top 53 bits of one output.
  double UniformUnit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

  uint64_t seed() const { return seed_; }
  uint64_t draws() const { return draws_; }
  // Puts the generator where a fresh Rng(seed) is after `draws` outputs.
  void Restore(uint64_t seed, uint64_t draws);

 private:
  std::mt19937_64 engine_;
  uint64_t seed_;
  uint64_t draws_ = 0;
};

// "int", "double", "log_uniform", "categorical", "const": the names the experiment file uses.
const char* TypeName(HyperparameterSpec::Type type);

// Shortest text that reads back to the same double ("0.001", "16", "1e-05"; "nan", "inf").
std::string FormatNumber(double value);
// `value` with `digits` significant digits ("33.3333" for 100/3 with 6): for computed numbers in messages.
std::string FormatRounded(double value, int digits);
// `value` rounded to `digits` significant digits (a double again): grid points computed in floating point
// become the numbers people expect ("0.001", not "0.0009999999999999998").
double RoundToDigits(double value, int digits);
// Grid points are rounded to this many significant digits: log-space interpolation followed by exp loses
// up to ~1e-14 relative (9.99999999999999e-05 for 1e-4 with 15 digits); 12 absorbs that with room to
// spare and is far finer than any hyperparameter needs.
inline constexpr int kGridDigits = 12;

// Checks each hyperparameter on its own and the paths for duplicates; the first error, naming the key
// ("hyperparameters.train.g_lr: a log_uniform needs min > 0, got 0").
Status ValidateSpace(const std::vector<HyperparameterSpec>& space);

// True for kInt, kDouble, kLogUniform and a kCategorical with more than one distinct value.
bool Varies(const HyperparameterSpec& spec);

// One draw of `spec` as YAML text (kConst consumes no randomness).
std::string DrawValue(const HyperparameterSpec& spec, Rng& rng);
// A draw of every hyperparameter, in spec order.
Assignment DrawAssignment(const std::vector<HyperparameterSpec>& space, Rng& rng);

inline Operation ShutdownOperation() {
  Operation op;
  op.kind = Operation::Kind::kShutdown;
  return op;
}

// The rule of SetMaxTrials for every searcher that may grow: FailedPrecondition once the search is over;
// InvalidArgument below the trials already created (or below 1).
Status CheckNewMaxTrials(bool done, int created, int max_trials);

// Grids larger than this are refused (they would be materialised, and no one trains 10^5 GANs).
inline constexpr int64_t kMaxGridPoints = 100000;

// The state helpers: every searcher saves {"searcher": <kind name>, "version": 1, ...}.
inline constexpr int kStateVersion = 1;
// Parses `text` and checks kind and version; InvalidArgument otherwise.
Status ParseState(const std::string& text, const char* kind, nlohmann::json* out);

std::unique_ptr<Searcher> NewSingleSearcher(const SearcherConfig& config,
                                            const std::vector<HyperparameterSpec>& space);
std::unique_ptr<Searcher> NewGridSearcher(const SearcherConfig& config, std::vector<Assignment> points);
std::unique_ptr<Searcher> NewRandomSearcher(const SearcherConfig& config,
                                            const std::vector<HyperparameterSpec>& space);
std::unique_ptr<Searcher> NewAshaSearcher(const SearcherConfig& config,
                                          const std::vector<HyperparameterSpec>& space);

}  // namespace tutti::sweep::internal
