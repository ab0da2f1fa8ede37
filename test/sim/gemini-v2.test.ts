/* eslint-disable @typescript-eslint/no-explicit-any -- tests inspect arbitrary wire JSON */
/**
 * gemini-v2: market data v2 `l2` (/v2/marketdata): the first l2_updates is the full book (marked by
 * "trades"), updates rebuild it to the truth, every frame parses with the gemini-v2 adapter, unsubscribe /
 * resubscribe gives a fresh snapshot, heartbeats, errors for bad requests, regrouping and drops, and
 * `bookwire sim --venue gemini-v2`.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { Level } from '../../src/core/types.js';
import { parseGeminiV2Message } from '../../src/venues/gemini-v2.js';
import { freePort, startCli } from '../helpers.js';
import { LocalBook, Probe, sleep, startSim, waitFor } from './helpers.js';

const V = 'gemini-v2' as const;

/**
 * A client of one connection doing what Gemini's docs say: the first l2_updates of the symbol (it carries
 * "trades") replaces the book, every later one applies (quantity "0" deletes). Every book frame is also
 * read by the adapter, which must tell the snapshot from the updates alike.
 */
class GeminiClient {
  book = new LocalBook();
  snapshots = 0;
  updates = 0;
  heartbeats = 0;
  /** Frames of this symbol's book the adapter refused or misclassified. */
  adapterDisagreements = 0;
  readonly msgs: any[] = [];

  constructor(
    readonly p: Probe,
    readonly symbol: string,
    /** Frames already consumed (a client starting mid-connection). */
    private seen = 0,
  ) {}

  poll(): void {
    for (; this.seen < this.p.frames.length; this.seen++) {
      const text = this.p.frames[this.seen].text;
      let o: any;
      try {
        o = JSON.parse(text);
      } catch {
        continue; // a malformed frame (fault)
      }
      if (o.type === 'heartbeat') this.heartbeats++;
      if (o.type !== 'l2_updates' || o.symbol !== this.symbol) continue;
      this.msgs.push(o);
      const bids = o.changes.filter((c: string[]) => c[0] === 'buy').map((c: string[]) => [c[1], c[2]]);
      const asks = o.changes.filter((c: string[]) => c[0] === 'sell').map((c: string[]) => [c[1], c[2]]);
      const snapshot = Array.isArray(o.trades);
      const r = parseGeminiV2Message(text, 'c', 0);
      if (r.error !== undefined || (snapshot ? r.snapshot === undefined : r.delta === undefined))
        this.adapterDisagreements++;
      if (snapshot) {
        this.book.reset(bids, asks);
        this.snapshots++;
      } else {
        this.book.apply(bids, asks);
        this.updates++;
      }
    }
  }

  levels(): { bids: Level[]; asks: Level[] } {
    this.poll();
    return this.book.levels();
  }
}

function subscribeFrame(type: 'subscribe' | 'unsubscribe', symbols: string[]) {
  return { type, subscriptions: [{ name: 'l2', symbols }] };
}

async function subscribe(t: TestContext, url: string, symbol: string): Promise<{ p: Probe; client: GeminiClient }> {
  const p = await Probe.open(t, url);
  p.send(subscribeFrame('subscribe', [symbol]));
  return { p, client: new GeminiClient(p, symbol) };
}

const truth = (sim: Awaited<ReturnType<typeof startSim>>, symbol: string) => {
  const tr = sim.truth(symbol, Infinity, V);
  return { bids: tr.bids, asks: tr.asks };
};

/** Wait until the client's book is the truth (every message sent has arrived), or fail naming the difference. */
async function settles(client: GeminiClient, want: () => { bids: Level[]; asks: Level[] }): Promise<void> {
  try {
    await waitFor(
      () => JSON.stringify(client.levels()) === JSON.stringify(want()),
      3000,
      'the book to equal the truth',
    );
  } catch {
    assert.deepEqual(client.levels(), want());
  }
}

