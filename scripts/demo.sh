#!/usr/bin/env bash
# The main job end to end, as a team runs it: install, build, synthesise an LPD-5-shaped corpus, pack two
# genres into training packs and verify them; start a coordinator and an agent (2 ranks) on loopback,
# submit the demo job (configs/demo.yaml), follow it to completion, list the trial and its checkpoints,
# download the best checkpoint and write samples from it (MIDI, npz, PNG; WAV when FluidSynth is
# installed); then run a small ASHA sweep over both genres and the learning rates (configs/sweep-asha.yaml:
# 6 trials of 2 ranks), print its leaderboard with the stop reasons, and write samples from the best
# checkpoint of each genre; stop both processes cleanly. Everything goes to ${TUTTI_DEMO_DIR:-./demo-out}.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${TUTTI_DEMO_DIR:-./demo-out}
scripts/install-deps.sh
scripts/build.sh
bin=$PWD/build/bin
tutti=$bin/tutti
configs=$PWD/configs
mkdir -p "$out"
out=$(cd "$out" && pwd)

coordinator_pid=""
agent_pid=""
# Whatever happens, the processes this script started are stopped by their own pids.
cleanup() {
  [[ -n $agent_pid ]] && kill -INT "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null || true
  [[ -n $coordinator_pid ]] && kill -TERM "$coordinator_pid" 2>/dev/null && wait "$coordinator_pid" 2>/dev/null || true
}
trap cleanup EXIT

echo "== 1. synthesise a small corpus in the LPD-5 cleansed layout"
$tutti synth-lpd --out "$out/lpd5-synth" --songs 200 --seed 1

echo "== 2. pack rock and pop into training packs"
$tutti pack --lpd "$out/lpd5-synth" --genres rock,pop --out "$out/packs"

echo "== 3. verify and describe the packs"
$tutti pack-verify "$out/packs/rock"
$tutti pack-verify "$out/packs/pop"
$tutti pack-info "$out/packs/rock"

echo "== 4. start a coordinator (state in $out/coordinator) and an agent with 2 ranks, on loopback"
rm -rf "$out/coordinator" "$out/coordinator.addr"
"$bin/tutti-coordinator" --home "$out/coordinator" --listen 127.0.0.1:0 --address-file "$out/coordinator.addr" \
  2>"$out/coordinator.log" &
coordinator_pid=$!
for _ in $(seq 100); do [[ -s $out/coordinator.addr ]] && break; sleep 0.1; done
export TUTTI_COORDINATOR=$(cat "$out/coordinator.addr")
echo "coordinator on $TUTTI_COORDINATOR (pid $coordinator_pid, log $out/coordinator.log)"
$tutti agent --np 2 --work-dir "$out/agent" 2>"$out/agent.log" &
agent_pid=$!
echo "agent pid $agent_pid (log $out/agent.log)"

echo "== 5. submit the demo job (configs/demo.yaml: 300 steps, checkpoints every 100) and follow it"
submitted=$(cd "$out" && $tutti submit "$configs/demo.yaml" --json)
experiment=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["experiment"]["id"])' <<<"$submitted")
trial=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["trials"][0]["id"])' <<<"$submitted")
echo "experiment $experiment, trial $trial"
$tutti logs "$trial" --follow

echo "== 6. the experiment, its trial and its checkpoints"
$tutti experiments
$tutti trials "$experiment"
$tutti checkpoints "$trial"

echo "== 7. download the trial's best checkpoint (checkpoint.best_metric; the newest when unset), sha256 checked,"
echo "      and write samples from it"
$tutti checkpoints download --trial "$trial" --out "$out/best.tutti"
"$tutti" generate --checkpoint "$out/best.tutti" -n 4 --seed 1 --out "$out/samples/rock"

echo "== 8. an ASHA sweep over both genres and the learning rates (configs/sweep-asha.yaml)"
$tutti validate "$configs/sweep-asha.yaml"
sweep=$(cd "$out" && $tutti submit "$configs/sweep-asha.yaml" --json |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["experiment"]["id"])')
$tutti wait "$sweep"
echo "-- the leaderboard (best realism score first; stop reasons say who was promoted and who stopped where)"
$tutti trials "$sweep" --sort objective
for genre in rock pop; do
  echo "-- the best $genre checkpoint across experiments, and samples from it"
  best=$($tutti best --genre "$genre" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["checkpoint"]["id"])')
  $tutti best --genre "$genre"
  $tutti generate --checkpoint-id "$best" -n 4 --seed 1 --out "$out/samples/sweep-$genre"
done

echo "== 9. stop the agent and the coordinator"
kill -INT "$agent_pid"; wait "$agent_pid" || true; agent_pid=""
kill -TERM "$coordinator_pid"; wait "$coordinator_pid"; coordinator_pid=""
tail -n 2 "$out/coordinator.log"

if [ -d ../shared/lpd5-real ]; then
  echo "== 10. pack the real LPD-5 slice (../shared/lpd5-real): rock, pop, jazz"
  $tutti pack --lpd ../shared/lpd5-real --genres rock,pop,jazz --out "$out/packs-real"
fi

echo "== demo finished; it wrote under $out:"
(cd "$out" && find . -name manifest.json -o -name 'best.tutti' -o -name tutti.db -o -path './samples/*' -type f |
  sort | sed 's/^\.\//  /')
du -sh "$out"/* | sed 's/^/  /'
