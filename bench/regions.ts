/**
 * Redundancy must lower latency, not add it. Three collectors stand for three regions, each with its own
 * path to the exchange: the simulator delays each one's connections by its own profile (base delay plus
 * uniform jitter, never reordering; one region also loses 0.1 % of the messages). One run measures, from
 * the simulator's send: each region's copy arriving at the arbiter, the consolidated publish (same hops),
 * and the client SDK (one bus hop more). The claim: consolidated p99 below every single region's p99.
 *
 * This is the loopback version (every process on loopback, delay made by the simulator per connection, as
 * this kernel has no netem). The namespace lab (lab/regions.sh) uses the same profiles (REGIONS) on the
 * exchange side, adds each region's own delayed link to two arbiters, real link cuts, the fault scenarios
 * and CURVE (docs/performance.md, "Regions").
 *   node dist/bench/regions.js [rate] [seconds]
 */
import type { FaultProfile } from '../src/sim/faults.js';
import { benchLatency } from './e2e.js';

/** 2 ms +- 0.5, 5 ms +- 3 with 0.1 % loss, 8 ms +- 6 (issue 12's example), as base + uniform [0, jitter). */
export const REGIONS: Record<string, FaultProfile> = {
  'region-1': { delayMs: 1.5, jitterMs: 1 },
  'region-2': { delayMs: 2, jitterMs: 6, dropRate: 0.001 },
  'region-3': { delayMs: 2, jitterMs: 12 },
};

export async function benchRegions(rate = 500, seconds = 10) {
  const row = await benchLatency(rate, seconds, 2, false, REGIONS);
  const ms = (us: number) => `${(us / 1000).toFixed(2)} ms`;
  const lines = [
    `regions: ${Object.entries(REGIONS)
      .map(([id, p]) => `${id} ${p.delayMs}+U[0,${p.jitterMs}) ms${p.dropRate ? ` loss ${p.dropRate * 100}%` : ''}`)
      .join(', ')}; ${rate} events/s, ${seconds} s window, ${row.generated} events, lossless ${row.lossless}`,
    'path                         p50        p99        p99.9      events',
  ];
  const line = (name: string, x: { p50: number; p99: number; p999: number; count: number }) =>
    `${name.padEnd(28)} ${ms(x.p50).padEnd(10)} ${ms(x.p99).padEnd(10)} ${ms(x.p999).padEnd(10)} ${x.count}`;
  for (const [id, f] of Object.entries(row.feeds)) lines.push(line(`${id} alone (at arbiter)`, f));
  lines.push(line('consolidated (at arbiter)', row.atArbiter));
  lines.push(line('consolidated (client SDK)', row.consolidated));
  const best = Math.min(...Object.values(row.feeds).map((f) => f.p99));
  const claim = row.atArbiter.p99 < best;
  lines.push(
    `consolidated p99 ${ms(row.atArbiter.p99)} at the arbiter vs best single region p99 ${ms(best)}: ${claim ? 'LOWER (claim holds)' : 'NOT lower'}`,
  );
  return { row, claim, text: lines.join('\n') };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [rate, seconds] = process.argv.slice(2).map(Number);
  const r = await benchRegions(rate || 500, seconds || 10);
  console.log(r.text);
}
