/**
 * Scheduled rolls (Binance's 24-hour disconnects, issue 13) with several connections per collector: the
 * connections take turns across the period instead of reconnecting together, and each roll is made before it
 * breaks -- the old socket keeps delivering until the new one does -- so one collector alone carries six
 * books across many rolls without a gap or a resync at the arbiter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { BinanceSimulator } from '../../src/sim/index.js';
import { Collector } from '../../src/collector/collector.js';
import { ArbiterService } from '../../src/arbiter/service.js';
import { InprocBus, InprocTransport } from '../../src/transport/inproc.js';
import { sleep, waitFor } from '../helpers.js';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'BNBUSDT', 'XRPUSDT', 'ADAUSDT'];

test('3 connections roll in turn, make-before-break: no book gaps or resyncs on one collector', async (t) => {
  const sim = new BinanceSimulator({ port: 0, symbols: SYMBOLS, seed: 4, eventsPerSec: 60 });
  await sim.start();
  const bus = new InprocBus();
  const arbT = new InprocTransport(bus);
  const colT = new InprocTransport(bus);
  const arb = new ArbiterService({ transport: arbT, symbols: SYMBOLS, gapTimeoutMs: 200 });
  const c = new Collector({
    id: 'a',
    symbols: SYMBOLS,
    wsUrl: sim.wsBase,
    restUrl: sim.restBase,
    transport: colT,
    maxBooksPerConnection: 2,
    reconnectEveryS: 1.2,
    snapshotLimit: 100,
  });
  t.after(async () => {
    await c.stop();
    await arb.stop();
    await colT.close();
    await arbT.close();
    await sim.stop();
  });
  await arb.start();
  await c.start();
  await waitFor(() => SYMBOLS.every((s) => arb.bookOf('binance', s)?.state === 'synced'), 10_000, 'every book synced');
  const resyncsAtStart = SYMBOLS.map((s) => arb.bookOf('binance', s)!.counters.resyncs);

  // when each connection's reconnect count moves (a roll), by connection (books 2 by 2, in order)
  const rolls: { conn: number; at: number }[] = [];
  const counts = [0, 1, 2].map((conn) => c.status().feeds[conn * 2].reconnects);
  const before = [...counts];
  const t0 = performance.now();
  while (performance.now() - t0 < 6000) {
    const feeds = c.status().feeds;
    for (let conn = 0; conn < 3; conn++) {
      const n = feeds[conn * 2].reconnects;
      if (n > counts[conn]) rolls.push({ conn, at: performance.now() - t0 });
      counts[conn] = n;
    }
    await sleep(10);
  }
  assert.ok(
    counts.every((n, i) => n - before[i] >= 2),
    `every connection rolled at least twice: ${JSON.stringify(counts)} from ${JSON.stringify(before)}`,
  );
  // in turn: rolls of different connections are ~400 ms apart (1.2 s over 3); rolling together, every one
  // would be within 100 ms of the last. A loaded host fires a timer late now and then (seen in CI: one pair
  // 48 ms apart of 12), so at most one pair in five may come close.
  let together = 0;
  let pairs = 0;
  for (let i = 1; i < rolls.length; i++)
    if (rolls[i].conn !== rolls[i - 1].conn) {
      pairs++;
      if (rolls[i].at - rolls[i - 1].at <= 100) together++;
    }
  assert.ok(pairs >= 4 && together <= pairs / 5, `rolls together: ${together} of ${pairs}: ${JSON.stringify(rolls)}`);
  // make-before-break: the one collector's books never had to resync
  SYMBOLS.forEach((s, i) =>
    assert.equal(arb.bookOf('binance', s)!.counters.resyncs, resyncsAtStart[i], `${s} resynced across a roll`),
  );
  assert.equal(sim.stats().snapshotsServed, SYMBOLS.length, 'one REST snapshot per book, none for the rolls');
});
