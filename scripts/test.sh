#!/usr/bin/env bash
# The test command: install what is missing, configure, build, run every test with ctest.
# Tests that need ../shared/lpd5-real (the real LPD-5 slice) say so and skip when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd "${TUTTI_BUILD_DIR:-build}"
ctest --output-on-failure -j "${TUTTI_TEST_JOBS:-2}" "$@"
