/**
 * End-to-end latency over ZeroMQ on loopback, every part its own process:
 * simulator -> 2 collectors -> arbiter -> client (this process).
 * Per feed: simulator send -> the collector's copy arriving at the arbiter (websocket + one bus hop), from
 * the arbiter's arrival log (src/bench-hooks/arrivals.ts). At arbiter: send -> the consolidated publish, in
 * the same process over the same hops, so the difference is what merging the copies costs.
 * Consolidated: simulator send -> the client SDK yielding the updated book (collector, arbiter, two bus hops).
 * Send times come from the simulator (--record-send-times); all processes share the host clock.
 *   node dist/bench/e2e.js [rate ...] [--coalesce]   --coalesce: collectors and arbiter batch
 */
import { build } from 'hdr-histogram-js';
import { subscribe } from '../src/client/subscribe.js';
import { nowMicros } from '../src/core/clock.js';
import { ZmqTransport } from '../src/transport/zeromq.js';
import { startPipeline } from './pipeline.js';
import type { FaultProfile } from '../src/sim/faults.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SYMBOL = 'BTCUSDT';

export interface LatencyRow {
  rate: number;
  seconds: number;
  generated: number;
  delivered: number;
  gaps: number;
  chainBreaks: number;
  feeds: Record<string, { count: number; p50: number; p99: number; p999: number }>;
  consolidated: { count: number; p50: number; p99: number; p999: number };
  /**
   * Simulator send -> the arbiter publishing the consolidated event (its pubTime): the same hops as a feed
   * figure (websocket + one bus hop), so `atArbiter.p99 - fastest feed p99` is what redundancy itself costs.
   */
  atArbiter: { count: number; p50: number; p99: number; p999: number };
  hops: Record<string, { count: number; p50: number; p99: number; p999: number }>;
  /** Time inside the arbiter (arrival -> publish), µs, from its stats. */
  arbiterInternal: { p50: number; p99: number };
  /** consolidated p99 (at the client, one bus hop more than a feed) minus the fastest feed's p99, µs */
  p99OverFastestFeed: number;
  /** consolidated p99 at the arbiter's publish (same hops as a feed) minus the fastest feed's p99, µs */
  redundancyCostP99: number;
  lossless: boolean;
  /** The simulator produced >= 95% of the asked rate in the window (it generates less when the host is saturated). */
  rateKept: boolean;
  /** How much later the window's last tenth of events reached the client than its first tenth (µs, medians). */
  growth: number;
  /** Lossless, the asked rate was produced, and the client did not fall further behind (growth < KEPT_UP_GROWTH_US). */
  sustained: boolean;
}

/**
 * A client whose latency grows by more than this over the measuring window is falling further behind: the
 * rate is not sustained. The same rule for every bus (bench/kafka.ts), whatever its latency floor.
 */
export const KEPT_UP_GROWTH_US = 100_000;
export const SUSTAINED_RULE =
  "no loss, no gap, the simulator produced >= 95 % of the rate, and the client did not fall further behind (median latency of the last tenth of the window < 100 ms above the first tenth's)";

/** Median latency of the last tenth of `latencies` (in send order) minus that of the first tenth, µs. */
export function latencyGrowth(latencies: number[]): number {
  const tenth = Math.max(1, Math.floor(latencies.length / 10));
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length ? s[Math.floor(s.length / 2)] : NaN;
  };
  return median(latencies.slice(-tenth)) - median(latencies.slice(0, tenth));
}

/**
 * When the event with update id u was delivered, given message arrivals keyed by each message's last id:
 * the earliest arrival of a message ending at or after u. A message may carry several events (the
 * simulator sends what a late timer tick produced as one update, a venue groups updates, a regrouping
 * fault merges them), so an event is delivered by the first message that covers it, not only by one that
 * ends exactly at it. (For a feed that lost a message the next one is taken as covering: a feed's own
 * figure errs late there, never early.)
 */
export function coveredAt(arrivals: Map<number, number>): (u: number) => number | undefined {
  const keys = [...arrivals.keys()].sort((a, b) => a - b);
  const minFrom = new Float64Array(keys.length); // earliest arrival among messages ending at keys[i] or later
  let m = Infinity;
  for (let i = keys.length - 1; i >= 0; i--) minFrom[i] = m = Math.min(m, arrivals.get(keys[i])!);
  return (u) => {
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo < keys.length ? minFrom[lo] : undefined;
  };
}

export function pct(values: number[]) {
  const h = build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  for (const v of values) h.recordValue(Math.max(1, Math.round(v)));
  const r = {
    count: values.length,
    p50: h.getValueAtPercentile(50),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
  };
  h.destroy();
  return r;
}

