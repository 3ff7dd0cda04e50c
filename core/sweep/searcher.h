#pragma once
// Searchers: which trials a sweep runs, how long each trains, which are promoted and which stop. Pure,
// seeded logic — no I/O, no clock, no threads — so every decision is unit-tested and a coordinator restart
// resumes a sweep exactly (SaveState/LoadState after every decision).
//
// The conversation with the coordinator (coordinator/service/experiment_manager):
//   Start()                         -> operations to begin with (kCreate ...)
//   the coordinator creates a trial for each kCreate and records request_id <-> trial id itself — the
//     searcher only ever names trials by its own request ids and has no call for the mapping;
//   OnValidation(request, step, v)  each time the trial reports the searcher's metric (at an evaluation);
//   OnLengthReached(request, len)   the trial trained to the length it was given (after its last
//                                   OnValidation at or before that step);
//   OnTrialEnded(request, failed)   the trial ended early (failed for good, killed, stopped early): it is done
//                                   and never reports again; it gets no kClose (it is closed already). Its
//                                   grid point / draw is not retried, it counts as created;
//   SetMaxTrials(n)                 a user raised (or lowered) max_trials of a running sweep.
// Calls that do not fit — an unknown request id, a trial already closed or ended, a length below the one the
// searcher gave, anything after kShutdown, a second Start — change nothing and return no operations.
// Each call returns the operations the coordinator must carry out, in order:
//   kCreate    start a new trial with `hparams`, training to `length` steps;
//   kTrainTo   let an existing trial continue (from its newest checkpoint) until `length` steps — ASHA's
//              promotion to the next rung;
//   kClose     the trial is finished for the searcher (reason says why: "completed", "stopped at rung 1 of
//              3: not in the top 1/4 of its rung (value 0.8)"); a trial waiting for a promotion that will
//              never come gets one;
//   kShutdown  the search is over: every trial the searcher will ever want is finished (always the last
//              operation; then done() is true).
//
// A trial that reached its length and got neither kTrainTo nor kClose waits (ASHA: it may still be promoted
// when more trials finish its rung); the coordinator keeps it paused (its checkpoint kept, no lease held).
// Every waiting trial gets kTrainTo or kClose before kShutdown.
//
// The searchers:
//   single  Start: kCreate (the const values) to max_length; length reached: kClose("completed"),
//           kShutdown; trial ended: kShutdown.
//   grid    GridPoints in order, each to max_length, at most max_concurrent_trials at a time (a new one as
//           each finishes); kClose("completed") on length reached; kShutdown after the last.
//   random  the same with max_trials draws (int: uniform integer in [min, max]; double: uniform;
//           log_uniform: uniform in log; categorical: uniform index), drawn when each trial is created.
//   asha    rungs of AshaRungLengths; see asha_searcher.cc for the protocol step by step. A trial's value at
//           a rung is its LAST OnValidation value at a step <= that rung's length (a non-finite value, or
//           none, ranks last); the top floor(|rung| / divisor) of a rung by value (ties: smaller request id)
//           are promoted, one per free worker slot, as soon as they are there; otherwise a new trial is
//           created while fewer than max_trials were; when nothing trains and nothing more can happen, the
//           waiting trials get kClose("stopped at rung k of N: not in the top 1/d of its rung (value X)").
// Draws are the same under every standard library (std::mt19937_64 with our own uniform code; log and exp
// come from the C library).
//
// Thread-compatibility: one thread per searcher (the coordinator serialises calls per experiment).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/sweep/search_space.h"

