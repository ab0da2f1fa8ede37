/**
 * Kraken's book checksum (WebSocket v1 and v2 `book` channels; docs "Book checksum (WebSocket v2)"): CRC32
 * (unsigned) of one string built from the top 10 asks (price low to high) then the top 10 bids (high to
 * low), each level as its price then its quantity, every number written as the venue sent it (full
 * precision: "45285.2", "0.00100000") with the '.' removed and leading zeros stripped. v1 and v2 compute it
 * the same way over the strings they send; v1 sends them quoted, v2 as JSON numbers whose text keeps the
 * precision. Pure.
 */
import { crc32 } from 'node:zlib';
import type { StringLevel } from '../core/book.js';

/** Levels per side the checksum covers. */
export const KRAKEN_CHECKSUM_DEPTH = 10;

/** "0.00100000" -> "100000", "45285.2" -> "452852", "0" -> "". */
export function checksumDigits(s: string): string {
  let out = '';
  let leading = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46 /* . */) continue;
    if (leading && c === 48 /* 0 */) continue;
    leading = false;
    out += s[i];
  }
  return out;
}

/** The checksum of a book given its best asks and best bids (best first, at most 10 each are read). */
export function krakenChecksum(asks: readonly StringLevel[], bids: readonly StringLevel[]): number {
  let s = '';
  const n = KRAKEN_CHECKSUM_DEPTH;
  for (let i = 0; i < asks.length && i < n; i++) s += checksumDigits(asks[i][0]) + checksumDigits(asks[i][1]);
  for (let i = 0; i < bids.length && i < n; i++) s += checksumDigits(bids[i][0]) + checksumDigits(bids[i][1]);
  return crc32(s) >>> 0;
}
