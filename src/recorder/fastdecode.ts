/**
 * A fast path for decoding recorded consolidated deltas, the bulk of every replay: JSON.parse tops out
 * near 0.5M of these per second, a scanner that knows the arbiter's exact layout (key order, no spaces)
 * does several times that. Numbers are exact: digits are read into an integer mantissa (< 2^53) and
 * divided by an exact power of ten, which IEEE 754 rounds exactly as Number(text) does. Anything else
 * (another key order, exponents, escapes, more digits) returns undefined: use decodeConsolidated.
 */
import type { Level } from '../core/types.js';
import type { ConsolidatedDelta } from '../wire/messages.js';

const PREFIX = Buffer.from('{"v":1,"type":"delta","venue":"');
const POW10: number[] = Array.from({ length: 23 }, (_, i) => 10 ** i);
const MAX_MANT = Number.MAX_SAFE_INTEGER;

let buf: Buffer = Buffer.alloc(0);
let pos = 0;
let bad = false;

// byte loops, not Buffer.compare/toString: a native call per key costs more than the comparison itself
function lit(s: Buffer): void {
  if (bad) return;
  const n = s.length;
  if (buf.length - pos < n) {
    bad = true;
    return;
  }
  for (let i = 0; i < n; i++)
    if (buf[pos + i] !== s[i]) {
      bad = true;
      return;
    }
  pos += n;
}

/** Last string decoded per slot (venue, symbol, feed repeat from message to message). */
const cacheBytes: number[][] = [[], [], []];
const cacheStr: string[] = ['', '', ''];

function str(slot: number): string {
  const start = pos;
  let c: number;
  while (pos < buf.length && (c = buf[pos]) !== 34) {
    if (c === 92) {
      bad = true;
      return '';
    }
    pos++;
  }
  if (pos >= buf.length) {
    bad = true;
    return '';
  }
  const end = pos++;
  const cb = cacheBytes[slot];
  if (cb.length === end - start) {
    let same = true;
    for (let i = 0; i < cb.length; i++)
      if (cb[i] !== buf[start + i]) {
        same = false;
        break;
      }
    if (same) return cacheStr[slot];
  }
  const v = buf.toString('utf8', start, end);
  cacheBytes[slot] = Array.from(buf.subarray(start, end));
  cacheStr[slot] = v;
  return v;
}

function num(): number {
  let neg = false;
  if (buf[pos] === 45) {
    neg = true;
    pos++;
  }
  let mant = 0;
  let digits = 0;
  let c = buf[pos];
  while (c >= 48 && c <= 57) {
    mant = mant * 10 + (c - 48);
    digits++;
    c = buf[++pos];
  }
  let frac = 0;
  if (c === 46) {
    c = buf[++pos];
    while (c >= 48 && c <= 57) {
      mant = mant * 10 + (c - 48);
      frac++;
      c = buf[++pos];
    }
    if (frac === 0) bad = true;
  }
  if (digits === 0 || c === 101 || c === 69 || mant > MAX_MANT || frac > 22) {
    bad = true;
    return 0;
  }
  const v = frac === 0 ? mant : mant / POW10[frac];
  return neg ? -v : v;
}

function levels(): Level[] {
  const out: Level[] = [];
  if (buf[pos++] !== 91) {
    bad = true;
    return out;
  }
  if (buf[pos] === 93) {
    pos++;
    return out;
  }
  for (;;) {
    if (buf[pos++] !== 91) break;
    const price = num();
    if (buf[pos++] !== 44) break;
    const size = num();
    if (buf[pos++] !== 93 || !(size >= 0)) break;
    out.push([price, size]);
    const c = buf[pos++];
    if (c === 93) return out;
    if (c !== 44) break;
  }
  bad = true;
  return out;
}

const K_SYMBOL = Buffer.from(',"symbol":"');
const K_SEQ = Buffer.from(',"seq":');
const K_PREV = Buffer.from(',"prev":');
const K_FIRST = Buffer.from(',"first":');
const K_BIDS = Buffer.from(',"bids":');
const K_ASKS = Buffer.from(',"asks":');
const K_EXCH = Buffer.from(',"exchTime":');
const K_RECV = Buffer.from(',"recvTime":');
const K_PUB = Buffer.from(',"pubTime":');
const K_FEED = Buffer.from(',"feed":"');

/** The delta in `b` if it has the arbiter's exact layout, else undefined (then use decodeConsolidated). */
export function fastDecodeDelta(b: Buffer): ConsolidatedDelta | undefined {
  buf = b;
  pos = 0;
  bad = false;
  lit(PREFIX);
  if (bad) {
    buf = EMPTY;
    return undefined;
  }
  const venue = str(0);
  lit(K_SYMBOL);
  const symbol = bad ? '' : str(1);
  lit(K_SEQ);
  const seq = bad ? 0 : num();
  lit(K_PREV);
  const prev = bad ? 0 : num();
  lit(K_FIRST);
  const first = bad ? 0 : num();
  lit(K_BIDS);
  const bids = bad ? [] : levels();
  lit(K_ASKS);
  const asks = bad ? [] : levels();
  lit(K_EXCH);
  const exchTime = bad ? 0 : num();
  lit(K_RECV);
  const recvTime = bad ? 0 : num();
  lit(K_PUB);
  const pubTime = bad ? 0 : num();
  lit(K_FEED);
  const feed = bad ? '' : str(2);
  const ok = !bad && pos === b.length - 1 && b[pos] === 125;
  buf = EMPTY;
  if (!ok) return undefined;
  return { v: 1, type: 'delta', venue, symbol, seq, prev, first, bids, asks, exchTime, recvTime, pubTime, feed };
}

const EMPTY = Buffer.alloc(0);
