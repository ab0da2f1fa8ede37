import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateVenueEvents } from '../../bench/gen-venues.js';
import { OrderBook } from '../../src/core/book.js';
import { venue as venueAdapter } from '../../src/venues/index.js';
import { decodeKrakenBook } from '../../src/venues/kraken.js';
import { krakenChecksum } from '../../src/venues/kraken-checksum.js';
import { TextBook } from '../../src/venues/textbook.js';
import { readV1Book, truncate } from '../venues/kraken-v1.js';

const N = 20_000;

function krakenStream() {
  const v2: string[] = [];
  const v1: string[] = [];
  const s = generateVenueEvents('kraken', N, 7, (text, legacyText) => {
    v2.push(text);
    v1.push(legacyText ?? '');
  });
  return { s, v2, v1 };
}

/** Replays v2 texts into a book truncated to `depth` after each message; counts checksum mismatches. */
function replayV2(snapshot: string, texts: readonly string[], depth: number) {
  const book = new TextBook();
  const snap = decodeKrakenBook(snapshot).message!.data;
  book.load(snap.bidText, snap.askText);
  let mismatches = 0;
  let sentOutside = 0;
  for (const text of texts) {
    const d = decodeKrakenBook(text).message!.data;
    book.apply(d.bidText, d.askText);
    truncate(book, depth);
    const top = book.top(10);
    if (krakenChecksum(top.asks, top.bids) !== d.checksum) mismatches++;
    // a level sent with a size must still be in the truncated book: Kraken sends only the top `depth`
    const all = book.top(depth);
    const held = (side: [string, string][], p: string) => side.some((l) => l[0] === p);
    for (const [p, q] of d.bidText) if (Number(q) > 0 && !held(all.bids, p)) sentOutside++;
    for (const [p, q] of d.askText) if (Number(q) > 0 && !held(all.asks, p)) sentOutside++;
  }
  return { book, mismatches, sentOutside };
}

test('kraken stream: every checksum matches the book truncated to 100, and the final book is the truth', () => {
  const { s, v2 } = krakenStream();
  const r = replayV2(s.snapshotText, v2, 100);
  assert.equal(r.mismatches, 0);
  assert.equal(r.sentOutside, 0);
  assert.equal(r.book.bidDepth, s.truth.bidDepth);
  assert.equal(r.book.askDepth, s.truth.askDepth);
  assert.equal(s.truth.bidDepth, 100);
  const top = r.book.top(10);
  const nums = (side: [string, string][]) => side.map(([p, q]) => [Number(p), Number(q)]);
  assert.deepEqual(nums(top.bids), s.truth.bids);
  assert.deepEqual(nums(top.asks), s.truth.asks);
});

test('kraken stream: a level pushed out of the 100 is not deleted (the subscriber must truncate)', () => {
  const { s, v2 } = krakenStream();
  const book = new TextBook();
  const snap = decodeKrakenBook(s.snapshotText).message!.data;
  book.load(snap.bidText, snap.askText);
  for (const text of v2) {
    const d = decodeKrakenBook(text).message!.data;
    book.apply(d.bidText, d.askText);
  }
  assert.ok(Math.max(book.bidDepth, book.askDepth) > 100, `${book.bidDepth}/${book.askDepth}`);
});

test('kraken stream: the v1 texts carry the same levels and checksums as the v2 ones', () => {
  const { s, v2, v1 } = krakenStream();
  const snap1 = readV1Book(s.legacySnapshotText!)!;
  const snap2 = decodeKrakenBook(s.snapshotText).message!.data;
  assert.ok(snap1.snapshot);
  assert.deepEqual([snap1.bids, snap1.asks], [snap2.bidText, snap2.askText]);
  for (let i = 0; i < v2.length; i++) {
    const a = readV1Book(v1[i])!;
    const b = decodeKrakenBook(v2[i]).message!.data;
    assert.deepEqual([a.bids, a.asks, a.checksum], [b.bidText, b.askText, b.checksum], `message ${i}`);
  }
});

