#!/usr/bin/env bash
# The main job end to end, as far as it exists: install, build, synthesise an LPD-5-shaped corpus, pack two
# genres into training packs, verify them and show what they hold. Everything goes to ${TUTTI_DEMO_DIR:-./demo-out}.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${TUTTI_DEMO_DIR:-./demo-out}
scripts/install-deps.sh
scripts/build.sh
tutti=build/bin/tutti
mkdir -p "$out"

echo "== 1. synthesise a small corpus in the LPD-5 cleansed layout"
$tutti synth-lpd --out "$out/lpd5-synth" --songs 200 --seed 1

echo "== 2. pack rock and pop into training packs"
$tutti pack --lpd "$out/lpd5-synth" --genres rock,pop --out "$out/packs"

echo "== 3. verify and describe the packs"
$tutti pack-verify "$out/packs/rock"
$tutti pack-verify "$out/packs/pop"
$tutti pack-info "$out/packs/rock"

if [ -d ../shared/lpd5-real ]; then
  echo "== 4. pack the real LPD-5 slice (../shared/lpd5-real): rock, pop, jazz"
  $tutti pack --lpd ../shared/lpd5-real --genres rock,pop,jazz --out "$out/packs-real"
fi

echo "== demo finished; it wrote:"
find "$out" -maxdepth 3 -name manifest.json -o -maxdepth 1 -mindepth 1 -type d | sort | sed 's/^/  /'
du -sh "$out"/* | sed 's/^/  /'
