#include "core/base/interrupt.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>

namespace tutti {
namespace {

std::atomic<int> interrupt_count{0};
std::atomic<bool> graceful_stop{false};

void OnGracefulStop(int) {
  if (graceful_stop.exchange(true)) return;
  static const char kMessage[] = "\nstop signal received: finishing cleanly (checkpoint, then stop)\n";
  ssize_t ignored = ::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
  (void)ignored;
}

void OnSignal(int signal_number) {
  if (interrupt_count.fetch_add(1) >= 1) {
    // Second Ctrl-C: the user insists. _exit is async-signal-safe.
    _exit(128 + signal_number);
  }
  static const char kMessage[] = "\ninterrupted: finishing cleanly (press Ctrl-C again to abort)\n";
  ssize_t ignored = ::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
  (void)ignored;  // Nothing useful to do if stderr is gone.
}

void OnTerminate(int) {
  if (interrupt_count.fetch_add(1) >= 1) return;  // repeated SIGTERM: already stopping cleanly
  static const char kMessage[] = "\nterminated: finishing cleanly (checkpoint, then stop)\n";
  ssize_t ignored = ::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
  (void)ignored;
}

}  // namespace

void InstallInterruptHandler() {
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  struct sigaction terminate {};
  terminate.sa_handler = OnTerminate;
  sigemptyset(&terminate.sa_mask);
  ::sigaction(SIGTERM, &terminate, nullptr);
}

bool InterruptRequested() {
  return interrupt_count.load(std::memory_order_relaxed) > 0 || graceful_stop.load(std::memory_order_relaxed);
}

void InstallGracefulStopSignal(int signal_number) {
  struct sigaction action {};
  action.sa_handler = OnGracefulStop;
  sigemptyset(&action.sa_mask);
  ::sigaction(signal_number, &action, nullptr);
}

void RequestInterrupt() { interrupt_count.fetch_add(1); }

}  // namespace tutti
