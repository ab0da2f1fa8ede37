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
 * from 0 and Z_n (n zero bytes) a linear map read from four 256-entry tables. So each level keeps a tag,
 * F(0, its digits) and their count, computed once when the level first reaches the top 10, and the
 * checksum of 20 levels is 20 table folds. Results are krakenChecksum's, which the tests check.
 */

/** Levels with more digits than this go the plain way (no table made for them). */
const MAX_TAG_DIGITS = 95;
/** Z_n as four byte tables at [n * 1024, n * 1024 + 1024) (n = digits of one level), made when first needed. */
const ZERO_TABLES = new Int32Array((MAX_TAG_DIGITS + 1) * 1024);
const zeroTableMade = new Uint8Array(MAX_TAG_DIGITS + 1);

function makeZeroTable(n: number): void {
  for (let k = 0; k < 4; k++) {
    for (let b = 0; b < 256; b++) {
      let c = b << (8 * k);
      for (let i = 0; i < n; i++) c = CRC_TABLE[c & 0xff] ^ (c >>> 8);
      ZERO_TABLES[(n << 10) | (k << 8) | b] = c;
    }
  }
  zeroTableMade[n] = 1;
}

/** Set when a level cannot be tagged (text outside ASCII, or too long): the check goes the plain way. */
let untaggable = false;

/** The tags of one side's top levels at the last check, and the buffers the next check fills. */
class SideTags {
  count = 0;
  prices: (string | undefined)[] = new Array<string | undefined>(KRAKEN_CHECKSUM_DEPTH).fill(undefined);
  sizes: (string | undefined)[] = new Array<string | undefined>(KRAKEN_CHECKSUM_DEPTH).fill(undefined);
  crcs = new Int32Array(KRAKEN_CHECKSUM_DEPTH);
  lengths = new Int32Array(KRAKEN_CHECKSUM_DEPTH);
  private nextPrices: (string | undefined)[] = new Array<string | undefined>(KRAKEN_CHECKSUM_DEPTH).fill(undefined);
  private nextSizes: (string | undefined)[] = new Array<string | undefined>(KRAKEN_CHECKSUM_DEPTH).fill(undefined);
  private nextCrcs = new Int32Array(KRAKEN_CHECKSUM_DEPTH);
  private nextLengths = new Int32Array(KRAKEN_CHECKSUM_DEPTH);

  /** Where the last check had this level (rank r, or up to two ranks away), or -1. */
  private seen(r: number, p: string, s: string): number {
    const prices = this.prices;
    const sizes = this.sizes;
    const count = this.count;
    if (r < count && prices[r] === p && sizes[r] === s) return r;
    for (let d = 1; d <= 2; d++) {
      const lo = r - d;
      if (lo >= 0 && lo < count && prices[lo] === p && sizes[lo] === s) return lo;
      const hi = r + d;
      if (hi < count && prices[hi] === p && sizes[hi] === s) return hi;
    }
    return -1;
  }

  /** The CRC register after feeding this side's top levels (best first) from `crc`. */
  fold(side: StringSideView, crc: number): number {
    const n = side.n < KRAKEN_CHECKSUM_DEPTH ? side.n : KRAKEN_CHECKSUM_DEPTH;
    const top = side.n - 1;
    const ps = side.priceStr!;
    const ss = side.sizeStr!;
    const count = this.count;
    const z = ZERO_TABLES;
    // the levels still at the rank they had: their tags are read where they are, nothing is written
    let r = 0;
    for (; r < n && r < count; r++) {
      const i = top - r;
      if (this.prices[r] !== ps[i] || this.sizes[r] !== ss[i]) break;
      const at = this.lengths[r] << 10;
      crc =
        z[at | (crc & 0xff)] ^
        z[at | 256 | ((crc >>> 8) & 0xff)] ^
        z[at | 512 | ((crc >>> 16) & 0xff)] ^
        z[at | 768 | (crc >>> 24)] ^
        this.crcs[r];
    }
    if (r === n && n === count) return crc;
    // from the first change on, the tags go to the other buffers, which then become the last check's
    const np = this.nextPrices;
    const ns = this.nextSizes;
    const nc = this.nextCrcs;
    const nl = this.nextLengths;
    for (let k = 0; k < r; k++) {
      np[k] = this.prices[k];
      ns[k] = this.sizes[k];
      nc[k] = this.crcs[k];
      nl[k] = this.lengths[k];
    }
    for (; r < n; r++) {
      const i = top - r;
      const p = ps[i];
      const s = ss[i];
      const j = this.seen(r, p, s);
      let tag: number;
      let len: number;
      if (j >= 0) {
        tag = this.crcs[j];
        len = this.lengths[j];
      } else {
        outsideAscii = false;
        digitsFed = 0;
        tag = crcDigits(crcDigits(0, p), s);
        len = digitsFed;
        if (outsideAscii || len > MAX_TAG_DIGITS) {
          untaggable = true;
          return 0;
        }
        if (zeroTableMade[len] === 0) makeZeroTable(len);
      }
      np[r] = p;
      ns[r] = s;
      nc[r] = tag;
      nl[r] = len;
      const at = len << 10;
      crc =
        z[at | (crc & 0xff)] ^
        z[at | 256 | ((crc >>> 8) & 0xff)] ^
        z[at | 512 | ((crc >>> 16) & 0xff)] ^
        z[at | 768 | (crc >>> 24)] ^
        tag;
    }
    this.nextPrices = this.prices;
    this.nextSizes = this.sizes;
    this.nextCrcs = this.crcs;
    this.nextLengths = this.lengths;
    this.prices = np;
    this.sizes = ns;
    this.crcs = nc;
    this.lengths = nl;
    this.count = n;
    return crc;
  }
}

/** Per book: its two sides' tags (a book's top changes a little per message; another book's is unrelated). */
const BOOK_TAGS = new WeakMap<OrderBook, { asks: SideTags; bids: SideTags }>();

/**
 * krakenChecksum(book's top 10 asks, bids) === checksum, read from a keepStrings book in place. A book that
 * keeps no strings, or a level that cannot be tagged, goes the plain way.
 */
export function krakenBookVerify(book: OrderBook, checksum: number): boolean {
  const asks = book.stringSide('ask');
  const bids = book.stringSide('bid');
  if (asks.priceStr !== undefined && bids.priceStr !== undefined) {
    let tags = BOOK_TAGS.get(book);
    if (tags === undefined) {
      tags = { asks: new SideTags(), bids: new SideTags() };
      BOOK_TAGS.set(book, tags);
    }
    untaggable = false;
    const crc = tags.bids.fold(bids, tags.asks.fold(asks, -1));
    if (!untaggable) return ~crc >>> 0 === checksum;
    tags.asks.count = 0;
    tags.bids.count = 0;
  }
  const top = book.topStrings(KRAKEN_CHECKSUM_DEPTH);
  return krakenChecksum(top.asks, top.bids) === checksum;
}
