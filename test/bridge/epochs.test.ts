/**
 * The bridge on a replica venue's book (Kraken) behind two hot-hot arbiters, each numbering the book its own
 * way (its epoch): the bridge follows one epoch, so the destination stream is one numbering at a time; when
 * the followed arbiter dies the bridge takes the other's book, publishes its snapshot, and a client of the
 * destination carries on equal to the truth. Sequenced venues' bridging rules: service.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bridge } from '../../src/bridge/service.js';
import { InprocBus, InprocTransport } from '../../src/transport/inproc.js';
import {
  decodeBookMessage,
  encode,
  encodeHeartbeat,
  topics,
  type ConsolidatedDelta,
  type ConsolidatedHeartbeat,
  type ConsolidatedMessage,
  type ConsolidatedSnapshot,
} from '../../src/wire/messages.js';
import { silentLogger } from '../../src/log.js';
import { freeEndpoints, sleep, waitFor } from '../helpers.js';
import { followEpochs, hotHotArbiters } from '../e2e/hot-hot-rig.js';

const TOPIC = topics.book('kraken', 'BTC/USD');

/** One arbiter's numbering of the same venue book: its own seqs, its epoch on every message. */
function numbering(epoch: string, seq: number) {
  const base = { v: 1 as const, venue: 'kraken', symbol: 'BTC/USD', epoch };
  return {
    snapshot: (reason: ConsolidatedSnapshot['reason'], size: number): ConsolidatedSnapshot => ({
      ...base,
      type: 'snapshot',
      seq,
      bids: [[100, size]],
      asks: [[101, 1]],
      exchTime: 0,
      pubTime: 1,
      reason,
    }),
    delta: (size: number): ConsolidatedDelta => ({
      ...base,
      type: 'delta',
      prev: seq,
      first: seq + 1,
      seq: ++seq,
      bids: [[100, size]],
      asks: [],
      exchTime: 0,
      recvTime: 1,
      pubTime: 2,
      feed: 'a',
    }),
    heartbeat: (): Omit<ConsolidatedHeartbeat, 'v' | 'type'> => ({
      venue: 'kraken',
      symbol: 'BTC/USD',
      seq,
      epoch,
      pubTime: 3,
      arbiter: epoch.slice(0, 1),
      stale: false,
    }),
  };
}

test("bridge, two numberings of one book: only the followed epoch's messages go downstream; when it falls silent, the other's snapshot, then its deltas", async (t) => {
  const src = new InprocTransport(new InprocBus());
  const dst = new InprocTransport(new InprocBus());
  t.after(() => Promise.all([src.close(), dst.close()]).then(() => undefined));
  const a = numbering('A@1', 1000);
  const b = numbering('B@2', 5_000_000); // far above A's: compared by seq, A's deltas would be stale or gaps
  let size = 1;
  await src.snapshotServer(() => encode(b.snapshot('reply', size))); // A is dead by the time anyone asks
  const pub = await src.publisher('book');
  const out: (ConsolidatedMessage | ConsolidatedHeartbeat)[] = [];
  const sub = await dst.subscriber('book', ['book.']);
  const reading = (async () => {
    for await (const m of sub) out.push(decodeBookMessage(m.payload));
  })();
  const bridge = new Bridge({ source: src, destination: dst, snapshotRetryMs: 20, logger: silentLogger });
  await bridge.start();
  const send = (m: ConsolidatedMessage) => pub.send(TOPIC, encode(m));
  const beat = (n: typeof a) => pub.send(TOPIC, encodeHeartbeat(n.heartbeat()));

  send(a.snapshot('periodic', size));
  send(b.snapshot('periodic', size));
  for (let i = 0; i < 3; i++) {
    size++;
    send(a.delta(size));
    send(b.delta(size));
    beat(a);
    beat(b);
  }
  await waitFor(() => out.length >= 7, 2000, 'the first epoch downstream');
  assert.equal(bridge.replicaOf(TOPIC)!.replica.epoch, 'A@1');
  assert.ok(
    out.every((m) => m.epoch === 'A@1'),
    `only A's messages, heartbeats too: ${out.map((m) => m.epoch).join(' ')}`,
  );
  assert.deepEqual(
    out.map((m) => m.type),
    ['snapshot', 'delta', 'heartbeat', 'delta', 'heartbeat', 'delta', 'heartbeat'],
  );

  // A falls silent; B goes on: after 5 of its deltas over 250 ms, the bridge takes B's book
  for (let i = 0; i < 6; i++) {
    size++;
    send(b.delta(size));
    await sleep(60);
  }
  await waitFor(() => bridge.replicaOf(TOPIC)?.replica.epoch === 'B@2', 2000, 'the bridge to follow B');
  size++;
  send(b.delta(size));
  await waitFor(() => out.at(-1)?.seq === bridge.replicaOf(TOPIC)!.seq, 2000, 'the last delta downstream');
  const after = out.slice(7);
  assert.equal(after[0].type, 'snapshot', 'the new epoch starts downstream with its snapshot');
  assert.ok(after.every((m) => m.epoch === 'B@2'));
  let seq = -1;
  for (const m of after) {
    if (m.type === 'delta') assert.equal(m.prev, seq, 'deltas of the new epoch chain onto its snapshot');
    seq = m.seq;
  }
  assert.deepEqual(bridge.replicaOf(TOPIC)!.replica.book.top(1).bids, [[100, size]]);
  assert.equal(bridge.counters.epochSwitches, 1);
  assert.equal(bridge.counters.gaps, 0, "another numbering's messages are never a gap");
  await bridge.stop();
  await pub.close();
  await sub.close();
  await reading;
});

