#!/usr/bin/env bash
# Training speed: GanTrainer (tutti-bench-train) vs the tutorial's PyTorch loop
# (bench/reference/musegan_train.py), same model, same threads, random 0/1 batches. Builds nothing.
#
# Usage: bench/train_speed.sh [BUILD_DIR]   (default: build/ beside this folder)
# Env:   THREADS (2), BATCHES ("16 64"), STEPS (30 timed), WARMUP (5), REPEATS (3: ours and
#        python alternate, the best run of each counts, which damps noise from other processes),
#        PYTHON (/usr/bin/python3, Debian's python3-torch).
# FLOPs per step are the algorithm's nominal count (formula in bench/train_speed/bench_train.cc):
# B * (15 F_D + 3 F_G), F = forward FLOPs per sample = 2 * conv/linear MACs; 90.5 MFLOP/sample.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
bin=$build/bin/tutti-bench-train
python=${PYTHON:-/usr/bin/python3}
threads=${THREADS:-2}
steps=${STEPS:-30}
warmup=${WARMUP:-5}
repeats=${REPEATS:-3}
if [[ ! -x $bin ]]; then
  echo "train_speed.sh: $bin missing; build the tutti_bench_train target first" >&2
  exit 1
fi
export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for batch in ${BATCHES:-16 64}; do
  for ((r = 0; r < repeats; ++r)); do
    "$bin" --batch "$batch" --threads "$threads" --steps "$steps" --warmup "$warmup" >>"$results"
    "$python" "$root/bench/reference/musegan_train.py" --batch "$batch" --threads "$threads" \
      --steps "$steps" --warmup "$warmup" >>"$results"
  done
done
"$python" - "$results" <<'PY'
import json, sys
best = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    key = (r["batch"], r["impl"])
    if key not in best or r["steps_per_s"] > best[key]["steps_per_s"]:
        best[key] = r
print("| batch | threads | ours steps/s | python steps/s | ratio | MFLOP/step | ours GFLOP/s | python GFLOP/s |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for batch in sorted({b for b, _ in best}):
    ours, py = best[(batch, "tutti")], best[(batch, "python")]
    mflop = ours["mflop_per_step"]
    print("| %d | %d | %.2f | %.2f | %.2fx | %.0f | %.1f | %.1f |" % (
        batch, ours["threads"], ours["steps_per_s"], py["steps_per_s"],
        ours["steps_per_s"] / py["steps_per_s"], mflop, ours["steps_per_s"] * mflop / 1e3,
        py["steps_per_s"] * mflop / 1e3))
PY
