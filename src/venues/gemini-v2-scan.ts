/**
 * The fast path of decodeGeminiV2 (gemini-v2.ts): reads an l2_updates update written exactly as Gemini writes
 * it -- `{"type":"l2_updates","symbol":"BTCUSD","changes":[["buy","9122.04","0.00121425"],...]}`, that key
 * order, no whitespace, ASCII only, no `trades` (a snapshot: rare, left to the careful path) -- straight from
 * the text in one pass. It says no (undefined) to anything else, valid or not, and the careful path
 * (JSON.parse + checks) reads it: whatever it accepts, the careful path accepts with the same result (a
 * property test in test/venues/gemini-v2.test.ts checks both on generated and mutated messages), so results
 * never depend on which path ran, only the speed does.
 */
import type { Level } from '../core/types.js';
import { asciiBytes, bytesDecimalAt, bytesDecimalEnd, literalAt, literal } from '../wire/textscan.js';
import type { GeminiL2Message } from './gemini-v2.js';

const HEAD = literal('{"type":"l2_updates","symbol":"');
const CHANGES = literal(',"changes":[');

const SELL = literal('"sell",');
/**
 * Most changes one l2_updates may carry. A full book is every level of both sides (the recording's largest,
 * GRTUSD, has 679); Gemini's deepest books are a few thousand levels. More is malformed or hostile.
 * (Here, not in gemini-v2.ts, which re-exports it: that file imports this one.)
 */
export const GEMINI_MAX_CHANGES = 20_000;

/** The last symbol read: most messages repeat it, so it is compared, not checked and sliced again. */
let lastSymbol = '';

function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/**
 * `"buy","p","q"]` or `"sell","p","q"]` at i (just after the change's `[`) into bids or asks: the index after
 * the `]`, or -1. Price > 0, quantity >= 0, both finite, as changeLevels checks them.
 */
function changeAt(b: Uint8Array, i: number, bids: Level[], asks: Level[]): number {
  let side: Level[];
  // "buy", / "sell",
  if (b[i + 1] === 98) {
    if (b[i] !== 34 || b[i + 2] !== 117 || b[i + 3] !== 121 || b[i + 4] !== 34 || b[i + 5] !== 44) return -1;
    side = bids;
    i += 6;
  } else {
    if (literalAt(b, i, SELL) < 0) return -1;
    side = asks;
    i += 7;
  }
  const p = bytesDecimalAt(b, i);
  if (!(p > 0 && p < Infinity) || b[bytesDecimalEnd] !== 44) return -1; // ,
  const q = bytesDecimalAt(b, bytesDecimalEnd + 1);
  if (!(q >= 0 && q < Infinity) || b[bytesDecimalEnd] !== 93) return -1; // ]
  side.push([p, q]);
  return bytesDecimalEnd + 1;
}

/** The message, when `text` is an l2_updates update in Gemini's own spelling that passes every check; else undefined. */
export function scanGeminiV2Update(text: string): GeminiL2Message | undefined {
  const b = asciiBytes(text);
  if (b === undefined) return undefined;
  let i = literalAt(b, 0, HEAD);
  if (i < 0) return undefined;
  let symbol: string;
  const sn = lastSymbol.length;
  if (sn > 0 && b[i + sn] === 34 && text.startsWith(lastSymbol, i)) {
    symbol = lastSymbol;
    i += sn + 1;
  } else {
    // 2-30 letters or digits (MESSAGE_SYMBOL)
    let j = i;
    while (isAlnum(b[j])) j++;
    if (j - i < 2 || j - i > 30 || b[j] !== 34) return undefined;
    symbol = lastSymbol = text.slice(i, j);
    i = j + 1;
  }
  i = literalAt(b, i, CHANGES);
  if (i < 0) return undefined;
  const bids: Level[] = [];
  const asks: Level[] = [];
  if (b[i] === 93) i++;
  else
    for (let n = 1; ; n++) {
      if (b[i] !== 91 || n > GEMINI_MAX_CHANGES) return undefined; // [
      i = changeAt(b, i + 1, bids, asks);
      if (i < 0) return undefined;
      const c = b[i++];
      if (c === 93) break; // ]
      if (c !== 44) return undefined; // ,
    }
  // `}` and the end of the text: no `trades`, nothing after
  if (b[i] !== 125 || i + 1 !== text.length) return undefined;
  return { symbol, snapshot: false, bids, asks };
}
