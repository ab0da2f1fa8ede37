/* eslint-disable @typescript-eslint/no-explicit-any -- tests inspect arbitrary wire JSON */
/**
 * kraken: WebSocket v2 `book` (/v2): acks, snapshot + updates per depth rebuilt by Kraken's rules (qty 0
 * deletes, truncate to the depth after each message) with every checksum verified, book = truth, no delete
 * for a pushed-out level, unsubscribe / resubscribe, ping, heartbeat, errors, faults, `bookwire sim --venue kraken`.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { Level } from '../../src/core/types.js';
import { krakenChecksum } from '../../src/venues/kraken-checksum.js';
import { venue } from '../../src/venues/index.js';
import { formatFixed, tickDecimals } from '../../src/sim/protocols/kraken.js';
import { freePort, startCli } from '../helpers.js';
import { LocalBook, Probe, sleep, startSim, waitFor } from './helpers.js';

const V = 'kraken' as const;

/** One side's levels as the text spells them: [price, qty] strings, in message order. */
function sideText(text: string, side: 'bids' | 'asks'): [string, string][] {
  const m = new RegExp(`"${side}":\\[(.*?)\\]`).exec(text);
  if (m === null) throw new Error(`no ${side} in ${text.slice(0, 200)}`);
  return [...m[1].matchAll(/\{"price":([0-9.]+),"qty":([0-9.]+)\}/g)].map((x) => [x[1], x[2]]);
}

/**
 * A client of one connection doing what Kraken's docs say: the snapshot, then updates (qty 0 deletes),
 * truncating each side to the subscribed depth after every message, and checking every message's checksum
 * over its own book. Levels keyed by the price text, as sent.
 */
class KrakenClient {
  book = new LocalBook();
  snapshots = 0;
  updates = 0;
  verified = 0;
  mismatches = 0;
  /** Messages after which truncation removed a level (a level pushed out, no delete sent). */
  truncations = 0;
  /** Every message: its data[0] parsed, and its levels' spellings. */
  readonly msgs: { d: any; type: string; bids: [string, string][]; asks: [string, string][] }[] = [];
  heartbeats = 0;

  constructor(
    readonly p: Probe,
    readonly symbol: string,
    readonly depth: number,
    /** Frames already consumed (a client starting mid-connection). */
    private seen = 0,
  ) {}

  /** Consume the frames received so far. */
  poll(): void {
    for (; this.seen < this.p.frames.length; this.seen++) {
      const text = this.p.frames[this.seen].text;
      let o: any;
      try {
        o = JSON.parse(text);
      } catch {
        continue; // a malformed frame (fault)
      }
      if (o.channel === 'heartbeat') this.heartbeats++;
      if (o.channel !== 'book' || o.data?.[0]?.symbol !== this.symbol) continue;
      const d = o.data[0];
      const bids = sideText(text, 'bids');
      const asks = sideText(text, 'asks');
      this.msgs.push({ d, type: o.type, bids, asks });
      if (o.type === 'snapshot') {
        this.book.reset(bids, asks);
        this.snapshots++;
      } else {
        this.book.apply(bids, asks);
        this.updates++;
      }
      if (this.truncate()) this.truncations++;
      const expect = krakenChecksum(this.book.sorted(false).slice(0, 10), this.book.sorted(true).slice(0, 10));
      if (d.checksum === expect) this.verified++;
      else this.mismatches++;
    }
  }

  private truncate(): boolean {
    let cut = false;
    for (const isBid of [true, false]) {
      const side = isBid ? this.book.bids : this.book.asks;
      for (const [p] of this.book.sorted(isBid).slice(this.depth)) {
        side.delete(p);
        cut = true;
      }
    }
    return cut;
  }

  levels(): { bids: Level[]; asks: Level[] } {
    this.poll();
    return this.book.levels();
  }
}

async function subscribe(
  t: TestContext,
  url: string,
  symbol: string,
  depth: number,
  reqId = 1,
): Promise<{ p: Probe; client: KrakenClient }> {
  const p = await Probe.open(t, url);
  p.send({ method: 'subscribe', params: { channel: 'book', symbol: [symbol], depth, snapshot: true }, req_id: reqId });
  return { p, client: new KrakenClient(p, symbol, depth) };
}

