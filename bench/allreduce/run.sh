#!/usr/bin/env bash
# Allreduce bandwidth: BucketedAllreducer (what the trainer uses) vs plain MPI_Allreduce, same
# buffers, same run, results verified on every iteration (non-zero exit on a wrong sum).
# Builds nothing.
#
# Usage: bench/allreduce/run.sh [BUILD_DIR] [-- extra args for tutti-bench-allreduce]
# Env:   NP (2 ranks), MPIRUN (mpirun). Extra args: --min_iters N, --max_iters N, --bucket_mb X.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
shift || true
[[ ${1:-} == -- ]] && shift
bin=$build/bin/tutti-bench-allreduce
if [[ ! -x $bin ]]; then
  echo "missing $bin: build first (cmake --build $build --target tutti-bench-allreduce)" >&2
  exit 2
fi
# --bind-to none: ranks spin while polling; on a shared box the scheduler must move them freely.
exec ${MPIRUN:-mpirun} --allow-run-as-root --oversubscribe --bind-to none -np "${NP:-2}" "$bin" "$@"
