/**
 * TEST ONLY: a reader of Kraken WebSocket v1 `book` messages (array-framed), to replay the cryptofeed 2021
 * recording and check Kraken's checksum on real data. bookwire speaks v2; v1 computes the checksum the same
 * way over the strings it sends (docs "Book checksum (WebSocket v1)").
 * - snapshot: `[channelID, {"as":[[price, volume, time],...], "bs":[...]}, "book-1000", pair]`
 * - update: `[channelID, {"a":[[price, volume, time(, "r")]...]}, ({"b":[...], "c":"checksum"})?, "book-1000",
 *   pair]`: one or two objects; the checksum is in the last one. Volume "0.00000000" deletes; "r" marks a
 *   republish (a level brought back into range), applied like any other.
 */
import type { StringLevel } from '../../src/core/book.js';
import { TextBook } from '../../src/venues/textbook.js';

export interface V1BookMessage {
  pair: string;
  depth: number;
  snapshot: boolean;
  asks: StringLevel[];
  bids: StringLevel[];
  /** The checksum the message carries (updates only), unsigned. */
  checksum?: number;
}

function levels(x: unknown): StringLevel[] {
  if (!Array.isArray(x)) throw new Error('v1 levels must be an array');
  return x.map((l: unknown) => {
    if (!Array.isArray(l) || typeof l[0] !== 'string' || typeof l[1] !== 'string') throw new Error('bad v1 level');
    return [l[0], l[1]];
  });
}

/** A v1 book message, or undefined for anything else (events, heartbeats, other channels). */
export function readV1Book(text: string): V1BookMessage | undefined {
  const m: unknown = JSON.parse(text);
  if (!Array.isArray(m) || m.length < 4) return undefined;
  const name = m[m.length - 2];
  const pair = m[m.length - 1];
  if (typeof name !== 'string' || !name.startsWith('book-') || typeof pair !== 'string') return undefined;
  const out: V1BookMessage = { pair, depth: Number(name.slice(5)), snapshot: false, asks: [], bids: [] };
  for (const part of m.slice(1, -2)) {
    const o = part as Record<string, unknown>;
    if (o.as !== undefined || o.bs !== undefined) {
      out.snapshot = true;
      out.asks.push(...levels(o.as ?? []));
      out.bids.push(...levels(o.bs ?? []));
      continue;
    }
    if (o.a !== undefined) out.asks.push(...levels(o.a));
    if (o.b !== undefined) out.bids.push(...levels(o.b));
    if (o.c !== undefined) out.checksum = Number(o.c);
  }
  return out;
}

/** Levels beyond `depth` per side removed (Kraken sends no delete for a level pushed out of range). */
export function truncate(book: TextBook, depth: number): void {
  const extraBids = book.bidDepth - depth;
  const extraAsks = book.askDepth - depth;
  if (extraBids <= 0 && extraAsks <= 0) return;
  const all = book.top(Math.max(book.bidDepth, book.askDepth));
  const drop = (side: StringLevel[]): StringLevel[] => side.slice(depth).map(([p]) => [p, '0']);
  book.apply(extraBids > 0 ? drop(all.bids) : [], extraAsks > 0 ? drop(all.asks) : []);
}
