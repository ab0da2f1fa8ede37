/** Collector against the real simulator over real websockets; the bus is the in-process transport. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BinanceSimulator, ExchangeSimulator, type FaultProfile } from '../../src/sim/index.js';
import { underPrefix, venue } from '../../src/venues/index.js';
import { Collector, type CollectorOptions } from '../../src/collector/collector.js';
import { ArbiterService } from '../../src/arbiter/service.js';
import { InprocBus, InprocTransport } from '../../src/transport/inproc.js';
import { decodeCollectorEvent, encode, topics } from '../../src/wire/messages.js';
import { subscribe } from '../../src/client/subscribe.js';
import { sleep, waitFor } from '../helpers.js';

async function setup(t: { after(fn: () => Promise<void>): void }, faults: Record<string, FaultProfile> = {}) {
  const sim = new BinanceSimulator({ port: 0, symbols: ['BTCUSDT'], seed: 11, eventsPerSec: 100, faults });
  await sim.start();
  const bus = new InprocBus();
  const stops: (() => Promise<void>)[] = [];
  t.after(async () => {
    for (const s of stops.reverse()) await s();
    await sim.stop();
  });
  const collector = async (o: Partial<CollectorOptions> & { id: string }, profile = '') => {
    const tr = new InprocTransport(bus);
    const prefix = profile ? `/p/${profile}` : '';
    const c = new Collector({
      symbols: ['BTCUSDT'],
      wsUrl: sim.wsBase + prefix,
      restUrl: sim.restBase + prefix,
      transport: tr,
      reconnectMinMs: 20,
      reconnectMaxMs: 200,
      ...o,
    });
    await c.start();
    stops.push(async () => {
      await c.stop();
      await tr.close();
    });
    return c;
  };
  return { sim, bus, collector, stops };
}

test('a stalled feed (socket open, no data) is detected and the collector reconnects', async (t) => {
  const { sim, collector } = await setup(t, { stall: { stallEveryS: 0.5, stallForS: 5 } });
  const c = await collector({ id: 'a', staleAfterMs: 300 }, 'stall');
  await waitFor(() => c.status().feeds[0].reconnects >= 1, 5000, 'a reconnect after the stall');
  assert.ok(sim.stats().stalls >= 1);
  await waitFor(() => sim.stats().connectionsTotal >= 2, 3000, 'the new connection');
});

test('a dropped connection is re-established with backoff, and data keeps flowing', async (t) => {
  const { collector } = await setup(t, { cut: { disconnectEveryS: 0.4 } });
  const c = await collector({ id: 'a' }, 'cut');
  await sleep(2000);
  const st = c.status().feeds[0];
  assert.ok(st.reconnects >= 2, `reconnects: ${st.reconnects}`);
  const before = st.messages;
  await sleep(500);
  assert.ok(c.status().feeds[0].messages > before, 'messages after reconnects');
});

test('no REST snapshot is taken unless an arbiter asks, and concurrent asks share one request', async (t) => {
  const { sim, bus, collector } = await setup(t);
  const c = await collector({ id: 'a' });
  await sleep(800);
  assert.equal(sim.stats().snapshotsServed, 0, 'no snapshot without a request');
  const tr = new InprocTransport(bus);
  const pub = await tr.publisher('book');
  const raw = await tr.subscriber('ingest', ['raw.binance.BTCUSDT']);
  t.after(() => tr.close());
  const req = encode({
    v: 1,
    type: 'snapshot-request',
    venue: 'binance',
    symbol: 'BTCUSDT',
    collector: 'a',
    reason: 'test',
  });
  pub.send(topics.ctlSnapshot('binance', 'BTCUSDT'), req);
  pub.send(topics.ctlSnapshot('binance', 'BTCUSDT'), req);
  pub.send(
    topics.ctlSnapshot('binance', 'BTCUSDT'),
    encode({
      v: 1,
      type: 'snapshot-request',
      venue: 'binance',
      symbol: 'BTCUSDT',
      collector: 'someone-else',
      reason: 'test',
    }),
  );
  for await (const m of raw) {
    const ev = decodeCollectorEvent(m.payload, true);
    if (ev.type !== 'snapshot') continue;
    assert.equal(ev.collector, 'a');
    assert.ok(ev.raw && ev.raw.includes('"lastUpdateId"'), 'the REST body travels with it for recording');
    break;
  }
  await sleep(300);
  assert.equal(sim.stats().snapshotsServed, 1);
  assert.equal(c.counters.snapshotsPublished, 1);
});

/** Sends the arbiter's snapshot request for binance BTCUSDT to collector a: a first one, or its fast retry (repeat). */
async function snapshotAsker(t: { after(fn: () => Promise<void> | void): void }, bus: InprocBus) {
  const tr = new InprocTransport(bus);
  const pub = await tr.publisher('book');
  t.after(() => tr.close());
  return (repeat: boolean) =>
    pub.send(
      topics.ctlSnapshot('binance', 'BTCUSDT'),
      encode({
        v: 1,
        type: 'snapshot-request',
        venue: 'binance',
        symbol: 'BTCUSDT',
        collector: 'a',
        reason: repeat ? 'retry' : 'initial',
        ...(repeat ? { repeat: true } : {}),
      }),
    );
}