/** Replays a replica venue's generated stream through its adapter into an OrderBook. */
function replayReplica(venue: 'coinbase' | 'gemini-v2') {
  const texts: string[] = [];
  const legacy: string[] = [];
  const s = generateVenueEvents(venue, N, 11, (text, legacyText) => {
    texts.push(text);
    if (legacyText !== undefined) legacy.push(legacyText);
  });
  const adapter = venueAdapter(venue);
  const snap = adapter.parse(s.snapshotText, 'test', 0);
  assert.ok(snap.snapshot, `${venue} snapshot: ${snap.error ?? snap.ignored}`);
  const book = new OrderBook();
  book.applySnapshot(snap.snapshot.bids, snap.snapshot.asks);
  const counters: number[] = [];
  const deltas = texts.map((text, i) => {
    const r = adapter.parse(text, 'test', 0);
    assert.ok(r.delta, `${venue} message ${i}: ${r.error ?? r.ignored ?? 'a snapshot'}`);
    if (r.connectionSeq !== undefined) counters.push(r.connectionSeq);
    book.apply(r.delta.bids, r.delta.asks);
    return r.delta;
  });
  return { s, snap, book, deltas, counters, legacy };
}

function assertTruth(book: OrderBook, truth: { bids: unknown; asks: unknown; bidDepth: number; askDepth: number }) {
  const top = book.top(10);
  assert.deepEqual(top.bids, truth.bids);
  assert.deepEqual(top.asks, truth.asks);
  assert.equal(book.bidDepth, truth.bidDepth);
  assert.equal(book.askDepth, truth.askDepth);
}

test('coinbase stream: every message is an l2_data update of BTC-USD, sequence_num 1, 2, ...; the book ends at the truth', () => {
  const { s, snap, book, deltas, counters } = replayReplica('coinbase');
  assert.equal(snap.connectionSeq, 0);
  assert.deepEqual(
    counters,
    deltas.map((_, i) => i + 1),
  );
  assert.equal(s.truth.lastSeq, N);
  assert.ok(deltas.every((d) => d.symbol === 'BTC-USD' && d.bids.length + d.asks.length > 0));
  // the full book, not a window: deep, and deletes are sent
  assert.ok(snap.snapshot!.bids.length >= 1000);
  assert.ok(deltas.some((d) => d.bids.some((l) => l[1] === 0)));
  assertTruth(book, s.truth);
});

test('coinbase stream: the Coinbase Exchange texts (for tardis-dev) carry the same levels', () => {
  const { s, snap, deltas, legacy } = replayReplica('coinbase');
  assert.equal(legacy.length, N);
  const num = (l: [string, string]) => [Number(l[0]), Number(l[1])];
  const old = JSON.parse(s.legacySnapshotText!) as { type: string; bids: [string, string][]; asks: [string, string][] };
  assert.equal(old.type, 'snapshot');
  assert.deepEqual([old.bids.map(num), old.asks.map(num)], [snap.snapshot!.bids, snap.snapshot!.asks]);
  for (let i = 0; i < N; i++) {
    const m = JSON.parse(legacy[i]) as { type: string; time: string; changes: [string, string, string][] };
    assert.equal(m.type, 'l2update');
    assert.ok(Date.parse(m.time) > 0);
    const side = (x: string) => m.changes.filter((c) => c[0] === x).map((c) => [Number(c[1]), Number(c[2])]);
    assert.deepEqual([side('buy'), side('sell')], [deltas[i].bids, deltas[i].asks], `message ${i}`);
  }
});

test('gemini-v2 stream: the first l2_updates (with trades and auction_events) is the book, then updates; ends at the truth', () => {
  const { s, snap, book, deltas, counters } = replayReplica('gemini-v2');
  const first = JSON.parse(s.snapshotText) as Record<string, unknown>;
  assert.equal(first.type, 'l2_updates');
  assert.ok(Array.isArray(first.trades) && Array.isArray(first.auction_events));
  assert.equal(counters.length, 0);
  assert.ok(snap.snapshot!.bids.length >= 300);
  // mostly one or two changes a message, as in the recording
  const small = deltas.filter((d) => d.bids.length + d.asks.length <= 2).length;
  assert.ok(small > N * 0.5 && small < N * 0.9, `${small}`);
  assertTruth(book, s.truth);
});
