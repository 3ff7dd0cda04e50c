#!/usr/bin/env bash
# Coordinator soak (issue 20): 200 simulated workers, each with its own connection, reporting a batch of 10
# metric points every second and heartbeating every 5 s (the real worker's cadence, worker/coord) against a
# real tutti-coordinator process for 10 minutes. One row per minute: reports, heartbeats, errors, p50/p99/max
# report latency, the coordinator's RSS, threads, open files and database size; then every acknowledged point
# is checked in the database after a clean SIGTERM, and memory growth and p99 stability are printed.
#
# Usage: bench/soak.sh [BUILD_DIR] [-- extra tutti-bench-soak flags, e.g. --minutes 2 --report-ms 250]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
if [[ $# -gt 0 && $1 != -- ]]; then build=$1; shift; fi
[[ ${1:-} == -- ]] && shift
for bin in tutti-coordinator tutti-bench-soak; do
  [[ -x $build/bin/$bin ]] || { echo "soak.sh: $build/bin/$bin missing; build it first" >&2; exit 1; }
done
exec "$build/bin/tutti-bench-soak" --coordinator "$build/bin/tutti-coordinator" "$@"
