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
# Variants (VARIANTS, space-separated; each trains from scratch with the same data, seed and time budget and
# gets its own $OUT/<variant>/ with run/, metrics.txt, metrics.json, samples/):
#   tutorial         the MuseGAN tutorial model (real-valued output thresholded at 0.5)
#   refiner          + a refiner with deterministic binary neurons (model.refiner), two stages: the first
#                    REFINER_PRETRAIN_STEPS steps without it, then the refiner with the generator fine-tuned
#   refiner+streams  + the critic's onset/offset and chroma streams (model.onset_stream, model.chroma_stream)
#   default          configs/real-rock.yaml as it is, no overrides (its header says what it turns on and why)
#   held, held8, detail, release, bassheld, basslate, harmony, hgainN, hpost, gate, gatelow, bassroot, bars, bargate,
#   barhard, lscaleX, rests, nobars, silence,
#   stddev,
#   ema, emaNNN, warm,
#   sigmoid, binary, streams, chroma, onset, criticN, lowlr, lrN, bsN, joined by '+' (e.g. held+stddev+ema):
#                    the tutorial model with
#                    held      held notes in the pitched tracks (model.held_tracks: piano, guitar, bass, strings;
#                              core/model/held_steps.h)
#                    harmony   one chroma per beat shared by the pitched tracks (model.harmony_tracks: piano, guitar,
#                              bass, strings; core/model/shared_harmony.h)
#                    hgainN    with harmony: every track's gain on the shared chroma starts at N, not 1
#                              (model.harmony_gain; e.g. hgain4)
#                    hpost     with harmony: the shared chroma added after the output BatchNorm
#                              (model.harmony_after_norm)
#                    gate      with harmony: the shared chroma also scales each track's pitch classes after the
#                              activation (model.harmony_gate)
#                    gatelow   gate that only turns classes down, never up (model.harmony_gate_lower_only)
#                    bassroot  with gate: the bass's gate keeps the beat's leading pitch class and turns the others
#                              down by how far they trail it (model.harmony_root_tracks: [bass])
#                    bars      one learned level per track and bar (model.bar_levels; core/model/bar_levels.h)
#                    bargate   bars whose levels scale each bar after the activation instead of shifting it before
#                              the norm (model.bar_levels, model.bar_gate)
#                    barhard   bargate whose factor is 0 or 1, a straight-through binary gate (model.bar_gate_hard)
#                    lscaleX   with bars: the levels times X, so they learn X times as fast (model.bar_level_scale;
#                              e.g. lscale0.1)
#                    rests     each sample's tracks rest in the bars of an arrangement drawn from the training
#                              samples' own (model.rest_plans; core/model/rest_plans.h)
#                    nobars    no bar levels or gates (model.bar_levels: false), e.g. default+rests+nobars
#                    silence   the critic also reads each track's share of silent bars in the batch
#                              (model.critic_bar_silence)
#                    held8     held with its smoothing on the 8th grid (model.held_on_eighths): no held note shorter
#                              than an 8th
#                    detail    with held or held8: the tutorial's per-step layer added to the held tracks times a
#                              learned gain that starts at zero (model.held_detail)
#                    release   with held8: a learned gate may end a held note a 16th early, never add one
#                              (model.held_release)
#                    bassheld  with release: the gate cuts piano, guitar and strings, never the bass
#                              (model.held_release_tracks: [piano, guitar, strings])
#                    basslate  with release: the gate cuts the bass only on each beat's last 16th
#                              (model.held_release_late_tracks: [bass])
#                    stddev    the critic's minibatch standard deviation (model.critic_minibatch_stddev)
#                    ema       samples from the moving average of G's weights (train.generator_ema, GENERATOR_EMA
#                              or 0.999); emaNNN: with decay 0.NNN (e.g. ema995: 0.995)
#                    warm      with an average: its decay warms up, min(decay, (1 + t) / (10 + t)) at step t
#                              (train.generator_ema_warmup)
#                    sigmoid   a sigmoid as G's last activation (model.output: sigmoid)
#                    binary    binary neurons as G's last activation, trained end to end (model.output: binary)
#                    streams   the critic's onset/offset and chroma streams
#                    chroma    the critic's chroma stream alone (model.chroma_stream); onset: its onset/offset stream
#                    criticN   N critic updates per generator update (critic5: the WGAN-GP paper's; the tutorial: 1)
#                    lowlr     Adam learning rates 2e-4 (the tutorial: 1e-3); lrN: both N * 1e-4 (e.g. lr5)
#                    bsN       N samples per batch and rank (train.batch_size; e.g. bs32)
#   default+OPTIONS  configs/real-rock.yaml with those options on top (e.g. default+chroma)
#   streams          the critic's streams alone; refiner-frozen, refiner-frozen+streams, refiner-stochastic: the
#                    other refiner options. NAME@N: that variant with train.seed=N.
#   accompany-<track>  the tutorial model as an accompaniment model (model.condition_track=<track>, e.g.
#                    accompany-bass): its metrics are of samples written around held-out real parts, and instead of
#                    8 samples it accompanies ACCOMPANY_INPUTS (default: the held-out real rock song of the pack
#                    that gave the most samples and Debian's openttd-openmsx be_sharp_bw_redfarn.mid, 16 bars
#                    each) into $OUT/<variant>/accompany.
# PARALLEL=N trains N variants at a time with cores/N intra-op threads each (every variant the same share).
# After the last variant a comparison table: realism count and score beside the held-out bar, and per track
# used pitch classes and notes >= an 8th against held-out real rock.
#
# Usage: bench/train_real_rock.sh
# Env:   TUTTI_BENCH_SECONDS (1200: the config's 20-minute budget), OUT ($root/build/bench-real-rock; $OUT/run is
#        replaced), BUILD ($root/build), LPD5_REAL ($root/../shared/lpd5-real), SAMPLES (256 generated samples
#        for the metrics: fewer only catch gross failures), SEED (0, latents of metrics and samples),
#        PYTHON (/usr/bin/python3, for the summary), LOG_EVERY (unset: the config's train.log_every, 50 steps;
#        set it low, e.g. 5, for short dry runs so the loss summary has lines), SET (extra --set overrides,
#        space-separated, e.g. "train.intra_op_threads=1"), VARIANTS (default), PARALLEL (1),
#        REFINER_PRETRAIN_STEPS (1800: about 40 % of a 20-minute refiner+streams run with three variants at once).
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
variants=${VARIANTS:-default}
parallel=${PARALLEL:-1}
pretrain=${REFINER_PRETRAIN_STEPS:-1800}
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