test("the arbiter's fast retry (repeat) of a request already answered is not fetched again; a lone one is", async (t) => {
  // Over Kafka the first request is often answered before its fast retry arrives: without `repeat`
  // the collector fetched the book a second time (190 of 2,000 books in a cold start, issue 13).
  const { sim, bus, collector } = await setup(t);
  const c = await collector({ id: 'a' });
  const ask = await snapshotAsker(t, bus);
  await sleep(300); // the collector's control subscription is up
  ask(false);
  await waitFor(() => c.counters.snapshotsPublished === 1, 5000, 'the first snapshot');
  ask(true);
  await waitFor(() => c.counters.repeatsDropped === 1, 5000, 'the repeat dropped');
  assert.equal(sim.stats().snapshotsServed, 1, 'fetched once');
  // a new episode's request (no repeat) is fetched, however soon
  ask(false);
  await waitFor(() => c.counters.snapshotsPublished === 2, 5000, 'a new request fetched');
  assert.equal(sim.stats().snapshotsServed, 2);
});

test('a repeat whose first request never arrived (a subscription not up yet) is fetched', async (t) => {
  const { sim, bus, collector } = await setup(t);
  const c = await collector({ id: 'a' });
  const ask = await snapshotAsker(t, bus);
  await sleep(300);
  ask(true);
  await waitFor(() => c.counters.snapshotsPublished === 1, 5000, 'the snapshot');
  assert.equal(c.counters.repeatsDropped, 0);
  assert.equal(sim.stats().snapshotsServed, 1);
});

test('scheduled make-before-break reconnects lose nothing: the consolidated stream stays contiguous', async (t) => {
  const { bus, collector, stops } = await setup(t);
  const arbT = new InprocTransport(bus);
  const arb = new ArbiterService({ transport: arbT, symbols: ['BTCUSDT'] });
  await arb.start();
  stops.push(async () => {
    await arb.stop();
    await arbT.close();
  });
  // a single collector rolling its connection every ~1 s: any gap would force a resync
  const c = await collector({ id: 'a', reconnectEveryS: 1 });
  const ac = new AbortController();
  const clientT = new InprocTransport(bus);
  let resets = 0;
  let prev = -1;
  let breaks = 0;
  let deltas = 0;
  const done = (async () => {
    for await (const u of subscribe({ transport: clientT, symbol: 'BTCUSDT', signal: ac.signal })) {
      if (u.message.type === 'snapshot') resets++;
      else if (u.message.type === 'delta') {
        if (prev >= 0 && u.message.prev !== prev) breaks++;
        deltas++;
      }
      prev = u.seq;
    }
  })();
  await sleep(3500);
  ac.abort();
  await done;
  await clientT.close();
  assert.ok(c.status().feeds[0].reconnects >= 2, `rolled ${c.status().feeds[0].reconnects} times`);
  assert.ok(deltas > 200, `deltas: ${deltas}`);
  assert.equal(breaks, 0);
  assert.equal(resets, 1, 'no resync across the rolls');
});

test('raw streams (/ws/...) work like combined streams, for several symbols on one connection', async (t) => {
  const sim = new BinanceSimulator({ port: 0, symbols: ['BTCUSDT', 'ETHUSDT'], seed: 2, eventsPerSec: 100 });
  await sim.start();
  const bus = new InprocBus();
  const tr = new InprocTransport(bus);
  const sub = await tr.subscriber('ingest', ['raw.binance.']);
  const c = new Collector({
    id: 'r',
    symbols: ['BTCUSDT', 'ETHUSDT'],
    wsUrl: sim.wsBase,
    restUrl: sim.restBase,
    streamMode: 'raw',
    transport: new InprocTransport(bus),
  });
  await c.start();
  t.after(async () => {
    await c.stop();
    await tr.close();
    await sim.stop();
  });
  const seen = new Map<string, number>();
  for await (const m of sub) {
    const ev = decodeCollectorEvent(m.payload, true);
    assert.equal(ev.type, 'delta');
    assert.ok(ev.raw?.startsWith('{"e":"depthUpdate"'), 'a raw stream frame has no combined envelope');
    seen.set(ev.symbol, (seen.get(ev.symbol) ?? 0) + 1);
    if ((seen.get('BTCUSDT') ?? 0) > 20 && (seen.get('ETHUSDT') ?? 0) > 20) break;
  }
  assert.equal(c.counters.parseErrors, 0);
});

