/**
 * The processing-time percentiles of a book's stats cover the publishes since the previous stats message:
 * each stats message sorts only those (with 2,000 books, sorting every book's whole ring each second took
 * more than a core), and a quiet interval keeps the previous figures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArbiterService } from '../../src/arbiter/service.js';
import { InprocBus, InprocTransport } from '../../src/transport/inproc.js';
import { decodeAny, encodeCollectorEvent, topics, type ArbiterStats } from '../../src/wire/messages.js';
import { sleep, waitFor } from '../helpers.js';

test('stats percentiles cover the publishes since the last stats; a quiet interval keeps them', async (t) => {
  const bus = new InprocBus();
  const [arbT, colT, tapT] = [new InprocTransport(bus), new InprocTransport(bus), new InprocTransport(bus)];
  let slow = true;
  // a slow first batch: 2 ms inside the arbiter per delta (the probe runs between arrival and publish)
  const probe = {
    onDelta() {
      if (!slow) return;
      const t0 = performance.now();
      while (performance.now() - t0 < 2);
    },
    onStop() {},
  };
  const arb = new ArbiterService({ transport: arbT, symbols: ['BTCUSDT'], statsIntervalMs: 100, probe });
  t.after(async () => {
    await arb.stop();
    for (const tr of [arbT, colT, tapT]) await tr.close();
  });
  await arb.start();
  const stats: ArbiterStats[] = [];
  const tap = await tapT.subscriber('book', [topics.stats('binance', 'BTCUSDT')]);
  void (async () => {
    for await (const m of tap) stats.push(decodeAny(m.payload) as ArbiterStats);
  })();
  const pub = await colT.publisher('ingest');
  const base = { venue: 'binance', symbol: 'BTCUSDT', recvTime: 0, collector: 'a' };
  pub.send(
    topics.raw('binance', 'BTCUSDT'),
    encodeCollectorEvent({ type: 'snapshot', ...base, seq: 100, bids: [[100, 1]], asks: [[101, 1]] }),
  );
  let id = 100;
  const batch = (n: number) => {
    for (let i = 0; i < n; i++, id++)
      pub.send(
        topics.raw('binance', 'BTCUSDT'),
        encodeCollectorEvent({
          type: 'delta',
          ...base,
          first: id + 1,
          last: id + 1,
          exchTime: 0,
          bids: [[100, 1 + (i % 5)]],
          asks: [],
        }),
      );
  };
  batch(40);
  const slowStats = () => stats.find((s) => s.seq === id && s.processingP50 >= 2000);
  await waitFor(() => slowStats() !== undefined, 10_000, 'stats of the slow batch');
  assert.ok(slowStats()!.processingP99 >= 2000);
  slow = false;
  const fastFrom = stats.length;
  batch(20);
  await waitFor(() => stats.slice(fastFrom).some((s) => s.seq === id), 10_000, 'stats of the fast batch');
  const n = stats.length;
  await waitFor(() => stats.length >= n + 3, 5000, 'three quiet intervals');
  await sleep(0);
  // the fast batch's stats and the quiet ones after: none of the slow publishes is in their window
  const after = stats.slice(fastFrom).filter((s) => s.seq === id);
  assert.ok(after.length >= 3, `${after.length} stats after the fast batch`);
  // (the median: a busy host may preempt a fast one; over the last 4096 publishes it would be a slow one)
  for (const s of after) assert.ok(s.processingP50 < 2000, `p50 ${s.processingP50} µs covers only the fast batch`);
  const quiet = after.slice(-3);
  assert.ok(quiet[0].processingP50 > 0, 'a quiet interval keeps the previous figures');
  assert.deepEqual(
    quiet.map((s) => [s.processingP50, s.processingP99]),
    Array(3).fill([quiet[0].processingP50, quiet[0].processingP99]),
  );
});

test('a whole market: stats messages stay within statsPerSec, spread over time, and every book gets its turn', async (t) => {
  const bus = new InprocBus();
  const [arbT, tapT] = [new InprocTransport(bus), new InprocTransport(bus)];
  const symbols = Array.from({ length: 300 }, (_, i) => `S${i}USDT`);
  // 300 books, each asking for stats every 100 ms (3,000/s), within a budget of 200/s
  const arb = new ArbiterService({ transport: arbT, symbols, statsIntervalMs: 100, statsPerSec: 200 });
  t.after(async () => {
    await arb.stop();
    for (const tr of [arbT, tapT]) await tr.close();
  });
  const at: { symbol: string; t: number }[] = [];
  const tap = await tapT.subscriber('book', ['stats.binance.']);
  void (async () => {
    for await (const m of tap) at.push({ symbol: (decodeAny(m.payload) as ArbiterStats).symbol, t: performance.now() });
  })();
  await arb.start();
  await sleep(2600);
  const from = at[0]?.t ?? 0;
  const window = at.filter((s) => s.t - from >= 500 && s.t - from < 2500); // two seconds past the start
  assert.ok(window.length <= 2 * 200 * 1.15, `${window.length} stats messages in 2 s: budget 200/s`);
  assert.ok(window.length >= 2 * 200 * 0.5, `${window.length} stats messages in 2 s: the budget is used`);
  // spread: no 100 ms slot carries much more than its share of 20 (a late timer's tick may share one with
  // the next); a burst of every book at once would put 300 in one
  const slots = new Map<number, number>();
  for (const s of window)
    slots.set(Math.floor((s.t - from) / 100), (slots.get(Math.floor((s.t - from) / 100)) ?? 0) + 1);
  assert.ok(Math.max(...slots.values()) <= 45, `a burst: ${Math.max(...slots.values())} stats in one 100 ms slot`);
  // turns: every book had one within 300 / 200 s (+ slack for late timers)
  assert.equal(new Set(at.filter((s) => s.t - from < 2500).map((s) => s.symbol)).size, 300, 'every book got its turn');
});
