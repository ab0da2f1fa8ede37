/**
 * Kraken's book checksum (WebSocket v1 and v2 `book` channels; docs "Book checksum (WebSocket v2)"): CRC32
 * (unsigned) of one string built from the top 10 asks (price low to high) then the top 10 bids (high to
 * low), each level as its price then its quantity, every number written as the venue sent it (full
 * precision: "45285.2", "0.00100000") with the '.' removed and leading zeros stripped. v1 and v2 compute it
 * the same way over the strings they send; v1 sends them quoted, v2 as JSON numbers whose text keeps the
 * precision. Pure.
 */
import { crc32 } from 'node:zlib';
import type { OrderBook, StringLevel, StringSideView } from '../core/book.js';

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
/** Digits crcDigits fed the CRC, summed over its calls (bookVerify's level tags reset and read it). */
let digitsFed = 0;

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
    digitsFed++;
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

// ------------------------------------------------------------------------ the checksum read from the book

/*
 * A checksum on every message recomputes the CRC over ~300 digits of the top 10 levels, most of them the
 * same as last time (~0.8 µs), after copying the top into 22 arrays (topStrings, ~0.4 µs). The CRC is
 * linear: fed bytes B from state s, the register ends at Z_|B|(s) xor F(0, B), where F(0, B) is B's CRC
 * from 0 and Z_n (n zero bytes) a linear map read from four 256-entry tables. So each level keeps a tag
 * in the book (OrderBook's per-level tags, reset when the level changes): F(0, its digits) and their
 * count, computed when a level in the top 10 has none. A side is folded from a fixed start (asks from the
 * CRC's, bids from 0) and its result kept while the side's version stays; the two join as
 * Z_bidDigits(asks) xor bids. So a message costs one side's 10 table folds, or none. Results are
 * krakenChecksum's, which the tests check. One check per book (the tags are its).
 */

/** Levels with more digits than this go the plain way (no table made for them). */
const MAX_TAG_DIGITS = 95;

/** Z_n as four byte tables, for n up to a side's digits (10 levels of MAX_TAG_DIGITS), made when first needed. */
const ZERO_TABLES: (Int32Array | null)[] = new Array<Int32Array | null>(
  KRAKEN_CHECKSUM_DEPTH * MAX_TAG_DIGITS + 1,
).fill(null);

function zeroTable(n: number): Int32Array {
  let t = ZERO_TABLES[n];
  if (t === null) {
    t = new Int32Array(1024);
    for (let k = 0; k < 4; k++) {
      for (let b = 0; b < 256; b++) {
        let c = b << (8 * k);
        for (let i = 0; i < n; i++) c = CRC_TABLE[c & 0xff] ^ (c >>> 8);
        t[(k << 8) | b] = c;
      }
    }
    ZERO_TABLES[n] = t;
  }
  return t;
}

/** The register after feeding it n zero bytes (Z_n). */
function shiftByZeros(crc: number, n: number): number {
  const z = zeroTable(n);
  return z[crc & 0xff] ^ z[256 | ((crc >>> 8) & 0xff)] ^ z[512 | ((crc >>> 16) & 0xff)] ^ z[768 | (crc >>> 24)];
}

/** Set when a level cannot be tagged (text outside ASCII, or too long): the check goes the plain way. */
let untaggable = false;

/** 2^32: a level's tag keeps its CRC below it and its digit count above (one number in the book's tags). */
const TAG_LENGTH_UNIT = 4294967296;

/** One side's last fold: the side's version then, the register it ended at, and the digits it fed. */
class SideFold {
  version = -1;
  result = 0;
  digits = 0;

  /**
   * The CRC register after feeding this side's top levels (best first) from `start` (always the same start
   * for one side, so a side unchanged since the last fold gives the last result). Each level's tag is kept
   * in the book (OrderBook tags: NaN once the level changes) and computed only when missing.
   */
  fold(side: StringSideView, start: number): number {
    if (side.topVersion === this.version) return this.result;
    const n = side.n < KRAKEN_CHECKSUM_DEPTH ? side.n : KRAKEN_CHECKSUM_DEPTH;
    const top = side.n - 1;
    const tags = side.tags!;
    let crc = start;
    let digits = 0;
    for (let r = 0; r < n; r++) {
      const i = top - r;
      let t = tags[i];
      if (t !== t) {
        outsideAscii = false;
        digitsFed = 0;
        const c = crcDigits(crcDigits(0, side.priceStr![side.strBase + i]), side.sizeStr![side.strBase + i]);
        if (outsideAscii || digitsFed > MAX_TAG_DIGITS) {
          untaggable = true;
          this.version = -1;
          return 0;
        }
        t = digitsFed * TAG_LENGTH_UNIT + (c >>> 0);
        tags[i] = t;
      }
      const len = (t / TAG_LENGTH_UNIT) | 0;
      const tag = (t - len * TAG_LENGTH_UNIT) | 0;
      digits += len;
      crc = shiftByZeros(crc, len) ^ tag;
    }
    this.version = side.topVersion;
    this.result = crc;
    this.digits = digits;
    return crc;
  }
}

/** Per book (OrderBook.checkState): its two sides' last folds. */
class BookFolds {
  readonly asks = new SideFold();
  readonly bids = new SideFold();
}

/**
 * krakenChecksum(book's top 10 asks, bids) === checksum, read from a keepStrings book in place. A book that
 * keeps no strings, or a level that cannot be tagged, goes the plain way.
 */
export function krakenBookVerify(book: OrderBook, checksum: number): boolean {
  const asks = book.stringSide('ask');
  const bids = book.stringSide('bid');
  if (asks.tags !== undefined && bids.tags !== undefined) {
    const state = book.checkState;
    const folds = state instanceof BookFolds ? state : (book.checkState = new BookFolds());
    untaggable = false;
    // asks from the CRC's start, bids from 0, joined by feeding the asks' register the bids' digits as zeros
    const a = folds.asks.fold(asks, -1);
    const b = untaggable ? 0 : folds.bids.fold(bids, 0);
    if (!untaggable) return ~(shiftByZeros(a, folds.bids.digits) ^ b) >>> 0 === checksum;
  }
  const top = book.topStrings(KRAKEN_CHECKSUM_DEPTH);
  return krakenChecksum(top.asks, top.bids) === checksum;
}
