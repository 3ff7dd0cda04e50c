#include "core/render/fluid_log.h"

#include <fluidsynth.h>

#include <cstdio>
#include <mutex>

namespace tutti::render_internal {
namespace {

// The innermost capture of this thread (see the header for why per-thread is enough).
thread_local FluidErrorCapture* current_capture = nullptr;

// A capture keeps at most this much, so that a file that makes FluidSynth complain per event cannot grow a
// Status without bound.
constexpr size_t kMaxCapturedBytes = 2000;

void HandleFluidLog(int level, const char* message, void* /*data*/) {
  if (level > FLUID_ERR || message == nullptr) return;  // warnings, info, debug: dropped on purpose
  if (current_capture != nullptr) {
    current_capture->Append(message);
  } else {
    std::fprintf(stderr, "fluidsynth: %s\n", message);
  }
}

void InitialiseOnce() {
  for (int level = 0; level < LAST_LOG_LEVEL; ++level) fluid_set_log_function(level, HandleFluidLog, nullptr);
  // The first new_fluid_synth builds FluidSynth's global conversion and DSP tables; do it here, once.
  fluid_settings_t* settings = new_fluid_settings();
  if (settings == nullptr) return;  // out of memory: the render that follows reports it
  fluid_settings_setstr(settings, "player.timing-source", "sample");
  fluid_synth_t* synth = new_fluid_synth(settings);
  if (synth != nullptr) delete_fluid_synth(synth);
  delete_fluid_settings(settings);
}

}  // namespace

void EnsureFluidSynthReady() {
  static std::once_flag once;
  std::call_once(once, InitialiseOnce);
}

FluidErrorCapture::FluidErrorCapture() : outer_(current_capture) { current_capture = this; }

FluidErrorCapture::~FluidErrorCapture() { current_capture = outer_; }

void FluidErrorCapture::Append(const char* message) {
  if (errors_.size() >= kMaxCapturedBytes) return;
  if (!errors_.empty()) errors_ += "; ";
  errors_ += message;
  if (errors_.size() > kMaxCapturedBytes) errors_.resize(kMaxCapturedBytes);
}

}  // namespace tutti::render_internal
