#!/usr/bin/env bash
# The main job end to end: install, build, synthesise an LPD-5-shaped corpus, pack two genres into training
# packs, verify them, train a small GAN on the rock pack for a few hundred steps (checkpoints, metrics), and
# write samples (MIDI, npz, PNG, WAV when FluidSynth is installed) to $TUTTI_DEMO_DIR/samples/rock.
# Everything goes to ${TUTTI_DEMO_DIR:-./demo-out}.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${TUTTI_DEMO_DIR:-./demo-out}
scripts/install-deps.sh
scripts/build.sh
tutti=$PWD/build/bin/tutti
worker=$PWD/build/bin/tutti-worker
configs=$PWD/configs
mkdir -p "$out"
out=$(cd "$out" && pwd)

echo "== 1. synthesise a small corpus in the LPD-5 cleansed layout"
$tutti synth-lpd --out "$out/lpd5-synth" --songs 200 --seed 1

echo "== 2. pack rock and pop into training packs"
$tutti pack --lpd "$out/lpd5-synth" --genres rock,pop --out "$out/packs"

echo "== 3. verify and describe the packs"
$tutti pack-verify "$out/packs/rock"
$tutti pack-verify "$out/packs/pop"
$tutti pack-info "$out/packs/rock"

echo "== 4. train a small model on the synthetic rock pack (configs/demo.yaml: 300 steps, checkpoints, metrics)"
rm -rf "$out/run"
(cd "$out" && "$worker" --config "$configs/demo.yaml")
latest=$(ls "$out/run/checkpoints"/ckpt-*.tutti | sort | tail -n 1)
echo "latest checkpoint: $latest"
tail -n 2 "$out/run/metrics.jsonl"

echo "== 5. write samples from the latest checkpoint"
"$tutti" generate --checkpoint "$latest" -n 4 --seed 1 --out "$out/samples/rock"

if [ -d ../shared/lpd5-real ]; then
  echo "== 6. pack the real LPD-5 slice (../shared/lpd5-real): rock, pop, jazz"
  $tutti pack --lpd ../shared/lpd5-real --genres rock,pop,jazz --out "$out/packs-real"
fi

echo "== demo finished; it wrote under $out:"
(cd "$out" && find . -name manifest.json -o -name '*.tutti' -o -name metrics.jsonl -o -path './samples/*' -type f |
  sort | sed 's/^\.\//  /')
du -sh "$out"/* | sed 's/^/  /'
