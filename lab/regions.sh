#!/usr/bin/env bash
# A multi-region lab in Linux network namespaces (root only; traffic never leaves the namespaces made here).
#
#   <p>-sim     the exchange simulator, one link to each region (10.77.<i>.1)
#   <p>-r1..r3  one collector each ("regions"): its own link to the exchange (10.77.<i>.2), to the strategy
#               side (10.78.<i>.2) and to the second arbiter (10.80.<i>.2)
#   <p>-strat   arbiter arb-1, its delay proxy, and the client (lab/client.ts); 10.79.0.1 on a control link
#               to the simulator, used only to read the truth and send times and to set faults
#   <p>-arb2    arbiter arb-2 and its delay proxy; 10.81.0.1 on a link to the strategy side (the client)
#
# This kernel has no netem. Each region's path to the exchange gets its delay, jitter and loss from the
# simulator's per-connection fault profiles (/p/region-<i>, bench/regions.ts); each region's link to the
# arbiters gets its own delay from a user-space proxy (lab/delay-proxy.ts) listening on the link's address.
# The arbiters bind 127.0.0.1 only. Link cuts are real: `ip link set ... down` on a veth.
#
#   sudo bash lab/regions.sh faults           the fault scenarios (a)-(d), each ending with a truth check
#   sudo bash lab/regions.sh measure [s]      latency and CPU, plaintext then CURVE (default 20 s windows)
#   sudo bash lab/regions.sh [all] [s]        both
#   sudo bash lab/regions.sh --clean          remove leftovers of an interrupted run
# Env: BW_LAB_RATE (events/s, default 200), BW_LAB_FAULT_S (default 10), BW_LAB_PIN (1: simulator and
# collectors on CPU 0, arbiters, proxies and client on CPU 1; default 1 with 2+ CPUs), BW_LAB_LOG (warn).
set -euo pipefail
P=${BW_LAB_PREFIX:-bwlab}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MAIN="$ROOT/dist/src/cli/main.js"
PROXY="$ROOT/dist/lab/delay-proxy.js"
DRIVER="$ROOT/dist/lab/client.js"
NS=("$P-sim" "$P-r1" "$P-r2" "$P-r3" "$P-strat" "$P-arb2")
# one-way delay + jitter (ms) of region i's link to the arbiters
LINK=("" "5+2" "3+1" "1+0.5")

clean() {
  # every process inside the lab's namespaces is one this script started
  local ns pid left
  for sig in TERM KILL; do
    left=0
    for ns in "${NS[@]}"; do
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -s "$sig" "$pid" 2>/dev/null && left=1; done
    done
    [[ $sig == TERM && $left == 1 ]] && sleep 1
  done
  for ns in "${NS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
}
if [[ "${1:-}" == "--clean" ]]; then clean; exit 0; fi
[[ $(id -u) == 0 ]] || { echo "lab/regions.sh: needs root (network namespaces)" >&2; exit 2; }
[[ -f "$MAIN" && -f "$DRIVER" ]] || { echo "lab/regions.sh: build first (npx tsc -p tsconfig.json)" >&2; exit 2; }
MODE=${1:-all}
MEASURE_S=${2:-20}
case "$MODE" in faults | measure | all) ;; *) echo "lab/regions.sh: unknown mode $MODE (faults|measure|all)" >&2; exit 2 ;; esac
RATE=${BW_LAB_RATE:-200}
PIN=${BW_LAB_PIN:-$([[ $(nproc) -ge 2 ]] && command -v taskset >/dev/null && echo 1 || echo 0)}
clean
trap clean EXIT

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
for ns in "${NS[@]}"; do ip netns add "$ns"; nsx "$ns" ip link set lo up; done
link() { # link <nsA> <ifA> <addrA> <nsB> <ifB> <addrB>
  ip link add "$2" type veth peer name "$5"
  ip link set "$2" netns "$1"; ip link set "$5" netns "$4"
  nsx "$1" ip addr add "$3/30" dev "$2"; nsx "$4" ip addr add "$6/30" dev "$5"
  nsx "$1" ip link set "$2" up; nsx "$4" ip link set "$5" up
}
for i in 1 2 3; do
  link "$P-sim" "${P}x$i" "10.77.$i.1" "$P-r$i" "${P}e$i" "10.77.$i.2"   # exchange path of region i
  link "$P-strat" "${P}s$i" "10.78.$i.1" "$P-r$i" "${P}t$i" "10.78.$i.2" # region i -> arb-1
  link "$P-arb2" "${P}w$i" "10.80.$i.1" "$P-r$i" "${P}v$i" "10.80.$i.2"  # region i -> arb-2
done
link "$P-strat" "${P}c0" "10.79.0.1" "$P-sim" "${P}c1" "10.79.0.2"   # control link (truth, send times, faults)
link "$P-arb2" "${P}k1" "10.81.0.1" "$P-strat" "${P}k0" "10.81.0.2" # the client's link to arb-2

LOGS=$(mktemp -d /tmp/bookwire-lab-XXXXXX)
declare -A PIDS
# run <ns> <side: x exchange, s strategy> <name> <command...>: $! is the process itself (taskset and
# ip netns exec exec it), so its pid is known for CPU figures
run() {
  local ns=$1 side=$2 name=$3; shift 3
  local cpu=(); [[ $PIN == 1 ]] && cpu=(taskset -c "$([[ $side == x ]] && echo 0 || echo 1)")
  "${cpu[@]}" ip netns exec "$ns" "$@" >"$LOGS/$name.log" 2>&1 &
  PIDS[$name]=$!
}
LOG=(--log-level "${BW_LAB_LOG:-warn}")
SYM=(--symbols BTCUSDT)

