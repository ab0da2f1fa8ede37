/**
 * Issue 14, ZeroMQ: an arbiter restarted next to a running peer (src/arbiter/peers.ts), on a replica venue's
 * book (Kraken). What it does (documented in docs/wire-format.md "Epochs"): the peer is not asked -- the
 * replica merge rebuilds each feed from its own websocket snapshot, which costs no REST either, and the
 * peer's numbering is the peer's -- so the restarted arbiter starts a new epoch of its own. A client follows
 * one epoch: the restart of the arbiter it does not follow never reaches it (no snapshot, no gap); the
 * death of the one it follows costs it one switch to the peer's epoch (one snapshot), never a gap.
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

test('kraken: an arbiter restarted next to a running peer starts its own epoch; a client sees a switch only when its own arbiter goes', async (t) => {
  const sim = new ExchangeSimulator({
    venues: ['kraken'],
    port: 0,
    symbols: ['BTCUSD'],
    seed: 11,
    eventsPerSec: 100,
    logger: silentLogger,
  });
  const transports: Transport[] = [];
  const arbs: (ArbiterService | undefined)[] = [];
  const collectors: Collector[] = [];
  t.after(async () => {
    for (const c of collectors) await c.stop();
    for (const a of arbs) await a?.stop();
    for (const tr of transports) await tr.close();
    await sim.stop();
  });
  await sim.start();
  const eps = [await freeEndpoints(), await freeEndpoints()];
  const mk = (ep: ConstructorParameters<typeof ZmqTransport>[0]) => {
    const tr = new ZmqTransport(ep);
    transports.push(tr);
    return tr;
  };
  // each arbiter names the other as its peer
  const arbiter = async (i: number) => {
    const a = new ArbiterService({
      id: `arb-${i + 1}`,
      transport: mk(eps[i]),
      peers: mk({ snapshot: eps[1 - i].snapshot }),
      venue: 'kraken',
      symbols: ['BTC/USD'],
      snapshotTimeoutMs: 1000,
    });
    arbs[i] = a;
    await a.start();
    return a;
  };
  await arbiter(0);
  await arbiter(1);
  const urls = underPrefix(venue('kraken'), sim.venueWsBase('kraken'), sim.venueRestBase('kraken'));
  const both = { ingest: [...eps[0].ingest, ...eps[1].ingest], publish: [...eps[0].publish, ...eps[1].publish] };
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
  const synced = (a: ArbiterService | undefined) => a?.bookOf('kraken', 'BTC/USD')?.state === 'synced';
  await waitFor(() => arbs.every(synced), 10_000, 'both arbiters synced');

  const ac = new AbortController();
  t.after(() => ac.abort());
  const epochs: string[] = [];
  const client = { updates: 0, gaps: 0, last: undefined as unknown };
  const sub = mk({
    publish: [...eps[0].publish, ...eps[1].publish],
    snapshot: [...eps[0].snapshot, ...eps[1].snapshot],
  });
  const done = (async () => {
    for await (const u of subscribe({ transport: sub, venue: 'kraken', symbol: 'BTC/USD', signal: ac.signal })) {
      if (u.kind !== 'snapshot' && u.kind !== 'delta') continue;
      const e = u.message.epoch!;
      if (epochs.at(-1) !== e) {
        assert.equal(u.kind, 'snapshot', 'a new numbering starts with its snapshot, never with a delta');
        epochs.push(e);
      }
      client.updates++;
      client.gaps = u.gaps;
      client.last = u.book.top(20);
    }
  })();
  await waitFor(() => client.updates > 50, 10_000, '50 updates');
  const index = (epoch: string) => arbs.findIndex((a) => a !== undefined && epoch.startsWith(`${a.id}@`));
  const restart = async (i: number) => {
    const before = arbs[i]!.bookOf('kraken', 'BTC/USD')!.streamEpoch;
    await arbs[i]!.stop();
    arbs[i] = undefined;
    await sleep(500);
    const a = await arbiter(i);
    await waitFor(() => synced(a), 10_000, `arb-${i + 1} synced again`);
    assert.notEqual(a.bookOf('kraken', 'BTC/USD')!.streamEpoch, before, 'a restart is a new epoch');
    assert.equal(a.counters.peerSnapshots + a.counters.peerFailures, 0, 'a replica book never asks a peer');
  };

  // the arbiter the client does not follow restarts: nothing reaches the client
  const followed = index(epochs[0]);
  await restart(1 - followed);
  let at = client.updates;
  await waitFor(() => client.updates > at + 50, 10_000, '50 updates after the other arbiter restarted');
  assert.deepEqual(epochs.length, 1, `the client stayed on its epoch (${epochs.join(', ')})`);

  // the one it follows restarts: the client moves to another epoch once (a snapshot), never a gap
  await restart(followed);
  at = client.updates;
  await waitFor(() => client.updates > at + 50, 10_000, '50 updates after its arbiter restarted');
  assert.equal(epochs.length, 2, `one switch: ${epochs.join(', ')}`);
  t.diagnostic(`epochs followed: ${epochs.join(' then ')}`);
  assert.equal(client.gaps, 0);

  sim.pause();
  await sleep(300);
  const truth = sim.truth('BTCUSD', 20, 'kraken');
  const want = JSON.stringify({ bids: truth.bids, asks: truth.asks });
  await waitFor(() => JSON.stringify(client.last) === want, 5000, 'the client to reach the truth');
  for (const a of arbs) assert.equal(JSON.stringify(a!.bookOf('kraken', 'BTC/USD')!.book.top(20)), want, a!.id);
  ac.abort();
  await done;
});
