/**
 * A book under `publish: confirmed` (ArbiterServiceOptions.publish), of a replica venue (coinbase) and of a
 * sequenced one (binance): the stats message and the metrics say how its states went out (confirmed, alone,
 * vouched) and how long they waited; under 'first' they say nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArbiterService } from '../../src/arbiter/service.js';
import { InprocBus, InprocTransport } from '../../src/transport/inproc.js';
import { decodeAny, encodeCollectorEvent, topics, type ArbiterStats } from '../../src/wire/messages.js';
import client from 'prom-client';
import { registerArbiterMetrics } from '../../src/metrics/arbiter.js';
import { sleep, waitFor } from '../helpers.js';

async function run(
  t: { after(fn: () => Promise<void>): void },
  publish: 'first' | 'confirmed',
  venue: 'coinbase' | 'binance' = 'coinbase',
) {
  const symbol = venue === 'coinbase' ? 'BTC-USD' : 'BTCUSDT';
  const bus = new InprocBus();
  const [arbT, colT, tapT] = [new InprocTransport(bus), new InprocTransport(bus), new InprocTransport(bus)];
  const arb = new ArbiterService({
    transport: arbT,
    symbols: [`${venue}.${symbol}`],
    statsIntervalMs: 50,
    publish: { [venue]: publish },
  });
  t.after(async () => {
    await arb.stop();
    for (const tr of [arbT, colT, tapT]) await tr.close();
  });
  await arb.start();
  const stats: ArbiterStats[] = [];
  const tap = await tapT.subscriber('book', [topics.stats(venue, symbol)]);
  void (async () => {
    for await (const m of tap) stats.push(decodeAny(m.payload) as ArbiterStats);
  })();
  const pub = await colT.publisher('ingest');
  const send = (collector: string, ev: object) =>
    pub.send(
      topics.raw(venue, symbol),
      encodeCollectorEvent({ venue, symbol, recvTime: 0, collector, ...ev } as never),
    );
  const delta = (n: number, size: number) => ({
    type: 'delta',
    first: n,
    last: n,
    exchTime: 0,
    bids: [[100, size]],
    asks: [],
  });
  if (venue === 'coinbase')
    for (const c of ['a', 'b']) send(c, { type: 'snapshot', seq: 1, bids: [[100, 1]], asks: [[101, 1]] });
  else {
    // both collectors deliver (held until the book syncs, then stale), then a's snapshot at 1
    for (const c of ['a', 'b']) send(c, delta(1, 1));
    await sleep(20);
    send('a', { type: 'snapshot', seq: 1, bids: [[100, 1]], asks: [[101, 1]] });
  }
  await sleep(20);
  send('a', delta(2, 2));
  send('a', delta(3, 3));
  await sleep(20);
  send('b', delta(2, 2));
  send('b', delta(3, 3));
  await waitFor(() => stats.some((s) => s.seq > 0 && s.feeds.length === 2), 3000, 'stats');
  await sleep(120);
  const reg = new client.Registry();
  registerArbiterMetrics(reg, arb);
  return { s: stats.at(-1)!, scrape: await reg.metrics() };
}

test('publish confirmed: the stats count the states confirmed by the second copy and their wait', async (t) => {
  const { s, scrape } = await run(t, 'confirmed');
  assert.ok(s.confirmation, 'a confirmation entry');
  assert.equal(s.confirmation.confirmed, 2);
  assert.equal(s.confirmation.alone, 0);
  assert.equal(s.confirmation.vouched, 0);
  assert.ok(s.confirmation.waitP99 >= 10_000, `waited for b (20 ms later): ${s.confirmation.waitP99} µs`);
  assert.match(scrape, /book_confirmation_total\{venue="coinbase",symbol="BTC-USD",how="confirmed"\} 2/);
  assert.match(
    scrape,
    /book_confirmation_wait_seconds\{venue="coinbase",symbol="BTC-USD",quantile="0.99"\} (0\.0[1-9]|0\.[1-9]|[1-9])/,
  );
});

test('publish first: no confirmation entry', async (t) => {
  const { s, scrape } = await run(t, 'first');
  assert.equal(s.confirmation, undefined);
  assert.doesNotMatch(scrape, /book_confirmation_total\{/);
});

test('a sequenced venue (binance), publish confirmed: the same counts and wait, by the venue ids', async (t) => {
  const { s, scrape } = await run(t, 'confirmed', 'binance');
  assert.ok(s.confirmation, 'a confirmation entry');
  assert.equal(s.seq, 3);
  assert.deepEqual([s.confirmation.confirmed, s.confirmation.alone, s.confirmation.vouched], [2, 0, 0]);
  assert.ok(s.confirmation.waitP99 >= 10_000, `waited for b (20 ms later): ${s.confirmation.waitP99} µs`);
  assert.match(scrape, /book_confirmation_total\{venue="binance",symbol="BTCUSDT",how="confirmed"\} 2/);
});

test('a sequenced venue, publish first: no confirmation entry', async (t) => {
  const { s } = await run(t, 'first', 'binance');
  assert.equal(s.seq, 3);
  assert.equal(s.confirmation, undefined);
});