const truthTop = (sim: Awaited<ReturnType<typeof startSim>>, symbol: string, depth: number) => {
  const tr = sim.truth(symbol, depth, V);
  return { bids: tr.bids, asks: tr.asks };
};

/** Wait until the client's book is the truth's top d (every message sent has arrived), or fail naming the difference. */
async function settles(client: KrakenClient, want: () => { bids: Level[]; asks: Level[] }): Promise<void> {
  try {
    await waitFor(
      () => JSON.stringify(client.levels()) === JSON.stringify(want()),
      3000,
      'the book to equal the truth',
    );
  } catch {
    assert.deepEqual(client.levels(), want(), `depth ${client.depth}`);
  }
}

test('kraken: acks, snapshots at depth 10 and 100, updates rebuilt by truncation, every checksum verified, book = truth', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSD', 'ETHUSDT'], venues: [V], eventsPerSec: 200, levels: 600 });
  assert.deepEqual(sim.booksOf(V), ['BTC/USD', 'ETH/USDT']);
  const url = `${sim.venueWsBase(V)}/v2`;
  const a = await subscribe(t, url, 'BTC/USD', 10, 7);
  const b = await subscribe(t, url, 'BTC/USD', 100);
  const e = await subscribe(t, url, 'ETH/USDT', 25);

  const ackText = await a.p.waitJson((o) => o.method === 'subscribe');
  assert.deepEqual(Object.keys(ackText), ['method', 'req_id', 'result', 'success', 'time_in', 'time_out']);
  assert.deepEqual(ackText.result, { channel: 'book', depth: 10, snapshot: true, symbol: 'BTC/USD' });
  assert.equal(ackText.success, true);
  assert.equal(ackText.req_id, 7);
  assert.match(ackText.time_in, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  assert.ok(a.p.frames.findIndex((f) => f.text.includes('"type":"snapshot"')) > 0, 'the ack comes before the snapshot');

  await waitFor(
    () => {
      a.client.poll();
      b.client.poll();
      return a.client.updates >= 100 && b.client.updates >= 300;
    },
    8000,
    'updates at both depths',
  );
  sim.pause();
  await settles(a.client, () => truthTop(sim, 'BTCUSD', 10));
  await settles(b.client, () => truthTop(sim, 'BTCUSD', 100));
  await settles(e.client, () => truthTop(sim, 'ETHUSDT', 25));

  for (const c of [a.client, b.client, e.client]) {
    assert.equal(c.snapshots, 1);
    assert.equal(c.mismatches, 0, `depth ${c.depth}: every checksum verifies`);
    assert.equal(c.verified, c.msgs.length);
    const snap = c.msgs[0];
    assert.equal(snap.type, 'snapshot');
    assert.deepEqual(Object.keys(snap.d), ['symbol', 'bids', 'asks', 'checksum', 'timestamp']);
    assert.equal(snap.bids.length, c.depth);
    assert.equal(snap.asks.length, c.depth);
    assert.ok(c.msgs.slice(1).every((m) => m.type === 'update' && m.bids.length + m.asks.length > 0));
    assert.ok(c.msgs.every((m) => Number.isInteger(m.d.checksum) && m.d.checksum >= 0 && m.d.checksum < 2 ** 32));
    // spellings: the pair's precision (BTC/USD tick 0.1, ETH/USDT 0.01), quantities with 8 decimals
    const price = c.symbol === 'BTC/USD' ? /^\d+\.\d$/ : /^\d+\.\d\d$/;
    for (const m of c.msgs)
      for (const [p, q] of [...m.bids, ...m.asks]) {
        assert.match(p, price);
        assert.match(q, /^\d+\.\d{8}$/);
      }
    // the JSON numbers are the same values as the text
    const m = c.msgs[0];
    assert.deepEqual(
      m.d.bids.map((l: any) => [l.price, l.qty]),
      m.bids.map(([p, q]) => [Number(p), Number(q)]),
    );
  }
  assert.ok(a.p.frames.some((f) => /"qty":\d+\.\d{8}[,}]/.test(f.text)));
  // counted in levels, not messages: a loaded simulator groups a connection's events per send (CI, load 14:
  // the message counts came out level)
  const levelsSent = (c: typeof a.client) => c.msgs.slice(1).reduce((n, m) => n + m.bids.length + m.asks.length, 0);
  assert.ok(
    levelsSent(b.client) > levelsSent(a.client),
    'the depth-10 subscriber is not sent changes below its top 10',
  );

  // Kraken's rules at depth 10: a level pushed out by a better one gets no delete (the client truncates),
  // a level that enters when one inside goes is sent
  assert.ok(a.client.truncations > 0, 'some levels were pushed out and truncated away');
  // the depth-100 messages of the same event: same timestamp and checksum (events of one batch that change
  // only levels below the top 10 share both, so a key may name a few messages: their levels together)
  const deep = new Map<string, Map<string, string>[]>();
  for (const m of b.client.msgs.slice(1)) {
    const key = `${m.d.timestamp}:${m.d.checksum}`;
    const group = deep.get(key) ?? [new Map(), new Map()];
    for (const [p, q] of m.bids) group[0].set(p, q);
    for (const [p, q] of m.asks) group[1].set(p, q);
    deep.set(key, group);
  }
  let matched = 0;
  let newcomers = 0;
  for (const m of a.client.msgs.slice(1)) {
    const same = deep.get(`${m.d.timestamp}:${m.d.checksum}`);
    if (same === undefined) continue;
    matched++;
    for (const [i, levels] of [m.bids, m.asks].entries()) {
      for (const [p, q] of levels) {
        if (Number(q) === 0) assert.ok(same[i].has(p), `a delete at depth 10 (${p}) is a delete at depth 100`);
        else if (!same[i].has(p)) newcomers++; // unchanged in the top 100: it entered the top 10
      }
    }
  }
  assert.ok(matched > 50, `${matched} depth-10 messages matched with the depth-100 stream`);
  assert.ok(newcomers > 0, 'levels entering the top 10 are sent');

  // capture/limits: connections counted against Kraken's per-IP connection rate
  const lim = sim.limitStats().kraken!;
  assert.equal(Object.values(lim)[0].connections, 3);
});

