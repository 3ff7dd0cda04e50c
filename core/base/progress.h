#pragma once
// Progress output for long work, in the spirit of tqdm: on a terminal one line redrawn in place at most
// ~10 times a second; otherwise (logs, CI) a plain line every few seconds. Goes to stderr so stdout
// stays machine-readable (--json). Thread-safe: Advance may be called from worker threads.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace tutti {

class Progress {
 public:
  // `label` prefixes every line, `total` is the expected count (0 when unknown), `unit` names the items.
  Progress(std::string label, int64_t total, std::string unit, bool enabled = true);
  ~Progress();

  void Advance(int64_t n = 1);
  // Prints the final line (done count, rate, elapsed). Called by the destructor if not called before.
  void Finish();

 private:
  void PrintLocked(bool final_line);

  const std::string label_;
  const int64_t total_;
  const std::string unit_;
  const bool enabled_;
  const bool is_terminal_;
  const std::chrono::steady_clock::time_point start_;

  std::mutex mu_;
  int64_t done_ = 0;                                     // guarded by mu_
  std::chrono::steady_clock::time_point last_print_;     // guarded by mu_
  bool finished_ = false;                                // guarded by mu_
};

}  // namespace tutti
