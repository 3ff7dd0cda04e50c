#!/usr/bin/env bash
# The main job end to end, as a team runs it: install, build, synthesise an LPD-5-shaped corpus, pack two
# genres into training packs and verify them; start a coordinator and an agent (2 ranks) on loopback,
# submit the demo job (configs/demo.yaml), follow it to completion, list the trial and its checkpoints,
# download the best checkpoint and write samples from it (MIDI, npz, labelled PNG pianorolls, WAV rendered
# in process); then run a small ASHA sweep over both genres and the learning rates (configs/sweep-asha.yaml:
# 6 trials of 2 ranks), print its leaderboard with the stop reasons, and pull samples of each genre from the
# coordinator's sample service (genre -> the best checkpoint across experiments); stop the agent. It ends
# with the web page: one generation in Compose, screenshotted in headless Chromium, and the page's address.
# In a terminal the coordinator then keeps serving the page until Ctrl-C; otherwise (CI, pipes) it stops.
# Everything goes to ${TUTTI_DEMO_DIR:-./demo-out}.
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

echo "== 4. start a coordinator (state in $out/coordinator; gRPC and the web page on loopback) and an agent"
echo "      with 2 ranks"
rm -rf "$out/coordinator" "$out/coordinator.addr" "$out/http.addr"
"$bin/tutti-coordinator" --home "$out/coordinator" --listen 127.0.0.1:0 --address-file "$out/coordinator.addr" \
  --http "${TUTTI_DEMO_HTTP:-127.0.0.1:0}" --http-address-file "$out/http.addr" 2>"$out/coordinator.log" &
coordinator_pid=$!
for _ in $(seq 100); do [[ -s $out/coordinator.addr && -s $out/http.addr ]] && break; sleep 0.1; done
export TUTTI_COORDINATOR=$(cat "$out/coordinator.addr")
page="http://$(cat "$out/http.addr")/"
echo "coordinator on $TUTTI_COORDINATOR, web page on $page (pid $coordinator_pid, log $out/coordinator.log)"
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
echo "-- the genres the coordinator serves and the checkpoint behind each"
$tutti genres
for genre in rock pop; do
  echo "-- $genre: the leaderboard across experiments, and samples from the sample service (the best checkpoint)"
  $tutti leaderboard --genre "$genre"
  $tutti sample --genre "$genre" -n 4 --seed 7 --out "$out/samples/sweep-$genre" --format midi,wav,png,npz
done

echo "== 9. stop the agent (the coordinator keeps serving the page)"
kill -INT "$agent_pid"; wait "$agent_pid" || true; agent_pid=""

if [ -d ../shared/lpd5-real ]; then
  echo "== 10. pack the real LPD-5 slice (../shared/lpd5-real): rock, pop, jazz"
  $tutti pack --lpd ../shared/lpd5-real --genres rock,pop,jazz --out "$out/packs-real"
fi

echo "== 11. the web page: one generation in Compose (headless Chromium), screenshotted"
node tests/web/compose_screenshot.js --url "$page" --genre rock --seed 7 --out "$out/compose.png"

echo "== demo finished; it wrote under $out:"
(cd "$out" && find . -name manifest.json -o -name 'best.tutti' -o -name tutti.db -o -name compose.png |
  sort | sed 's/^\.\//  /')
for dir in "$out"/samples/*/; do
  echo "  samples/$(basename "$dir")/: $(ls "$dir" | wc -l) files ($(ls "$dir" | sed 's/.*\.//' | sort -u | paste -sd, -))"
done
du -sh "$out"/* | sed 's/^/  /'
echo
echo "The web page (Compose, Experiments, Listen): $page"
if [[ -t 0 && -t 1 && -z ${CI:-} ]]; then
  echo "The coordinator keeps serving it; press Ctrl-C to stop."
  wait "$coordinator_pid" || true
  coordinator_pid=""
else
  echo "(not a terminal: stopping the coordinator; run 'build/bin/tutti-coordinator --home $out/coordinator --http 127.0.0.1:8080' to serve it again)"
  kill -TERM "$coordinator_pid"; wait "$coordinator_pid"; coordinator_pid=""
  tail -n 1 "$out/coordinator.log"
fi
