#!/usr/bin/env bash
# Data-path benchmarks in one run: pack throughput against the Python/numpy reference (same files),
# peak memory of `tutti pack`, and loader throughput. Needs a build (scripts/build.sh) and, for the real
# files, ../shared/lpd5-real. Usage: bench/data_bench.sh [LPD_ROOT] [GENRES]
set -euo pipefail
cd "$(dirname "$0")/.."
lpd=${1:-../shared/lpd5-real}
genres=${2:-rock,pop,jazz}
/usr/bin/python3 bench/pack/pack_bench.py --lpd "$lpd" --genres "$genres" --tutti build/bin/tutti
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
build/bin/tutti pack --lpd "$lpd" --genres rock --out "$tmp" -q >/dev/null
build/bin/tutti-bench-loader "$tmp/rock" --batches 3000 --batch-size 64

echo "peak memory with songs as long as LPD-5's longest (959,040 steps; 614 MB each if densified):"
/usr/bin/python3 bench/pack/make_long_song.py "$tmp/long" 2
/usr/bin/time -f "  tutti pack of 2 such songs on all cores: peak RSS %M KB, %e s" \
  build/bin/tutti pack --lpd "$tmp/long" --genres long --out "$tmp/long-packs" -q >/dev/null
