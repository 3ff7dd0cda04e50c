#include "core/base/interrupt.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>

namespace tutti {
namespace {

std::atomic<int> interrupt_count{0};
std::atomic<bool> graceful_stop{false};
// What "finishing cleanly" means for this program (e.g. "checkpoint, then stop"), printed with the first
// signal. A plain pointer to a string the caller keeps alive: the handlers may only read it.
std::atomic<const char*> clean_stop_action{nullptr};

// The signal line, built from pieces with write(2) alone (async-signal-safe; no formatting).
void WriteStopLine(const char* head) {
  auto put = [](const char* text) {
    size_t n = 0;
    while (text[n] != '\0') ++n;
    ssize_t ignored = ::write(STDERR_FILENO, text, n);
    (void)ignored;  // Nothing useful to do if stderr is gone.
  };
  put(head);
  const char* action = clean_stop_action.load();
  if (action != nullptr) {
    put(" (");
    put(action);
    put(")");
  }
  put("\n");
}

void OnGracefulStop(int) {
  if (graceful_stop.exchange(true)) return;
  WriteStopLine("\nstop signal received: finishing cleanly");
}

void OnSignal(int signal_number) {
  if (interrupt_count.fetch_add(1) >= 1) {
    // Second Ctrl-C: the user insists. _exit is async-signal-safe.
    _exit(128 + signal_number);
  }
  WriteStopLine("\ninterrupted: finishing cleanly; press Ctrl-C again to abort");
}

void OnTerminate(int) {
  if (interrupt_count.fetch_add(1) >= 1) return;  // repeated SIGTERM: already stopping cleanly
  WriteStopLine("\nterminated: finishing cleanly");
}

}  // namespace

void InstallInterruptHandler(const char* clean_stop_action_text) {
  clean_stop_action.store(clean_stop_action_text);
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
