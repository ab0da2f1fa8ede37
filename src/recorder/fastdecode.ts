/**
 * A fast path for decoding recorded consolidated deltas stored as JSON (format 01 segments, and payloads
 * the binary codec declined), the bulk of replaying those: JSON.parse tops out near 0.5M of these per
 * second, the scanner of binrec.ts, which knows the arbiter's exact layout (key order, no spaces), does
 * several times that. It is the same scanner the recorder encodes with: one parser, one set of rules.
 * Numbers are exact (binrec.ts: digits into an integer mantissa, divided by an exact power of ten).
 * Anything else (another key order, exponents, escapes, non-canonical numbers) returns undefined: use
 * decodeConsolidated.
 */
import type { ConsolidatedDelta } from '../wire/messages.js';
import { parseConsolidated, parsedDelta } from './binrec.js';

/** The delta in `b` if it has the arbiter's exact layout, else undefined (then use decodeConsolidated). */
export function fastDecodeDelta(b: Buffer): ConsolidatedDelta | undefined {
  return parseConsolidated(b) === 1 ? parsedDelta(b) : undefined;
}