test(
  'bridge, kraken behind hot-hot arbiters: one epoch at a time downstream, a snapshot of the other when its arbiter dies, the client equals the truth',
  { timeout: 60_000 },
  async (t) => {
    const { sim, arbs, transport, both, bothSynced, beforeStop } = await hotHotArbiters(t, {
      venue: 'kraken',
      simSymbol: 'BTCUSD',
      symbol: 'BTC/USD',
      seed: 11,
      rate: 100,
    });
    const bridges: Bridge[] = [];
    const ac = new AbortController();
    beforeStop(async () => {
      ac.abort();
      for (const b of bridges) await b.stop();
    });
    const down = await freeEndpoints();
    await bothSynced();

    // the bridge listens to both arbiters and publishes (and serves snapshots) on `down`
    const bridge = new Bridge({
      source: transport(both),
      destination: transport(down),
      serveSnapshots: true,
      logger: silentLogger,
    });
    bridges.push(bridge);
    await bridge.start();

    // Everything the destination carries, checked on every message: a delta is of the epoch of the last
    // snapshot published, and chains onto the message before it.
    const wrong: string[] = [];
    const streamEpochs: string[] = [];
    let streamSeq = -1;
    const observer = await transport(down).subscriber('book', [TOPIC]);
    const observed = (async () => {
      for await (const { payload } of observer) {
        const m = decodeBookMessage(payload);
        if (m.type === 'snapshot') {
          if (streamEpochs.at(-1) !== m.epoch) streamEpochs.push(m.epoch!);
          streamSeq = m.seq;
        } else if (m.type === 'delta') {
          if (streamEpochs.length === 0) wrong.push(`delta ${m.seq} of ${m.epoch} before any snapshot`);
          else if (m.epoch !== streamEpochs.at(-1))
            wrong.push(`delta ${m.seq} of ${m.epoch} in ${streamEpochs.at(-1)}`);
          else if (m.prev !== streamSeq) wrong.push(`delta ${m.seq} prev ${m.prev} after ${streamSeq}`);
          streamSeq = m.seq;
        }
      }
    })();

    const {
      epochs: clientEpochs,
      client,
      done,
    } = followEpochs(transport(down), { venue: 'kraken', symbol: 'BTC/USD' }, ac.signal);
    await waitFor(() => client.updates > 100, 10_000, '100 updates at the client');
    assert.deepEqual(wrong, [], 'the destination carries one numbering at a time, gap-free');

    // the arbiter whose numbering the bridge follows dies
    const followed = bridge.replicaOf(TOPIC)!.replica.epoch!;
    assert.equal(clientEpochs.at(-1), followed, 'the client follows the one epoch the bridge forwards');
    const victim = arbs.find((a) => followed.startsWith(`${a!.id}@`))!;
    await victim.stop();
    const at = client.updates;
    await waitFor(() => client.updates > at + 100, 15_000, '100 more updates after losing the followed arbiter');
    sim.pause();
    await sleep(300);
    const truth = sim.truth('BTCUSD', 20, 'kraken');
    const want = JSON.stringify({ bids: truth.bids, asks: truth.asks });
    await waitFor(() => JSON.stringify(client.last) === want, 5000, 'the client to reach the truth');
    assert.equal(JSON.stringify(bridge.replicaOf(TOPIC)!.replica.book.top(20)), want, "the bridge's book");

    assert.deepEqual(wrong, [], 'never a delta of another epoch than the snapshot before it');
    assert.equal(streamEpochs.length, 2, `destination epochs ${streamEpochs.join(', ')}: one switch`);
    assert.equal(streamEpochs[0], followed);
    assert.ok(!streamEpochs[1].startsWith(`${victim.id}@`), 'the new epoch is the surviving arbiter');
    assert.deepEqual(clientEpochs, streamEpochs, 'the client followed the same numberings, each from its snapshot');
    assert.equal(bridge.counters.epochSwitches, 1);
    assert.ok(bridge.counters.otherEpoch > 0, "the other arbiter's messages were heard and not forwarded");
    ac.abort();
    await done;
    await observer.close();
    await observed;
  },
);
