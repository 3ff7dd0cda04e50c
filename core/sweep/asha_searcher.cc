// ASHA: asynchronous successive halving (Li et al., "A System for Massively Parallel Hyperparameter Tuning",
// MLSys 2020, Algorithm 2), as Determined and Ray Tune run it with a fixed number of workers.
//
// The protocol, step by step:
//   1. Start: while a worker slot is free (max_concurrent_trials; 0 = no limit) and fewer than max_trials
//      trials were created, kCreate a trial drawn at random, training to rung 0's length.
//   2. OnValidation(r, step, v): remember v as r's value when step <= the length r trains toward (the
//      LAST such value counts, not the best; a non-finite v counts as "no value").
//   3. OnLengthReached(r, len) (len >= r's target): record r in its rung with its current value. At the
//      top rung r is done: kClose(r, "completed"). Otherwise r waits at the rung boundary (not training).
//   4. After 3 and after OnTrialEnded (which removes a trial from contention), and after SetMaxTrials:
//      for each free slot, get_job: from the highest non-top rung down to rung 0, the best not-yet-promoted
//      waiting trial among the top floor(|rung k| / divisor) of rung k by value is promoted: kTrainTo(r,
//      rung k+1's length). If no rung has one, kCreate a new trial (while fewer than max_trials were
//      created). Otherwise the slot stays free.
//   5. When nothing trains, max_trials were created and (by 4) nothing can be promoted, no rung will ever
//      grow again: every waiting trial gets kClose("stopped at rung k of N: ...") and the search kShutdown.
//      Before that a waiting trial may still be promoted: a later, worse arrival at its rung can lift it
//      into the top 1/divisor (the asynchrony the algorithm is named after).
//
// Ranking within a rung: by value (smaller_is_better decides the direction), trials without a value last,
// ties broken by the smaller request id. |rung k| counts every trial that ever reached rung k, including
// ones that later ended; a trial that ended while waiting keeps its place in the ranking but is never
// promoted (its slot in the top 1/divisor is not handed down to the next one).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/sweep/internal/sweep_internal.h"

namespace tutti::sweep::internal {
namespace {

class AshaSearcher final : public Searcher {
 public:
  AshaSearcher(const SearcherConfig& config, const std::vector<HyperparameterSpec>& space)
      : config_(config),
        space_(space),
        lengths_(AshaRungLengths(config)),
        max_trials_(config.max_trials),
        rng_(config.seed),
        rungs_(lengths_.size()) {}

  std::vector<Operation> Start() override {
    std::vector<Operation> ops;
    if (started_) return ops;
    started_ = true;
    GetJobs(&ops);
    MaybeFinish(&ops);
    return ops;
  }

  std::vector<Operation> OnValidation(int64_t request_id, int64_t step, double value) override {
    auto it = trials_.find(request_id);
    if (done_ || it == trials_.end()) return {};
    Trial& t = it->second;
    // A point past the length the trial was given is ignored (it trained further than asked); a point at
    // or before it, even while the trial waits, is its newest value (not recorded into a rung already
    // reached: that happened at OnLengthReached).
    if ((t.state == State::kTraining || t.state == State::kWaiting) && step <= lengths_[t.rung]) {
      t.value = std::isfinite(value) ? std::optional<double>(value) : std::nullopt;
    }
    return {};
  }

  std::vector<Operation> OnLengthReached(int64_t request_id, int64_t length) override {
    std::vector<Operation> ops;
    auto it = trials_.find(request_id);
    if (done_ || it == trials_.end() || it->second.state != State::kTraining || length < lengths_[it->second.rung]) {
      return ops;
    }
    Trial& t = it->second;
    rungs_[t.rung].push_back(Entry{request_id, t.value, /*promoted=*/false});
    if (t.rung == Top()) {
      t.state = State::kClosed;
      ops.push_back(Close(request_id, "completed"));
    } else {
      t.state = State::kWaiting;
    }
    GetJobs(&ops);
    MaybeFinish(&ops);
    return ops;
  }

