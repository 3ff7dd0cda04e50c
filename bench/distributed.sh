#!/usr/bin/env bash
# Data-parallel training on one machine, in one run:
#   (i)  allreduce bandwidth: tutti-bench-allreduce under mpirun -np 2 (ours = BucketedAllreducer vs raw
#        MPI_Allreduce, verified while timed; its own table, ratio = mpi time / ours time);
#   (ii) training throughput on a synthetic pack at the same global batch: 1 rank x 2 threads x batch 32 vs
#        2 ranks x 1 thread x batch 16 each, and the communication share of step time at 2 ranks
#        (sum of the metrics' comm_s over sum of step time; goal < 10 %);
#   (iii) the same 2 ranks x 1 thread x batch 16 in PyTorch DDP (gloo) with the tutorial's model and loop
#        (bench/reference/musegan_ddp.py, random batches) and the ratio ours / DDP (goal >= 1.5x).
# steps/s is the workers' own rate over RunStep time (metrics.jsonl, steps_per_s), first window dropped as
# warm-up; at 2 ranks it is rank 0's, which includes waiting for rank 1. Builds nothing.
#
# Usage: bench/distributed.sh [BUILD_DIR]   (default: build/ beside this folder)
# Env:   STEPS (60 timed + one warm-up window of LOG_EVERY), LOG_EVERY (10), BATCH (32, the global batch),
#        MPIRUN (mpirun), KEEP=1 keeps the temp dir, PYTHON (/usr/bin/python3, Debian's python3-torch; the
#        DDP row is skipped, saying why, when it cannot import torch).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
mpirun=${MPIRUN:-mpirun}
steps=${STEPS:-60}
log_every=${LOG_EVERY:-10}
batch=${BATCH:-32}
for bin in tutti tutti-worker tutti-bench-allreduce; do
  if [[ ! -x $build/bin/$bin ]]; then
    echo "distributed.sh: $build/bin/$bin missing; build it first" >&2
    exit 1
  fi
done
tmp=$(mktemp -d)
[[ ${KEEP:-0} == 1 ]] || trap 'rm -rf "$tmp"' EXIT
mpi_flags=(--allow-run-as-root --oversubscribe --bind-to none)

echo "== (i) allreduce: ours vs MPI_Allreduce, 2 ranks"
timeout 600 "$mpirun" "${mpi_flags[@]}" -np 2 "$build/bin/tutti-bench-allreduce" --max_iters 20 | tee "$tmp/allreduce.txt"

echo
echo "== (ii) training: synthetic pack in $tmp"
"$build/bin/tutti" synth-lpd --out "$tmp/lpd" --songs 120 --seed 1 --genres rock -q
"$build/bin/tutti" pack --lpd "$tmp/lpd" --genres rock --out "$tmp/packs" -q >/dev/null
cat >"$tmp/job.yaml" <<EOF
name: bench-distributed
data: {packs_dir: $tmp/packs, genres: [rock], prefetch_batches: 4}
train: {steps: $((steps + log_every)), seed: 3, log_every: $log_every, device: cpu}
checkpoint: {every: 1000000, keep: 1}
eval: {every: 1000000, samples: 8}
EOF
worker=("$build/bin/tutti-worker" --config "$tmp/job.yaml" --quiet)
timeout 900 "${worker[@]}" --set output_dir="$tmp/one" --set train.batch_size="$batch" \
  --set train.intra_op_threads=2
timeout 900 "$mpirun" "${mpi_flags[@]}" -np 2 "${worker[@]}" --set output_dir="$tmp/two" \
  --set train.batch_size="$((batch / 2))" --set train.intra_op_threads=1

python=${PYTHON:-/usr/bin/python3}
if "$python" -c 'import torch' 2>/dev/null; then
  echo "== (iii) PyTorch DDP (gloo), 2 ranks x 1 thread x batch $((batch / 2))"
  (cd "$root/bench/reference" && timeout 900 "$python" musegan_ddp.py --ranks 2 --threads 1 \
    --batch "$((batch / 2))" --steps "$steps" --warmup "$log_every") | tee "$tmp/ddp.json"
else
  echo "== (iii) skipped: $python cannot import torch (install python3-torch: scripts/install-deps.sh --with-bench)"
fi

python3 - "$tmp" "$batch" <<'PY'
import json, os, re, sys
tmp, batch = sys.argv[1], int(sys.argv[2])

def summary(path):
    """(steps/s, comm seconds, step seconds) over the metrics windows after the first (warm-up)."""
    lines = [json.loads(l) for l in open(path) if l.strip()]
    w = [l for l in lines if "steps_per_s" in l][1:]
    gaps = [b["step"] - a["step"] for a, b in zip(w, w[1:])] or [w[0]["step"]]
    every = gaps[0]
    step_time = sum(every / l["steps_per_s"] for l in w)
    comm = sum(l.get("comm_s", 0.0) for l in w)
    return every * len(w) / step_time, comm, step_time

one_rate, _, _ = summary(f"{tmp}/one/metrics.jsonl")
two_rate, comm, step_time = summary(f"{tmp}/two/metrics.jsonl")
print()
print("| setup | global batch | steps/s | samples/s | comm share |")
print("| --- | ---: | ---: | ---: | ---: |")
print("| 1 rank x 2 threads, batch %d | %d | %.2f | %.0f | - |" % (batch, batch, one_rate, one_rate * batch))
print("| 2 ranks x 1 thread, batch %d each | %d | %.2f | %.0f | %.1f %% |" % (
    batch // 2, batch, two_rate, two_rate * batch, 100 * comm / step_time))
print()
print("2 ranks / 1 rank throughput: %.2fx; communication at 2 ranks: %.3f s of %.2f s step time "
      "(%.1f %%, goal < 10 %%)" % (two_rate / one_rate, comm, step_time, 100 * comm / step_time))
if os.path.exists(f"{tmp}/ddp.json") and os.path.getsize(f"{tmp}/ddp.json") > 0:
    ddp = json.loads(open(f"{tmp}/ddp.json").read().strip().splitlines()[-1])
    print("2 ranks x 1 thread, global batch %d: ours %.2f steps/s, PyTorch DDP (gloo) %.2f steps/s, "
          "ratio %.2fx (goal >= 1.5x)" % (batch, two_rate, ddp["steps_per_s"], two_rate / ddp["steps_per_s"]))
rows = [l for l in open(f"{tmp}/allreduce.txt") if re.match(r"^(G grads|D grads|1 MiB|64 MiB)", l)]
for row in rows:
    cols = row.split()
    print("allreduce %-8s ours/mpi time ratio (mpi/ours): %s (best %s)" % (
        " ".join(cols[:2]), cols[-2], cols[-1]))
PY
