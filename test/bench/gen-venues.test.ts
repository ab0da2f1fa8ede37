import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateVenueEvents } from '../../bench/gen-venues.js';
import { decodeKrakenBook } from '../../src/venues/kraken.js';
import { krakenChecksum } from '../../src/venues/kraken-checksum.js';
import { TextBook } from '../../src/venues/textbook.js';
import { readV1Book, truncate } from '../venues/kraken-v1.js';

const N = 20_000;

function krakenStream() {
  const v2: string[] = [];
  const v1: string[] = [];
  const s = generateVenueEvents('kraken', N, 7, (text, v1Text) => {
    v2.push(text);
    v1.push(v1Text ?? '');
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
  const snap1 = readV1Book(s.v1SnapshotText!)!;
  const snap2 = decodeKrakenBook(s.snapshotText).message!.data;
  assert.ok(snap1.snapshot);
  assert.deepEqual([snap1.bids, snap1.asks], [snap2.bidText, snap2.askText]);
  for (let i = 0; i < v2.length; i++) {
    const a = readV1Book(v1[i])!;
    const b = decodeKrakenBook(v2[i]).message!.data;
    assert.deepEqual([a.bids, a.asks, a.checksum], [b.bidText, b.askText, b.checksum], `message ${i}`);
  }
});