  std::vector<Operation> OnTrialEnded(int64_t request_id, bool /*failed*/) override {
    std::vector<Operation> ops;
    auto it = trials_.find(request_id);
    if (done_ || it == trials_.end() ||
        (it->second.state != State::kTraining && it->second.state != State::kWaiting)) {
      return ops;
    }
    it->second.state = State::kEnded;
    GetJobs(&ops);
    MaybeFinish(&ops);
    return ops;
  }

  StatusOr<std::vector<Operation>> SetMaxTrials(int max_trials) override {
    TUTTI_RETURN_IF_ERROR(CheckNewMaxTrials(done_, created_, max_trials));
    max_trials_ = max_trials;
    std::vector<Operation> ops;
    GetJobs(&ops);
    MaybeFinish(&ops);
    return ops;
  }

  std::string SaveState() const override {
    nlohmann::json trials = nlohmann::json::array();
    for (const auto& [id, t] : trials_) {
      trials.push_back({{"id", id}, {"rung", t.rung}, {"state", StateName(t.state)}, {"value", ToJson(t.value)}});
    }
    nlohmann::json rungs = nlohmann::json::array();
    for (const std::vector<Entry>& rung : rungs_) {
      nlohmann::json entries = nlohmann::json::array();
      for (const Entry& e : rung) {
        entries.push_back({{"id", e.id}, {"value", ToJson(e.value)}, {"promoted", e.promoted}});
      }
      rungs.push_back(std::move(entries));
    }
    const nlohmann::json state = {{"searcher", "asha"},      {"version", kStateVersion}, {"rung_lengths", lengths_},
                                  {"max_trials", max_trials_}, {"started", started_},    {"done", done_},
                                  {"created", created_},       {"seed", rng_.seed()},    {"draws", rng_.draws()},
                                  {"trials", std::move(trials)}, {"rungs", std::move(rungs)}};
    return state.dump();
  }

  Status LoadState(const std::string& text) override {
    nlohmann::json state;
    TUTTI_RETURN_IF_ERROR(ParseState(text, "asha", &state));
    // Everything is parsed into locals first: a bad state leaves the searcher as it was.
    std::map<int64_t, Trial> trials;
    std::vector<std::vector<Entry>> rungs(lengths_.size());
    int max_trials = 0, created = 0;
    bool started = false, done = false;
    uint64_t seed = 0, draws = 0;
    try {
      if (state.at("rung_lengths").get<std::vector<int64_t>>() != lengths_) {
        return absl::InvalidArgumentError(absl::StrCat("searcher state: saved with rung lengths ",
                                                       state.at("rung_lengths").dump(), ", this searcher has ",
                                                       nlohmann::json(lengths_).dump()));
      }
      max_trials = state.at("max_trials").get<int>();
      started = state.at("started").get<bool>();
      done = state.at("done").get<bool>();
      created = state.at("created").get<int>();
      seed = state.at("seed").get<uint64_t>();
      draws = state.at("draws").get<uint64_t>();
      for (const nlohmann::json& j : state.at("trials")) {
        Trial t;
        const int64_t id = j.at("id").get<int64_t>();
        t.rung = j.at("rung").get<int>();
        const std::optional<State> s = StateFromName(j.at("state").get<std::string>());
        if (s) t.state = *s;
        t.value = FromJson(j.at("value"));
        if (!s || t.rung < 0 || t.rung > Top() || id < 1 || id > created || !trials.emplace(id, t).second) {
          return absl::InvalidArgumentError("searcher state: bad trial " + j.dump());
        }
      }
      const nlohmann::json& saved_rungs = state.at("rungs");
      if (saved_rungs.size() != rungs.size()) {
        return absl::InvalidArgumentError(absl::StrCat("searcher state: ", saved_rungs.size(), " rungs, expected ",
                                                       rungs.size()));
      }
      for (size_t k = 0; k < rungs.size(); ++k) {
        for (const nlohmann::json& j : saved_rungs[k]) {
          Entry e{j.at("id").get<int64_t>(), FromJson(j.at("value")), j.at("promoted").get<bool>()};
          if (trials.count(e.id) == 0) return absl::InvalidArgumentError("searcher state: bad rung entry " + j.dump());
          rungs[k].push_back(e);
        }
      }
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(absl::StrCat("searcher state: ", e.what()));
    }
    if (created < 0 || created > max_trials || static_cast<int64_t>(trials.size()) != created) {
      return absl::InvalidArgumentError(absl::StrCat("searcher state: inconsistent counts (max_trials ", max_trials,
                                                     ", created ", created, ", trials ", trials.size(), ")"));
    }
    trials_ = std::move(trials);
    rungs_ = std::move(rungs);
    max_trials_ = max_trials;
    started_ = started;
    done_ = done;
    created_ = created;
    rng_.Restore(seed, draws);
    return absl::OkStatus();
  }

