#pragma once
// Time for the coordinator's lease logic, behind a seam so tests can move it by hand instead of sleeping.
//
// Thread-safety: both implementations may be called from any thread.

#include <atomic>
#include <chrono>
#include <cstdint>

namespace tutti::coord {

class Clock {
 public:
  virtual ~Clock() = default;
  // Unix time in milliseconds (what leases, rows and the API carry).
  virtual int64_t NowMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// Starts at `start_ms` and moves only when told.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  int64_t NowMs() const override { return now_.load(); }
  void Advance(int64_t ms) { now_ += ms; }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace tutti::coord