test('kraken: unsubscribe acks and silences, resubscribe sends a fresh snapshot; one subscription per symbol; ping; heartbeat', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSD'], venues: [V], eventsPerSec: 100 });
  const url = `${sim.venueWsBase(V)}/v2`;
  const { p, client } = await subscribe(t, url, 'BTC/USD', 25);
  await waitFor(
    () => {
      client.poll();
      return client.updates >= 10;
    },
    5000,
    'updates',
  );
  p.send({ method: 'subscribe', params: { channel: 'book', symbol: ['BTC/USD'], depth: 10 }, req_id: 2 });
  const dup = await p.waitJson((o) => o.req_id === 2);
  assert.equal(dup.success, false);
  assert.equal(dup.error, 'Already subscribed');
  assert.equal(dup.symbol, 'BTC/USD');

  p.send({ method: 'unsubscribe', params: { channel: 'book', symbol: ['BTC/USD'], depth: 25 }, req_id: 3 });
  const un = await p.waitJson((o) => o.method === 'unsubscribe');
  assert.equal(un.success, true);
  assert.equal(un.req_id, 3);
  assert.deepEqual(un.result, { channel: 'book', depth: 25, symbol: 'BTC/USD' });
  await sleep(50);
  const n = p.frames.length;
  await sleep(200);
  assert.equal(p.frames.length, n, 'no data after unsubscribe');
  p.send({ method: 'unsubscribe', params: { channel: 'book', symbol: ['BTC/USD'] }, req_id: 4 });
  assert.equal((await p.waitJson((o) => o.req_id === 4)).error, 'Subscription Not Found');

  // resubscribe (another depth): a fresh snapshot, then updates that verify on it
  const fresh = new KrakenClient(p, 'BTC/USD', 10, p.frames.length);
  p.send({ method: 'subscribe', params: { channel: 'book', symbol: ['BTC/USD'], depth: 10 }, req_id: 5 });
  await waitFor(
    () => {
      fresh.poll();
      return fresh.snapshots === 1 && fresh.updates >= 10;
    },
    5000,
    'a fresh snapshot and updates',
  );
  assert.equal(fresh.msgs[0].type, 'snapshot');
  assert.equal(fresh.msgs[0].bids.length, 10);

  p.send({ method: 'ping', req_id: 42 });
  const pong = await p.waitJson((o) => o.method === 'pong');
  assert.deepEqual(Object.keys(pong), ['method', 'req_id', 'time_in', 'time_out']);
  assert.equal(pong.req_id, 42);

  sim.pause();
  await settles(fresh, () => truthTop(sim, 'BTCUSD', 10));
  assert.equal(fresh.mismatches, 0);
  // a book that does not change: a heartbeat once a second
  await waitFor(() => p.frames.some((f) => f.text === '{"channel":"heartbeat"}'), 3000, 'a heartbeat');
});

