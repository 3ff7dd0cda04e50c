#!/usr/bin/env bash
# Configures and builds Tutti into ${TUTTI_BUILD_DIR:-build} (binaries in build/bin). Assumes deps are installed.
# TUTTI_DEBUG_INFO=ON|OFF sets -g; unset, a build directory keeps what it has (ON when new), so running the demo
# after .ci/run (which builds without) does not recompile everything.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${TUTTI_BUILD_DIR:-build}
jobs=${TUTTI_JOBS:-$(nproc)}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-RelWithDebInfo} \
  -DTUTTI_BUILD_BENCH=${TUTTI_BUILD_BENCH:-ON} ${TUTTI_DEBUG_INFO:+-DTUTTI_DEBUG_INFO=$TUTTI_DEBUG_INFO} >/dev/null
cmake --build "$build_dir" -j "$jobs"
