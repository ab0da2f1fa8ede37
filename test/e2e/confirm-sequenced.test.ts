/**
 * 'confirmed' publication end to end on a sequenced venue (docs/venues.md, "Publication"), OKX (checksum 0,
 * as production sends: nothing is vouched): the simulator -> collector a, its stream silently corrupted now
 * and then (a level's size changed, ids intact) and FIRST (b's is 30 ms late), both connections regrouping
 * updates differently -> arbiter -> client. A clean connection of the test's own follows the venue's book at
 * every id. Under `publish: confirmed` every client message is the venue's at its seq: its book (top 50), and
 * each level a delta carries at the venue's size then. Under 'first' a's corrupted first copies are published
 * (the trade-off: confirmed copies wait for the second copy, here b's 30 ms).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { subscribe } from '../../src/client/subscribe.js';
import { OrderBook } from '../../src/core/book.js';
import type { Level } from '../../src/core/types.js';
import { venue as adapterOf, underPrefix } from '../../src/venues/index.js';
import { okxSubscribeMessages } from '../../src/venues/okx.js';
import { sleep, waitFor } from '../helpers.js';
import { follow, zmqParts } from './harness.js';

const SYMBOL = 'BTC-USDT';
const DEPTH = 50;
const top = (b: OrderBook) => JSON.stringify(b.top(DEPTH));

interface TruthMessage {
  seq: number;
  snapshot: boolean;
  bids: Level[];
  asks: Level[];
}

/** The venue's messages for the book on a clean connection, in order (a snapshot first). */
function venueMessages(url: string) {
  const messages: TruthMessage[] = [];
  const ws = new WebSocket(url);
  ws.on('open', () => okxSubscribeMessages([SYMBOL]).forEach((m) => ws.send(m)));
  ws.on('message', (data: Buffer) => {
    const text = data.toString();
    if (!text.startsWith('{"arg":{"channel":"books"')) return;
    const m = JSON.parse(text) as {
      action: string;
      data: { bids: string[][]; asks: string[][]; seqId: number }[];
    };
    const num = (l: string[][]): Level[] => l.map((x) => [Number(x[0]), Number(x[1])]);
    for (const d of m.data)
      messages.push({ seq: d.seqId, snapshot: m.action === 'snapshot', bids: num(d.bids), asks: num(d.asks) });
  });
  return { messages, close: () => ws.close() };
}

interface Seen {
  seq: number;
  top: string;
  /** A delta's levels (a snapshot: none). */
  bids?: Level[];
  asks?: Level[];
}

/** Each client message checked against the venue's book at its seq; how many were checked and wrong. */
function check(truth: TruthMessage[], seen: Seen[]): { checked: number; bad: string[] } {
  const book = new OrderBook();
  let at = -1;
  let k = 0;
  const bad: string[] = [];
  let checked = 0;
  assert.ok(truth[0]?.snapshot, 'the clean connection starts with a snapshot');
  for (const s of [...seen].sort((x, y) => x.seq - y.seq)) {
    while (k < truth.length && truth[k].seq <= s.seq) {
      const m = truth[k++];
      if (m.snapshot) book.applySnapshot(m.bids, m.asks);
      else book.apply(m.bids, m.asks);
      at = m.seq;
    }
    if (at !== s.seq) continue; // before the clean connection's snapshot, or past its last message
    checked++;
    if (s.top !== top(book)) bad.push(`book at ${s.seq}`);
    for (const [side, levels] of [
      ['bid', s.bids],
      ['ask', s.asks],
    ] as const)
      for (const [p, q] of levels ?? [])
        if (book.sizeOf(side, p) !== q)
          bad.push(`${side} ${p} x ${q} at ${s.seq}: the venue's is ${book.sizeOf(side, p)}`);
  }
  return { checked, bad };
}

async function run(t: { after(fn: () => Promise<void> | void): void }, publish: 'first' | 'confirmed') {
  const p = await zmqParts(t, {
    venue: 'okx',
    symbols: [SYMBOL],
    seed: 8,
    rate: 100,
    profiles: ['corrupt', 'late'],
    // a corrupts once both feeds deliver: a copy before any other feed's is published alone by definition
    faults: { corrupt: { regroupRate: 0.3 }, late: { delayMs: 30, regroupRate: 0.3 } },
    publish: { okx: publish },
  });
  p.sim.pause();
  const urls = underPrefix(adapterOf('okx'), p.sim.venueWsBase('okx'), p.sim.venueRestBase('okx'));
  const venue = venueMessages(urls.wsUrl);
  t.after(() => venue.close());
  const core = p.arbiter.bookOf('okx', SYMBOL)!;
  await waitFor(() => venue.messages.length > 0 && core?.state === 'synced', 10_000, 'a book');
  const ac = new AbortController();
  t.after(() => ac.abort());
  const seen: Seen[] = [];
  const c = follow(subscribe({ venue: 'okx', symbol: SYMBOL, endpoints: p.ep, signal: ac.signal }), (u) => {
    if (u.kind !== 'snapshot' && u.kind !== 'delta') return;
    const m = u.message;
    seen.push({
      seq: m.seq,
      top: top(u.book),
      ...(m.type === 'delta' ? { bids: m.bids, asks: m.asks } : {}),
    });
  });
  await waitFor(() => c.state.updates > 0, 5000, 'the first book');
  p.sim.resume();
  await waitFor(() => [...core.feedStats().values()].filter((f) => f.messages > 0).length === 2, 5000, 'both feeds');
  p.sim.setFaults('corrupt', { corruptRate: 0.02, regroupRate: 0.3 });
  await waitFor(() => p.sim.stats().corrupted >= 3, 20_000, 'three corrupted copies');
  await sleep(1500);
  p.sim.pause();
  const truth = p.sim.truth(SYMBOL, DEPTH, 'okx');
  await waitFor(
    () => c.state.last?.seq === truth.lastUpdateId && top(c.state.last.book) === top(bookOf(truth)),
    8000,
    'client to reach the truth',
  );
  await waitFor(() => venue.messages[venue.messages.length - 1]?.seq === truth.lastUpdateId, 5000, 'the venue');
  ac.abort();
  return { ...check(venue.messages, seen), seen: seen.length, core };
}

const bookOf = (t: { bids: Level[]; asks: Level[] }) => {
  const b = new OrderBook();
  b.applySnapshot(t.bids, t.asks);
  return b;
};

test('okx, publish confirmed: a corrupted copy arriving first is never in a client message; the client ends equal', async (t) => {
  const { checked, bad, seen, core } = await run(t, 'confirmed');
  assert.deepEqual(bad.slice(0, 5), [], `${bad.length} of ${checked} client messages (of ${seen}) wrong`);
  assert.ok(checked > 100, `checked ${checked} of ${seen}`);
  assert.ok(core.counters.confirmed > 100, `confirmed ${core.counters.confirmed}`);
  assert.ok(core.counters.copyMismatches >= 1, 'the corrupted copies were disputed');
  assert.equal(core.counters.vouched, 0, 'checksum 0: nothing vouched');
  assert.ok(core.confirmation().p50Us >= 20_000, "a copy waits for b's, 30 ms late");
});

test('okx, publish first (the default): the same corrupted first copies are published until caught', async (t) => {
  const { checked, bad } = await run(t, 'first');
  assert.ok(bad.length > 0, `no client message of ${checked} was wrong: this run shows nothing`);
});
