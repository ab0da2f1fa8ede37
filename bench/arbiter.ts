/**
 * Arbiter core throughput: 3 feeds carrying the same Binance-shaped diff stream (U/u ranges, a few levels
 * per side per event) with per-feed latency, jitter and ~1% loss per feed (every event reaches at least one
 * feed), merged by arrival time. Times BookArbiter.onDelta (plus onTimer every 1024 copies) over all copies.
 * The final consolidated book must equal a reference built by applying the stream directly.
 *
 * With --confirmed the core publishes under `publish: confirmed` (a copy waits for a second feed's copy of its
 * ids): several events may then go out as one delta, so the check is the chain (each delta on the previous)
 * and the final book.
 *
 *   node dist/bench/arbiter.js [--confirmed] [n ...]     n = unique exchange events, default 200000
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { BookArbiter, type ArbiterSink } from '../src/core/arbiter.js';
import type { PublishPolicy } from '../src/core/bookCore.js';
import { OrderBook } from '../src/core/book.js';
import type { BookDelta, BookSnapshot, Level } from '../src/core/types.js';
import { mulberry32 } from '../src/sim/prng.js';

export interface ArbiterBenchResult {
  /** Unique exchange events. */
  events: number;
  /** Copies offered to the arbiter (all feeds). */
  copies: number;
  published: number;
  seconds: number;
  copiesPerSec: number;
  publishedPerSec: number;
  /** Applying the same events straight to an OrderBook (no arbiter), for scale. */
  bookOnlyPerSec: number;
  duplicates: number;
  gapsFilled: number;
  resyncs: number;
  /** Final book equals the reference and every event was published once, in order ('confirmed': chained). */
  ok: boolean;
  publish: PublishPolicy;
  /** 'confirmed': messages confirmed by a second copy, and published alone. */
  confirmed: number;
  alone: number;
}

const FEEDS = [
  { id: 'c1', baseUs: 200, loss: 0.01 },
  { id: 'c2', baseUs: 260, loss: 0.01 },
  { id: 'c3', baseUs: 400, loss: 0.01 },
];
const MID_TICKS = 3_000_000; // 30000.00 in 0.01 ticks
const DEPTH = 500;
const FIRST_ID = 40_000_000_000; // Binance-sized update ids
const EVENT_SPACING_US = 20;
const JITTER_MEAN_US = 60;

interface Stream {
  snapshot: BookSnapshot;
  events: BookDelta[];
  copies: BookDelta[];
}

/** Bids strictly below the mid, asks strictly above: the book never crosses. */
function generate(n: number, seed: number): Stream {
  const rng = mulberry32(seed);
  const price = (ticks: number) => ticks / 100;
  const size = () => Math.round(rng() * 5000) / 1000 + 0.001;
  const distance = () => 1 + (Math.floor(-Math.log(1 - rng()) * 15) % (DEPTH * 2));
  const bids: Level[] = [];
  const asks: Level[] = [];
  for (let i = 1; i <= DEPTH; i++) {
    bids.push([price(MID_TICKS - i), size()]);
    asks.push([price(MID_TICKS + i), size()]);
  }
  const snapshot: BookSnapshot = {
    type: 'snapshot',
    venue: 'binance',
    symbol: 'BTCUSDT',
    seq: FIRST_ID,
    recvTime: 0,
    collector: 'c1',
    bids,
    asks,
  };

  const events: BookDelta[] = [];
  let id = FIRST_ID;
  for (let i = 0; i < n; i++) {
    const first = id + 1;
    id += 1 + Math.floor(rng() * 20);
    const eb: Level[] = [];
    const ea: Level[] = [];
    const nb = 1 + Math.floor(rng() * 6);
    const na = 1 + Math.floor(rng() * 6);
    for (let j = 0; j < nb; j++) eb.push([price(MID_TICKS - distance()), rng() < 0.25 ? 0 : size()]);
    for (let j = 0; j < na; j++) ea.push([price(MID_TICKS + distance()), rng() < 0.25 ? 0 : size()]);
    events.push({
      type: 'delta',
      venue: 'binance',
      symbol: 'BTCUSDT',
      first,
      last: id,
      exchTime: i,
      recvTime: 0,
      collector: '',
      bids: eb,
      asks: ea,
    });
  }

  // Per-feed arrivals: exchange time + base latency + jitter, never reordered within a feed (one TCP stream).
  const perFeed: BookDelta[][] = FEEDS.map(() => []);
  const lastArrival = FEEDS.map(() => 0);
  for (let i = 0; i < n; i++) {
    const e = events[i];
    const t = i * EVENT_SPACING_US;
    const keep = FEEDS.map((f) => rng() >= f.loss);
    if (!keep.some(Boolean)) keep[Math.floor(rng() * FEEDS.length)] = true;
    for (let f = 0; f < FEEDS.length; f++) {
      if (!keep[f]) continue;
      const at = Math.max(lastArrival[f], t + FEEDS[f].baseUs + Math.round(-Math.log(1 - rng()) * JITTER_MEAN_US));
      lastArrival[f] = at;
      perFeed[f].push({ ...e, collector: FEEDS[f].id, recvTime: at });
    }
  }
  // Merge the feeds by arrival time.
  const copies: BookDelta[] = [];
  const idx = FEEDS.map(() => 0);
  for (;;) {
    let best = -1;
    for (let f = 0; f < FEEDS.length; f++) {
      if (idx[f] < perFeed[f].length && (best < 0 || perFeed[f][idx[f]].recvTime < perFeed[best][idx[best]].recvTime))
        best = f;
    }
    if (best < 0) break;
    copies.push(perFeed[best][idx[best]++]);
  }
  return { snapshot, events, copies };
}