/** `coalesce`: the pipeline batches (`--coalesce`); default: one payload per message, as shipped. */
export async function benchLatency(
  rate: number,
  seconds = 5,
  warmupS = 2,
  coalesce = false,
  paths?: Record<string, FaultProfile>,
): Promise<LatencyRow> {
  const arrivalLog = path.join(mkdtempSync(path.join(os.tmpdir(), 'bookwire-bench-arrivals-')), 'arrivals.json');
  const p = await startPipeline({
    rate,
    symbol: SYMBOL,
    recordSendTimes: true,
    arrivalLog,
    coalesce,
    paths,
    collectors: paths ? Object.keys(paths) : undefined,
  });
  const clientT = new ZmqTransport({ publish: [p.publish], snapshot: [p.snapshot] });
  const consArrivals = new Map<number, number>();
  // hop breakdown of the consolidated path: winning collector receive -> arbiter publish -> client
  const hopArb: number[] = [];
  const hopClient: number[] = [];
  const recvAt = new Map<number, number>();
  const pubAt = new Map<number, number>();
  let measuring = false;
  let gaps = 0;
  let chainBreaks = 0;
  let prevSeq = -1;
  // the arbiter's own processing time (message arrival -> consolidated publish), from its stats
  const statsSub = await clientT.subscriber('book', [`stats.binance.${SYMBOL}`]);
  let arbiterInternal = { p50: 0, p99: 0 };
  const statsDone = (async () => {
    for await (const m of statsSub) {
      const st = JSON.parse(m.payload.toString()) as { processingP50: number; processingP99: number };
      if (measuring) arbiterInternal = { p50: st.processingP50, p99: st.processingP99 };
    }
  })();
  const ac = new AbortController();
  const clientDone = (async () => {
    for await (const u of subscribe({ transport: clientT, symbol: SYMBOL, signal: ac.signal })) {
      const t = u.receivedAt;
      if (u.message.type === 'delta') {
        if (measuring) {
          consArrivals.set(u.message.seq, t);
          recvAt.set(u.message.seq, u.message.recvTime);
          pubAt.set(u.message.seq, u.message.pubTime);
          hopArb.push(u.message.pubTime - u.message.recvTime);
          hopClient.push(t - u.message.pubTime);
          if (prevSeq >= 0 && u.message.prev !== prevSeq) chainBreaks++;
        }
        prevSeq = u.message.seq;
      } else prevSeq = u.seq;
      gaps = u.gaps;
    }
  })();
  await new Promise((r) => setTimeout(r, warmupS * 1000));
  const gapsBefore = gaps;
  measuring = true;
  const tStart = nowMicros();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const tEnd = nowMicros();
  await fetch(`${p.rest}/sim/pause`, { method: 'POST' });
  await new Promise((r) => setTimeout(r, 1000)); // let the tail arrive
  measuring = false;
  const sent = (await (await fetch(`${p.rest}/sim/send-times?symbol=${SYMBOL}`)).json()) as {
    u: number[];
    t: number[];
  };
  ac.abort();
  await statsSub.close();
  await Promise.allSettled([clientDone, statsDone]);
  await clientT.close();
  await p.stop(); // the arbiter writes its arrival log as it stops
  const feedArrivals = new Map<string, Map<number, number>>();
  for (const [coll, flat] of Object.entries(JSON.parse(readFileSync(arrivalLog, 'utf8')) as Record<string, number[]>)) {
    const m = new Map<number, number>();
    for (let i = 0; i < flat.length; i += 2) if (!m.has(flat[i])) m.set(flat[i], flat[i + 1]);
    feedArrivals.set(coll, m);
  }
  rmSync(path.dirname(arrivalLog), { recursive: true, force: true });

  // events sent inside the window (skip the first 100 ms so every part saw the window open)
  const window: [number, number][] = [];
  for (let i = 0; i < sent.u.length; i++)
    if (sent.t[i] >= tStart + 100_000 && sent.t[i] <= tEnd) window.push([sent.u[i], sent.t[i]]);
  const feeds: LatencyRow['feeds'] = {};
  const latencies = (arrivals: Map<number, number>): number[] => {
    const at = coveredAt(arrivals);
    const lat: number[] = [];
    for (const [u, t] of window) {
      const a = at(u);
      if (a !== undefined) lat.push(a - t);
    }
    return lat;
  };
  for (const [id, arr] of [...feedArrivals.entries()].sort()) feeds[id] = pct(latencies(arr));
  const cons = latencies(consArrivals);
  const consolidated = pct(cons);
  const atArbiter = pct(latencies(pubAt));
  const hopVenue = latencies(recvAt);
  const hops = {
    simToCollector: pct(hopVenue),
    collectorToArbiterPublish: pct(hopArb),
    arbiterToClient: pct(hopClient),
  };
  const fastest = Math.min(...Object.values(feeds).map((f) => f.p99));
  const g = gaps - gapsBefore;
  const lossless = cons.length === window.length && g === 0 && chainBreaks === 0;
  const rateKept = window.length >= 0.95 * rate * (seconds - 0.1);
  return {
    rate,
    seconds,
    generated: window.length,
    delivered: cons.length,
    gaps: g,
    chainBreaks,
    feeds,
    consolidated,
    atArbiter,
    p99OverFastestFeed: consolidated.p99 - fastest,
    redundancyCostP99: atArbiter.p99 - fastest,
    hops,
    arbiterInternal,
    lossless,
    rateKept,
    growth: latencyGrowth(cons),
    sustained: lossless && rateKept && latencyGrowth(cons) < KEPT_UP_GROWTH_US,
  };
}

