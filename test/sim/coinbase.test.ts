/* eslint-disable @typescript-eslint/no-explicit-any -- tests inspect arbitrary wire JSON */
/**
 * coinbase: Advanced Trade `level2` + `heartbeats` on / : snapshot before the ack, updates rebuilt into a book
 * equal to the truth, sequence_num one counter per connection across channels, heartbeats each second, drops
 * leave sequence_num holes, resubscribe gives a fresh snapshot, errors for bad requests. The adapter's parse
 * reads every frame the simulator sends.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { parseCoinbaseMessage } from '../../src/venues/coinbase.js';
import { coinbase } from '../../src/venues/coinbase.js';
import { underPrefix } from '../../src/venues/index.js';
import { corruptLevel } from '../../src/sim/faults.js';
import { LocalBook, Probe, sleep, startSim, waitFor } from './helpers.js';

const V = 'coinbase' as const;

/** A client doing what Coinbase's docs say: snapshot replaces, updates apply (absolute, "0" deletes). */
class CoinbaseClient {
  book = new LocalBook();
  snapshots = 0;
  updates = 0;
  /** sequence_num of every numbered frame, in arrival order. */
  readonly seqs: number[] = [];
  readonly channels: string[] = [];
  private seen = 0;

  constructor(
    readonly p: Probe,
    readonly product: string,
  ) {}

  poll(): void {
    for (; this.seen < this.p.frames.length; this.seen++) {
      const text = this.p.frames[this.seen].text;
      const parsed = parseCoinbaseMessage(text, 'c', 0);
      let o: any;
      try {
        o = JSON.parse(text);
      } catch {
        continue;
      }
      if (typeof o.sequence_num === 'number') {
        this.seqs.push(o.sequence_num);
        this.channels.push(o.channel);
        assert.equal(parsed.connectionSeq, o.sequence_num);
      }
      if (o.channel !== 'l2_data') continue;
      assert.equal(parsed.error, undefined, text.slice(0, 200));
      const e = o.events[0];
      if (e.product_id !== this.product) continue;
      const bids = e.updates.filter((u: any) => u.side === 'bid').map((u: any) => [u.price_level, u.new_quantity]);
      const asks = e.updates.filter((u: any) => u.side === 'offer').map((u: any) => [u.price_level, u.new_quantity]);
      if (e.type === 'snapshot') {
        this.book.reset(bids, asks);
        this.snapshots++;
      } else {
        this.book.apply(bids, asks);
        this.updates++;
      }
    }
  }

  levels() {
    this.poll();
    return this.book.levels();
  }
}

async function connect(t: TestContext, url: string, product: string, heartbeats = true) {
  const p = await Probe.open(t, url);
  for (const channel of heartbeats ? ['level2', 'heartbeats'] : ['level2'])
    p.send({ type: 'subscribe', product_ids: [product], channel });
  return { p, client: new CoinbaseClient(p, product) };
}

const truth = (sim: Awaited<ReturnType<typeof startSim>>, symbol: string) => {
  const tr = sim.truth(symbol, Infinity, V);
  return { bids: tr.bids, asks: tr.asks };
};

async function settles(sim: Awaited<ReturnType<typeof startSim>>, client: CoinbaseClient, symbol: string) {
  sim.pause();
  try {
    await waitFor(
      () => JSON.stringify(client.levels()) === JSON.stringify(truth(sim, symbol)),
      3000,
      'the book to equal the truth',
    );
  } catch {
    assert.deepEqual(client.levels(), truth(sim, symbol));
  } finally {
    sim.resume();
  }
}

