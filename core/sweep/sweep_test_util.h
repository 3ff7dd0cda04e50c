#pragma once
// Test helpers for the searchers: Operation builders and printing, replayable calls, and a seeded
// simulated coordinator that drives a searcher to the end while checking the protocol's invariants.

#include <cstdint>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/sweep/internal/sweep_internal.h"
#include "core/sweep/searcher.h"

namespace tutti::sweep {

// gtest prints operations in failure messages through this (found by ADL).
inline void PrintTo(const Operation& op, std::ostream* os) {
  static const char* const kNames[] = {"Create", "TrainTo", "Close", "Shutdown"};
  *os << kNames[static_cast<int>(op.kind)] << "(";
  if (op.kind != Operation::Kind::kShutdown) *os << op.request_id;
  if (op.kind == Operation::Kind::kCreate || op.kind == Operation::Kind::kTrainTo) *os << ", " << op.length;
  if (op.kind == Operation::Kind::kClose) *os << ", \"" << op.reason << "\"";
  if (!op.hparams.empty()) {
    *os << ", {";
    for (const auto& [k, v] : op.hparams) *os << k << "=" << v << " ";
    *os << "}";
  }
  *os << ")";
}

namespace testing_util {

inline Operation Create(int64_t id, int64_t length, Assignment hparams = {}) {
  Operation op;
  op.kind = Operation::Kind::kCreate;
  op.request_id = id;
  op.length = length;
  op.hparams = std::move(hparams);
  return op;
}
inline Operation TrainTo(int64_t id, int64_t length) {
  Operation op;
  op.kind = Operation::Kind::kTrainTo;
  op.request_id = id;
  op.length = length;
  return op;
}
inline Operation Close(int64_t id, std::string reason = "completed") {
  Operation op;
  op.kind = Operation::Kind::kClose;
  op.request_id = id;
  op.reason = std::move(reason);
  return op;
}
inline Operation Shutdown() { return internal::ShutdownOperation(); }
using Ops = std::vector<Operation>;

inline std::unique_ptr<Searcher> MustCreate(const SearcherConfig& config,
                                            const std::vector<HyperparameterSpec>& space) {
  StatusOr<std::unique_ptr<Searcher>> s = CreateSearcher(config, space);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(s).value() : nullptr;
}

inline HyperparameterSpec Const(std::string path, std::string value) {
  HyperparameterSpec s;
  s.path = std::move(path);
  s.type = HyperparameterSpec::Type::kConst;
  s.values = {std::move(value)};
  return s;
}
inline HyperparameterSpec Range(std::string path, HyperparameterSpec::Type type, double min, double max,
                                int grid_count = 0) {
  HyperparameterSpec s;
  s.path = std::move(path);
  s.type = type;
  s.min = min;
  s.max = max;
  s.grid_count = grid_count;
  return s;
}
inline HyperparameterSpec Categorical(std::string path, std::vector<std::string> values) {
  HyperparameterSpec s;
  s.path = std::move(path);
  s.type = HyperparameterSpec::Type::kCategorical;
  s.values = std::move(values);
  return s;
}

// One call to a searcher, replayable on another.
struct Call {
  enum Kind { kStart, kValidation, kLength, kEnded, kSetMax } kind = kStart;
  int64_t id = 0;
  int64_t step = 0;  // kValidation: step; kLength: length
  double value = 0;
  bool failed = false;
  int n = 0;  // kSetMax
};
inline std::vector<Operation> Apply(Searcher& s, const Call& c) {
  switch (c.kind) {
    case Call::kStart: return s.Start();
    case Call::kValidation: return s.OnValidation(c.id, c.step, c.value);
    case Call::kLength: return s.OnLengthReached(c.id, c.step);
    case Call::kEnded: return s.OnTrialEnded(c.id, c.failed);
    case Call::kSetMax: {
      StatusOr<std::vector<Operation>> ops = s.SetMaxTrials(c.n);
      return ops.ok() ? *ops : std::vector<Operation>{};
    }
  }
  return {};
}

// A coordinator in miniature: keeps the trials the searcher asked for, and at each turn picks a training
// trial at random (seeded) to report a validation every `eval_every` steps, reach its length, or (with
// probability `fail_percent` / 100) fail. Values are a per-trial quality plus noise. Checks after every
// call: at most `max_concurrent` trials train (0 = no limit), operations only name known trials in a state
// that allows them, nothing follows kShutdown, and every created trial is closed or ended at the end.
class Simulation {
 public:
  struct Options {
    uint64_t seed = 1;
    int64_t eval_every = 3;
    int fail_percent = 0;
    int max_concurrent = 0;
    std::map<size_t, int> set_max_trials_at;  // call index -> SetMaxTrials(n) issued before that call
    size_t max_calls = 5000;
  };
  explicit Simulation(Options options) : o_(std::move(options)), rng_(o_.seed) {}

