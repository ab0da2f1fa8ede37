/**
 * Huge messages (issue 12 §1): one depth update or snapshot carrying hundreds of thousands of levels, in
 * random price order, applied to a book of DEPTH levels per side. Before the book merged such messages in
 * one pass, every level far from the best end shifted the levels above it: a 400k-level update blocked the
 * arbiter's event loop for 17.8 s.
 *
 *   node dist/bench/bigbook.js [m ...]     levels per message, default 400000
 *
 * Figures per m (best of REPEATS, milliseconds of wall-clock time / of process CPU time, which on a shared
 * machine does not count time the thread waited for a core):
 *   delta     OrderBook.apply of one delta with m bid levels (new prices, updates and deletes) to a book of DEPTH
 *   snapshot  OrderBook.applySnapshot of m levels per side, unsorted
 *   arbiter   the longest synchronous BookArbiter.onDelta call for one such delta on a synced book: the time
 *             the arbiter service's event loop is blocked by that message (the core runs inside its handler)
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { BookArbiter, type ArbiterSink } from '../src/core/arbiter.js';
import { OrderBook } from '../src/core/book.js';
import type { BookDelta, BookSnapshot, Level } from '../src/core/types.js';
import { mulberry32 } from '../src/sim/prng.js';
import { loadLine } from './book.js';

const DEPTH = 1000;
const REPEATS = 3;
const MID = 5_000_000; // ticks of 0.01

/** Best wall-clock and CPU milliseconds over the repeats. */
interface Best {
  wall: number;
  cpu: number;
}

export interface BigBookResult {
  levels: number;
  delta: Best;
  snapshot: Best;
  arbiterBlock: Best;
  /** The book after each operation equals the one built level by level from a Map. */
  ok: boolean;
}

function startBook(): { bids: Level[]; asks: Level[] } {
  const bids: Level[] = [];
  const asks: Level[] = [];
  for (let i = 1; i <= DEPTH; i++) {
    bids.push([(MID - i) / 100, i]);
    asks.push([(MID + i) / 100, i]);
  }
  return { bids, asks };
}

/** m bid levels below the best ask, shuffled: mostly new prices, some updates and deletes of the top DEPTH. */
function hugeSide(m: number, seed: number, below: boolean): Level[] {
  const rng = mulberry32(seed);
  const out: Level[] = [];
  for (let i = 1; i <= m; i++) {
    const ticks = below ? MID - i : MID + i;
    out.push([ticks / 100, rng() < 0.1 && i <= DEPTH ? 0 : 1 + Math.floor(rng() * 1000)]);
  }
  for (let i = m - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}

/** The expected side: a Map applied level by level, sorted best first. */
function expected(start: Level[], levels: Level[], bid: boolean): Level[] {
  const m = new Map<number, number>(start);
  for (const [p, s] of levels) {
    if (s > 0) m.set(p, s);
    else m.delete(p);
  }
  return [...m.entries()].sort((a, b) => (bid ? b[0] - a[0] : a[0] - b[0]));
}

function timed(best: Best, fn: () => void): void {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  best.wall = Math.min(best.wall, wall);
  best.cpu = Math.min(best.cpu, (c.user + c.system) / 1000);
}

function sameSide(a: Level[], b: Level[]): boolean {
  return a.length === b.length && a.every((l, i) => l[0] === b[i][0] && l[1] === b[i][1]);
}

export function benchBigBook(m: number): BigBookResult {
  const start = startBook();
  const bids = hugeSide(m, 1, true);
  const snapBids = hugeSide(m, 2, true).filter((l) => l[1] > 0);
  const snapAsks = hugeSide(m, 3, false).filter((l) => l[1] > 0);
  let ok = true;

  const delta: Best = { wall: Infinity, cpu: Infinity };
  const snapshot: Best = { wall: Infinity, cpu: Infinity };
  const arbiterBlock: Best = { wall: Infinity, cpu: Infinity };
  for (let r = 0; r < REPEATS; r++) {
    const book = new OrderBook();
    book.applySnapshot(start.bids, start.asks);
    timed(delta, () => book.apply(bids, []));
    if (r === 0) ok &&= sameSide(book.snapshot().bids, expected(start.bids, bids, true));

    const snap = new OrderBook();
    timed(snapshot, () => snap.applySnapshot(snapBids, snapAsks));
    if (r === 0) {
      const s = snap.snapshot();
      ok &&= sameSide(s.bids, expected([], snapBids, true)) && sameSide(s.asks, expected([], snapAsks, false));
    }

    let published = 0;
    const sink: ArbiterSink = { publish: () => published++, requestSnapshot() {}, reset() {} };
    const core = new BookArbiter('binance', 'BTCUSDT', sink);
    const start0: BookSnapshot = {
      type: 'snapshot',
      venue: 'binance',
      symbol: 'BTCUSDT',
      seq: 100,
      recvTime: 0,
      collector: 'a',
      ...start,
    };
    core.start(0);
    core.onSnapshot(start0, 0);
    const ev: BookDelta = {
      type: 'delta',
      venue: 'binance',
      symbol: 'BTCUSDT',
      first: 101,
      last: 101,
      exchTime: 0,
      recvTime: 0,
      collector: 'a',
      bids,
      asks: [],
    };
    timed(arbiterBlock, () => core.onDelta(ev, 1));
    ok &&= published === 1 && core.state === 'synced' && core.book.bidDepth === book.bidDepth;
  }
  return { levels: m, delta, snapshot, arbiterBlock, ok };
}

export function formatBigBook(r: BigBookResult): string {
  const ms = (x: Best) => `${x.wall.toFixed(1)} / ${x.cpu.toFixed(1)} ms (wall / cpu)`;
  return (
    `${r.levels.toLocaleString('en-US')}-level message on a ${DEPTH}-level book: apply ${ms(r.delta)}; ` +
    `snapshot of ${r.levels.toLocaleString('en-US')} levels per side ${ms(r.snapshot)}; ` +
    `arbiter event-loop block for one such message ${ms(r.arbiterBlock)}; ${r.ok ? 'book OK' : 'MISMATCH'}`
  );
}

async function main(): Promise<void> {
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((x) => x > 0);
  console.log(loadLine());
  benchBigBook(20_000); // warm-up (JIT)
  let failed = false;
  for (const m of sizes.length > 0 ? sizes : [400_000]) {
    const r = benchBigBook(m);
    console.log(formatBigBook(r));
    if (!r.ok) failed = true;
  }
  console.log(loadLine());
  if (failed) process.exitCode = 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
