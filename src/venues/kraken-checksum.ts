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

/** krakenChecksum through zlib over the digit strings: the reference, and the path for text outside ASCII. */
function zlibChecksum(asks: readonly StringLevel[], bids: readonly StringLevel[]): number {
  let s = '';
  const n = KRAKEN_CHECKSUM_DEPTH;
  for (let i = 0; i < asks.length && i < n; i++) s += checksumDigits(asks[i][0]) + checksumDigits(asks[i][1]);
  for (let i = 0; i < bids.length && i < n; i++) s += checksumDigits(bids[i][0]) + checksumDigits(bids[i][1]);
  return crc32(s) >>> 0;
}

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

/** CRC32 (the zlib polynomial, reflected) of one byte, by table. */
const CRC_TABLE = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  CRC_TABLE[n] = c;
}

/** Set by crcDigits when it met a character outside ASCII. */
let outsideAscii = false;

/** The running CRC (inverted) fed checksumDigits(s); sets outsideAscii for a character beyond 127. */
function crcDigits(crc: number, s: string): number {
  const n = s.length;
  let i = 0;
  // leading zeros are skipped, and so is every '.'
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c !== 48 && c !== 46) break;
  }
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) continue;
    if (c > 127) outsideAscii = true;
    crc = CRC_TABLE[(crc ^ c) & 0xff] ^ (crc >>> 8);
  }
  return crc;
}

/**
 * The last book's numbers in checksum order (asks then bids) and the running CRC before each: the next call
 * restarts from the first number that differs (a message seldom changes the best ask or the top of both
 * sides, so most of the 40 numbers are the same strings as last time). Results do not depend on it: the CRC
 * runs over the digits alone, so equal strings give equal states.
 */
const MAX_NUMBERS = 4 * KRAKEN_CHECKSUM_DEPTH;
const lastNumbers: string[] = [];
const lastStates = new Int32Array(MAX_NUMBERS + 1);
let lastCount = 0;

/**
 * The checksum of a book given its best asks and best bids (best first, at most 10 each are read). The CRC
 * runs over the digits where they are, with no string built (a string per number and one for the whole
 * book cost ~3 µs a message); text outside ASCII, which zlib reads as UTF-8, goes through zlib.
 */
export function krakenChecksum(asks: readonly StringLevel[], bids: readonly StringLevel[]): number {
  const n = KRAKEN_CHECKSUM_DEPTH;
  const na = asks.length < n ? asks.length : n;
  const nb = bids.length < n ? bids.length : n;
  const count = 2 * (na + nb);
  // the first number that differs from the last call's
  let j = 0;
  while (j < count && j < lastCount) {
    const l = j < 2 * na ? asks[j >> 1] : bids[(j - 2 * na) >> 1];
    if (l[j & 1] !== lastNumbers[j]) break;
    j++;
  }
  outsideAscii = false;
  let crc = j === 0 ? -1 : lastStates[j];
  for (; j < count; j++) {
    const l = j < 2 * na ? asks[j >> 1] : bids[(j - 2 * na) >> 1];
    const s = l[j & 1];
    lastNumbers[j] = s;
    crc = crcDigits(crc, s);
    lastStates[j + 1] = crc;
  }
  lastCount = count;
  if (outsideAscii) {
    lastCount = 0;
    return zlibChecksum(asks, bids);
  }
  return ~crc >>> 0;
}