# The --set overrides that make each variant.
# NAME@N: the same variant with train.seed=N (GAN runs this short differ a lot between seeds).
variant_sets() {
  local name=${1%@*} seed_set=""
  [[ $1 == *@* ]] && { [[ ${1##*@} =~ ^[0-9]+$ ]] || return 1; seed_set="train.seed=${1##*@}"; }
  # Every variant names every option, so a config that turns one on cannot leak into another variant.
  local tutorial="model.refiner=none model.onset_stream=false model.chroma_stream=false model.condition_track=none model.held_tracks=[] model.held_on_eighths=false model.held_detail=false model.held_release=false model.held_release_tracks=[] model.held_release_late_tracks=[] model.harmony_root_tracks=[] model.harmony_tracks=[] model.harmony_gain=1 model.harmony_after_norm=false model.harmony_gate=false model.harmony_gate_lower_only=false model.bar_levels=false model.bar_gate=false model.bar_gate_hard=false model.bar_level_scale=1 model.rest_plans=false model.critic_minibatch_stddev=false model.critic_bar_silence=false model.output=relu train.generator_ema=0 train.critic_steps=1"
  local held="model.held_tracks=[piano,guitar,bass,strings]" stddev="model.critic_minibatch_stddev=true"
  local ema="train.generator_ema=${GENERATOR_EMA:-0.999}"
  local refiner="model.refiner=deterministic model.refiner_pretrain_steps=$pretrain"
  local streams="model.onset_stream=true model.chroma_stream=true"
  local sets
  case "$name" in
    tutorial) sets="$tutorial" ;;
    refiner) sets="$tutorial $refiner model.refiner_generator=fine_tune" ;;
    refiner+streams) sets="$tutorial $refiner model.refiner_generator=fine_tune $streams" ;;
    default) sets="" ;;
    refiner-frozen) sets="$tutorial $refiner model.refiner_generator=frozen" ;;
    refiner-frozen+streams) sets="$tutorial $refiner model.refiner_generator=frozen $streams" ;;
    refiner-stochastic) sets="$tutorial model.refiner=stochastic model.refiner_pretrain_steps=$pretrain" ;;
    accompany-drums|accompany-piano|accompany-guitar|accompany-bass|accompany-strings)
      sets="$tutorial model.condition_track=${name#accompany-}" ;;
    *)
      # Options joined by '+', on top of the tutorial (the list above), e.g. held+stddev+ema; default+OPTIONS: on
      # top of configs/real-rock.yaml as it is instead.
      sets="$tutorial"
      local part parts=$name
      [[ $name == default+* ]] && { sets=""; parts=${name#default+}; }
      for part in ${parts//+/ }; do
        case "$part" in
          held) sets+=" $held" ;;
          harmony) sets+=" model.harmony_tracks=[piano,guitar,bass,strings]" ;;
          bars) sets+=" model.bar_levels=true" ;;
          bargate) sets+=" model.bar_levels=true model.bar_gate=true" ;;
          barhard) sets+=" model.bar_levels=true model.bar_gate=true model.bar_gate_hard=true" ;;
          lscale[0-9]*) [[ ${part#lscale} =~ ^[0-9]+(\.[0-9]+)?$ ]] || return 1; sets+=" model.bar_level_scale=${part#lscale}" ;;
          silence) sets+=" model.critic_bar_silence=true" ;;
          rests) sets+=" model.rest_plans=true" ;;
          nobars) sets+=" model.bar_levels=false model.bar_gate=false model.bar_gate_hard=false"
                  sets+=" model.bar_level_scale=1" ;;
          held8) sets+=" $held model.held_on_eighths=true" ;;
          stddev) sets+=" $stddev" ;;
          ema) sets+=" $ema" ;;
          ema[0-9]*) sets+=" train.generator_ema=0.${part#ema}" ;;
          warm) sets+=" train.generator_ema_warmup=true" ;;
          sigmoid) sets+=" model.output=sigmoid" ;;
          binary) sets+=" model.output=binary" ;;
          critic[0-9]*) [[ ${part#critic} =~ ^[1-9][0-9]*$ ]] || return 1; sets+=" train.critic_steps=${part#critic}" ;;
          lowlr) sets+=" train.g_lr=0.0002 train.d_lr=0.0002" ;;
          lr[0-9]*) [[ ${part#lr} =~ ^[0-9]+$ ]] || return 1; sets+=" train.g_lr=${part#lr}e-4 train.d_lr=${part#lr}e-4" ;;
          bs[0-9]*) [[ ${part#bs} =~ ^[0-9]+$ ]] || return 1; sets+=" train.batch_size=${part#bs}" ;;
          streams) sets+=" $streams" ;;
          chroma) sets+=" model.chroma_stream=true" ;;
          onset) sets+=" model.onset_stream=true" ;;
          detail) sets+=" model.held_detail=true" ;;
          release) sets+=" model.held_release=true" ;;
          hgain[0-9]*) sets+=" model.harmony_gain=${part#hgain}" ;;
          hpost) sets+=" model.harmony_after_norm=true" ;;
          gate) sets+=" model.harmony_gate=true" ;;
          gatelow) sets+=" model.harmony_gate=true model.harmony_gate_lower_only=true" ;;
          bassheld) sets+=" model.held_release_tracks=[piano,guitar,strings]" ;;
          basslate) sets+=" model.held_release_late_tracks=[bass]" ;;
          bassroot) sets+=" model.harmony_root_tracks=[bass]" ;;
          *) return 1 ;;
        esac
      done ;;
  esac
  echo "$sets $seed_set"
}
for v in $variants; do variant_sets "$v" >/dev/null || die "unknown variant '$v' (tutorial, default, held/held8/detail/release/harmony/hgainN/hpost/gate/gatelow/bassroot/bassheld/basslate/bars/bargate/barhard/lscaleX/rests/nobars/silence/stddev/ema/emaNNN/warm/sigmoid/binary/streams/chroma/onset/criticN/lowlr/lrN/bsN joined by + (after default+ for on top of the config), refiner, refiner+streams, streams, refiner-frozen, refiner-frozen+streams, refiner-stochastic, accompany-<track>; NAME@SEED)"; done
threads=$(( $(nproc) / parallel )); (( threads >= 1 )) || threads=1