test('kraken: bad requests get error replies, not a crash; only /v2 upgrades', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSD'], venues: [V], eventsPerSec: 20 });
  const url = `${sim.venueWsBase(V)}/v2`;
  const p = await Probe.open(t, url);
  const ask = async (req: unknown, reqId: number) => {
    p.send(typeof req === 'string' ? req : { ...(req as object), req_id: reqId });
    return p.waitJson((o) => o.req_id === reqId, 2000, `reply ${reqId}`);
  };
  const bad = await ask({ method: 'subscribe', params: { channel: 'book', symbol: ['BTC/USD'], depth: 50 } }, 1);
  assert.equal(bad.success, false);
  assert.equal(bad.method, 'subscribe');
  assert.match(bad.error, /depth/i);
  assert.match(bad.time_out, /Z$/);
  const nope = await ask({ method: 'subscribe', params: { channel: 'book', symbol: ['NOPE/USD'] } }, 2);
  assert.deepEqual([nope.success, nope.error, nope.symbol], [false, 'Currency pair not supported', 'NOPE/USD']);
  const spelled = await ask({ method: 'subscribe', params: { channel: 'book', symbol: ['BTCUSD'] } }, 3);
  assert.equal(spelled.error, 'Currency pair not supported', "Kraken's spelling only");
  for (const [i, req] of [
    { method: 'subscribe', params: { channel: 'trade', symbol: ['BTC/USD'] } },
    { method: 'subscribe', params: { channel: 'book', symbol: 'BTC/USD' } },
    { method: 'subscribe', params: { channel: 'book', symbol: [] } },
    { method: 'subscribe', params: { channel: 'book', symbol: [1] } },
    { method: 'subscribe', params: { channel: 'book', symbol: ['BTC/USD'], depth: '10' } },
    { method: 'subscribe', params: { channel: 'book', symbol: ['BTC/USD'], snapshot: 'yes' } },
    { method: 'subscribe', params: { channel: 'book', symbol: Array(1000).fill('BTC/USD') } },
    { method: 'subscribe' },
    { method: 'nope' },
  ].entries()) {
    const r = await ask(req, 10 + i);
    assert.equal(r.success, false, JSON.stringify(req));
    assert.equal(typeof r.error, 'string');
  }
  p.send('{nope');
  await p.waitJson((o) => o.error === 'Malformed request' && o.success === false);
  p.send('[1,2]');
  p.send('null');
  await waitFor(() => p.json().filter((o) => o.error === 'Malformed request').length === 3, 2000, 'malformed replies');
  assert.equal(
    p.frames.filter((f) => f.text.includes('"channel":"book"')).length,
    0,
    'no book data after failed subscriptions',
  );
  // still serving
  p.send({ method: 'subscribe', params: { channel: 'book', symbol: ['BTC/USD'] }, req_id: 99 });
  const ok = await p.waitJson((o) => o.req_id === 99);
  assert.deepEqual(ok.result, { channel: 'book', depth: 10, snapshot: true, symbol: 'BTC/USD' });
  await p.waitJson((o) => o.type === 'snapshot');
  assert.equal(p.closed, false);
  await assert.rejects(Probe.open(t, `${sim.venueWsBase(V)}/v1`), /404/);
  assert.equal((await fetch(`${sim.venueRestBase(V)}/0/public/Depth?pair=XBTUSD`)).status, 404);
  // the test-only truth endpoint reads Kraken's spelling
  const truth = (await (await fetch(`${sim.venueRestBase(V)}/sim/truth?symbol=BTC%2FUSD&depth=3`)).json()) as any;
  assert.equal(truth.bids.length, 3);
});