/** Which framing a benchmark ran with (node dist/bench/<x>.js ... --coalesce batches). */
export function framingLine(coalesce: boolean): string {
  return coalesce
    ? 'framing: batched (--coalesce: [batch.<topic>, p1, p2, ...])'
    : 'framing: one payload per message (the default; --coalesce to batch)';
}

export function formatLatency(rows: LatencyRow[]): string {
  const us = (v: number) => (Math.abs(v) >= 10_000 ? `${(v / 1000).toFixed(1)}ms` : `${v}µs`);
  const signed = (v: number) => (v > 0 ? `+${us(v)}` : us(v));
  const out = [
    "feed x: simulator send -> collector x's copy arriving at the arbiter (websocket + 1 bus hop); at arbiter: send -> consolidated publish (same process, same hops);",
    'client: send -> client SDK (1 bus hop more). "redundancy cost" = at-arbiter p99 - fastest feed p99 (what merging copies adds).',
    'rate/s  window  generated delivered lossless | feed a p50/p99/p99.9        | feed b p50/p99/p99.9        | at arbiter p50/p99/p99.9    | redundancy cost | client p50/p99/p99.9        | client p99 - fastest feed p99',
  ];
  for (const r of rows) {
    const f = (x?: { p50: number; p99: number; p999: number }) =>
      x ? `${us(x.p50)}/${us(x.p99)}/${us(x.p999)}`.padEnd(27) : '-'.padEnd(27);
    out.push(
      `${String(r.rate).padStart(6)}  ${String(r.seconds).padStart(4)} s  ${String(r.generated).padStart(9)} ${String(r.delivered).padStart(9)} ${(r.lossless ? (r.sustained ? 'yes' : r.rateKept ? 'yes, behind' : 'yes, rate low') : `NO (gaps ${r.gaps}, breaks ${r.chainBreaks})`).padEnd(8)} | ${f(r.feeds.a)} | ${f(r.feeds.b)} | ${f(r.atArbiter)} | ${signed(r.redundancyCostP99).padEnd(15)} | ${f(r.consolidated)} | ${signed(r.p99OverFastestFeed)}`,
    );
  }
  out.push(
    'consolidated path by hop (p50/p99): simulator -> winning collector | collector -> arbiter publish | arbiter -> client SDK || inside the arbiter (arrival -> publish)',
  );
  for (const r of rows) {
    const h = r.hops;
    out.push(
      `${String(r.rate).padStart(6)}  ${us(h.simToCollector.p50)}/${us(h.simToCollector.p99)} | ${us(h.collectorToArbiterPublish.p50)}/${us(h.collectorToArbiterPublish.p99)} | ${us(h.arbiterToClient.p50)}/${us(h.arbiterToClient.p99)} || ${r.arbiterInternal.p50.toFixed(1)}µs/${r.arbiterInternal.p99.toFixed(1)}µs`,
    );
  }
  return out.join('\n');
}

/**
 * Highest rate in `rates` the pipeline sustains: every event delivered with no gap, the simulator kept the
 * asked rate, and the client did not fall further behind (SUSTAINED_RULE).
 */
export async function peakSustained(
  rates: number[],
  seconds = 4,
  coalesce = false,
): Promise<{ peak: number; rows: LatencyRow[] }> {
  let peak = 0;
  const rows: LatencyRow[] = [];
  for (const r of rates) {
    const row = await benchLatency(r, seconds, 1.5, coalesce);
    rows.push(row);
    if (!row.sustained) break;
    peak = r;
  }
  return { peak, rows };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rates = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0);
  const coalesce = process.argv.includes('--coalesce');
  const rows: LatencyRow[] = [];
  for (const r of rates.length ? rates : [1000, 10000, 50000]) rows.push(await benchLatency(r, 5, 2, coalesce));
  console.log(framingLine(coalesce));
  console.log(formatLatency(rows));
}
