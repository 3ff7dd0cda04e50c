#pragma once
// Ctrl-C handling for long commands: the first SIGINT/SIGTERM sets a flag that work loops poll so they can
// stop at a safe point and clean up (no half-written packs or checkpoints); a second Ctrl-C (SIGINT) exits at
// once. A repeated SIGTERM does not: launchers deliver it more than once for one stop (Slurm at a time limit
// signals the tasks and srun forwards it too), and each of them follows up with SIGKILL when it has waited
// long enough, so insisting is their job, not ours.

namespace tutti {

// Installs the SIGINT/SIGTERM handlers. Idempotent. `clean_stop_action`, when given, says what finishing
// cleanly means for this program and is printed with the first signal ("terminated: finishing cleanly
// (checkpoint, then stop)"); it must outlive the process's signal handling (a string literal).
void InstallInterruptHandler(const char* clean_stop_action = nullptr);

// True once SIGINT or SIGTERM was received (or RequestInterrupt was called).
bool InterruptRequested();

// For tests and for programmatic stops.
void RequestInterrupt();

// Makes `signal_number` (e.g. SIGUSR1: what `mpirun` forwards to its ranks and what Slurm's
// `--signal=USR1@120` sends before a time limit) request the same clean stop as the first Ctrl-C. Unlike
// Ctrl-C, receiving it again never exits at once: schedulers may repeat it.
void InstallGracefulStopSignal(int signal_number);

}  // namespace tutti
