#!/usr/bin/env bash
# Installs what Tutti needs from Debian bookworm packages, and nothing that is already there.
# Idempotent; works as root or through sudo.  Usage: scripts/install-deps.sh [--with-bench]
#   --with-bench  also python3-torch (the Python reference the benchmarks compare against)
# Audio (in-process FluidSynth + a 5 MB General MIDI soundfont), the web page's browser test (Debian's
# chromium driven by playwright-core from npm, pinned in tests/web/package-lock.json) and Slurm + munge (the
# deploy/slurm test starts its own single-node cluster; packages start no daemons) are always installed, and so
# is openttd-openmsx: 31 real multi-instrument Standard MIDI Files (GPL-2, 0.8 MB) that tests and the accompany
# example read from where Debian puts them; none is copied into this repository.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ccache
  libtorch-dev libopenblas0-openmp
  libopenmpi-dev openmpi-bin
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libyaml-cpp-dev libsqlite3-dev
  libzip-dev zipcmp zipmerge ziptool zlib1g-dev libdeflate-dev
  nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev libpng-dev libssl-dev
  python3-numpy python3-mido python3-yaml
  libfluidsynth-dev timgm6mb-soundfont
  openttd-openmsx
  chromium
  slurm-wlm munge
)
for arg in "$@"; do
  case "$arg" in
    --with-bench) packages+=(python3-torch) ;;
    --with-audio) ;;  # kept for old scripts: audio is always installed now
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "install-deps.sh: unknown option '$arg' (expected --with-bench)" >&2; exit 2 ;;
  esac
done

# Node runs the browser test's playwright-core. A node that is already there (e.g. NodeSource's 20, which
# bundles npm and conflicts with Debian's npm package) is used as it is; otherwise Debian's nodejs 18 + npm
# (tests/web pins playwright-core 1.61.1, the last release that supports node 18).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then packages+=(nodejs npm); fi

# playwright-core for tests/web, exactly as its package-lock.json pins it (no install scripts, no browser
# download: it drives Debian's chromium). Runs after the packages, so node is there.
install_web_test_modules() {
  local web
  web="$(cd "$(dirname "$0")/.." && pwd)/tests/web"
  if [ -f "$web/node_modules/playwright-core/package.json" ]; then return 0; fi
  echo "install-deps: npm ci in $web (playwright-core, pinned)"
  npm ci --prefix "$web" --no-audit --no-fund --ignore-scripts --loglevel=error
}

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  install_web_test_modules
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then sudo="sudo"; else
    echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1
  fi
fi
echo "install-deps: installing ${#missing[@]} package(s): ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
# Reference BLAS would make training 2.5x slower: prefer OpenBLAS (OpenMP flavour) when both exist.
if [ -e /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3 ]; then
  $sudo update-alternatives --set libblas.so.3-x86_64-linux-gnu \
    /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3 >/dev/null 2>&1 || true
fi
install_web_test_modules
echo "install-deps: done"