test('coinbase: snapshot then ack, updates rebuild the full book = truth, sequence_num +1 across channels, heartbeats', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSD', 'ETHUSD'], venues: [V], eventsPerSec: 200, levels: 300 });
  assert.deepEqual(sim.booksOf(V), ['BTC-USD', 'ETH-USD']);
  // the adapter's default URL path is '/': the collector's URL under the simulator is the venue prefix itself
  const url = underPrefix(coinbase, sim.venueWsBase(V), sim.venueRestBase(V)).wsUrl;
  assert.equal(url, sim.venueWsBase(V));
  const a = await connect(t, url, 'BTC-USD');
  const b = await connect(t, `${url}/`, 'ETH-USD');

  const first = await a.p.waitJson((o) => o.channel === 'l2_data');
  assert.deepEqual(Object.keys(first), ['channel', 'client_id', 'timestamp', 'sequence_num', 'events']);
  assert.equal(first.sequence_num, 0, 'the snapshot comes first');
  assert.equal(first.events[0].type, 'snapshot');
  assert.ok(first.events[0].updates.length > 500, 'the full book: about 300 levels a side');
  assert.match(first.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  const u0 = first.events[0].updates[0];
  assert.deepEqual(Object.keys(u0), ['side', 'event_time', 'price_level', 'new_quantity']);
  assert.match(u0.price_level, /^\d+(\.\d*[1-9])?$/, 'no trailing zeros');
  const ack = await a.p.waitJson((o) => o.channel === 'subscriptions');
  assert.equal(ack.sequence_num, 1);
  await a.p.waitJson((o) => o.channel === 'subscriptions' && o.events[0].subscriptions.heartbeats !== undefined);

  await a.p.waitJson((o) => o.channel === 'heartbeats', 2500, 'a heartbeat');
  await sleep(1200);
  await settles(sim, a.client, 'BTCUSD');
  await settles(sim, b.client, 'ETHUSD');
  for (const c of [a.client, b.client]) {
    assert.equal(c.snapshots, 1);
    assert.ok(c.updates > 50, `updates: ${c.updates}`);
    // one counter per connection across l2_data, subscriptions and heartbeats, from 0, +1 each message
    assert.deepEqual(
      c.seqs,
      c.seqs.map((_, i) => i),
    );
    assert.ok(c.channels.includes('heartbeats') && c.channels.includes('subscriptions'));
  }
  const hbs = a.p.json().filter((o) => o.channel === 'heartbeats');
  assert.ok(hbs.length >= 2 && hbs.length <= 4, `${hbs.length} heartbeats in ~2.5 s`);
  assert.deepEqual(
    hbs.map((h) => h.events[0].heartbeat_counter),
    hbs.map((_, i) => String(i + 1)),
  );
  // no other book on this connection
  assert.ok(a.p.json().every((o) => o.channel !== 'l2_data' || o.events[0].product_id === 'BTC-USD'));
});

test('coinbase: a drop profile leaves holes in sequence_num; the snapshot and acks are never dropped', async (t) => {
  const sim = await startSim(t, {
    symbols: ['BTCUSD'],
    venues: [V],
    eventsPerSec: 200,
    faults: { lossy: { dropRate: 0.2 } },
  });
  const lossy = await connect(t, `${sim.venueWsBase(V)}/p/lossy`, 'BTC-USD');
  const clean = await connect(t, sim.venueWsBase(V), 'BTC-USD');
  await sleep(1500);
  lossy.client.poll();
  clean.client.poll();
  const holes = (s: number[]) => s.filter((x, i) => i > 0 && x !== s[i - 1] + 1).length;
  assert.ok(holes(lossy.client.seqs) > 0, 'a dropped message leaves a hole');
  assert.ok(
    lossy.client.seqs.every((x, i) => i === 0 || x > lossy.client.seqs[i - 1]),
    'increasing',
  );
  assert.equal(lossy.client.seqs[0], 0);
  assert.equal(lossy.client.snapshots, 1);
  assert.equal(holes(clean.client.seqs), 0, 'the clean connection alongside has none');
  assert.ok(sim.stats().dropped > 0);
  await settles(sim, clean.client, 'BTCUSD');
});