  // Runs `s` to kShutdown; the calls made and the operations each returned.
  void Run(Searcher& s) {
    Do(s, Call{Call::kStart});
    while (!s.done() && calls.size() < o_.max_calls) {
      auto at = o_.set_max_trials_at.find(calls.size());
      if (at != o_.set_max_trials_at.end()) {
        Call c{Call::kSetMax};
        c.n = at->second;
        Do(s, c);
        continue;
      }
      ASSERT_FALSE(training_.empty()) << "not done, but nothing trains (call " << calls.size() << ")";
      auto it = training_.begin();
      std::advance(it, rng_.UniformInt(0, static_cast<int64_t>(training_.size()) - 1));
      const int64_t id = it->first;
      Trial& t = it->second;
      if (rng_.UniformInt(1, 100) <= o_.fail_percent) {
        Call c{Call::kEnded, id};
        c.failed = true;
        training_.erase(it);
        ended_.insert(id);
        Do(s, c);
        continue;
      }
      const int64_t next = std::min(t.target, (t.step / o_.eval_every + 1) * o_.eval_every);
      t.step = next;
      if (next % o_.eval_every == 0) {
        Call c{Call::kValidation, id, next};
        c.value = quality_[id] + 0.1 * rng_.UniformUnit() - 0.02 * static_cast<double>(next) / 100;
        Do(s, c);
      }
      if (next == t.target) {
        const Trial reached = t;
        training_.erase(it);
        waiting_[id] = reached;
        Do(s, Call{Call::kLength, id, reached.target});
      }
    }
    EXPECT_TRUE(s.done()) << "no kShutdown after " << calls.size() << " calls";
    EXPECT_TRUE(training_.empty());
    EXPECT_TRUE(waiting_.empty()) << waiting_.size() << " trials still waiting at the end";
    EXPECT_EQ(closed_.size() + ended_.size(), quality_.size());
  }

  std::vector<Call> calls;
  std::vector<std::vector<Operation>> ops;  // ops[i]: what calls[i] returned
  std::vector<Operation> all_ops;
  int max_training_seen = 0;
  std::map<int64_t, Assignment> created;

 private:
  struct Trial {
    int64_t step = 0;
    int64_t target = 0;
  };

  void Do(Searcher& s, const Call& c) {
    std::vector<Operation> result = Apply(s, c);
    calls.push_back(c);
    ops.push_back(result);
    bool shut = false;
    for (const Operation& op : result) {
      all_ops.push_back(op);
      EXPECT_FALSE(shut) << "an operation after kShutdown";
      switch (op.kind) {
        case Operation::Kind::kCreate:
          EXPECT_EQ(quality_.count(op.request_id), 0u) << "request id reused: " << op.request_id;
          EXPECT_EQ(op.request_id, static_cast<int64_t>(quality_.size()) + 1) << "request ids count from 1";
          quality_[op.request_id] = rng_.UniformUnit();
          created[op.request_id] = op.hparams;
          training_[op.request_id] = Trial{0, op.length};
          break;
        case Operation::Kind::kTrainTo: {
          auto w = waiting_.find(op.request_id);
          ASSERT_NE(w, waiting_.end()) << "kTrainTo for a trial that is not waiting: " << op.request_id;
          EXPECT_GT(op.length, w->second.target);
          training_[op.request_id] = Trial{w->second.step, op.length};
          waiting_.erase(w);
          break;
        }
        case Operation::Kind::kClose:
          EXPECT_EQ(waiting_.erase(op.request_id), 1u) << "kClose for a trial that is not waiting: " << op.request_id;
          closed_.insert(op.request_id);
          break;
        case Operation::Kind::kShutdown:
          shut = true;
          break;
      }
    }
    const int n = static_cast<int>(training_.size());
    max_training_seen = std::max(max_training_seen, n);
    if (o_.max_concurrent > 0) {
      EXPECT_LE(n, o_.max_concurrent) << "after call " << calls.size();
    }
  }

  Options o_;
  internal::Rng rng_;
  std::map<int64_t, double> quality_;   // every created trial
  std::map<int64_t, Trial> training_;
  std::map<int64_t, Trial> waiting_;    // reached its length, no operation yet
  std::set<int64_t> closed_, ended_;
};

}  // namespace testing_util
}  // namespace tutti::sweep
