#pragma once
// FluidSynth's process-wide set-up for in-process rendering (internal to core/render).
//
// FluidSynth logs through one process-wide table of handlers and by default prints everything, debug lines
// included, to stderr. EnsureFluidSynthReady() installs Tutti's handler once: it drops warnings, info and
// debug lines, and hands errors and panics to the FluidErrorCapture active on the calling thread, so that they
// end up in the Status of the render that caused them. That works because Tutti never starts an audio driver
// or a system timer: every FluidSynth callback, and so every log line, runs on the thread that called
// FluidSynth. An error logged outside any capture (none is expected) goes to stderr as "fluidsynth: ...".
//
// Thread-safe.

#include <string>

namespace tutti::render_internal {

// Installs the log handler and runs FluidSynth's one-time global initialisation (its tables are built by the
// first new_fluid_synth, which is not guarded against two threads doing it at once). Idempotent; cheap after
// the first call. Call before any other FluidSynth function.
void EnsureFluidSynthReady();

// Collects the FluidSynth errors logged on this thread while it is alive. Captures nest: the innermost one
// receives the messages. Not movable; keep it on the stack.
class FluidErrorCapture {
 public:
  FluidErrorCapture();
  ~FluidErrorCapture();
  FluidErrorCapture(const FluidErrorCapture&) = delete;
  FluidErrorCapture& operator=(const FluidErrorCapture&) = delete;

  // The messages so far, "; "-separated ("" when none).
  const std::string& errors() const { return errors_; }
  void Append(const char* message);

 private:
  FluidErrorCapture* const outer_;
  std::string errors_;
};

}  // namespace tutti::render_internal
