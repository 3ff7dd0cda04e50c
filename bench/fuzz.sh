#!/usr/bin/env bash
# Fuzzes every parser target (fuzz/README.md) for SECONDS each, one after the other, with libFuzzer + ASan +
# UBSan, and prints one row per target: wall seconds, CPU seconds (user + system of the fuzzer process, which is
# what the fuzzing record counts: on a shared machine wall time overstates it), executions, corpus size, crashes.
#   - builds build-fuzz/ with clang (-DTUTTI_FUZZ=ON, torch-free, no tests) unless it is already configured;
#   - each target starts from a copy of fuzz/corpus/<name> in build-fuzz/corpus/<name> (new inputs land there,
#     so the checked-in corpus stays small; copy the interesting ones back by hand, after `-merge=1`);
#   - a crash stops that target and is written to build-fuzz/crashes/<name>/ (reproduce it with
#     `build-fuzz/bin/tutti_fuzz_<name> FILE`); the script exits 1 when any target crashed.
#
#   - BUDGET=cpu makes SECONDS the fuzzer's CPU seconds instead of wall seconds: on a loaded machine (a niced
#     fuzzer beside builds gets a small share) wall time says little about how much was fuzzed. The fuzzer
#     is then stopped with SIGINT once its user + system time reaches SECONDS (libFuzzer prints its final
#     stats and exits 72, which counts as a clean end here).
#
# Usage: bench/fuzz.sh [SECONDS] [TARGET...]   (default 60 s; all targets)
# Env: JOBS (make -j, default 1), BUDGET (wall, the default, or cpu)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-fuzz
secs=${1:-60}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(npy npz midi job_yaml experiment_yaml pack_manifest shard_header \
                                      checkpoint_header handlers track_map)

# Inputs much longer than the real ones only slow the fuzzer down; these cover the seeds (npz: the
# synthetic LPD songs are ~35 KB) with room to grow.
declare -A max_len=([npy]=4096 [npz]=65536 [midi]=16384 [job_yaml]=4096 [experiment_yaml]=4096
                    [pack_manifest]=8192 [shard_header]=256 [checkpoint_header]=8192 [handlers]=4096
                    [track_map]=4096)

if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DTUTTI_FUZZ=ON \
    -DTUTTI_WITH_TORCH=OFF -DTUTTI_BUILD_TESTS=OFF >/dev/null
fi
# Under a lock: fuzz.sh runs started together would otherwise race when CMake reconfigures build-fuzz/ (seen:
# FindMPI's try_compile failing in both).
mkdir -p "$build"
# Configure again first: a target added to fuzz/CMakeLists.txt since the last run is unknown to the old
# Makefile, and make would stop with "No rule to make target" before regenerating it.
flock "$build/.make.lock" sh -c 'cmake "$1" >/dev/null && shift && make "$@"' _ "$build" -C "$build" -j"${JOBS:-1}" \
  "${targets[@]/#/tutti_fuzz_}" >/dev/null

mkdir -p "$build/tmp"
export TMPDIR=$build/tmp  # the npz target's temporary input file
status=0
rows=()
for name in "${targets[@]}"; do
  corpus=$build/corpus/$name
  crashes=$build/crashes/$name
  mkdir -p "$corpus" "$crashes"
  cp -r "$root/fuzz/corpus/$name/." "$corpus/"
  log=$build/fuzz-$name.log
  echo "fuzzing $name for ${secs} s (log: $log)" >&2
  rc=0
  start=$(date +%s)
  cpu_file=$build/fuzz-$name.cpu
  wall_limit=$secs
  [[ ${BUDGET:-wall} == cpu ]] && wall_limit=$((secs * 100))  # the CPU watch below ends it
  # libFuzzer's per-input timeout is wall time: a niced fuzzer beside busy processes gets a sliver of a core,
  # and inputs that take 0.1 CPU s were reported as 10 s "timeouts". Under BUDGET=cpu allow 300 s of wall
  # time per input (a real hang still ends there); UNIT_TIMEOUT overrides either default.
  unit_timeout=${UNIT_TIMEOUT:-10}
  [[ ${BUDGET:-wall} == cpu && -z ${UNIT_TIMEOUT:-} ]] && unit_timeout=300
  /usr/bin/time -f '%U %S' -o "$cpu_file" \
  "$build/bin/tutti_fuzz_$name" "$corpus" -max_total_time="$wall_limit" -max_len="${max_len[$name]:-4096}" \
    -rss_limit_mb=2048 -timeout="$unit_timeout" -print_final_stats=1 -artifact_prefix="$crashes/" >"$log" 2>&1 &
  timer=$!
  if [[ ${BUDGET:-wall} == cpu ]]; then
    interrupted=0
    while kill -0 "$timer" 2>/dev/null; do
      sleep 2
      fuzzer=$(pgrep -P "$timer" | head -1) || true
      [[ -n $fuzzer ]] || continue
      # Fields 14 and 15 of /proc/PID/stat: user and system time in clock ticks.
      ticks=$(awk '{ print $14 + $15 }' "/proc/$fuzzer/stat" 2>/dev/null) || continue
      if [[ -n $ticks ]] && (( ticks >= secs * $(getconf CLK_TCK) )); then
        kill -INT "$fuzzer" 2>/dev/null && interrupted=1
        break
      fi
    done
  fi
  wait "$timer" || rc=$?
  [[ ${BUDGET:-wall} == cpu && $rc -eq 72 && $interrupted -eq 1 ]] && rc=0
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  elapsed=$(($(date +%s) - start))
  # /usr/bin/time's last line is "USER SYS" (a line before it says so when the fuzzer exited non-zero).
  cpu=$(tail -1 "$cpu_file" | awk 'NF == 2 { printf "%.0f", $1 + $2 }')
  found=$(find "$crashes" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
          -o -name 'oom-*' \) | wc -l)
  [[ $rc -eq 0 && $found -eq 0 ]] || status=1
  rows+=("$(printf '%-18s %8s %8s %12s %8s %8s' "$name" "${elapsed:-?}" "${cpu:-?}" "${execs:-?}" \
             "$(ls "$corpus" | wc -l)" "$found")")
done

printf '%-18s %8s %8s %12s %8s %8s\n' target wall_s cpu_s executions corpus crashes
printf '%s\n' "${rows[@]}"
exit $status