test('gemini-v2: the first l2_updates is the full book, updates rebuild the truth, the adapter agrees on every frame', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSD', 'ETH/USD'], venues: [V], eventsPerSec: 200, levels: 300 });
  assert.deepEqual(sim.booksOf(V), ['BTCUSD', 'ETHUSD']);
  const url = `${sim.venueWsBase(V)}/v2/marketdata`;
  const a = await subscribe(t, url, 'BTCUSD');
  const b = await subscribe(t, `${url}/`, 'BTCUSD');
  const e = await subscribe(t, url, 'ETHUSD');
  await waitFor(
    () => {
      a.client.poll();
      b.client.poll();
      return a.client.updates >= 100 && b.client.updates >= 100;
    },
    8000,
    'updates',
  );
  sim.pause();
  for (const c of [a.client, b.client, e.client]) {
    await settles(c, () => truth(sim, c.symbol));
    assert.equal(c.snapshots, 1);
    assert.equal(c.adapterDisagreements, 0);
    const snap = c.msgs[0];
    assert.deepEqual(Object.keys(snap), ['type', 'symbol', 'changes', 'trades', 'auction_events']);
    // the snapshot: bids best first, then asks best first, every level of the book
    const bids = snap.changes.filter((x: string[]) => x[0] === 'buy').map((x: string[]) => Number(x[1]));
    const asks = snap.changes.filter((x: string[]) => x[0] === 'sell').map((x: string[]) => Number(x[1]));
    assert.ok(bids.length >= 100 && asks.length >= 100, `${bids.length} bids, ${asks.length} asks`);
    assert.deepEqual(
      bids,
      [...bids].sort((x, y) => y - x),
    );
    assert.deepEqual(
      asks,
      [...asks].sort((x, y) => x - y),
    );
    assert.ok(snap.changes.every((x: string[]) => x[0] === 'buy' || snap.changes.indexOf(x) >= bids.length));
    for (const m of c.msgs.slice(1)) {
      assert.deepEqual(Object.keys(m), ['type', 'symbol', 'changes']);
      assert.ok(m.changes.length > 0);
      for (const [side, p, q] of m.changes) {
        assert.ok(side === 'buy' || side === 'sell');
        assert.match(p, /^\d+(\.\d*[1-9])?$/, 'shortest plain decimal');
        assert.match(q, /^\d+(\.\d*[1-9])?$/);
      }
    }
  }
  assert.ok(
    a.client.msgs.some((m) => m.changes.some((x: string[]) => x[2] === '0')),
    'some updates delete a level with "0"',
  );
  // no ack: the first frame of a connection is the snapshot
  assert.ok(JSON.parse(a.p.frames[0].text).trades !== undefined);
});

test('gemini-v2: unsubscribe silences, resubscribe sends a fresh snapshot; heartbeats for a quiet book', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSD'], venues: [V], eventsPerSec: 100 });
  const url = `${sim.venueWsBase(V)}/v2/marketdata`;
  const { p, client } = await subscribe(t, url, 'BTCUSD');
  await waitFor(
    () => {
      client.poll();
      return client.updates >= 10;
    },
    5000,
    'updates',
  );
  p.send(subscribeFrame('subscribe', ['BTCUSD']));
  const dup = await p.waitJson((o) => o.result === 'error');
  assert.match(dup.message, /Already subscribed/);

  p.send(subscribeFrame('unsubscribe', ['BTCUSD']));
  await sleep(50);
  const n = p.frames.length;
  await sleep(200);
  assert.equal(p.frames.length, n, 'no data after unsubscribe');

  // resubscribe (the adapter's resync): a fresh snapshot, then updates that rebuild the truth
  const fresh = new GeminiClient(p, 'BTCUSD', p.frames.length);
  p.send(subscribeFrame('subscribe', ['BTCUSD']));
  await waitFor(
    () => {
      fresh.poll();
      return fresh.snapshots === 1 && fresh.updates >= 10;
    },
    5000,
    'a fresh snapshot and updates',
  );
  assert.ok(Array.isArray(fresh.msgs[0].trades));
  sim.pause();
  await settles(fresh, () => truth(sim, 'BTCUSD'));
  assert.equal(fresh.adapterDisagreements, 0);
  // a book that does not change: a heartbeat after 5 s
  await waitFor(() => p.json().some((o) => o.type === 'heartbeat'), 8000, 'a heartbeat');
  const hb = p.json().find((o) => o.type === 'heartbeat');
  assert.deepEqual(Object.keys(hb), ['type', 'timestamp']);
  assert.ok(Number.isInteger(hb.timestamp) && hb.timestamp > 1.6e12);
  assert.ok(parseGeminiV2Message(JSON.stringify(hb), 'c', 0).ignored);
});

