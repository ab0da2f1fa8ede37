/** Periodic consolidated snapshots stay within a budget of levels per second over all books (a whole market). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArbiterService } from '../../src/arbiter/service.js';
import { InprocBus, InprocTransport } from '../../src/transport/inproc.js';
import { decodeBookMessage, encodeCollectorEvent, topics } from '../../src/wire/messages.js';
import type { Level } from '../../src/core/types.js';
import { sleep, waitFor } from '../helpers.js';

const BOOKS = 40;
const LEVELS = 100; // per side

test('periodic snapshots of many books share a budget of levels per second, every book in turn', async (t) => {
  const bus = new InprocBus();
  const [arbT, colT, tapT] = [new InprocTransport(bus), new InprocTransport(bus), new InprocTransport(bus)];
  const symbols = Array.from({ length: BOOKS }, (_, i) => `B${i}USDT`);
  const budget = 4000; // levels/s: 10 books of 2 x 100 levels a second, where 40 would want one each
  const arb = new ArbiterService({ transport: arbT, symbols, snapshotIntervalMs: 1000, periodicLevelsPerSec: budget });
  t.after(async () => {
    await arb.stop();
    for (const tr of [arbT, colT, tapT]) await tr.close();
  });
  await arb.start();
  const periodic = new Map<string, number>();
  let total = 0;
  const tap = await tapT.subscriber('book', ['book.binance.']);
  void (async () => {
    for await (const m of tap) {
      const msg = decodeBookMessage(m.payload);
      if (msg.type !== 'snapshot' || msg.reason !== 'periodic') continue;
      total++;
      periodic.set(msg.symbol, (periodic.get(msg.symbol) ?? 0) + 1);
    }
  })();
  const pub = await colT.publisher('ingest');
  const side = (from: number, step: number): Level[] =>
    Array.from({ length: LEVELS }, (_, i) => [from + i * step, 1] as Level);
  for (const symbol of symbols)
    pub.send(
      topics.raw('binance', symbol),
      encodeCollectorEvent({
        type: 'snapshot',
        venue: 'binance',
        symbol,
        seq: 100,
        recvTime: 0,
        collector: 'a',
        bids: side(100, -0.01),
        asks: side(101, 0.01),
      }),
    );
  await waitFor(() => symbols.every((s) => arb.bookOf('binance', s)?.state === 'synced'), 5000, 'books synced');
  total = 0;
  periodic.clear();
  await sleep(4200);
  const levels = total * 2 * LEVELS;
  // 4.2 s of budget, plus one tick's overshoot (a book is sent while any budget is left)
  assert.ok(levels <= budget * 4.2 + 2 * 2 * LEVELS, `${total} periodic snapshots = ${levels} levels in 4.2 s`);
  assert.ok(total >= 30, `the budget is used: ${total} periodic snapshots`);
  assert.equal(periodic.size, BOOKS, `every book had its turn (${periodic.size} of ${BOOKS})`);
});
