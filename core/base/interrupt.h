#pragma once
// Ctrl-C handling for long commands: the first SIGINT/SIGTERM sets a flag that work loops poll so they can
// stop at a safe point and clean up (no half-written packs or checkpoints); a second one exits at once.

namespace tutti {

// Installs the SIGINT/SIGTERM handlers. Idempotent.
void InstallInterruptHandler();

// True once SIGINT or SIGTERM was received (or RequestInterrupt was called).
bool InterruptRequested();

// For tests and for programmatic stops.
void RequestInterrupt();

}  // namespace tutti
