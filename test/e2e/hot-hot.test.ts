/**
 * Two arbiters fed by the same collectors number the consolidated stream the same way (the exchange's
 * own sequence), so a client can listen to both and merge them like the arbiter merges collectors:
 * duplicates dropped, and losing one arbiter loses nothing. So under `publish: confirmed` (each copy waits for
 * the other collector's: the numbering is still the venue's ids).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe } from '../../src/client/subscribe.js';
import { decodeConsolidated } from '../../src/wire/messages.js';
import { sleep, waitFor } from '../helpers.js';
import { hotHotArbiters } from './hot-hot-rig.js';

for (const publish of ['first', 'confirmed'] as const)
  test(`hot-hot arbiters (publish ${publish}): identical numbering, the client merges them and survives losing one`, async (t) => {
    // each collector publishes to both arbiters and listens to both for snapshot requests
    const { sim, eps, arbs, transport, both, stopArbiter } = await hotHotArbiters(t, {
      simSymbol: 'BTCUSDT',
      symbol: 'BTCUSDT',
      seed: 5,
      rate: 200,
      arbiter: { publish: { binance: publish } },
    });

    // record each arbiter's own stream to compare numbering
    const streams: Map<number, number>[] = [new Map(), new Map()];
    const taps = await Promise.all(eps.map((ep) => transport(ep).subscriber('book', ['book.binance.BTCUSDT'])));
    taps.forEach(
      (tap, i) =>
        void (async () => {
          for await (const m of tap) {
            const msg = decodeConsolidated(m.payload);
            if (msg.type === 'delta') streams[i].set(msg.seq, msg.prev);
          }
        })(),
    );

    const ac = new AbortController();
    t.after(() => ac.abort());
    const deltas: { seq: number; prev: number }[] = [];
    let last: { seq: number; top: unknown } | undefined;
    let resets = 0;
    const client = transport(both);
    const done = (async () => {
      for await (const u of subscribe({ transport: client, symbol: 'BTCUSDT', signal: ac.signal })) {
        last = { seq: u.seq, top: u.book.top(20) };
        if (u.message.type === 'delta') deltas.push({ seq: u.message.seq, prev: u.message.prev });
        else resets++;
      }
    })();
    await waitFor(() => deltas.length > 200, 10_000, '200 deltas');
    await stopArbiter(0); // one arbiter dies; the other carries on
    const at = deltas.length;
    await waitFor(() => deltas.length > at + 200, 10_000, '200 more deltas after losing arb-1');
    sim.pause();
    const truth = sim.truth('BTCUSDT', 20);
    await waitFor(() => last?.seq === truth.lastUpdateId, 5000, 'client to reach the truth');
    assert.deepEqual(last!.top, { bids: truth.bids, asks: truth.asks });
    for (let i = 1; i < deltas.length; i++) assert.equal(deltas[i].prev, deltas[i - 1].seq, `gap or duplicate at ${i}`);
    assert.equal(resets, 1, 'no resync: the second arbiter covered the first');
    // both arbiters numbered the events they both published identically
    let common = 0;
    for (const [seq, prev] of streams[0]) {
      if (!streams[1].has(seq)) continue;
      common++;
      assert.equal(streams[1].get(seq), prev, `arbiters disagree on prev of ${seq}`);
    }
    assert.ok(common > 100, `only ${common} events seen by both arbiters`);
    if (publish === 'confirmed') assert.ok(arbs[1]!.bookOf('binance', 'BTCUSDT')!.counters.confirmed > 200);
    ac.abort();
    await done;
    await sleep(10);
  });
