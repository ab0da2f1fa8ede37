/**
 * The bridge service (src/bridge/service.ts): its rules on in-process buses, then over real ZeroMQ sockets
 * on both sides. A gap in the source is healed by a snapshot from the source's snapshot service, never
 * forwarded; duplicates are dropped; the destination serves snapshots. `bookwire bridge` itself:
 * test/e2e/bridge.test.ts.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bridge } from '../../src/bridge/service.js';
import { subscribe } from '../../src/client/subscribe.js';
import { OrderBook } from '../../src/core/book.js';
import { silentLogger } from '../../src/log.js';
import { InprocBus, InprocTransport } from '../../src/transport/inproc.js';
import { ZmqTransport } from '../../src/transport/zeromq.js';
import type { BusMessage, Transport } from '../../src/transport/types.js';
import {
  decodeConsolidated,
  encode,
  type ConsolidatedDelta,
  type ConsolidatedMessage,
  type ConsolidatedSnapshot,
} from '../../src/wire/messages.js';
import { freeEndpoints, sleep, waitFor } from '../helpers.js';
import { track } from '../e2e/harness.js';

const TOPIC = 'book.binance.BTCUSDT';

/** Collect every message of a subscription in the background. */
function collect(it: AsyncIterable<BusMessage>) {
  const got: { topic: string; payload: Buffer; m?: ConsolidatedMessage }[] = [];
  const done = (async () => {
    for await (const x of it)
      got.push({ ...x, m: x.topic.startsWith('book.') ? decodeConsolidated(x.payload) : undefined });
  })();
  return { got, done };
}

/** A source stream whose deltas chain by prev; in the consolidated stream seq steps are not 1. */
function fakeArbiter() {
  const book = new OrderBook();
  let seq = 1000;
  const snapshot = (reason: ConsolidatedSnapshot['reason']): ConsolidatedSnapshot => {
    const { bids, asks } = book.snapshot();
    return {
      v: 1,
      type: 'snapshot',
      venue: 'binance',
      symbol: 'BTCUSDT',
      seq,
      bids,
      asks,
      exchTime: 0,
      pubTime: 1,
      reason,
    };
  };
  book.applySnapshot(
    [
      [100, 1],
      [99, 2],
    ],
    [
      [101, 1],
      [102, 2],
    ],
  );
  return {
    book,
    get seq() {
      return seq;
    },
    snapshot,
    delta(i: number): ConsolidatedDelta {
      const prev = seq;
      seq += 3;
      const d: ConsolidatedDelta = {
        v: 1,
        type: 'delta',
        venue: 'binance',
        symbol: 'BTCUSDT',
        seq,
        prev,
        first: prev + 1,
        bids: [[99 - (i % 7), 1 + i]],
        asks: [[102 + (i % 5), (i % 3) * 0.5]],
        exchTime: 0,
        recvTime: 1,
        pubTime: 2,
        feed: 'a',
      };
      book.apply(d.bids, d.asks);
      return d;
    },
  };
}

/**
 * The bridging rules, on any transport: `arbiterSide` publishes and serves snapshots on the source bus,
 * the bridge reads it through `source` and writes `destination`, `observer` reads the destination bus.
 */
