#!/usr/bin/env bash
# The coordinator's cost, in one run on this machine:
#   (i)  report throughput: tutti-bench-coordinator (1, 16 and 64 simulated workers reporting metrics to one
#        coordinator with its SQLite store; reports/s, p50/p99 latency, every acknowledged point verified in
#        the store);
#   (ii) training throughput of the same job (2 ranks x batch 16, synthetic rock pack) run standalone
#        (`mpirun -np 2 tutti-worker --config`) and coordinator-driven (`tutti agent --np 2` leasing it from
#        a tutti-coordinator: heartbeats, metric batches and checkpoint uploads), alternated ROUNDS times;
#        steps/s is the workers' own rate over step time (the metrics' steps_per_s, first window dropped as
#        warm-up), median over the windows, best round of each. Goal: coordinator-driven within 2 %.
#
# Usage: bench/coordinator.sh [BUILD_DIR]   Env: STEPS (200), ROUNDS (2), SECONDS_PER_ROW (5), KEEP=1
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
steps=${STEPS:-200}
rounds=${ROUNDS:-2}
for bin in tutti tutti-worker tutti-coordinator tutti-bench-coordinator; do
  [[ -x $build/bin/$bin ]] || { echo "coordinator.sh: $build/bin/$bin missing; build it first" >&2; exit 1; }
done
tmp=$(mktemp -d)
coordinator_pid=""
cleanup() {
  [[ -n $coordinator_pid ]] && kill -TERM "$coordinator_pid" 2>/dev/null && wait "$coordinator_pid" 2>/dev/null
  [[ ${KEEP:-0} == 1 ]] || rm -rf "$tmp"
}
trap cleanup EXIT

echo "== (i) report throughput"
"$build/bin/tutti-bench-coordinator" --seconds "${SECONDS_PER_ROW:-5}"

echo
echo "== (ii) training steps/s: standalone vs coordinator-driven, same job, 2 ranks"
"$build/bin/tutti" synth-lpd --out "$tmp/lpd" --songs 120 --seed 1 >/dev/null 2>&1
"$build/bin/tutti" pack --lpd "$tmp/lpd" --genres rock --out "$tmp/packs" >/dev/null 2>&1
cat > "$tmp/job.yaml" <<YAML
name: bench
data:
  packs_dir: $tmp/packs
  genres: [rock]
train:
  steps: $steps
  batch_size: 16
  log_every: 20
  intra_op_threads: 1
checkpoint:
  every: 100
eval:
  every: 100
  samples: 32
YAML
mpi=(mpirun --allow-run-as-root --bind-to none -np 2)

# Median of the logged steps_per_s values after the first window, from JSON lines on stdin.
median_rate() {
  python3 -c '
import json, sys, statistics
rates = []
for line in sys.stdin:
    try:
        p = json.loads(line)
    except ValueError:
        continue
    v = p.get("values", p)
    if p.get("kind", "train") == "train" and "steps_per_s" in v:
        rates.append(float(v["steps_per_s"]))
print("%.3f" % statistics.median(rates[1:]))'
}

best_standalone=0
best_coordinated=0
for round in $(seq "$rounds"); do
  rm -rf "$tmp/run"
  "${mpi[@]}" "$build/bin/tutti-worker" --config "$tmp/job.yaml" --set output_dir="$tmp/run" -q 2>/dev/null
  standalone=$(median_rate < "$tmp/run/metrics.jsonl")

  rm -rf "$tmp/home" "$tmp/addr"
  "$build/bin/tutti-coordinator" --home "$tmp/home" --listen 127.0.0.1:0 --address-file "$tmp/addr" -q 2>/dev/null &
  coordinator_pid=$!
  for _ in $(seq 100); do [[ -s $tmp/addr ]] && break; sleep 0.1; done
  export TUTTI_COORDINATOR=$(cat "$tmp/addr")
  "$build/bin/tutti" submit "$tmp/job.yaml" >/dev/null
  "$build/bin/tutti" agent --np 2 --threads-per-rank 1 --exit-when-idle --poll 0.5 --work-dir "$tmp/agent" 2>/dev/null
  coordinated=$("$build/bin/tutti" logs 1 --json | median_rate)
  kill -TERM "$coordinator_pid"; wait "$coordinator_pid" || true; coordinator_pid=""
  echo "round $round: standalone $standalone steps/s, coordinator-driven $coordinated steps/s"
  best_standalone=$(python3 -c "print(max($best_standalone, $standalone))")
  best_coordinated=$(python3 -c "print(max($best_coordinated, $coordinated))")
done
python3 - "$best_standalone" "$best_coordinated" <<'PY'
import sys
a, b = float(sys.argv[1]), float(sys.argv[2])
print(f"\nbest of rounds: standalone {a:.2f} steps/s, coordinator-driven {b:.2f} steps/s, "
      f"ratio {b / a:.3f} ({(b / a - 1) * 100:+.1f} %; goal: within 2 %)")
PY
