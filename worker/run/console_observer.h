#pragma once
// ConsoleObserver: a TrainingRun's events as lines for people on stderr. tutti-worker installs it (rank 0);
// the TrainingRun library itself prints nothing. Torch-free.
//
// What it prints (stderr):
//   OnResume      "resuming from <path> at step <n>", then, when settings changed since the checkpoint,
//                 "note: settings changed since the checkpoint: <key>: <new> (checkpoint: <old>); ..."
//   OnStep        the progress line (run_log.h's StatusLine: steps/s and ETA; redrawn in place on a
//                 terminal, every 10 s in logs)                                          [progress only]
//   OnEvaluation  "eval at step <k> (<n> samples): <summary>"                            [progress only]
//   OnCheckpoint  "checkpoint <path>"                                                    [progress only]
//   OnNote        the note as it is
//   OnStop        ends the progress line (the caller prints the outcome: tutti-worker's "done at step ...")
//
// Thread-compatibility: driven by the thread that drives the run, like every observer.

#include <memory>
#include <string>

#include "worker/run/run_observer.h"

namespace tutti {

class StatusLine;

struct ConsoleObserverOptions {
  // The progress line, evaluation and checkpoint lines. false (tutti-worker --quiet): only the resume line,
  // the settings-changed note and other notes, which say something a person must know.
  bool progress = true;
};

class ConsoleObserver final : public RunObserver {
 public:
  explicit ConsoleObserver(ConsoleObserverOptions options = {});
  ~ConsoleObserver() override;

  void OnResume(const ResumeReport& report) override;
  void OnStep(const StepReport& report) override;
  void OnEvaluation(const EvaluationReport& report) override;
  void OnCheckpoint(const CheckpointReport& report) override;
  void OnNote(const std::string& note) override;
  void OnStop(const StopReport& report) override;

 private:
  // One line on stderr, clearing and redrawing the progress line around it when one is drawn.
  void Print(const std::string& line);

  const ConsoleObserverOptions options_;  // constant after construction
  // Made at the first OnStep (which carries the total step count); null until then.
  std::unique_ptr<StatusLine> line_;
};

}  // namespace tutti
