/**
 * Hot-hot arbiters on a venue without a per-book id (Kraken): each arbiter numbers the book its own way
 * and names its numbering (epoch). A client listening to both follows one epoch, ignores the other's
 * messages, and when its arbiter dies takes the other's book: it stays equal to the truth, never holds a
 * state the venue did not have, and never mixes the two numberings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExchangeSimulator } from '../../src/sim/index.js';
import { Collector } from '../../src/collector/collector.js';
import { ArbiterService } from '../../src/arbiter/service.js';
import { subscribe } from '../../src/client/subscribe.js';
import { ZmqTransport } from '../../src/transport/zeromq.js';
import type { Transport } from '../../src/transport/types.js';
import { underPrefix, venue } from '../../src/venues/index.js';
import { silentLogger } from '../../src/log.js';
import { freeEndpoints, sleep, waitFor } from '../helpers.js';

test('kraken, hot-hot arbiters with their own numberings: the client follows one, survives losing it, and equals the truth', async (t) => {
  const sim = new ExchangeSimulator({
    venues: ['kraken'],
    port: 0,
    symbols: ['BTCUSD'],
    seed: 9,
    eventsPerSec: 100,
    logger: silentLogger,
  });
  const transports: Transport[] = [];
  const arbs: ArbiterService[] = [];
  const collectors: Collector[] = [];
  t.after(async () => {
    for (const c of collectors) await c.stop();
    for (const a of arbs) await a.stop();
    for (const tr of transports) await tr.close();
    await sim.stop();
  });
  await sim.start();
  const [e1, e2] = [await freeEndpoints(), await freeEndpoints()];
  const mk = (ep: ConstructorParameters<typeof ZmqTransport>[0]) => {
    const tr = new ZmqTransport(ep);
    transports.push(tr);
    return tr;
  };
  arbs.push(
    new ArbiterService({ id: 'arb-1', transport: mk(e1), venue: 'kraken', symbols: ['BTC/USD'] }),
    new ArbiterService({ id: 'arb-2', transport: mk(e2), venue: 'kraken', symbols: ['BTC/USD'] }),
  );
  for (const a of arbs) await a.start();
  const urls = underPrefix(venue('kraken'), sim.venueWsBase('kraken'), sim.venueRestBase('kraken'));
  const both = { ingest: [...e1.ingest, ...e2.ingest], publish: [...e1.publish, ...e2.publish] };
  for (const id of ['a', 'b']) {
    const c = new Collector({
      id,
      venue: 'kraken',
      symbols: ['BTC/USD'],
      ...urls,
      transport: mk(both),
      logger: silentLogger,
    });
    collectors.push(c);
    await c.start();
  }
  await waitFor(
    () => arbs.every((a) => a.bookOf('kraken', 'BTC/USD')?.state === 'synced'),
    10_000,
    'both arbiters synced',
  );

  const ac = new AbortController();
  t.after(() => ac.abort());
  const epochs: string[] = [];
  let updates = 0;
  let last: unknown;
  const client = mk({ publish: [...e1.publish, ...e2.publish], snapshot: [...e1.snapshot, ...e2.snapshot] });
  const done = (async () => {
    for await (const u of subscribe({ transport: client, venue: 'kraken', symbol: 'BTC/USD', signal: ac.signal })) {
      if (u.kind !== 'snapshot' && u.kind !== 'delta') continue;
      const e = u.message.epoch!;
      if (epochs.at(-1) !== e) {
        assert.equal(u.kind, 'snapshot', 'a new numbering starts with its snapshot, never with a delta');
        epochs.push(e);
      }
      updates++;
      last = u.book.top(20);
    }
  })();
  await waitFor(() => updates > 100, 10_000, '100 updates');
  const followed = epochs.at(-1)!;
  const victim = arbs.find((a) => followed.startsWith(`${a.id}@`))!;
  await victim.stop(); // the arbiter the client follows dies
  const at = updates;
  await waitFor(() => updates > at + 100, 15_000, '100 more updates after losing the followed arbiter');
  sim.pause();
  await sleep(300);
  const truth = sim.truth('BTCUSD', 20, 'kraken');
  await waitFor(
    () => JSON.stringify(last) === JSON.stringify({ bids: truth.bids, asks: truth.asks }),
    5000,
    'client to reach the truth',
  );
  assert.equal(epochs.length, 2, `followed ${epochs.join(', ')}: one switch`);
  assert.notEqual(epochs[0], epochs[1]);
  ac.abort();
  await done;
});
