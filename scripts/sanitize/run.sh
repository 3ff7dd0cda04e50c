#!/usr/bin/env bash
# The sanitized test run behind `scripts/test.sh --sanitize [ctest args]`: configures and builds every target
# with AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer at exit) into its own build directory
# (${TUTTI_ASAN_BUILD_DIR:-build-asan}; never build/ or build-fuzz/), runs ctest there and fails if any test
# fails or any process wrote a sanitizer report. Arguments go to ctest (e.g. -R Pack, -L coordinator, -E web).
#
# Why reports go to files (log_path) and not only to stderr: the tests start real processes (tutti,
# tutti-coordinator, tutti-worker under mpirun or Slurm) and several only check that a child stopped, or
# that it failed with *some* error; a child whose leak or heap report changes only its exit code could pass
# unseen. Every sanitized process writes its report to $logs/asan.<exe>.<pid> (UBSan's too); after ctest,
# any such file fails the run and is printed.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=scripts/sanitize
build_dir=${TUTTI_ASAN_BUILD_DIR:-build-asan}
case "$build_dir" in
  build|./build|build/|build-fuzz|./build-fuzz|build-fuzz/)
    echo "sanitize: refusing to use $build_dir (the normal and fuzz builds); pick another TUTTI_ASAN_BUILD_DIR" >&2
    exit 2 ;;
esac

[ "${TUTTI_SKIP_DEPS:-0}" = 1 ] || scripts/install-deps.sh

# LibTorch runs under ASan here (Debian's libtorch 1.13, uninstrumented, with our instrumented code around
# it): the torch targets stay in. TUTTI_SANITIZE_TORCH=OFF leaves them out if a LibTorch build ever stops
# doing so.
start=$(date +%s)
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTUTTI_SANITIZE=ON \
  -DTUTTI_WITH_TORCH="${TUTTI_SANITIZE_TORCH:-ON}" -DTUTTI_BUILD_TESTS=ON >/dev/null
# Two cores shared with other work: nice, and -j2 unless told otherwise.
nice -n 5 cmake --build "$build_dir" -j "${TUTTI_JOBS:-2}"
built=$(date +%s)

logs=$(cd "$build_dir" && pwd)/sanitizer-logs
rm -rf "$logs" && mkdir -p "$logs"
supp=$(pwd)/$here

# ASan: stop at the first error; leaks checked at every sanitized process's exit; reports to files (above).
#   detect_stack_use_after_return stays off: it makes every frame a heap block and the torch tests several
#   times slower, for a class of bug (returning a pointer to a local) GCC already warns about.
asan="halt_on_error=1:detect_leaks=1:check_initialization_order=1:strict_init_order=1:detect_odr_violation=2"
asan+=":log_path=$logs/asan:log_exe_name=1"
# UBSan: -fno-sanitize-recover=undefined already aborts at the first report; print where it happened.
# log_path, suppressions (LSan's) and the unwinder are flags the three runtimes share: set each in one
# variable only, since the last of ASAN_OPTIONS, LSAN_OPTIONS, UBSAN_OPTIONS to name one wins for all.
# UBSan reports land in the same $logs/asan.<exe>.<pid> files.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$supp/ubsan.supp"
# LeakSanitizer: third-party leaks only (each entry in lsan.supp says why).
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"

# Two passes. Tests labelled mpi or slurm start processes that initialise Open MPI (under mpirun, srun or
# as a singleton). Open MPI 4.1 leaks ~120 KB in ~3,300 blocks per process in MPI_Init/MPI_Finalize and its
# PMIx thread, mostly from plugins it dlcloses at MPI_Finalize and built without frame pointers: with ASan's
# default (fast) unwinder those stacks are one frame deep, "<unknown module>", and no suppression can name
# them. Those tests therefore run with the slow unwinder (fast_unwind_on_malloc=0), whose stacks reach
# libmpi / libopen-rte / libevent, which lsan.supp names. It makes every malloc ~10x slower, so only
# that pass pays for it.
rc=0
run_ctest() {
  (cd "$build_dir" && ctest --output-on-failure -j "${TUTTI_TEST_JOBS:-2}" "$@") || rc=$?
}
export ASAN_OPTIONS=$asan
run_ctest -LE '^(mpi|slurm)$' "$@"
export ASAN_OPTIONS=$asan:fast_unwind_on_malloc=0
run_ctest -L '^(mpi|slurm)$' "$@"
done_at=$(date +%s)

reports=$(find "$logs" -type f | sort)
if [ -n "$reports" ]; then
  echo
  echo "sanitize: $(echo "$reports" | wc -l) sanitizer report(s) in $logs:"
  for f in $reports; do
    echo "===== $f"
    head -c 20000 "$f"
  done
  [ "$rc" != 0 ] || rc=1
fi
echo "sanitize: build $((built - start)) s, tests $((done_at - built)) s, ctest exit $rc," \
     "$(echo -n "$reports" | grep -c . || true) report file(s)"
exit "$rc"
