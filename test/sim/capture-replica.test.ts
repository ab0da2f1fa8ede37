/* eslint-disable @typescript-eslint/no-explicit-any -- tests inspect arbitrary wire JSON */
/**
 * Capture replay on the venues without per-book ids (merge 'replica': kraken, coinbase, gemini-v2): the first
 * snapshot, then every update of the book in file order; Kraken's truth cut to the recorded depth and its
 * checksums recomputed in the capture's spelling (they must be Kraken's own), Coinbase's sequence_num per
 * connection. Real recordings: test/fixtures/real/capture_kraken_btc-usd.ndjson, capture_gemini-v2_batbtc.ndjson.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { OrderBook } from '../../src/core/book.js';
import type { Level } from '../../src/core/types.js';
import { parseCapture } from '../../src/sim/capture.js';
import { krakenChecksum } from '../../src/venues/kraken-checksum.js';
import { LocalBook, Probe, startSim, waitFor } from './helpers.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../../test/fixtures/real/${name}`, import.meta.url));
const KRAKEN = 'capture_kraken_btc-usd.ndjson';
const GEMINI_V2 = 'capture_gemini-v2_batbtc.ndjson';

/** One side's levels as a Kraken message spells them. */
function sideText(text: string, side: 'bids' | 'asks'): [string, string][] {
  const m = new RegExp(`"${side}":\\[(.*?)\\]`).exec(text);
  if (m === null) throw new Error(`no ${side} in ${text.slice(0, 200)}`);
  return [...m[1].matchAll(/\{"price":([0-9.]+),"qty":([0-9.]+)\}/g)].map((x) => [x[1], x[2]]);
}

/** Kraken's client rules on the recorded text: apply, cut to `depth`, the checksum of the top 10 after each. */
function krakenBooks(lines: string[], depth: number): { checksums: number[]; recorded: number[]; book: LocalBook } {
  const book = new LocalBook();
  const checksums: number[] = [];
  const recorded: number[] = [];
  for (const text of lines) {
    const o = JSON.parse(text);
    if (o.channel !== 'book') continue;
    if (o.type === 'snapshot') book.reset(sideText(text, 'bids'), sideText(text, 'asks'));
    else book.apply(sideText(text, 'bids'), sideText(text, 'asks'));
    for (const isBid of [true, false])
      for (const [p] of book.sorted(isBid).slice(depth)) (isBid ? book.bids : book.asks).delete(p);
    checksums.push(krakenChecksum(book.sorted(false).slice(0, 10), book.sorted(true).slice(0, 10)));
    recorded.push(o.data[0].checksum);
  }
  return { checksums, recorded, book };
}

test('replica captures used to lose their updates as stale: every update of the book now applies, in file order', () => {
  const kraken = parseCapture(readFileSync(fixture(KRAKEN), 'utf8'), 'kraken');
  assert.equal(kraken.symbol, 'BTC/USD');
  assert.deepEqual([kraken.events.length, kraken.stale, kraken.gaps, kraken.ignored], [8, 0, 0, 2]);
  assert.equal(kraken.keepLevels, 10, "the subscribe ack's depth");
  assert.deepEqual([kraken.priceDecimals, kraken.sizeDecimals], [1, 8], 'BTC/USD as Kraken spells it');
  assert.deepEqual(
    kraken.events.map((e) => [e.first, e.replace]),
    [1, 2, 3, 4, 5, 6, 7, 8].map((n) => [n, n === 5]),
    'numbered 1.., the second snapshot replaces the book',
  );
  const gemini = parseCapture(readFileSync(fixture(GEMINI_V2), 'utf8'), 'gemini-v2');
  assert.equal(gemini.symbol, 'BATBTC');
  assert.deepEqual([gemini.events.length, gemini.stale, gemini.gaps, gemini.ignored], [46, 0, 0, 7]);
  assert.equal(gemini.keepLevels, undefined, 'a full-book stream is not cut');
  // another venue's capture: one line, no book
  const okx = readFileSync(fixture('capture_okx_btc-usdt.ndjson'), 'utf8');
  assert.throws(() => parseCapture(okx, 'kraken'), /^CaptureError: capture: no Kraken spot book snapshot found/);
  assert.throws(
    () => parseCapture(readFileSync(fixture(KRAKEN), 'utf8'), 'coinbase'),
    /no Coinbase Advanced Trade book snapshot found/,
  );
  assert.throws(() => parseCapture(readFileSync(fixture(GEMINI_V2), 'utf8'), 'kraken'), /no Kraken spot book/);
});

