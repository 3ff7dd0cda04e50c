#!/usr/bin/env bash
# Prints the bad-input table (tests/bad_inputs/README.md): for each parser and request handler, how many
# distinct bad inputs ctest feeds it and whether every one got a clear error (the expected code, a message
# naming the file and the key/offset/line and what was expected; no crash, exception or hang). It runs
# tutti_bad_inputs_test (all of it: the table only adds up when every suite ran), writes the table to
# build/tests/bad_inputs_table.md and exits non-zero when any input did not get its error.
#
# Usage: bench/bad_inputs_table.sh          Env: BUILD (build directory, default build/), NO_BUILD=1 (skip make)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
bin=$build/tests/tutti_bad_inputs_test
lock=/tmp/tutti-build.lock  # shared with every other build in this checkout: no relink while a test runs

if [[ ${NO_BUILD:-0} != 1 ]]; then
  (cd "$build" && flock "$lock" make -j2 tutti_bad_inputs_test >/dev/null)
fi
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
status=0
TUTTI_BAD_INPUTS_ROWS=$rows flock "$lock" "$bin" >"$build/tests/bad_inputs_test.log" 2>&1 || status=$?

table=$build/tests/bad_inputs_table.md
{
  echo "| parser / handler | distinct bad inputs | all gave a clear error |"
  echo "| --- | --- | --- |"
  cat "$rows"
  awk -F' \\| ' '{ n += $2; if ($3 !~ /^yes/) bad = 1 } END {
    printf "| **total (%d parsers and handlers)** | **%d** | %s |\n", NR, n, bad ? "NO" : "yes" }' "$rows"
} >"$table"
cat "$table"
if [[ $status -ne 0 ]]; then
  echo "tutti_bad_inputs_test failed (exit $status): see $build/tests/bad_inputs_test.log" >&2
fi
exit "$status"
