/**
 * An authenticated-but-hostile (or buggy) peer on the ingest bus (issue 12, "Even an authenticated peer is
 * bounded"): a rogue real ZeroMQ PUB connected to the arbiter's ingest forges collector messages. Each
 * finding is a case here; every one ends with a client's book equal to the simulator's truth.
 * Real simulator, real websockets, real ZeroMQ.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { ArbiterService } from '../../src/arbiter/service.js';
import { ZmqTransport } from '../../src/transport/zeromq.js';
import type { BusPublisher } from '../../src/transport/types.js';
import type { FaultProfile } from '../../src/sim/index.js';
import { clientReachesTruth, simAndArbiter } from './harness.js';
import { sleep, waitFor } from '../helpers.js';

interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

async function setup(
  t: { after(fn: () => Promise<void> | void): void },
  faults: Record<string, FaultProfile> = {},
  arbiterOpts: Partial<ConstructorParameters<typeof ArbiterService>[0]> = {},
) {
  const logs: LogLine[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as LogLine);
        cb();
      },
    }),
  );
  const { sim, ep, arbiter, collector, mk } = await simAndArbiter(t, {
    seed: 5,
    faults,
    arbiter: { statsIntervalMs: 200, logger, ...arbiterOpts },
  });
  const rogue = async (): Promise<BusPublisher> => {
    const pub = await mk().publisher('ingest');
    await sleep(300); // ZeroMQ slow joiner: let the rogue PUB connect
    return pub;
  };
  const core = () => arbiter.bookOf('binance', 'BTCUSDT')!;
  return { sim, ep, arbiter, collector, rogue, core, logs, mk };
}

type Setup = Awaited<ReturnType<typeof setup>>;

const rawDelta = (o: { first: number; last: number; collector: string; bids?: number[][]; asks?: number[][] }) =>
  JSON.stringify({
    v: 1,
    type: 'delta',
    venue: 'binance',
    symbol: 'BTCUSDT',
    first: o.first,
    last: o.last,
    exchTime: Date.now(),
    recvTime: Date.now() * 1000,
    collector: o.collector,
    bids: o.bids ?? [],
    asks: o.asks ?? [],
  });

async function synced(p: Setup): Promise<void> {
  await waitFor(() => p.core()?.state === 'synced', 5000, 'the book to sync');
}

test('a forged delta claiming collector a with last = seq + 10^12 is refused, logged once, and the book keeps flowing', async (t) => {
  const p = await setup(t);
  await p.collector('a');
  await p.collector('b');
  const rogue = await p.rogue();
  await synced(p);
  await sleep(300); // both feeds delivering
  for (let i = 0; i < 5; i++) {
    const seq = p.core().seq;
    rogue.send(
      'raw.binance.BTCUSDT',
      rawDelta({ first: seq + 1, last: seq + 1e12, collector: 'a', bids: [[99999, 5]] }),
    );
  }
  await rogue.flush();
  await waitFor(() => p.core().counters.implausible >= 5, 3000, 'the forged deltas to be refused');
  const seqAfter = p.core().seq;
  assert.ok(seqAfter < 1e12, `seq ${seqAfter}`);
  await waitFor(() => p.core().seq > seqAfter + 10, 3000, 'real events to keep applying');
  assert.equal(p.core().state, 'synced');
  await waitFor(
    () => (p.arbiter.latestStats()[0]?.feeds.find((f) => f.collector === 'a')?.errors ?? 0) >= 5,
    3000,
    'stats',
  );
  const warned = p.logs.filter((l) => l.kind === 'implausible' && l.collector === 'a');
  assert.equal(warned.length, 1, 'logged once per episode, not per message');
  await clientReachesTruth(p, 500);
});

test('a forged crossed delta is refused while other feeds deliver (no resync); forged raw snapshots are never adopted nor broadcast', async (t) => {
  // the honest collectors' snapshots come late, so the book is unsynced while the rogue's arrive
  const p = await setup(t, { slow: { snapshotDelayMs: 1500 } });
  const sub = await p.mk().subscriber('book', ['book.']);
  const seen: string[] = [];
  const reading = (async () => {
    for await (const m of sub) seen.push(m.payload.toString());
  })();
  await p.collector('a', 'slow');
  await p.collector('b', 'slow');
  const rogue = await p.rogue();
  await waitFor(() => p.core() !== undefined && p.core().buffered > 20, 5000, 'both feeds to deliver');
  const truthSeq = p.sim.truth('BTCUSDT', 1).lastUpdateId;
  const fake = (seq: number) =>
    JSON.stringify({
      v: 1,
      type: 'snapshot',
      venue: 'binance',
      symbol: 'BTCUSDT',
      seq,
      recvTime: 1,
      collector: 'rogue',
      bids: [[12345, 1]],
      asks: [[12346, 1]],
    });
  rogue.send('raw.binance.BTCUSDT', fake(truthSeq + 1e12)); // past every feed by far: refused
  rogue.send('raw.binance.BTCUSDT', fake(truthSeq + 1e6)); // no other feed has reached it: never adopted
  await rogue.flush();
  await synced(p);
  assert.ok(
    p.core().counters.implausible >= 1 && p.core().counters.snapshotsUnconfirmed >= 1,
    JSON.stringify(p.core().counters),
  );
  assert.ok(p.core().seq < truthSeq + 1e5, 'the book is on the real stream');

  // crossed: the sim pauses so the rogue's copy of the next ids arrives first
  await sleep(300);
  p.sim.pause();
  await sleep(200);
  const seq = p.core().seq;
  rogue.send('raw.binance.BTCUSDT', rawDelta({ first: seq + 1, last: seq + 1, collector: 'a', bids: [[1e6, 1]] }));
  await rogue.flush();
  await waitFor(() => p.core().counters.crossedRefused === 1, 3000, 'the crossing copy to be refused');
  assert.equal(p.core().counters.resyncs, 0, 'no resync');
  assert.equal(p.core().state, 'synced');
  p.sim.resume();
  await clientReachesTruth(p, 500);
  await sub.close();
  await reading;
  assert.ok(!seen.some((m) => m.includes('12345') || m.includes('1000000,')), 'no forged level ever reached a client');
});

test('1,000 phantom collector ids in status messages get no snapshot request; the book syncs at once', async (t) => {
  const p = await setup(t);
  const rogue = await p.rogue();
  for (let i = 0; i < 1000; i++)
    rogue.send(
      `status.ghost${i}`,
      JSON.stringify({
        v: 1,
        type: 'collector-status',
        collector: `ghost${i}`,
        venue: 'binance',
        time: Date.now(),
        feeds: [{ symbol: 'BTCUSDT', connected: true, messages: 1, reconnects: 0, gaps: 0, snapshots: 0, idleMs: 0 }],
      }),
    );
  await rogue.flush();
  await sleep(200);
  const t0 = Date.now();
  await p.collector('a');
  await synced(p);
  const took = Date.now() - t0;
  assert.ok(took < 3000, `synced after ${took} ms`);
  const asked = p.logs.filter((l) => l.msg === 'requesting snapshot').map((l) => l.collector);
  assert.ok(
    asked.length > 0 && asked.every((c) => c === 'a'),
    `snapshot requests went to ${[...new Set(asked)].join(',')}`,
  );
  await clientReachesTruth(p, 300);
});

test('a forged status marking a live collector disconnected does not override its data', async (t) => {
  const p = await setup(t);
  await p.collector('a');
  const rogue = await p.rogue();
  await synced(p);
  const forged = JSON.stringify({ v: 1, type: 'collector-status', collector: 'a', venue: 'binance', time: Date.now(), feeds: [{ symbol: 'BTCUSDT', connected: false, messages: 0, reconnects: 0, gaps: 0, snapshots: 0, idleMs: 99999 }] }); // prettier-ignore
  // the rogue repeats it faster than the collector's own status; stats are sampled meanwhile
  const shown: boolean[] = [];
  for (let i = 0; i < 40; i++) {
    rogue.send('status.a', forged);
    await sleep(25);
    if (i % 4 === 3) shown.push(p.arbiter.latestStats()[0]?.feeds.find((f) => f.collector === 'a')?.connected ?? false);
  }
  assert.ok(shown.length === 10 && shown.every(Boolean), `connected as shown: ${shown.join(',')}`);
});

test('10,000 forged collector ids: the feed maps, the stats message and the metrics stay bounded', async (t) => {
  const p = await setup(t, {}, { maxFeeds: 16 });
  await p.collector('a');
  const rogue = await p.rogue();
  await synced(p);
  for (let i = 0; i < 10000; i++) {
    rogue.send('raw.binance.BTCUSDT', rawDelta({ first: 1, last: 1, collector: `forged${i}` })); // a stale copy each
    if (i % 1000 === 999) await sleep(20); // stay under the ZeroMQ high-water mark
  }
  await rogue.flush();
  await waitFor(
    () => p.core().counters.feedsRefused + p.core().counters.feedsEvicted > 5000,
    5000,
    'the ids to arrive',
  );
  await sleep(400);
  const stats = p.arbiter.latestStats()[0];
  const bytes = JSON.stringify(stats).length;
  assert.ok(stats.feeds.length <= 16, `feeds in stats: ${stats.feeds.length}`);
  assert.ok(bytes < 16 * 400, `stats message ${bytes} bytes`);
  assert.ok(
    stats.feeds.some((f) => f.collector === 'a'),
    'the delivering collector is kept',
  );
  await clientReachesTruth(p, 300);
});

test('a forged jump inside the plausibility window is undone by a resync once the real feeds stay below it', async (t) => {
  const p = await setup(t, {}, { leadTimeoutMs: 1000 });
  await p.collector('a');
  await p.collector('b');
  const rogue = await p.rogue();
  await synced(p);
  await sleep(300);
  const seq = p.core().seq;
  rogue.send('raw.binance.BTCUSDT', rawDelta({ first: seq + 1, last: seq + 5000, collector: 'a', bids: [[1.5, 5]] })); // deep: does not cross
  await rogue.flush();
  await waitFor(() => p.core().seq >= seq + 5000, 2000, 'the forged jump to apply (first arrival wins)');
  await waitFor(() => p.core().counters.resyncs >= 1, 5000, 'the forged position to be undone');
  await synced(p);
  assert.ok(
    p.logs.some((l) => l.kind === 'implausible' && l.collector === 'a'),
    'logged against a',
  );
  await clientReachesTruth(p, 500);
});

test('a message whose collector is not the peer that sent it is refused (the transport names the peer: its CURVE key, or its announced id)', async (t) => {
  const p = await setup(t);
  await p.collector('a');
  await synced(p);
  const tr = new ZmqTransport(p.ep, { identity: 'mallory' });
  t.after(() => tr.close());
  const pub = await tr.publisher('ingest');
  await sleep(300);
  const seq = p.core().seq;
  for (let i = 0; i < 5; i++)
    pub.send('raw.binance.BTCUSDT', rawDelta({ first: seq + 1, last: seq + 2, collector: 'a', bids: [[99999, 5]] }));
  pub.send(
    'status.a',
    JSON.stringify({ v: 1, type: 'collector-status', collector: 'a', venue: 'binance', time: 1, feeds: [] }),
  );
  await pub.flush();
  await waitFor(() => p.arbiter.counters.peerMismatch >= 6, 3000, 'the forged messages to be refused');
  const warned = p.logs.filter((l) => l.peer === 'mallory');
  assert.equal(warned.length, 1, 'logged once per peer');
  assert.equal(p.core().book.bestBid()?.[0] === 99999, false, 'the forged level never reached the book');
  await clientReachesTruth(p, 300);
});
