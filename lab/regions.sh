#!/usr/bin/env bash
# A multi-region lab in Linux network namespaces (root only; traffic never leaves the namespaces made here).
#
#   <p>-sim     the exchange simulator, one link to each region (10.77.<i>.1)
#   <p>-r1..r3  one collector each ("regions"): its own link to the exchange (10.77.<i>.2) and to the
#               strategy side (10.78.<i>.2)
#   <p>-strat   the arbiter and a client (10.78.<i>.1 on each region's link; 10.79.0.1 on a control link to
#               the simulator, used only to read the truth and the send times, never by the pipeline)
#
# This kernel has no netem, so each region's delay, jitter and loss on its path to the exchange come from the
# simulator's per-connection fault profiles (/p/region-<i>); link cuts are real: `ip link set ... down`.
#
#   sudo bash lab/regions.sh [seconds]      run the scenario (default 40 s), print what the client saw
#   sudo bash lab/regions.sh --clean        remove leftovers of an interrupted run
#
# Scenario: every part starts, the client follows the consolidated book; at 10 s region 2's link to the
# exchange goes down for 10 s; at the end the client's book must equal the simulator's truth, with no gap.
set -euo pipefail
P=${BW_LAB_PREFIX:-bwlab}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MAIN="$ROOT/dist/src/cli/main.js"
NS=("$P-sim" "$P-r1" "$P-r2" "$P-r3" "$P-strat")

clean() {
  for pid in $(cat "/tmp/$P.pids" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
  rm -f "/tmp/$P.pids"
  for ns in "${NS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
}
if [[ "${1:-}" == "--clean" ]]; then clean; exit 0; fi
[[ $(id -u) == 0 ]] || { echo "lab/regions.sh: needs root (network namespaces)" >&2; exit 2; }
[[ -f "$MAIN" ]] || { echo "lab/regions.sh: build first (npm run build)" >&2; exit 2; }
SECONDS_TOTAL=${1:-40}
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
  link "$P-strat" "${P}s$i" "10.78.$i.1" "$P-r$i" "${P}t$i" "10.78.$i.2" # region i -> strategy side
done
link "$P-strat" "${P}c0" "10.79.0.1" "$P-sim" "${P}c1" "10.79.0.2"      # control link (truth, send times)

LOGS=$(mktemp -d /tmp/bookwire-lab-XXXXXX)
cat >"$LOGS/sim.yaml" <<'EOF'
sim:
  faults:
    region-1: { delayMs: 1.5, jitterMs: 1 }
    region-2: { delayMs: 2, jitterMs: 6, dropRate: 0.001 }
    region-3: { delayMs: 2, jitterMs: 12 }
EOF
start() { # start <ns> <name> <args...>
  local ns=$1 name=$2; shift 2
  nsx "$ns" node "$MAIN" "$@" --log-level "${BW_LAB_LOG:-warn}" >"$LOGS/$name.log" 2>&1 &
  echo $! >>"/tmp/$P.pids"
}
start "$P-sim" sim sim --host 0.0.0.0 --port 9443 --rate 200 --config "$LOGS/sim.yaml"
sleep 1.5
# The arbiter listens on every region's link (ingest; publish carries its snapshot requests to collectors): a non-loopback bind, said out loud (--insecure where the
# build asks for it; CURVE is the way across real hosts, docs/security.md).
INSECURE=$(node "$MAIN" arbitrate --help | grep -q -- '--insecure' && echo --insecure || true)
start "$P-strat" arbiter arbitrate --ingest tcp://0.0.0.0:5555 --publish tcp://0.0.0.0:5556 $INSECURE
sleep 1
for i in 1 2 3; do
  start "$P-r$i" "collector-$i" collect --id "region-$i" \
    --ws-url "ws://10.77.$i.1:9443/p/region-$i" --rest-url "http://10.77.$i.1:9443/p/region-$i" \
    --ingest "tcp://10.78.$i.1:5555" --publish "tcp://10.78.$i.1:5556" $INSECURE
done

# The client: follows the consolidated book in the strategy namespace; cuts region 2's exchange link at
# 10 s for 10 s; at the end compares its book with the simulator's truth over the control link.
nsx "$P-strat" node --input-type=module -e "
import { subscribe } from '$ROOT/dist/src/index.js';
import { execFileSync } from 'node:child_process';
const total = $SECONDS_TOTAL * 1000, sim = 'http://10.79.0.2:9443';
const ac = new AbortController();
let last, updates = 0, stale = 0, t0 = Date.now();
const cut = (up) => execFileSync('ip', ['netns', 'exec', '$P-r2', 'ip', 'link', 'set', '${P}e2', up ? 'up' : 'down']);
setTimeout(() => { cut(false); console.log('t=10s region-2 exchange link DOWN'); }, 10000);
setTimeout(() => { cut(true); console.log('t=20s region-2 exchange link UP'); }, 20000);
setTimeout(async () => {
  await fetch(sim + '/sim/pause', { method: 'POST' });
  await new Promise((r) => setTimeout(r, 1500));
  const truth = await (await fetch(sim + '/sim/truth?symbol=BTCUSDT&depth=20')).json();
  const mine = last && JSON.stringify(last.book.top(20));
  const ok = last && last.seq === truth.lastUpdateId && mine === JSON.stringify({ bids: truth.bids, asks: truth.asks });
  console.log('updates ' + updates + ', stale notices ' + stale + ', client gaps ' + (last?.gaps ?? '-') + ', seq ' + last?.seq + ' truth ' + truth.lastUpdateId + ': book ' + (ok ? 'EQUALS the truth' : 'DIFFERS'));
  process.exitCode = ok && last.gaps === 0 ? 0 : 1;
  ac.abort();
}, total);
for await (const u of subscribe({ symbol: 'BTCUSDT', endpoints: { publish: ['tcp://127.0.0.1:5556'], snapshot: ['tcp://127.0.0.1:5557'] }, signal: ac.signal })) {
  last = u; updates++; if (u.kind === 'stale') stale++;
}
" || { echo "lab: the client's book did not end equal to the truth; logs in $LOGS" >&2; exit 1; }
echo "lab: logs in $LOGS"