test('kraken capture: the replay is the recorded book, every checksum the one Kraken sent, at the recorded depth and deeper', async (t) => {
  const lines = readFileSync(fixture(KRAKEN), 'utf8').trim().split('\n');
  const want = krakenBooks(lines, 10);
  assert.deepEqual(want.checksums, want.recorded, 'the fixture: every recorded checksum holds on Kraken rules');
  const sim = await startSim(t, { symbols: [], venues: ['kraken'], capture: fixture(KRAKEN), eventsPerSec: 100 });
  sim.pause();
  assert.deepEqual(sim.symbolsOf('kraken'), ['BTCUSD']);
  const probes = await Promise.all(
    [10, 100].map(async (depth) => {
      const p = await Probe.open(t, `${sim.venueWsBase('kraken')}/v2`);
      p.send({ method: 'subscribe', params: { channel: 'book', symbol: ['BTC/USD'], depth } });
      await p.waitJson((o) => o.type === 'snapshot', 3000, 'the snapshot');
      return p;
    }),
  );
  sim.resume();
  await waitFor(() => sim.stats().eventsGenerated === 8, 5000, 'the whole replay');
  const book = (p: Probe) => p.frames.map((f) => f.text).filter((x) => x.startsWith('{"channel":"book"'));
  // the replace (the second snapshot, the book as it already was) changes nothing: no message for it
  await waitFor(() => probes.every((p) => book(p).length === 1 + 7), 3000, 'every update');
  for (const p of probes) {
    const got = krakenBooks(book(p), 10);
    assert.deepEqual(got.checksums, got.recorded, 'every replayed checksum verifies');
    assert.deepEqual(
      got.recorded,
      want.recorded.filter((_, i) => i !== 5),
      "and is the one Kraken sent (our spelling is Kraken's)",
    );
    assert.match(book(p)[0], /"price":85592\.0,"qty":/, 'prices with the pair decimals, as recorded');
    assert.deepEqual(got.book.levels(), want.book.levels());
  }
  const truth = sim.truth('BTCUSD', Infinity, 'kraken');
  assert.deepEqual({ bids: truth.bids, asks: truth.asks }, want.book.levels(), 'the truth: cut to depth 10');
});