# Trains one variant into $out/$1 and judges it; all output to $out/$1/bench.log (printed when done).
run_variant() {
  local name=$1 vout=$out/$1
  mkdir -p "$vout"
  rm -rf "$vout/run"
  local extra=()
  [[ -n ${LOG_EVERY:-} ]] && extra+=(--set "train.log_every=$LOG_EVERY")
  (( parallel > 1 )) && extra+=(--set "train.intra_op_threads=$threads")
  for kv in $(variant_sets "$name") ${SET:-}; do extra+=(--set "$kv"); done
  echo "== train $name: ${seconds} s budget -> $vout/run (${extra[*]:-no overrides})"
  local start
  start=$(date +%s)
  "$worker" --config configs/real-rock.yaml --set "data.packs_dir=$out/packs-real" --set "output_dir=$vout/run" \
    "${extra[@]}" --max-seconds "$seconds" >"$vout/train.log" 2>&1 || { tail -20 "$vout/train.log"; return 1; }
  echo "trained for $(($(date +%s) - start)) s of wall time"
  local latest
  latest=$(ls "$vout/run/checkpoints"/ckpt-*.tutti 2>/dev/null | sort | tail -n 1 || true)
  [[ -n $latest ]] || { echo "$name: the run left no checkpoint in $vout/run/checkpoints"; return 1; }
  echo "latest checkpoint: $latest"

  echo "== metrics ($name): $samples generated samples vs held-out real rock"
  "$tutti" metrics --packs "$out/packs-real/rock" --checkpoint "$latest" -n "$samples" --seed "$seed" \
    >"$vout/metrics.txt" || return 1
  cat "$vout/metrics.txt"
  "$tutti" metrics --packs "$out/packs-real/rock" --checkpoint "$latest" -n "$samples" --seed "$seed" --json \
    >"$vout/metrics.json" || return 1

  if [[ $name == accompany-* ]]; then
    accompany_inputs "$name" "$latest" "$vout/accompany" || return 1
    echo "== loss curve ($name): $vout/run/metrics.jsonl"
    loss_summary "$vout/run/metrics.jsonl"
    return 0
  fi
  echo "== samples ($name): 8 from $latest -> $vout/samples"
  rm -rf "$vout/samples"
  "$tutti" generate --checkpoint "$latest" -n 8 --seed "$seed" --out "$vout/samples" >"$vout/generate.log" || return 1
  grep -v '^wrote ' "$vout/generate.log" || true
  for i in 0 1 2 3 4 5 6 7; do
    [[ -s $vout/samples/sample-$i.mid && -s $vout/samples/sample-$i.npz ]] || { echo "sample $i missing"; return 1; }
  done
  echo "wrote $vout/samples (sample-<i>.mid/.npz/.png[/.wav], overview.png)"

  echo "== loss curve ($name): $vout/run/metrics.jsonl"
  loss_summary "$vout/run/metrics.jsonl"
}