  // An estimate of the share of steps trained: finished rung segments over what the paper's model expects,
  // max_trials / divisor^k trials reaching rung k, each having trained (length_k - length_{k-1}) steps to
  // get there from rung k-1. Steps of trials still training toward a rung, and of trials that ended between
  // rungs, are not counted; 1 once done.
  double Progress() const override {
    if (done_) return 1.0;
    double expected = 0, trained = 0, share = 1;
    for (size_t k = 0; k < lengths_.size(); ++k) {
      const double segment = static_cast<double>(lengths_[k] - (k == 0 ? 0 : lengths_[k - 1]));
      expected += max_trials_ * share * segment;
      trained += static_cast<double>(rungs_[k].size()) * segment;
      share /= config_.divisor;
    }
    return expected > 0 ? std::min(1.0, trained / expected) : 0.0;
  }

  bool done() const override { return done_; }

 private:
  enum class State { kTraining, kWaiting, kClosed, kEnded };
  struct Trial {
    int rung = 0;  // the rung it trains toward, waits at, or was closed at
    State state = State::kTraining;
    std::optional<double> value;  // its last finite validation at a step <= lengths_[rung]
  };
  struct Entry {  // a trial as recorded when it reached a rung
    int64_t id = 0;
    std::optional<double> value;
    bool promoted = false;
  };

  static const char* StateName(State s) {
    switch (s) {
      case State::kTraining: return "training";
      case State::kWaiting: return "waiting";
      case State::kClosed: return "closed";
      case State::kEnded: return "ended";
    }
    return "?";
  }
  static std::optional<State> StateFromName(const std::string& name) {
    for (State s : {State::kTraining, State::kWaiting, State::kClosed, State::kEnded}) {
      if (name == StateName(s)) return s;
    }
    return std::nullopt;
  }
  // Values are finite (non-finite ones never get in), so JSON holds them exactly; null = no value.
  static nlohmann::json ToJson(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); }
  static std::optional<double> FromJson(const nlohmann::json& j) {
    if (j.is_null()) return std::nullopt;
    return j.get<double>();
  }
  static Operation Close(int64_t id, std::string reason) {
    Operation op;
    op.kind = Operation::Kind::kClose;
    op.request_id = id;
    op.reason = std::move(reason);
    return op;
  }

  int Top() const { return static_cast<int>(lengths_.size()) - 1; }

  int Training() const {
    int n = 0;
    for (const auto& [id, t] : trials_) n += t.state == State::kTraining ? 1 : 0;
    return n;
  }
  bool SlotFree() const { return config_.max_concurrent_trials == 0 || Training() < config_.max_concurrent_trials; }