test('gemini-v2 capture: the first l2_updates is the book, the 46 updates after it apply in order (real cryptofeed recording)', async (t) => {
  const lines = readFileSync(fixture(GEMINI_V2), 'utf8').trim().split('\n');
  const want = new OrderBook();
  let first = true;
  const levels = (changes: string[][], side: string): Level[] =>
    changes.filter((c) => c[0] === side).map((c) => [Number(c[1]), Number(c[2])]);
  for (const line of lines) {
    const o = JSON.parse(line);
    if (o.type !== 'l2_updates') continue;
    if (first) want.applySnapshot(levels(o.changes, 'buy'), levels(o.changes, 'sell'));
    else want.apply(levels(o.changes, 'buy'), levels(o.changes, 'sell'));
    first = false;
  }
  const sim = await startSim(t, { symbols: [], venues: ['gemini-v2'], capture: fixture(GEMINI_V2), eventsPerSec: 200 });
  sim.pause();
  const p = await Probe.open(t, `${sim.venueWsBase('gemini-v2')}/v2/marketdata`);
  p.send({ type: 'subscribe', subscriptions: [{ name: 'l2', symbols: ['BATBTC'] }] });
  await p.waitJson((o) => o.type === 'l2_updates', 3000, 'the snapshot');
  sim.resume();
  await waitFor(() => sim.stats().eventsGenerated === 46, 5000, 'the whole replay');
  const updates = () => p.json().filter((o) => o.type === 'l2_updates');
  await waitFor(() => updates().length === 47, 3000, 'every update');
  const got = new LocalBook();
  updates().forEach((o, i) => {
    const side = (s: string) => o.changes.filter((c: string[]) => c[0] === s).map((c: string[]) => [c[1], c[2]]);
    if (i === 0) got.reset(side('buy'), side('sell'));
    else got.apply(side('buy'), side('sell'));
  });
  assert.deepEqual(got.levels(), want.snapshot(), 'a client of the replay holds the recorded book');
  const truth = sim.truth('BATBTC', Infinity, 'gemini-v2');
  assert.deepEqual({ bids: truth.bids, asks: truth.asks }, want.snapshot(), 'the truth is the recorded book');
});

/** A Coinbase level2 capture in the documented format: snapshot (0), the ack (1), updates, a heartbeat. */
function coinbaseCapture(hole: boolean): string {
  const msg = (n: number, channel: string, events: unknown) =>
    JSON.stringify({ channel, client_id: '', timestamp: '2026-08-12T19:27:48.098821666Z', sequence_num: n, events });
  const u = (side: string, p: string, q: string) => ({
    side,
    event_time: '2026-08-12T19:27:47.532655Z',
    price_level: p,
    new_quantity: q,
  });
  const lines = [
    msg(0, 'l2_data', [
      { type: 'snapshot', product_id: 'BTC-USD', updates: [u('bid', '100.5', '1'), u('offer', '101', '2')] },
    ]),
    msg(1, 'subscriptions', [{ subscriptions: { level2: ['BTC-USD'] } }]),
    msg(2, 'l2_data', [{ type: 'update', product_id: 'BTC-USD', updates: [u('bid', '100.4', '3')] }]),
    msg(3, 'heartbeats', [{ current_time: '2026-08-12 19:27:48 +0000 UTC', heartbeat_counter: '1' }]),
    msg(hole ? 5 : 4, 'l2_data', [
      { type: 'update', product_id: 'BTC-USD', updates: [u('bid', '100.5', '0'), u('offer', '100.9', '0.25')] },
    ]),
  ];
  return lines.join('\n') + '\n';
}

test('coinbase capture: updates apply in order, a hole in sequence_num is a gap, and each connection of the replay numbers its own messages', async (t) => {
  const ok = parseCapture(coinbaseCapture(false), 'coinbase');
  assert.deepEqual([ok.symbol, ok.events.length, ok.gaps, ok.ignored], ['BTC-USD', 2, 0, 2]);
  assert.equal(parseCapture(coinbaseCapture(true), 'coinbase').gaps, 1, 'a message lost while recording');
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(`${tmpdir()}/bookwire-cb-`);
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = `${dir}/cb.ndjson`;
  await writeFile(file, coinbaseCapture(false));
  const sim = await startSim(t, { symbols: [], venues: ['coinbase'], capture: file, eventsPerSec: 50 });
  sim.pause();
  const probes = await Promise.all(
    [0, 1].map(async (i) => {
      const p = await Probe.open(t, sim.venueWsBase('coinbase'));
      // the second connection has a heartbeats subscription first: its numbers differ from the first's
      if (i === 1) p.send({ type: 'subscribe', channel: 'heartbeats', product_ids: ['BTC-USD'] });
      p.send({ type: 'subscribe', channel: 'level2', product_ids: ['BTC-USD'] });
      await p.waitJson((o) => o.events?.[0]?.type === 'snapshot', 3000, 'the snapshot');
      return p;
    }),
  );
  sim.resume();
  const l2 = (p: Probe) => p.json().filter((o) => o.channel === 'l2_data');
  await waitFor(() => probes.every((p) => l2(p).length === 3), 3000, 'the replay');
  for (const p of probes) {
    const nums = p.json().map((o) => o.sequence_num);
    assert.deepEqual(
      nums,
      nums.map((_, i) => i),
      'one counter per connection, no hole',
    );
    const book = new LocalBook();
    for (const o of l2(p)) {
      const e = o.events[0];
      const side = (s: string) =>
        e.updates.filter((x: any) => x.side === s).map((x: any) => [x.price_level, x.new_quantity]);
      if (e.type === 'snapshot') book.reset(side('bid'), side('offer'));
      else book.apply(side('bid'), side('offer'));
    }
    assert.deepEqual(book.levels(), {
      bids: [[100.4, 3]],
      asks: [
        [100.9, 0.25],
        [101, 2],
      ],
    });
  }
  assert.notDeepEqual(
    probes[0].json().find((o) => o.events?.[0]?.type === 'snapshot').sequence_num,
    probes[1].json().find((o) => o.events?.[0]?.type === 'snapshot').sequence_num,
  );
});

