/**
 * CPU per pipeline process at a given rate (sim, collectors, arbiter, a client in this process):
 * where the cores go, which is what sets the tail latency on a small host.
 *   node dist/bench/cpu.js [rate] [seconds] [--coalesce]   --coalesce: collectors and arbiter batch
 */
import { subscribe } from '../src/client/subscribe.js';
import { ZmqTransport } from '../src/transport/zeromq.js';
import { cpuMicros, startPipeline } from './pipeline.js';
import { framingLine } from './e2e.js';

const cpuTicks = (pid: number | undefined) => cpuMicros(pid) / 1e4; // % of a core per second

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const coalesce = process.argv.includes('--coalesce');
const rate = Number(args[0] ?? 10000);
const seconds = Number(args[1] ?? 10);
const p = await startPipeline({ rate, symbol: 'BTCUSDT', coalesce });
const t = new ZmqTransport({ publish: [p.publish], snapshot: [p.snapshot] });
const ac = new AbortController();
let n = 0;
const done = (async () => {
  for await (const _ of subscribe({ transport: t, symbol: 'BTCUSDT', signal: ac.signal })) n++;
})().catch(() => undefined);
await new Promise((r) => setTimeout(r, 3000));
const pids = Object.fromEntries(Object.entries(p.procs).map(([k, c]) => [k, c.pid]));
const t0 = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuTicks(pid)]));
const c0 = process.cpuUsage();
const n0 = n;
await new Promise((r) => setTimeout(r, seconds * 1000));
// CPU per update too: on a busy host the pipeline may not reach the asked rate, and a process's CPU % then
// measures less work; CPU time per consolidated update delivered compares runs that did not.
const updates = n - n0;
const rows: Record<string, { cpu: string; 'µs CPU per update': string }> = {};
const row = (cpuMicrosUsed: number) => ({
  cpu: `${(cpuMicrosUsed / 1e4 / seconds).toFixed(1)}%`,
  'µs CPU per update': updates > 0 ? (cpuMicrosUsed / updates).toFixed(1) : '-',
});
for (const [k, pid] of Object.entries(pids)) rows[k] = row((cpuTicks(pid) - t0[k]) * 1e4);
const c = process.cpuUsage(c0);
rows.client = row(c.user + c.system);
console.log(
  `rate ${rate}/s, ${seconds} s, client updates/s ${((n - n0) / seconds).toFixed(0)}, ${framingLine(coalesce)}`,
);
console.table(rows);
ac.abort();
await p.stop();
await t.close();
await done;
process.exit(0);