  // True when `a` ranks before `b` in their rung.
  bool Before(const Entry& a, const Entry& b) const {
    if (a.value.has_value() != b.value.has_value()) return a.value.has_value();
    if (a.value && *a.value != *b.value) return config_.smaller_is_better ? *a.value < *b.value : *a.value > *b.value;
    return a.id < b.id;
  }

  // The rung and request id of the next promotion (get_job's loop), if any.
  std::optional<std::pair<int, int64_t>> FindPromotion() const {
    for (int k = Top() - 1; k >= 0; --k) {
      const std::vector<Entry>& rung = rungs_[static_cast<size_t>(k)];
      const size_t quota = rung.size() / static_cast<size_t>(config_.divisor);
      if (quota == 0) continue;
      std::vector<const Entry*> ranked;
      for (const Entry& e : rung) ranked.push_back(&e);
      std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(quota), ranked.end(),
                        [this](const Entry* a, const Entry* b) { return Before(*a, *b); });
      for (size_t i = 0; i < quota; ++i) {
        if (!ranked[i]->promoted && trials_.at(ranked[i]->id).state == State::kWaiting) {
          return std::make_pair(k, ranked[i]->id);
        }
      }
    }
    return std::nullopt;
  }

  // Step 4 of the protocol: one promotion (or else one new trial) per free slot.
  void GetJobs(std::vector<Operation>* ops) {
    if (done_ || !started_) return;
    while (SlotFree()) {
      if (std::optional<std::pair<int, int64_t>> p = FindPromotion()) {
        const auto [k, id] = *p;
        for (Entry& e : rungs_[static_cast<size_t>(k)]) {
          if (e.id == id) e.promoted = true;
        }
        Trial& t = trials_.at(id);
        t.rung = k + 1;
        t.state = State::kTraining;
        Operation op;
        op.kind = Operation::Kind::kTrainTo;
        op.request_id = id;
        op.length = lengths_[static_cast<size_t>(t.rung)];
        ops->push_back(std::move(op));
      } else if (created_ < max_trials_) {
        Operation op;
        op.kind = Operation::Kind::kCreate;
        op.hparams = DrawAssignment(space_, rng_);
        op.request_id = ++created_;
        op.length = lengths_[0];
        trials_[op.request_id] = Trial{};
        ops->push_back(std::move(op));
      } else {
        break;
      }
    }
  }

  // Step 5 of the protocol.
  void MaybeFinish(std::vector<Operation>* ops) {
    if (done_ || !started_ || created_ < max_trials_ || Training() > 0 || FindPromotion()) return;
    const int rungs = static_cast<int>(lengths_.size());
    for (auto& [id, t] : trials_) {
      if (t.state != State::kWaiting) continue;
      t.state = State::kClosed;
      std::string why = t.value ? "value " + FormatNumber(*t.value)
                                : absl::StrCat("no value reported by step ", lengths_[static_cast<size_t>(t.rung)]);
      ops->push_back(Close(id, absl::StrCat("stopped at rung ", t.rung + 1, " of ", rungs, ": not in the top 1/",
                                            config_.divisor, " of its rung (", why, ")")));
    }
    done_ = true;
    ops->push_back(ShutdownOperation());
  }

  // Constant after construction.
  const SearcherConfig config_;
  const std::vector<HyperparameterSpec> space_;
  const std::vector<int64_t> lengths_;  // rung lengths, ascending, the last = max_length

  int max_trials_;
  Rng rng_;
  bool started_ = false;
  bool done_ = false;
  int created_ = 0;                         // request ids 1..created_ were handed out
  std::map<int64_t, Trial> trials_;         // every created trial, by request id
  std::vector<std::vector<Entry>> rungs_;   // per rung, the trials that reached it, in arrival order
};

}  // namespace

std::unique_ptr<Searcher> NewAshaSearcher(const SearcherConfig& config,
                                          const std::vector<HyperparameterSpec>& space) {
  return std::make_unique<AshaSearcher>(config, space);
}

}  // namespace tutti::sweep::internal
