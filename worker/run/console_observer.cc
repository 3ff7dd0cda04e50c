#include "worker/run/console_observer.h"

#include <cstdio>

#include "worker/run/run_log.h"

namespace tutti {

ConsoleObserver::ConsoleObserver(ConsoleObserverOptions options) : options_(options) {}

ConsoleObserver::~ConsoleObserver() {
  if (line_) line_->Finish();
}

void ConsoleObserver::Print(const std::string& line) {
  if (line_) {
    line_->Print(line);
    return;
  }
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

void ConsoleObserver::OnResume(const ResumeReport& report) {
  Print(absl::StrCat("resuming from ", report.path, " at step ", report.step));
  if (!report.config_changes.empty()) {
    Print("note: settings changed since the checkpoint: " + report.config_changes);
  }
}

void ConsoleObserver::OnStep(const StepReport& report) {
  if (!options_.progress) return;
  if (!line_) line_ = std::make_unique<StatusLine>(report.total_steps, /*enabled=*/true);
  line_->Update(report.step, report.steps_per_s, report.d_loss, report.g_loss);
}

void ConsoleObserver::OnEvaluation(const EvaluationReport& report) {
  if (!options_.progress) return;
  Print(absl::StrCat("eval at step ", report.step, " (", report.samples, " samples): ", report.summary));
}

void ConsoleObserver::OnCheckpoint(const CheckpointReport& report) {
  if (!options_.progress) return;
  Print("checkpoint " + report.path);
}

void ConsoleObserver::OnNote(const std::string& note) { Print(note); }

void ConsoleObserver::OnStop(const StopReport&) {
  // The progress line ends here, so whatever the caller prints next starts on a line of its own.
  if (line_) line_->Finish();
}

}  // namespace tutti
