/**
 * Memory soak: the whole pipeline (separate processes) at a steady rate for N minutes, with a client
 * following the book in this process. Prints each process's RSS at the start and every minute, and the
 * client's health (updates, gaps). `node dist/bench/soak.js [minutes=10] [rate=10000]`
 */
import { subscribe } from '../src/client/subscribe.js';
import { ZmqTransport } from '../src/transport/zeromq.js';
import { rssMiB, startPipeline } from './pipeline.js';

export interface SoakResult {
  minutes: number;
  rate: number;
  samples: { t: number; rss: Record<string, number>; arbiterHeap?: number; arbiterExternal?: number }[];
  updates: number;
  gaps: number;
}

export async function soak(minutes: number, rate: number, log: (s: string) => void = () => {}): Promise<SoakResult> {
  const p = await startPipeline({ rate, symbol: 'BTCUSDT' });
  const t = new ZmqTransport({ publish: [p.publish], snapshot: [p.snapshot] });
  const ac = new AbortController();
  let updates = 0;
  let gaps = 0;
  const done = (async () => {
    for await (const u of subscribe({ transport: t, symbol: 'BTCUSDT', signal: ac.signal })) {
      updates++;
      gaps = u.gaps;
    }
  })();
  // the arbiter's own heap figures (its stats): RSS growing with a flat heap is queues/buffers, not a leak
  let arbMem: { heapUsedMiB: number; externalMiB: number } | undefined;
  const statsSub = await t.subscriber('book', ['stats.binance.BTCUSDT']);
  const statsDone = (async () => {
    for await (const m of statsSub)
      arbMem = (JSON.parse(m.payload.toString()) as { memory?: typeof arbMem }).memory ?? arbMem;
  })();
  const samples: SoakResult['samples'] = [];
  const sample = (tMin: number) => {
    const rss: Record<string, number> = { client: process.memoryUsage().rss / 2 ** 20 };
    for (const [name, proc] of Object.entries(p.procs)) rss[name] = rssMiB(proc.pid);
    samples.push({ t: tMin, rss, arbiterHeap: arbMem?.heapUsedMiB, arbiterExternal: arbMem?.externalMiB });
    log(
      `t=${tMin.toFixed(1)} min  ` +
        Object.entries(rss)
          .map(([k, v]) => `${k}=${v.toFixed(1)}MiB`)
          .join(' ') +
        `  arbiter heap=${arbMem?.heapUsedMiB ?? '?'}MiB external=${arbMem?.externalMiB ?? '?'}MiB  updates=${updates} gaps=${gaps}`,
    );
  };
  await new Promise((r) => setTimeout(r, 30_000)); // warm-up: JIT, buffers, the first snapshots
  sample(0.5);
  const t0 = Date.now();
  const end = t0 + minutes * 60_000;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, Math.min(60_000, end - Date.now())));
    sample(0.5 + (Date.now() - t0) / 60_000);
  }
  ac.abort();
  await done.catch(() => {});
  await statsSub.close();
  await statsDone.catch(() => {});
  await t.close();
  await p.stop();
  return { minutes, rate, samples, updates, gaps };
}

export function formatSoak(r: SoakResult): string {
  const first = r.samples[0];
  const last = r.samples[r.samples.length - 1];
  const rows = Object.keys(first.rss).map(
    (k) =>
      `  ${k.padEnd(12)} start ${first.rss[k].toFixed(1).padStart(7)} MiB   end ${last.rss[k].toFixed(1).padStart(7)} MiB   change ${(last.rss[k] - first.rss[k]).toFixed(1).padStart(6)} MiB`,
  );
  const heap = `  arbiter heap used ${first.arbiterHeap ?? '?'} -> ${last.arbiterHeap ?? '?'} MiB, external+buffers ${first.arbiterExternal ?? '?'} -> ${last.arbiterExternal ?? '?'} MiB (from its stats)`;
  return [
    `memory soak: ${r.minutes} min at ${r.rate} events/s (start = after 30 s warm-up); client updates ${r.updates}, gaps ${r.gaps}`,
    ...rows,
    heap,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const minutes = Number(process.argv[2] ?? 10);
  const rate = Number(process.argv[3] ?? 10_000);
  const r = await soak(minutes, rate, (s) => console.log(s));
  console.log(formatSoak(r));
}