test('books beyond one connection go on more connections (maxBooksPerConnection); each carries its own', async (t) => {
  const sim = new ExchangeSimulator({
    venues: ['okx'],
    port: 0,
    symbols: ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'],
    seed: 3,
    eventsPerSec: 50,
  });
  await sim.start();
  const bus = new InprocBus();
  const tr = new InprocTransport(bus);
  const seen = new Set<string>();
  const sub = await new InprocTransport(bus).subscriber('ingest', ['raw.']);
  void (async () => {
    for await (const m of sub) seen.add(m.topic);
  })();
  const urls = underPrefix(venue('okx'), sim.venueWsBase('okx'), sim.venueRestBase('okx'));
  const c = new Collector({
    id: 'a',
    venue: 'okx',
    symbols: ['BTC/USDT', 'ETH-USDT', 'SOL/USDT'],
    ...urls,
    transport: tr,
    maxBooksPerConnection: 2,
  });
  t.after(async () => {
    await c.stop();
    await sub.close();
    await tr.close();
    await sim.stop();
  });
  await c.start();
  await waitFor(() => seen.size === 3, 5000, 'events of all three books');
  assert.deepEqual([...seen].sort(), ['raw.okx.BTC-USDT', 'raw.okx.ETH-USDT', 'raw.okx.SOL-USDT']);
  assert.equal(sim.stats().connections, 2, 'two connections: 2 books + 1 book');
  assert.ok(c.status().feeds.every((f) => f.connected));
});

test('a websocket frame above maxFrameBytes is refused: the connection closes instead of buffering it', async (t) => {
  // OKX's first message is a 400-level snapshot (~20 KB): above a 4 KB cap it must never be taken in
  const sim = new ExchangeSimulator({ venues: ['okx'], port: 0, symbols: ['BTCUSDT'], seed: 3, eventsPerSec: 50 });
  await sim.start();
  const bus = new InprocBus();
  const tr = new InprocTransport(bus);
  const urls = underPrefix(venue('okx'), sim.venueWsBase('okx'), sim.venueRestBase('okx'));
  const c = new Collector({
    id: 'a',
    venue: 'okx',
    symbols: ['BTC-USDT'],
    ...urls,
    transport: tr,
    maxFrameBytes: 4096,
    reconnectMinMs: 20,
    reconnectMaxMs: 100,
  });
  t.after(async () => {
    await c.stop();
    await tr.close();
    await sim.stop();
  });
  await c.start();
  await waitFor(() => c.status().feeds[0].reconnects >= 2, 5000, 'the connection closed on the big frame, twice');
  assert.equal(c.counters.snapshotsPublished, 0, 'no oversized snapshot got through');
});

test('replica venue: a collector restarted under the same id numbers above its last run, and the arbiter takes its book at once', async (t) => {
  const sim = new ExchangeSimulator({ venues: ['kraken'], port: 0, symbols: ['BTC/USD'], seed: 3, eventsPerSec: 100 });
  await sim.start();
  const bus = new InprocBus();
  const arbT = new InprocTransport(bus);
  const arb = new ArbiterService({ transport: arbT, venue: 'kraken', symbols: ['BTC/USD'] });
  await arb.start();
  const tap = new InprocTransport(bus);
  const raw = await tap.subscriber('ingest', [topics.raw('kraken', 'BTC/USD')]);
  const urls = underPrefix(venue('kraken'), sim.venueWsBase('kraken'), sim.venueRestBase('kraken'));
  const runs: { c: Collector; tr: InprocTransport }[] = [];
  t.after(async () => {
    for (const r of runs) {
      await r.c.stop();
      await r.tr.close();
    }
    await arb.stop();
    await arbT.close();
    await tap.close();
    await sim.stop();
  });
  const run = async () => {
    const tr = new InprocTransport(bus);
    const c = new Collector({ id: 'a', venue: 'kraken', symbols: ['BTC/USD'], ...urls, transport: tr });
    runs.push({ c, tr });
    await c.start();
    return c;
  };
  // what the collector sent, in order: its snapshots' and deltas' numbers
  const sent: { type: string; n: number }[] = [];
  void (async () => {
    for await (const m of raw) {
      const ev = decodeCollectorEvent(m.payload, true);
      sent.push({ type: ev.type, n: ev.type === 'snapshot' ? ev.seq : ev.last });
    }
  })();
  const first = await run();
  await waitFor(() => sent.length > 50, 5000, 'the first run to send');
  await first.stop(); // as good as a kill -9 to the arbiter: nothing tells it the feed went
  const lastOfFirst = sent.at(-1)!.n;
  const at = sent.length;
  await run();
  await waitFor(() => sent.length > at, 5000, 'the second run to send');
  assert.equal(sent[at].type, 'snapshot');
  assert.ok(
    sent[at].n > lastOfFirst,
    `the second run's snapshot ${sent[at].n} is above the first's last ${lastOfFirst}`,
  );
  // the arbiter took it as the feed's new book (not as a repeat of an old snapshot)
  await waitFor(
    () => arb.bookOf('kraken', 'BTC/USD')?.feedStats().get('a')?.resyncs === 2,
    2000,
    "the restarted feed's snapshot adopted",
  );
});
