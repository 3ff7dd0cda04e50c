#pragma once
// Output of a TrainingRun meant for people and tools: the JSON-lines metrics file and the progress line.
// Torch-free.
//
// Thread-compatibility: each object is driven by one thread.

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/base/status.h"

namespace tutti {

// An append-only JSON-lines file (one object per line, flushed after each line so `tail -f` and a
// coordinator see it at once). Lines are not fsynced: losing the last few on a power cut is acceptable,
// checkpoints are the durable state.
class MetricsLog {
 public:
  // Creates the parent directory and opens `path` for appending. Errors name the path.
  static StatusOr<std::unique_ptr<MetricsLog>> Open(const std::string& path);
  // Rewrites `path` atomically without the lines whose "step" is greater than `step` (lines a crashed run
  // logged after its last checkpoint; a resumed run logs those steps again), and without a last line that
  // lacks its newline (an append cut by a kill). Other unparsable lines are kept. OK when the file does not
  // exist.
  static Status DropLinesAfterStep(const std::string& path, int64_t step);

  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  ~MetricsLog();

  Status Append(const nlohmann::json& line);
  const std::string& path() const { return path_; }

 private:
  MetricsLog(std::string path, std::FILE* file) : path_(std::move(path)), file_(file) {}
  const std::string path_;
  std::FILE* const file_;  // owned
};

// The training progress line on stderr: "step 120/600 20% | 9.1 steps/s | ETA 0:52 | d_loss -1.234
// g_loss 0.456". On a terminal it is redrawn in place at most 5 times a second; otherwise (logs, CI) a
// plain line is printed every 10 seconds. Disabled = prints nothing.
class StatusLine {
 public:
  StatusLine(int64_t total_steps, bool enabled);
  // `steps_per_s` is the recent rate; the ETA is derived from it.
  void Update(int64_t step, double steps_per_s, double d_loss, double g_loss);
  // Prints `message` on its own line (clearing a drawn progress line first); nothing when disabled.
  void Print(const std::string& message);
  // Ends the in-place line with a newline (idempotent).
  void Finish();

 private:
  const int64_t total_;
  const bool enabled_;
  const bool is_terminal_;
  double last_print_ = -1e9;  // monotonic seconds
  bool line_open_ = false;    // a \r-redrawn line is on screen without its newline
  std::string last_text_;
};

// Monotonic seconds (steady_clock), for rates and budgets.
double MonotonicSeconds();

}  // namespace tutti