# An accompaniment variant plays against real parts: ACCOMPANY_INPUTS, or the pack's fullest held-out song and a
# real Standard MIDI File from Debian's openttd-openmsx (16 bars of each).
accompany_inputs() {
  local name=${1%@*} checkpoint=$2 dir=$3 inputs=${ACCOMPANY_INPUTS:-}
  if [[ -z $inputs ]]; then
    inputs=$("$python" - "$out/packs-real/rock/manifest.json" "$lpd" <<'PY'
import json, os, sys
manifest, lpd = json.load(open(sys.argv[1])), sys.argv[2]
# The held-out song that gave the most samples (the fullest arrangement; ties: the first).
heldout = [s for s in manifest["songs"] if s["split"] == "heldout"]
if heldout:
    song = max(heldout, key=lambda s: s["samples"])
    msd = song["msd_ids"][0]
    print(os.path.join(lpd, "lpd_5", "lpd_5_cleansed", msd[2], msd[3], msd[4], msd, song["md5"] + ".npz"))
PY
)
    local midi=/usr/share/games/openttd/baseset/openmsx/be_sharp_bw_redfarn.mid
    [[ -f $midi ]] && inputs="$inputs $midi"
  fi
  rm -rf "$dir"
  for input in $inputs; do
    echo "== accompany ($name): $input -> $dir"
    "$tutti" accompany --checkpoint "$checkpoint" --input "$input" --bars 16 --seed "$seed" --out "$dir" || return 1
  done
}