export async function benchArbiter(
  n = 200_000,
  seed = 1,
  publish: PublishPolicy = 'first',
): Promise<ArbiterBenchResult> {
  const { snapshot, events, copies } = generate(n, seed);

  // Reference: the stream applied directly (also the book-only baseline).
  const ref = new OrderBook();
  ref.applySnapshot(snapshot.bids, snapshot.asks);
  const r0 = performance.now();
  for (let i = 0; i < events.length; i++) ref.apply(events[i].bids, events[i].asks);
  const bookOnlySec = (performance.now() - r0) / 1000;

  let published = 0;
  let chainOk = true;
  let expectNext = 0; // index of the next event that must be published
  let lastPublished = snapshot.seq;
  const sink: ArbiterSink = {
    publish(ev, prev) {
      if (publish === 'confirmed') {
        // one delta may cover several events: it must chain on the previous one
        if (prev !== lastPublished || !(ev.last > prev)) chainOk = false;
        lastPublished = ev.last;
        published++;
        return;
      }
      if (
        events[expectNext]?.last !== ev.last ||
        prev !== (expectNext === 0 ? snapshot.seq : events[expectNext - 1].last)
      )
        chainOk = false;
      expectNext++;
      published++;
    },
    requestSnapshot() {},
    reset() {},
  };
  const core = new BookArbiter('binance', 'BTCUSDT', sink, { publish });
  core.start(0);
  core.onSnapshot(snapshot, 0);

  const t0 = performance.now();
  for (let k = 0; k < copies.length; k++) {
    const c = copies[k];
    const nowMs = c.recvTime / 1000;
    core.onDelta(c, nowMs);
    if ((k & 1023) === 0) core.onTimer(nowMs);
  }
  const seconds = (performance.now() - t0) / 1000;

  let duplicates = 0;
  let gapsFilled = 0;
  for (const s of core.feedStats().values()) {
    duplicates += s.duplicates;
    gapsFilled += s.gapsFilled;
  }
  const bookOk = JSON.stringify(core.book.snapshot()) === JSON.stringify(ref.snapshot());
  return {
    events: n,
    copies: copies.length,
    published,
    seconds,
    copiesPerSec: copies.length / seconds,
    publishedPerSec: published / seconds,
    bookOnlyPerSec: n / bookOnlySec,
    duplicates,
    gapsFilled,
    resyncs: core.counters.resyncs,
    ok:
      bookOk &&
      chainOk &&
      (publish === 'confirmed' ? lastPublished === events[n - 1].last : published === n) &&
      core.state === 'synced',
    publish,
    confirmed: core.counters.confirmed,
    alone: core.counters.publishedAlone,
  };
}

export function formatArbiterResult(r: ArbiterBenchResult): string {
  const k = (x: number) => `${Math.round(x / 1000)}k`;
  return (
    `arbiter n=${r.events}: ${r.copies} copies in ${r.seconds.toFixed(3)} s = ${k(r.copiesPerSec)} copies/s, ` +
    `${k(r.publishedPerSec)} published/s (book-only ${k(r.bookOnlyPerSec)} events/s); ` +
    `duplicates ${r.duplicates}, gaps filled ${r.gapsFilled}, resyncs ${r.resyncs}, ${r.ok ? 'book OK' : 'MISMATCH'}` +
    (r.publish === 'confirmed' ? `; publish confirmed: ${r.confirmed} confirmed, ${r.alone} alone` : '')
  );
}

async function main(): Promise<void> {
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((x) => x > 0);
  const publish: PublishPolicy = process.argv.includes('--confirmed') ? 'confirmed' : 'first';
  await benchArbiter(20_000, 7, publish); // warm-up (JIT)
  let failed = false;
  for (const n of sizes.length > 0 ? sizes : [200_000]) {
    const r = await benchArbiter(n, 1, publish);
    console.log(formatArbiterResult(r));
    if (!r.ok) failed = true;
  }
  if (failed) process.exitCode = 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
