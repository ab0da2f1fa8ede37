/**
 * Cold start within the venue's limits (issue 13): N Binance spot books, two collectors, each its own
 * loopback IP, against the simulator enforcing Binance's real limits (6,000 weight a minute per IP), one
 * arbiter, in one process (inproc bus). Prints the books synced over time, then the REST weight used per
 * book, the simulator's 429/418 counts and each IP's peak weight in one window.
 *   node dist/bench/coldstart.js [books=2000] [snapshotLimit=100] [--roll S]
 * --roll S: every collector connection rolls (make-before-break, as for Binance's 24-hour disconnects) every
 * ~S s, from the start; after every book is synced the run goes on for 3 S and prints what the rolls cost the
 * books: the fewest synced at any sample, gaps and resyncs, snapshots served, rolls done, and whether every
 * book equals the simulator's truth at the end.
 * Linux only (127.0.0.2 and .3 must be loopback addresses).
 */
import { performance } from 'node:perf_hooks';
import { ArbiterService } from '../src/arbiter/service.js';
import { Collector } from '../src/collector/collector.js';
import { silentLogger } from '../src/log.js';
import { ExchangeSimulator } from '../src/sim/index.js';
import { InprocBus, InprocTransport } from '../src/transport/inproc.js';

const rollAt = process.argv.indexOf('--roll');
const rollS = rollAt > 0 ? Number(process.argv[rollAt + 1]) : 0;
const args = process.argv.slice(2).filter((_, i, a) => a[i] !== '--roll' && a[i - 1] !== '--roll');
const N = Number(args[0] ?? 2000);
const limit = Number(args[1] ?? 100);
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
    ...(rollS > 0 ? { reconnectEveryS: rollS } : {}),
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

if (rollS > 0 && synced() === N) {
  // what make-before-break rolls cost the books once all are up
  type Conn = { reconnects: number };
  const conns = collectors.flatMap((c) => (c as unknown as { connections: Conn[] }).connections);
  const rolls = () => conns.reduce((a, c) => a + c.reconnects, 0);
  const sum = (k: 'resyncs' | 'snapshotRequests') =>
    symbols.reduce((a, s) => a + (arb.bookOf('binance', s)?.counters[k] ?? 0), 0);
  const before = {
    rolls: rolls(),
    resyncs: sum('resyncs'),
    requests: sum('snapshotRequests'),
    served: sim.stats().snapshotsServed,
  };
  let fewest = N;
  const tEnd = performance.now() + rollS * 3000;
  while (performance.now() < tEnd) {
    fewest = Math.min(fewest, synced());
    await new Promise((r) => setTimeout(r, 250));
  }
  sim.pause();
  await new Promise((r) => setTimeout(r, 2000));
  const wrong = symbols.filter((s) => {
    const t = sim.truth(s, 20);
    const top = arb.bookOf('binance', s)?.book.top(20);
    return JSON.stringify(top?.bids) !== JSON.stringify(t.bids) || JSON.stringify(top?.asks) !== JSON.stringify(t.asks);
  });
  console.log(
    `rolls every ~${rollS} s over ${conns.length} connections, for ${rollS * 3} s after all synced: ${rolls() - before.rolls} rolls; ` +
      `fewest books synced at any sample ${fewest}/${N}; resyncs ${sum('resyncs') - before.resyncs}, snapshot requests ` +
      `${sum('snapshotRequests') - before.requests}, snapshots served ${sim.stats().snapshotsServed - before.served}; ` +
      `books not equal to the truth at the end: ${wrong.length}`,
  );
}
for (const c of collectors) await c.stop();
await arb.stop();
await sim.stop();
process.exit(0);
