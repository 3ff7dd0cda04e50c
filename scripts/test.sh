#!/usr/bin/env bash
# The test command: install what is missing, configure, build, run every test with ctest.
# Tests that need ../shared/lpd5-real (the real LPD-5 slice) say so and skip when it is absent.
#
# scripts/test.sh --sanitize [ctest args]: the same tests built with AddressSanitizer + UndefinedBehaviorSanitizer
# (+ LeakSanitizer) in build-asan/, failing on any sanitizer report from any process the tests start
# (scripts/sanitize/run.sh; README "Sanitizers"). Not part of CI (.ci/run): it takes far longer than its budget.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --sanitize ]; then
  shift
  exec scripts/sanitize/run.sh "$@"
fi
scripts/install-deps.sh
scripts/build.sh
cd "${TUTTI_BUILD_DIR:-build}"
ctest --output-on-failure -j "${TUTTI_TEST_JOBS:-2}" "$@"