test('kraken faults: drops break the chain and the checksum says so; a clean connection alongside stays exact', async (t) => {
  const sim = await startSim(t, {
    symbols: ['BTCUSD'],
    venues: [V],
    eventsPerSec: 200,
    faults: { lossy: { dropRate: 0.2 } },
  });
  const lossy = await subscribe(t, `${sim.venueWsBase(V)}/p/lossy/v2`, 'BTC/USD', 10);
  const clean = await subscribe(t, `${sim.venueWsBase(V)}/v2`, 'BTC/USD', 10);
  await waitFor(
    () => {
      lossy.client.poll();
      clean.client.poll();
      return lossy.client.updates >= 100 && clean.client.updates >= 100;
    },
    8000,
    'updates',
  );
  sim.pause();
  await settles(clean.client, () => truthTop(sim, 'BTCUSD', 10));
  assert.equal(clean.client.mismatches, 0);
  assert.ok(lossy.client.mismatches > 0, 'a dropped update shows as a checksum mismatch');
  assert.equal(lossy.client.snapshots, 1, 'the snapshot is never dropped');
  assert.ok(sim.stats().dropped > 0);
});

test('bookwire sim --venue kraken serves BTC/USD on /kraken/v2', async (t) => {
  const port = await freePort();
  const cli = startCli([
    'sim',
    '--venue',
    'kraken',
    '--symbols',
    'BTCUSD,BTC/USDT',
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
  assert.match(cli.output(), /\/kraken \(BTC\/USD, BTC\/USDT\)/);
  const { client } = await subscribe(t, `ws://127.0.0.1:${port}/kraken/v2`, 'BTC/USDT', 10);
  await waitFor(
    () => {
      client.poll();
      return client.snapshots === 1 && client.updates >= 5;
    },
    10_000,
    'a snapshot and updates',
  );
  assert.equal(client.mismatches, 0);
  cli.proc.kill('SIGTERM');
  assert.equal(await cli.exited, 0);
});

test("kraken spellings: the tick's decimals for prices, 8 for quantities; the connection rate per IP", async (t) => {
  assert.deepEqual([1_000_000, 10_000_000, 10_000, 100_000_000, 1].map(tickDecimals), [2, 1, 4, 0, 8]);
  assert.equal(formatFixed(6_500_010_000_000, 1), '65000.1');
  assert.equal(formatFixed(6_500_000_000_000, 0), '65000');
  assert.equal(formatFixed(50_000_000, 8), '0.50000000');
  assert.equal(formatFixed(12_345, 2), '0.00012345', 'finer than the tick: every digit kept');

  const sim = await startSim(t, {
    symbols: ['BTCUSD'],
    venues: [V],
    eventsPerSec: 20,
    limits: { venues: { kraken: { connections: 2 } } },
  });
  const url = `${sim.venueWsBase(V)}/v2`;
  await Probe.open(t, url);
  await Probe.open(t, url);
  await assert.rejects(Probe.open(t, url), /HTTP 429/);
  assert.equal(sim.stats().wsRefusedConnections, 1);
});

test("kraken send times: every update's timestamp, as the adapter parses it, is the E recorded with a send time (bench/replica-latency.ts keys copies by it)", async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSD'], venues: [V], eventsPerSec: 200, recordSendTimes: true });
  const { p, client } = await subscribe(t, `${sim.venueWsBase(V)}/v2`, 'BTC/USD', 10);
  await waitFor(
    () => {
      client.poll();
      return client.updates >= 30;
    },
    5000,
    'updates',
  );
  sim.pause();
  const sent = sim.sendTimes('BTC/USD', V);
  assert.equal(sent.e.length, sent.t.length);
  const sendOf = new Map<number, number>();
  for (let i = 0; i < sent.e.length; i++) if (!sendOf.has(sent.e[i])) sendOf.set(sent.e[i], sent.t[i]);
  let updates = 0;
  for (const f of p.frames) {
    const parsed = venue(V).parse(f.text, 'a', f.at * 1000);
    if (parsed.delta === undefined) continue;
    updates++;
    const E = parsed.delta.exchTime;
    const t0 = sendOf.get(E);
    assert.ok(t0 !== undefined, `E ${E} of an update is a recorded event time`);
    // E is the tick's Date.now(): the send (µs) follows within the same millisecond or shortly after
    assert.ok(t0 >= E * 1000 && t0 - E * 1000 < 50_000, `send ${t0} µs vs E ${E} ms`);
    assert.ok(f.at * 1000 >= t0 - 1000, 'received after it was sent');
  }
  assert.ok(updates >= 30);
});