async function bridgeRules(buses: {
  arbiterSide: Transport;
  source: Transport;
  destination: Transport;
  observer: Transport;
  settleMs: number;
}) {
  const { arbiterSide: src, observer: dst } = buses;
  const arb = fakeArbiter();
  let requests = 0;
  await src.snapshotServer(() => {
    requests++;
    return encode(arb.snapshot('reply'));
  });
  const pub = await src.publisher('book');
  const out = collect(await dst.subscriber('book', ['book.', 'stats.']));
  const bridge = new Bridge({
    source: buses.source,
    destination: buses.destination,
    serveSnapshots: true,
    snapshotRetryMs: 20,
    logger: silentLogger,
  });
  await bridge.start();
  await sleep(buses.settleMs); // ZeroMQ: let the subscriptions reach the publishers

  // 1. Joined mid-stream: the first delta makes it ask the source for a snapshot.
  const sentDeltas = new Map<number, Buffer>();
  const send = (d: ConsolidatedDelta) => {
    const b = encode(d);
    sentDeltas.set(d.seq, b);
    pub.send(TOPIC, b);
  };
  for (let i = 0; i < 5; i++) send(arb.delta(i));
  pub.send('stats.binance.BTCUSDT', encode({ v: 1, type: 'arbiter-stats', seq: arb.seq }));
  await waitFor(() => bridge.replicaOf(TOPIC)?.seq === arb.seq, 5000, 'the bridge to sync');
  // 2. A delta lost on the source side, then more: a gap the bridge must heal, not forward.
  arb.delta(99);
  for (let i = 5; i < 10; i++) send(arb.delta(i));
  await waitFor(
    () => bridge.replicaOf(TOPIC)?.seq === arb.seq && bridge.counters.resyncs >= 2,
    5000,
    'the bridge to resync',
  );
  // 3. A duplicate (second arbiter) is dropped; a periodic snapshot at our seq is forwarded.
  pub.send(TOPIC, sentDeltas.get(arb.seq)!);
  pub.send(TOPIC, encode(arb.snapshot('periodic')));
  for (let i = 10; i < 15; i++) send(arb.delta(i));
  await waitFor(() => bridge.replicaOf(TOPIC)?.seq === arb.seq, 5000, 'the last deltas');

  // A client of the destination (Clone pattern: the bridge's snapshot service) ends on the same book.
  const client = track(subscribe({ symbol: 'BTCUSDT', transport: dst }));
  await waitFor(() => client.s.last?.seq === arb.seq, 5000, 'a destination client to sync');
  assert.deepEqual(client.s.last!.book.snapshot(), arb.book.snapshot());
  assert.ok(bridge.counters.snapshotsServed >= 1, 'the destination snapshot service answered');
  await waitFor(() => out.got.filter((g) => g.m).at(-1)?.m?.seq === arb.seq, 5000, 'the destination stream');

  const book = out.got.filter((g) => g.m).map((g) => g.m!);
  assert.equal(book[0].type, 'snapshot', 'the destination stream begins with a snapshot');
  let seq = -1;
  for (const m of book) {
    if (m.type === 'delta') assert.equal(m.prev, seq, `delta ${m.seq} chains onto ${seq}`);
    else assert.ok(m.seq >= seq, `snapshot ${m.seq} not older than ${seq}`);
    seq = m.seq;
  }
  const resyncs = book.filter((m) => m.type === 'snapshot' && m.reason === 'resync');
  assert.equal(resyncs.length, 2, 'one resync for joining, one for the gap');
  assert.equal(book.filter((m) => m.type === 'snapshot' && m.reason === 'periodic').length, 1);
  assert.ok(!book.some((m) => m.type === 'snapshot' && m.reason === 'reply'), 'a reply is never published as such');
  // Forwarded deltas are the source's bytes, unchanged.
  for (const g of out.got) if (g.m?.type === 'delta') assert.ok(g.payload.equals(sentDeltas.get(g.m.seq)!));
  assert.equal(out.got.filter((g) => g.topic.startsWith('stats.')).length, 1, 'stats forwarded');
  assert.equal(bridge.counters.gaps, 1);
  assert.equal(bridge.counters.duplicates >= 1, true);
  assert.equal(requests, 2);
  assert.equal(client.s.last!.gaps, 0);
  assert.deepEqual(client.s.broken, []);
  await bridge.stop();
  await pub.close();
}

test('bridge: forwards a chained stream, heals a source gap from the source snapshot service, drops duplicates, serves snapshots', async (t) => {
  const src = new InprocTransport(new InprocBus());
  const dst = new InprocTransport(new InprocBus());
  t.after(() => Promise.all([src.close(), dst.close()]).then(() => undefined));
  await bridgeRules({ arbiterSide: src, source: src, destination: dst, observer: dst, settleMs: 0 });
});

test(
  'bridge: the same rules over real ZeroMQ sockets on both sides (ROUTER snapshot service upstream and served downstream)',
  { timeout: 30_000 },
  async (t) => {
    const [up, down] = [await freeEndpoints(), await freeEndpoints()];
    const all = [up, up, down, down].map((ep) => new ZmqTransport(ep, { logger: silentLogger }));
    t.after(async () => {
      for (const tr of all) await tr.close();
    });
    await bridgeRules({ arbiterSide: all[0], source: all[1], destination: all[2], observer: all[3], settleMs: 400 });
  },
);
