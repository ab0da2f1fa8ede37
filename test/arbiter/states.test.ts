/** Many books: the arbiter says how many are synced and why the others are not (stats, metrics). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArbiterService } from '../../src/arbiter/service.js';
import { InprocBus, InprocTransport } from '../../src/transport/inproc.js';
import { decodeAny, topics, type ArbiterStats } from '../../src/wire/messages.js';
import { rawDelta, rawSnapshot } from './raw.js';
import { waitFor } from '../helpers.js';

test('book states: synced, waiting for a snapshot (with the reason), no collector yet', async (t) => {
  const bus = new InprocBus();
  const [arbT, colT, tapT] = [new InprocTransport(bus), new InprocTransport(bus), new InprocTransport(bus)];
  const arb = new ArbiterService({ transport: arbT, symbols: ['AUSDT', 'BUSDT', 'CUSDT'], statsIntervalMs: 100 });
  t.after(async () => {
    await arb.stop();
    for (const tr of [arbT, colT, tapT]) await tr.close();
  });
  const stats = new Map<string, ArbiterStats>();
  const tap = await tapT.subscriber('book', ['stats.binance.']);
  void (async () => {
    for await (const m of tap) {
      const s = decodeAny(m.payload) as ArbiterStats;
      stats.set(s.symbol, s);
    }
  })();
  await arb.start();
  const pub = await colT.publisher('ingest');
  const ev = (symbol: string, type: 'delta' | 'snapshot', seq: number) =>
    pub.send(topics.raw('binance', symbol), type === 'snapshot' ? rawSnapshot(symbol, seq) : rawDelta(symbol, seq));
  // A: synced from a snapshot; B: deltas from collector a but no snapshot comes; C: nothing at all
  ev('AUSDT', 'snapshot', 10);
  ev('BUSDT', 'delta', 10);
  await waitFor(() => stats.get('BUSDT')?.waiting !== undefined && stats.get('AUSDT')?.synced === true, 3000, 'stats');
  assert.equal(stats.get('AUSDT')!.waiting, undefined);
  const b = stats.get('BUSDT')!.waiting!;
  assert.equal(b.reason, 'initial');
  assert.ok(b.attempt >= 1 && b.noCollector === undefined, JSON.stringify(b));
  assert.equal(stats.get('CUSDT')!.waiting!.noCollector, true);
  assert.deepEqual(arb.bookStates(), { synced: 1, gap: 0, waiting_snapshot: 1, no_collector: 1 });
});