loss_summary() {
"$python" - "$1" <<'PY'
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
}

failed=0
running=()
for v in $variants; do
  ( run_variant "$v" >"$out/$v.bench.log" 2>&1 ) &
  running+=($!)
  if (( ${#running[@]} >= parallel )); then
    wait "${running[0]}" || failed=1
    running=("${running[@]:1}")
  fi
done
for pid in "${running[@]}"; do wait "$pid" || failed=1; done
for v in $variants; do
  echo
  echo "################ variant: $v"
  cat "$out/$v.bench.log"
done

echo
echo "== comparison: realism and the goal metrics per variant (the goal: count <= the held-out bar, UPC within"
echo "   15 % of real per track, notes >= an 8th >= 70 % per track)"
"$python" - "$out" $variants <<'PY'
import json, os, sys
out, variants = sys.argv[1], sys.argv[2:]
def fmt(v, f="{:.2f}"):
    return "-" if v is None else f.format(v)
rows = []
for v in variants:
    path = os.path.join(out, v, "metrics.json")
    if not os.path.exists(path):
        print(f"{v}: no metrics.json (the run failed)")
        continue
    j = json.load(open(path))
    r = j.get("realism") or {}
    gen, real = j["generated"]["tracks"], j["real"]["tracks"]
    upc = []
    qn = []
    for g, rl in zip(gen, real):
        if g.get("is_drum"):
            continue
        gu, ru = g.get("used_pitch_classes_true_pc"), rl.get("used_pitch_classes_true_pc")
        upc.append(f"{g['name'][:6]} {fmt(gu)}/{fmt(ru)}" + ("" if gu is None or not ru else f" ({100*(gu-ru)/ru:+.0f}%)"))
        gq = g.get("qualified_notes_ge_8th_standin")
        qn.append(f"{g['name'][:6]} {fmt(None if gq is None else 100*gq, '{:.0f}')}%")
    print(f"{v:>18}: step {j.get('step')}, realism outside {r.get('outside')}/{r.get('metrics')} "
          f"(held-out bar {r.get('heldout_outside')}), score {fmt(r.get('score'))} (held-out {fmt(r.get('heldout_score'))})")
    print(f"{'':>18}  UPC gen/real: " + ", ".join(upc))
    print(f"{'':>18}  notes >= 8th: " + ", ".join(qn))
PY
echo "done: $out/<variant>/ (metrics.txt, metrics.json, samples/, run/)"
exit $failed
