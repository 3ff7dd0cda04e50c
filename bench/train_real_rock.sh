#!/usr/bin/env bash
# The "real music" bench: train on the real LPD-5 rock slice for a time budget, then judge the generator
# against held-out real rock and leave samples to listen to. Builds nothing.
#
#   1. tutti pack --lpd $LPD5_REAL --genres rock --out $OUT/packs-real      (default segment rule; the metrics
#      compare with held-out samples of this same pack, so both sides use one rule: shared/lpd5.md §5)
#   2. tutti-worker --config configs/real-rock.yaml --set data.packs_dir=$OUT/packs-real
#                   --set output_dir=$OUT/run --max-seconds $TUTTI_BENCH_SECONDS
#   3. tutti metrics --packs $OUT/packs-real/rock --checkpoint <latest> -n $SAMPLES   (generated vs held-out real,
#      per track; also saved as $OUT/metrics.txt and $OUT/metrics.json)
#   4. tutti generate --checkpoint <latest> -n 8 --out $OUT/samples          (MIDI, .npz, PNG, WAV, overview.png)
#   5. a loss-curve summary of $OUT/run/metrics.jsonl: mean d_loss, g_loss, wasserstein and gradient penalty per
#      tenth of the run (by step), and the first vs the last tenth.
#
# Usage: bench/train_real_rock.sh
# Env:   TUTTI_BENCH_SECONDS (1200: the config's 20-minute budget), OUT ($root/build/bench-real-rock; $OUT/run is
#        replaced), BUILD ($root/build), LPD5_REAL ($root/../shared/lpd5-real), SAMPLES (256 generated samples
#        for the metrics: fewer only catch gross failures), SEED (0, latents of metrics and samples),
#        PYTHON (/usr/bin/python3, for the summary), LOG_EVERY (unset: the config's train.log_every, 50 steps;
#        set it low, e.g. 5, for short dry runs so the loss summary has lines), SET (extra --set overrides,
#        space-separated, e.g. "train.intra_op_threads=1").
# Exits non-zero when a step fails or leaves no checkpoint, no metrics lines or no samples behind.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
out=${OUT:-$root/build/bench-real-rock}
lpd=${LPD5_REAL:-$root/../shared/lpd5-real}
seconds=${TUTTI_BENCH_SECONDS:-1200}
samples=${SAMPLES:-256}
seed=${SEED:-0}
python=${PYTHON:-/usr/bin/python3}
tutti=$build/bin/tutti
worker=$build/bin/tutti-worker

die() { echo "train_real_rock.sh: $*" >&2; exit 1; }
[[ -x $tutti ]] || die "$tutti missing; build it first (scripts/build.sh, or cmake --build $build --target tutti)"
[[ -x $worker ]] || die "$worker missing; build the tutti-worker target first"
"$tutti" generate --help >/dev/null 2>&1 || die "$tutti has no 'generate' command (built without LibTorch?)"
[[ -f $lpd/cleansed_ids.txt ]] || die "no LPD-5 slice at $lpd (set LPD5_REAL)"
mkdir -p "$out"
cd "$root"  # configs/real-rock.yaml is named relative to the checkout

echo "== pack: $lpd rock -> $out/packs-real"
"$tutti" pack --lpd "$lpd" --genres rock --out "$out/packs-real" -q
"$tutti" pack-info "$out/packs-real/rock" | sed -n '1,5p'

echo "== train: ${seconds} s budget -> $out/run"
rm -rf "$out/run"
start=$(date +%s)
extra=()
[[ -n ${LOG_EVERY:-} ]] && extra+=(--set "train.log_every=$LOG_EVERY")
# SET: extra space-separated key=value overrides, e.g. SET="train.intra_op_threads=1".
for kv in ${SET:-}; do extra+=(--set "$kv"); done
"$worker" --config configs/real-rock.yaml --set "data.packs_dir=$out/packs-real" --set "output_dir=$out/run" \
  "${extra[@]}" --max-seconds "$seconds"
echo "trained for $(($(date +%s) - start)) s of wall time"
latest=$(ls "$out/run/checkpoints"/ckpt-*.tutti 2>/dev/null | sort | tail -n 1 || true)
[[ -n $latest ]] || die "the run left no checkpoint in $out/run/checkpoints"
echo "latest checkpoint: $latest"

echo "== metrics: $samples generated samples vs held-out real rock"
"$tutti" metrics --packs "$out/packs-real/rock" --checkpoint "$latest" -n "$samples" --seed "$seed" |
  tee "$out/metrics.txt"
"$tutti" metrics --packs "$out/packs-real/rock" --checkpoint "$latest" -n "$samples" --seed "$seed" --json \
  >"$out/metrics.json"

echo "== samples: 8 from $latest -> $out/samples"
rm -rf "$out/samples"
"$tutti" generate --checkpoint "$latest" -n 8 --seed "$seed" --out "$out/samples" >"$out/generate.log"
grep -v '^wrote ' "$out/generate.log" || true
for i in 0 1 2 3 4 5 6 7; do
  [[ -s $out/samples/sample-$i.mid && -s $out/samples/sample-$i.npz ]] || die "sample $i missing in $out/samples"
done
echo "wrote $out/samples (sample-<i>.mid/.npz/.png[/.wav], overview.png)"

echo "== loss curve: $out/run/metrics.jsonl"
"$python" - "$out/run/metrics.jsonl" <<'PY'
import json, math, sys
rows = []
with open(sys.argv[1]) as f:
    for line in f:
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if isinstance(r, dict) and "d_loss" in r and "step" in r:
            rows.append(r)
if not rows:
    sys.exit("no loss lines in " + sys.argv[1] + " (a run shorter than train.log_every steps? set LOG_EVERY)")
keys = ["d_loss", "g_loss", "wasserstein", "gradient_penalty"]
first, last = rows[0]["step"], rows[-1]["step"]
span = max(1, last - first + 1)
buckets = [[] for _ in range(10)]
for r in rows:
    buckets[min(9, (r["step"] - first) * 10 // span)].append(r)
def mean(rs, k):
    v = [r[k] for r in rs if isinstance(r.get(k), (int, float)) and math.isfinite(r[k])]
    return sum(v) / len(v) if v else float("nan")
print(f"{len(rows)} loss lines, steps {first}..{last}" +
      (f", {rows[-1]['steps_per_s']:.2f} steps/s at the end" if "steps_per_s" in rows[-1] else ""))
print(f"{'tenth':>5} {'steps':>13} {'lines':>5} " + " ".join(f"{k:>16}" for k in keys))
for i, b in enumerate(buckets):
    if not b:
        continue
    steps = f"{b[0]['step']}-{b[-1]['step']}"
    print(f"{i + 1:>5} {steps:>13} {len(b):>5} " + " ".join(f"{mean(b, k):>16.4f}" for k in keys))
full = [b for b in buckets if b]
if len(full) >= 2:
    print("first vs last tenth: " + ", ".join(
        f"{k} {mean(full[0], k):.4f} -> {mean(full[-1], k):.4f}" for k in keys))
PY
echo "done: $out (metrics.txt, metrics.json, samples/, run/)"