namespace tutti::sweep {

struct SearcherConfig {
  enum class Kind {
    kSingle,  // one trial (a plain job): every hyperparameter must be kConst (or there are none)
    kGrid,    // every point of the product of the hyperparameters' grids, in a fixed order
    kRandom,  // max_trials independent draws
    kAsha,    // asynchronous successive halving (Li et al., MLSys 2020)
  };
  Kind kind = Kind::kSingle;
  // The metric trials are ranked by ("eval.realism.score", or any logged metric name) and its direction.
  std::string metric = "eval.realism.score";
  bool smaller_is_better = true;
  // Trials to create at most (grid: must equal the grid's size or be 0 = the grid's size).
  int max_trials = 1;
  // Trials training at the same time (0 = no limit). ASHA counts trials waiting for a promotion as not
  // training.
  int max_concurrent_trials = 0;
  // Steps a trial trains at most (its full length; ASHA: the top rung).
  int64_t max_length = 0;
  // ASHA: reduction factor (promote the top 1/divisor of each rung) and number of rungs; rung k (0-based)
  // trains to floor(max_length / divisor^(max_rungs - 1 - k)) steps (AshaRungLengths), at least 1.
  int divisor = 4;
  int max_rungs = 3;
  // Seed of every random choice (random and ASHA draws).
  uint64_t seed = 0;
};

struct Operation {
  enum class Kind { kCreate, kTrainTo, kClose, kShutdown };
  Kind kind = Kind::kShutdown;
  int64_t request_id = 0;  // the searcher's own id of the trial (assigned at kCreate, from 1 upwards)
  Assignment hparams;      // kCreate
  int64_t length = 0;      // kCreate, kTrainTo: train until this many steps
  std::string reason;      // kClose
  bool operator==(const Operation& o) const {
    return kind == o.kind && request_id == o.request_id && hparams == o.hparams && length == o.length &&
           reason == o.reason;
  }
};

class Searcher {
 public:
  virtual ~Searcher() = default;
  virtual std::vector<Operation> Start() = 0;
  virtual std::vector<Operation> OnValidation(int64_t request_id, int64_t step, double value) = 0;
  virtual std::vector<Operation> OnLengthReached(int64_t request_id, int64_t length) = 0;
  virtual std::vector<Operation> OnTrialEnded(int64_t request_id, bool failed) = 0;
  // InvalidArgument when `max_trials` is below the trials already created (or below 1), for a grid, and for
  // single unless it is 1; FailedPrecondition once done(). Raising it lets random and ASHA create more trials
  // (returned here when slots are free); lowering it to the trials created may end the search here.
  virtual StatusOr<std::vector<Operation>> SetMaxTrials(int max_trials) = 0;

  // The whole state as JSON text; LoadState on a searcher created with the same config and search space
  // continues exactly (same future operations, same random draws). InvalidArgument for text that does not
  // parse, names another searcher kind, or was saved under another max_length / rung lengths / grid size;
  // on error the searcher is unchanged.
  virtual std::string SaveState() const = 0;
  virtual Status LoadState(const std::string& state) = 0;

  // Share of the search's work done, 0..1 (for progress displays); 1 once done(). Single, grid, random:
  // trials finished (completed or ended) / max_trials. ASHA: an estimate, the rung segments trained over
  // those the paper's model expects (max_trials / divisor^k trials reaching rung k).
  virtual double Progress() const = 0;
  // True once kShutdown was returned.
  virtual bool done() const = 0;
};

// Checks the config against the search space (InvalidArgument naming the key: "searcher.divisor: expected
// an integer >= 2, got 1", "searcher.max_length: 10 steps cannot hold 3 rungs with divisor 4 (rungs of
// 0.625, 2.5 and 10 steps; the first must train at least 1 step)", "hyperparameters.train.g_lr: a grid
// needs grid_count >= 1 for a log_uniform, got 0", "searcher: single runs one trial; hyperparameter
// train.g_lr varies (log_uniform)", ...) and builds the searcher. Fields a kind does not use (divisor for a
// grid) are not checked.
StatusOr<std::unique_ptr<Searcher>> CreateSearcher(const SearcherConfig& config,
                                                   const std::vector<HyperparameterSpec>& space);

// The grid's points in the order kGrid creates them (exposed for `tutti validate` and tests): the product
// of the hyperparameters' grid values in spec order, the last varying fastest. Repeated values of one
// hyperparameter are dropped. InvalidArgument for an invalid space, no hyperparameters at all, and grids of
// more than 100000 points.
StatusOr<std::vector<Assignment>> GridPoints(const std::vector<HyperparameterSpec>& space);

// ASHA's rung lengths for `config`: floor(max_length / divisor^(max_rungs-1-k)) for k = 0..max_rungs-1,
// strictly ascending (for a config CreateSearcher accepts), the last exactly max_length.
std::vector<int64_t> AshaRungLengths(const SearcherConfig& config);

}  // namespace tutti::sweep