test('coinbase: unsubscribe + subscribe level2 gives a fresh snapshot; a second subscribe gives none; unsubscribe stops updates', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSD'], venues: [V], eventsPerSec: 100 });
  const { p, client } = await connect(t, sim.venueWsBase(V), 'BTC-USD', false);
  await p.waitJson((o) => o.channel === 'subscriptions');
  p.send({ type: 'subscribe', product_ids: ['BTC-USD'], channel: 'level2' });
  await waitFor(() => p.json().filter((o) => o.channel === 'subscriptions').length === 2, 2000, 'second ack');
  client.poll();
  assert.equal(client.snapshots, 1, 'already subscribed: no second snapshot');

  p.send({ type: 'unsubscribe', product_ids: ['BTC-USD'], channel: 'level2' });
  p.send({ type: 'subscribe', product_ids: ['BTC-USD'], channel: 'level2' });
  await waitFor(
    () => {
      client.poll();
      return client.snapshots === 2;
    },
    2000,
    'a fresh snapshot',
  );
  const acks = p.json().filter((o) => o.channel === 'subscriptions');
  assert.deepEqual(acks[2].events[0].subscriptions, {}, 'nothing left after the unsubscribe');
  await settles(sim, client, 'BTCUSD');
  assert.deepEqual(
    client.seqs,
    client.seqs.map((_, i) => i),
  );

  p.send({ type: 'unsubscribe', product_ids: [], channel: 'level2' });
  await waitFor(() => p.json().filter((o) => o.channel === 'subscriptions').length === 5, 2000, 'unsubscribe ack');
  const n = p.frames.length;
  await sleep(300);
  assert.equal(p.frames.length, n, 'no updates after unsubscribing the channel');
});

test('coinbase: bad requests are answered with {"type":"error"} and the connection keeps working', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSD'], venues: [V], eventsPerSec: 50 });
  const p = await Probe.open(t, sim.venueWsBase(V));
  const bad = [
    'not json',
    '[1,2]',
    { type: 'subscribe', product_ids: ['BTC-USD'], channel: 'level3' },
    { type: 'subscribe', product_ids: ['BTC-USD'] },
    { type: 'subscribe', product_ids: ['DOGE-USD'], channel: 'level2' },
    { type: 'subscribe', product_ids: ['BTCUSD'], channel: 'level2' },
    { type: 'subscribe', product_ids: [1], channel: 'level2' },
    { type: 'subscribe', product_ids: 'BTC-USD', channel: 'level2' },
    { type: 'subscribe', product_ids: Array.from({ length: 101 }, () => 'BTC-USD'), channel: 'level2' },
    { type: 'subscribe', channel: 'level2' },
    { type: 'hello' },
  ];
  for (const b of bad) p.send(b);
  await waitFor(() => p.frames.length === bad.length, 2000, 'an answer to each');
  for (const o of p.json()) {
    assert.equal(o.type, 'error');
    assert.equal(typeof o.message, 'string');
    const r = parseCoinbaseMessage(JSON.stringify(o), 'c', 0);
    assert.match(r.error!, /^venue error: /);
  }
  p.send({ type: 'subscribe', product_ids: ['BTC-USD'], channel: 'level2' });
  const snap = await p.waitJson((o) => o.channel === 'l2_data');
  assert.equal(snap.sequence_num, 0, 'errors are not numbered');
  // an unknown path is refused
  await assert.rejects(Probe.open(t, `${sim.venueWsBase(V)}/ws`));
});

test('coinbase: the corruptRate fault changes a new_quantity and nothing else (valid JSON, same sequence_num)', () => {
  const frame =
    '{"channel":"l2_data","client_id":"","timestamp":"2026-12-04T10:00:00.000000000Z","sequence_num":7,"events":[{"type":"update","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"2026-12-04T10:00:00.000000Z","price_level":"65000.1","new_quantity":"0.25"}]}]}';
  const c = corruptLevel(frame)!;
  assert.equal(c, frame.replace('"new_quantity":"0.25"', '"new_quantity":"0.26"'));
  const r = parseCoinbaseMessage(c, 'c', 0);
  assert.equal(r.connectionSeq, 7);
  assert.deepEqual(r.delta!.bids, [[65000.1, 0.26]]);
});
