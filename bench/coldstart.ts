/**
 * Cold start within the venue's limits (issue 13): N Binance spot books, two collectors, each its own
 * loopback IP, against the simulator enforcing Binance's real limits (6,000 weight a minute per IP), one
 * arbiter, in one process (inproc bus). Prints the books synced over time, then the REST weight used per
 * book, the simulator's 429/418 counts and each IP's peak weight in one window.
 *   node dist/bench/coldstart.js [books=2000] [snapshotLimit=100]
 * Linux only (127.0.0.2 and .3 must be loopback addresses).
 */
import { performance } from 'node:perf_hooks';
import { ArbiterService } from '../src/arbiter/service.js';
import { Collector } from '../src/collector/collector.js';
import { silentLogger } from '../src/log.js';
import { ExchangeSimulator } from '../src/sim/index.js';
import { InprocBus, InprocTransport } from '../src/transport/inproc.js';

const N = Number(process.argv[2] ?? 2000);
const limit = Number(process.argv[3] ?? 100);
const symbols = Array.from({ length: N }, (_, i) => `S${i}USDT`);
const sim = new ExchangeSimulator({ port: 0, symbols, eventsPerSec: 1, levels: 120, logger: silentLogger });
await sim.start();
const bus = new InprocBus();
const arb = new ArbiterService({ transport: new InprocTransport(bus), symbols });
await arb.start();
const t0 = performance.now();
const collectors: Collector[] = [];
for (const [i, id] of ['a', 'b'].entries()) {
  const c = new Collector({
    id,
    symbols,
    wsUrl: sim.wsBase,
    restUrl: sim.restBase,
    transport: new InprocTransport(bus),
    localAddress: `127.0.0.${i + 2}`,
    snapshotLimit: limit,
  });
  await c.start();
  collectors.push(c);
}
const synced = () => symbols.filter((s) => arb.bookOf('binance', s)?.state === 'synced').length;
const secs = () => ((performance.now() - t0) / 1000).toFixed(1);
let last = -1;
while (performance.now() - t0 < 600_000) {
  const n = synced();
  if (n !== last) console.log(`${secs()} s: ${n}/${N} synced`);
  last = n;
  if (n === N) break;
  await new Promise((r) => setTimeout(r, 1000));
}
const st = sim.stats();
const ips = sim.limitStats().binance ?? {};
const weight = Object.values(ips).reduce((a, u) => a + u.weight, 0);
console.log(
  `${synced()}/${N} books synced in ${secs()} s (snapshot limit ${limit}); REST weight ${weight} ` +
    `(${(weight / N).toFixed(2)} per book), snapshots served ${st.snapshotsServed}, 429s ${st.rest429}, ` +
    `418s ${st.rest418}, refused connections ${st.wsRefusedConnections + st.wsRefusedStreams}`,
);
console.log(
  `  requests moved from a collector out of weight: ${arb.counters.snapshotsMoved}; cancelled in time: ` +
    collectors.map((c) => c.counters.snapshotsCancelled).reduce((a, b) => a + b, 0),
);
for (const [ip, u] of Object.entries(ips))
  console.log(`  ${ip}: ${u.requests} requests, weight ${u.weight}, peak ${u.peakWindowWeight} in one minute`);
for (const c of collectors) await c.stop();
await arb.stop();
await sim.stop();
process.exit(0);