test('kraken capture: the truth is spelled as the capture spells it (whole prices still with their one decimal), so the checksums are the recorded ones', async (t) => {
  // whole prices only: the implied tick is 1, but the pair writes one decimal ("100.0"), and Kraken's checksum
  // is over that text; sizes with 4 decimals where the simulator would write 8
  const level = (p: string, q: string) => `{"price":${p},"qty":${q}}`;
  const book = new LocalBook();
  const frame = (type: string, bids: [string, string][], asks: [string, string][]) => {
    if (type === 'snapshot') book.reset(bids, asks);
    else book.apply(bids, asks);
    const checksum = krakenChecksum(book.sorted(false).slice(0, 10), book.sorted(true).slice(0, 10));
    const side = (l: [string, string][]) => `[${l.map(([p, q]) => level(p, q)).join(',')}]`;
    return `{"channel":"book","type":"${type}","data":[{"symbol":"ABC/USD","bids":${side(bids)},"asks":${side(asks)},"checksum":${checksum},"timestamp":"2026-10-06T08:04:56.153890Z"}]}`;
  };
  const lines = [
    '{"method":"subscribe","req_id":1,"result":{"channel":"book","depth":10,"snapshot":true,"symbol":"ABC/USD"},"success":true}',
    frame(
      'snapshot',
      [
        ['100.0', '1.5000'],
        ['99.0', '2.0000'],
      ],
      [['101.0', '0.2500']],
    ),
    frame('update', [['100.0', '0.0000']], [['102.0', '3.0000']]),
    frame('update', [], [['101.0', '1.2500']]),
  ];
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(`${tmpdir()}/bookwire-kr-`);
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = `${dir}/kr.ndjson`;
  await writeFile(file, lines.join('\n') + '\n');
  const sim = await startSim(t, { symbols: [], venues: ['kraken'], capture: file, eventsPerSec: 50 });
  sim.pause();
  const p = await Probe.open(t, `${sim.venueWsBase('kraken')}/v2`);
  p.send({ method: 'subscribe', params: { channel: 'book', symbol: ['ABC/USD'], depth: 10 } });
  await p.waitJson((o) => o.type === 'snapshot', 3000, 'the snapshot');
  sim.resume();
  const frames = () => p.frames.map((f) => f.text).filter((x) => x.startsWith('{"channel":"book"'));
  await waitFor(() => frames().length === 3, 3000, 'the replay');
  const got = krakenBooks(frames(), 10);
  assert.deepEqual(got.recorded, krakenBooks(lines.slice(1), 10).recorded, 'the recorded checksums');
  assert.deepEqual(got.checksums, got.recorded, 'verified on the replayed text');
  assert.match(frames()[0], /\{"price":100\.0,"qty":1\.5000\}/);
});
