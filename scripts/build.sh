#!/usr/bin/env bash
# Configures and builds Tutti into ${TUTTI_BUILD_DIR:-build} (binaries in build/bin). Assumes deps are installed.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${TUTTI_BUILD_DIR:-build}
jobs=${TUTTI_JOBS:-$(nproc)}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-RelWithDebInfo} \
  -DTUTTI_BUILD_BENCH=${TUTTI_BUILD_BENCH:-ON} -DTUTTI_DEBUG_INFO=${TUTTI_DEBUG_INFO:-ON} >/dev/null
cmake --build "$build_dir" -j "$jobs"