node "$DRIVER" sim-yaml >"$LOGS/sim.yaml"
run "$P-sim" x sim node "$MAIN" sim --host 0.0.0.0 --port 9443 --rate "$RATE" --config "$LOGS/sim.yaml" \
  --record-send-times "${LOG[@]}"
SIM_PID=${PIDS[sim]}

# CURVE keys: one pair shared by both arbiters, one per collector (its id) and one for the client
KEYS="$LOGS/keys"
if [[ $MODE != faults ]]; then
  for name in arb region-1 region-2 region-3 client; do node "$MAIN" keygen --name "$name" --out "$KEYS" >/dev/null; done
  mkdir -p "$KEYS/allow" && cp "$KEYS"/region-*.pub "$KEYS/client.pub" "$KEYS/allow/"
fi

# start_parts plain|curve: both arbiters with their proxies, the three collectors
start_parts() {
  local label=$1 sc=() cc=()
  if [[ $label == curve ]]; then
    sc=(--curve-key "$KEYS/arb.key" --curve-allow "$KEYS/allow")
    cc=(--curve-server-key "$KEYS/arb.pub")
  fi
  local loop=(--ingest tcp://127.0.0.1:5555 --publish tcp://127.0.0.1:5556 --snapshot tcp://127.0.0.1:5557)
  run "$P-strat" s arb-1 env BOOKWIRE_ARRIVAL_LOG="$LOGS/arrivals-$label.json" node "$MAIN" arbitrate --id arb-1 \
    "${SYM[@]}" "${loop[@]}" "${sc[@]}" "${LOG[@]}"
  run "$P-arb2" s arb-2 node "$MAIN" arbitrate --id arb-2 "${SYM[@]}" "${loop[@]}" "${sc[@]}" "${LOG[@]}"
  local r1=() r2=(10.81.0.1:5556=127.0.0.1:5556@0 10.81.0.1:5557=127.0.0.1:5557@0)
  for i in 1 2 3; do
    for port in 5555 5556; do
      r1+=("10.78.$i.1:$port=127.0.0.1:$port@${LINK[$i]}")
      r2+=("10.80.$i.1:$port=127.0.0.1:$port@${LINK[$i]}")
    done
  done
  run "$P-strat" s proxy-1 node "$PROXY" "${r1[@]}"
  run "$P-arb2" s proxy-2 node "$PROXY" "${r2[@]}"
  sleep 1.5
  for i in 1 2 3; do
    local key=(); [[ $label == curve ]] && key=(--curve-key "$KEYS/region-$i.key")
    run "$P-r$i" x "collector-$i" node "$MAIN" collect --id "region-$i" "${SYM[@]}" \
      --ws-url "ws://10.77.$i.1:9443/p/region-$i" --rest-url "http://10.77.$i.1:9443/p/region-$i" \
      --ingest "tcp://10.78.$i.1:5555,tcp://10.80.$i.1:5555" --publish "tcp://10.78.$i.1:5556,tcp://10.80.$i.1:5556" \
      "${key[@]}" "${cc[@]}" "${LOG[@]}"
  done
}
stop_parts() {
  for name in arb-1 arb-2 proxy-1 proxy-2 collector-1 collector-2 collector-3; do
    kill "${PIDS[$name]}" 2>/dev/null || true
  done
  for name in arb-1 arb-2 proxy-1 proxy-2 collector-1 collector-2 collector-3; do
    wait "${PIDS[$name]}" 2>/dev/null || true
  done
}
# driver <label> <args...>: lab/client.ts in the strategy namespace, on the strategy side's CPU
driver() {
  local label=$1; shift
  local pids="" n curve=""
  for n in sim arb-1 arb-2 proxy-1 proxy-2 collector-1 collector-2 collector-3; do pids+="\"$n\":${PIDS[$n]},"; done
  [[ $label == curve ]] && curve=",\"curve\":{\"keyFile\":\"$KEYS/client.key\",\"serverKey\":\"$KEYS/arb.pub\"}"
  local conf="{\"prefix\":\"$P\",\"sim\":\"http://10.79.0.2:9443\",\"logs\":\"$LOGS\",\"faultS\":${BW_LAB_FAULT_S:-10},
    \"arbiters\":[{\"id\":\"arb-1\",\"publish\":\"tcp://127.0.0.1:5556\",\"snapshot\":\"tcp://127.0.0.1:5557\"},
                  {\"id\":\"arb-2\",\"publish\":\"tcp://10.81.0.1:5556\",\"snapshot\":\"tcp://10.81.0.1:5557\"}],
    \"pids\":{${pids%,}}$curve}"
  local cpu=(); [[ $PIN == 1 ]] && cpu=(taskset -c 1)
  BW_LAB="$conf" "${cpu[@]}" ip netns exec "$P-strat" node "$DRIVER" "$@"
}

sleep 1.5
kill -0 "$SIM_PID" || { echo "lab: the simulator did not start; see $LOGS/sim.log" >&2; exit 1; }
echo "lab: rate $RATE events/s, pinned $PIN, logs in $LOGS; load: $(uptime | sed 's/.*load/load/')"
status=0
if [[ $MODE == measure || $MODE == all ]]; then
  for label in plain curve; do
    start_parts "$label"
    driver "$label" measure "$label" "$MEASURE_S" || status=1
    stop_parts
  done
  echo "lab: load after measuring: $(uptime | sed 's/.*load/load/')"
fi
if [[ $MODE == faults || $MODE == all ]]; then
  start_parts plain
  driver plain faults || status=1
  stop_parts
fi
[[ $status == 0 ]] || echo "lab: FAILED; logs in $LOGS" >&2
exit $status
