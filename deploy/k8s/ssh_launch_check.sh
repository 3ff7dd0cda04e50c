#!/usr/bin/env bash
# Manual check (not part of ctest: it needs root and Debian's archive): runs the MPIJob's ssh launch on
# this machine, with the exact commands of the rendered cpu overlay.
#
#   the workers' sshd   -> started as uid 10001 with the worker container's command and args
#   the launcher        -> mpirun as uid 10001 with the launcher's command; the "worker pod" is 127.0.0.2
#   the ssh keys, token -> root-owned, group 10001, modes 0660 / 0440: what Secret volumes with fsGroup give
#
# Paths are moved under a temporary directory (/home/tutti -> $T/home/tutti, /etc/tutti/token ->
# $T/token, /opt/tutti/bin -> BIN_DIR, /scratch -> $T/scratch) and the coordinator address is a local
# one. uid 10001 gets a passwd entry through nss_wrapper, so nothing on this machine changes. sshd,
# libwrap0 and nss_wrapper are taken from Debian's packages with `apt-get download` when sshd is absent.
#
# Passes when: a 20-step trial submitted to a token-protected coordinator is trained by 2 ranks started
# through ssh and completes with its checkpoints stored; then, with nothing queued, mpirun exits 4.
# Usage: sudo deploy/k8s/ssh_launch_check.sh [BIN_DIR]   (default: build/bin)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=$(realpath "${1:-build/bin}")
[ "$(id -u)" = 0 ] || { echo "run as root (setpriv to uid 10001, chown of the key files)"; exit 2; }
T=$(mktemp -d /tmp/tutti-ssh-check.XXXXXX)
chmod 755 "$T"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# sshd and nss_wrapper: installed ones, else unpacked from Debian's packages (not installed).
SSHD=/usr/sbin/sshd NSSW=/usr/lib/x86_64-linux-gnu/libnss_wrapper.so LIBS=
if [ ! -x "$SSHD" ] || [ ! -e "$NSSW" ]; then
  mkdir -p "$T/debs" "$T/root"
  (cd "$T/debs" && apt-get download openssh-server libwrap0 libnss-wrapper >/dev/null 2>&1) ||
    { echo "apt-get download openssh-server libwrap0 libnss-wrapper failed (run apt-get update?)"; exit 2; }
  for d in "$T"/debs/*.deb; do dpkg-deb -x "$d" "$T/root"; done
  [ -x "$SSHD" ] || SSHD=$T/root/usr/sbin/sshd
  [ -e "$NSSW" ] || NSSW=$T/root/usr/lib/x86_64-linux-gnu/libnss_wrapper.so
  LIBS=$T/root/usr/lib/x86_64-linux-gnu:$T/root/lib/x86_64-linux-gnu
fi

# The commands, from this repository's cpu overlay, with the paths moved.
commands() {  # $1: Worker or Launcher; prints the argv NUL-separated
  PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 - "$1" "$T" "$BIN" <<'PY'
import sys
sys.path.insert(0, "deploy/k8s")
import manifests_test as m
role, t, bindir = sys.argv[1:]
tree, _ = m.load_tree(m.HERE)
docs = m.render(tree, "overlays/cpu", m.Report(quiet=True))
job = next(d.obj for d in docs if d.kind == "MPIJob")
c = job["spec"]["mpiReplicaSpecs"][role]["template"]["spec"]["containers"][0]
moves = [("/home/tutti", f"{t}/home/tutti"), ("/etc/tutti/token", f"{t}/token"), ("/opt/tutti/bin", bindir),
         ("/scratch", f"{t}/scratch")]
for a in (c.get("command") or []) + (c.get("args") or []):
    for old, new in moves:
        a = a.replace(old, new)
    sys.stdout.write(a + "\0")
PY
}
mapfile -d '' WORKER < <(commands Worker)
mapfile -d '' LAUNCHER < <(commands Launcher)
WORKER[0]=$SSHD

# What the pods see: uid 10001 in passwd, keys and token from Secrets (root-owned, group 10001).
mkdir -p "$T/home/tutti/.ssh" "$T/token" "$T/scratch"
printf 'root:x:0:0:root:/root:/bin/bash\ntutti:x:10001:10001::%s/home/tutti:/bin/bash\n' "$T" > "$T/passwd"
printf 'root:x:0:\ntutti:x:10001:\n' > "$T/group"
ssh-keygen -q -t ecdsa -b 521 -N '' -f "$T/home/tutti/.ssh/id_rsa"
cp "$T/home/tutti/.ssh/id_rsa.pub" "$T/home/tutti/.ssh/authorized_keys"
chown -R root:10001 "$T/home/tutti/.ssh" && chmod 0660 "$T"/home/tutti/.ssh/* && chmod 0750 "$T/home/tutti/.ssh"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/token/token"
chown root:10001 "$T/token/token" && chmod 0440 "$T/token/token"
chown 10001:10001 "$T/home/tutti" "$T/scratch"
NSS=(LD_PRELOAD="$NSSW" NSS_WRAPPER_PASSWD="$T/passwd" NSS_WRAPPER_GROUP="$T/group")
AS=(setpriv --reuid 10001 --regid 10001 --clear-groups)

# A coordinator with that token, and packs for a short job.
"$BIN/tutti-coordinator" --home "$T/coord" --listen 127.0.0.1:0 --address-file "$T/addr" \
  --token-file "$T/token/token" -q > "$T/coordinator.log" 2>&1 &
PIDS+=($!)
"$BIN/tutti" synth-lpd --out "$T/corpus" --songs 200 --seed 1 > /dev/null 2>&1
"$BIN/tutti" pack --lpd "$T/corpus" --genres rock --out "$T/packs" > /dev/null 2>&1
chmod -R a+rX "$T/packs"
for _ in $(seq 50); do [ -s "$T/addr" ] && break; sleep 0.2; done
ADDR=$(cat "$T/addr")
for i in "${!LAUNCHER[@]}"; do
  case "${LAUNCHER[$i]}" in *.svc:*) LAUNCHER[$i]=$ADDR ;; esac
done
echo "sshd:   ${WORKER[*]}"
echo "mpirun: ${LAUNCHER[*]}"

env "${NSS[@]}" LD_LIBRARY_PATH="$LIBS" "${AS[@]}" "${WORKER[@]}" \
  -o "SetEnv=LD_PRELOAD=$NSSW NSS_WRAPPER_PASSWD=$T/passwd NSS_WRAPPER_GROUP=$T/group" > "$T/sshd.log" 2>&1 &
PIDS+=($!)
sleep 1
echo "127.0.0.2 slots=2" > "$T/hostfile"   # not a local address to Open MPI: the ranks start through ssh
launch() {
  (cd "$T/scratch" && env "${NSS[@]}" OMPI_MCA_orte_default_hostfile="$T/hostfile" "${AS[@]}" "${LAUNCHER[@]}" "$@")
}
TUTTI_TOKEN=$(cat "$T/token/token") "$BIN/tutti" submit configs/demo.yaml --coordinator "$ADDR" \
  --set data.packs_dir="$T/packs" --set train.steps=20 --set checkpoint.every=10 --set eval.every=10 \
  --set eval.samples=8 --set train.log_every=10
rc=0; launch > "$T/launch1.log" 2>&1 || rc=$?
tail -3 "$T/launch1.log"
TUTTI_TOKEN=$(cat "$T/token/token") "$BIN/tutti" trials 1 --coordinator "$ADDR" | tee "$T/trials.txt"
grep -q "^1 *COMPLETED" "$T/trials.txt" && [ "$rc" = 0 ] ||
  { echo "FAIL: trial not completed through the ssh launch (mpirun exit $rc); logs in $T"; exit 1; }
# Nothing queued: the launcher's tutti-worker gives up after --wait seconds (shortened here) with exit 4.
for i in "${!LAUNCHER[@]}"; do [ "${LAUNCHER[$i]}" = --wait ] && LAUNCHER[$((i + 1))]=1; done
rc=0; launch > "$T/launch2.log" 2>&1 || rc=$?
[ "$rc" = 4 ] || { echo "FAIL: mpirun exit $rc with nothing queued, expected 4; logs in $T"; exit 1; }
grep -q "Accepted publickey for tutti" "$T/sshd.log" || { echo "FAIL: sshd accepted no key; $T/sshd.log"; exit 1; }
echo "PASS: ssh launch as uid 10001 trained trial 1 to completion; exit 4 with nothing queued"
rm -rf "$T"