test('gemini-v2: bad requests get error replies, not a crash; only /v2/marketdata upgrades', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSD'], venues: [V], eventsPerSec: 20 });
  const url = `${sim.venueWsBase(V)}/v2/marketdata`;
  const p = await Probe.open(t, url);
  const errors = () => p.json().filter((o) => o.result === 'error');
  const bad: unknown[] = [
    '{nope',
    '[1,2]',
    'null',
    { type: 'nope' },
    { type: 'subscribe' },
    { type: 'subscribe', subscriptions: [] },
    { type: 'subscribe', subscriptions: 'l2' },
    { type: 'subscribe', subscriptions: [null] },
    { type: 'subscribe', subscriptions: [{ name: 'candles_1m', symbols: ['BTCUSD'] }] },
    { type: 'subscribe', subscriptions: [{ name: 'l2' }] },
    { type: 'subscribe', subscriptions: [{ name: 'l2', symbols: [] }] },
    { type: 'subscribe', subscriptions: [{ name: 'l2', symbols: [1] }] },
    { type: 'subscribe', subscriptions: [{ name: 'l2', symbols: Array(1000).fill('BTCUSD') }] },
    { type: 'subscribe', subscriptions: [{ name: 'l2', symbols: ['NOPEUSD'] }] },
    { type: 'subscribe', subscriptions: [{ name: 'l2', symbols: ['BTC/USD'] }] },
    { type: 'unsubscribe', subscriptions: [{ name: 'l2', symbols: ['BTCUSD'] }] },
  ];
  for (const req of bad) p.send(req);
  await waitFor(() => errors().length === bad.length, 3000, `${bad.length} error replies`);
  for (const e of errors()) {
    assert.deepEqual(Object.keys(e), ['result', 'reason', 'message']);
    assert.ok(parseGeminiV2Message(JSON.stringify(e), 'c', 0).error, 'the adapter reads it as an error');
  }
  assert.equal(p.frames.filter((f) => f.text.includes('l2_updates')).length, 0, 'no book data after failures');
  // still serving
  p.send(subscribeFrame('subscribe', ['BTCUSD']));
  await p.waitJson((o) => o.type === 'l2_updates' && Array.isArray(o.trades));
  assert.equal(p.closed, false);
  await assert.rejects(Probe.open(t, `${sim.venueWsBase(V)}/v1/marketdata/BTCUSD`), /404/);
  assert.equal((await fetch(`${sim.venueRestBase(V)}/v1/book/btcusd`)).status, 404);
  const tr = (await (await fetch(`${sim.venueRestBase(V)}/sim/truth?symbol=BTCUSD&depth=3`)).json()) as any;
  assert.equal(tr.bids.length, 3);
});

test('gemini-v2 faults: regrouped messages still rebuild the truth; drops leave a wrong book, a clean connection stays exact', async (t) => {
  const sim = await startSim(t, {
    symbols: ['BTCUSD'],
    venues: [V],
    eventsPerSec: 200,
    faults: { grouped: { regroupRate: 0.5 }, lossy: { dropRate: 0.3 } },
  });
  const base = sim.venueWsBase(V);
  const grouped = await subscribe(t, `${base}/p/grouped/v2/marketdata`, 'BTCUSD');
  const lossy = await subscribe(t, `${base}/p/lossy/v2/marketdata`, 'BTCUSD');
  const clean = await subscribe(t, `${base}/v2/marketdata`, 'BTCUSD');
  await waitFor(
    () => {
      for (const c of [grouped, lossy, clean]) c.client.poll();
      return [grouped, lossy, clean].every((c) => c.client.updates >= 100);
    },
    8000,
    'updates',
  );
  sim.pause();
  await settles(clean.client, () => truth(sim, 'BTCUSD'));
  await settles(grouped.client, () => truth(sim, 'BTCUSD'));
  assert.ok(sim.stats().regrouped > 0, 'some messages were regrouped');
  assert.equal(lossy.client.snapshots, 1, 'the snapshot is never dropped');
  assert.notDeepEqual(lossy.client.levels(), truth(sim, 'BTCUSD'), 'without ids a drop goes unseen, the book is wrong');
  assert.ok(sim.stats().dropped > 0);
});

test('bookwire sim --venue gemini-v2 serves BTCUSD on /gemini-v2/v2/marketdata', async (t) => {
  const port = await freePort();
  const cli = startCli([
    'sim',
    '--venue',
    V,
    '--symbols',
    'BTC/USD,ETHUSD',
    '--port',
    String(port),
    '--rate',
    '50',
    '--log-level',
    'warn',
  ]);
  t.after(() => {
    if (cli.proc.exitCode === null) cli.proc.kill('SIGKILL');
  });
  await waitFor(() => /venues: /.test(cli.output()), 10_000, 'the simulator to listen');
  assert.match(cli.output(), /\/gemini-v2 \(BTCUSD, ETHUSD\)/);
  const { client } = await subscribe(t, `ws://127.0.0.1:${port}/gemini-v2/v2/marketdata`, 'ETHUSD');
  await waitFor(
    () => {
      client.poll();
      return client.snapshots === 1 && client.updates >= 5;
    },
    10_000,
    'a snapshot and updates',
  );
  assert.equal(client.adapterDisagreements, 0);
  cli.proc.kill('SIGTERM');
  assert.equal(await cli.exited, 0);
});
