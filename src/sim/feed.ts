/** A per-symbol source of depthUpdate events that advances the simulator's truth book. */
import type { TruthBook } from './truthBook.js';

export interface Feed {
  /** Binance symbol, upper case (BTCUSDT). */
  readonly symbol: string;
  readonly book: TruthBook;
  /** PRICE_FILTER tickSize and LOT_SIZE stepSize, in 1e-8 units (for exchangeInfo). */
  readonly tickUnits: number;
  readonly stepUnits: number;
  /** Advance the truth by one event stamped E = eventTimeMs; undefined when exhausted (end of a capture). */
  next(eventTimeMs: number): DepthEvent | undefined;
}

/**
 * One depthUpdate, serialized once and shared by every connection: the raw payload and the combined-stream
 * envelopes are encoded to UTF-8 once (ws would otherwise convert the string again for each socket).
 * Envelopes are built lazily per stream name (a symbol is usually watched under one or two names).
 */
export class DepthEvent {
  private rawBuf: Buffer | undefined;
  private envName1 = '';
  private envBuf1: Buffer | undefined;
  private envName2 = '';
  private envBuf2: Buffer | undefined;

  constructor(
    readonly symbol: string,
    readonly first: number,
    readonly last: number,
    /** The raw stream payload. */
    readonly json: string,
  ) {}

  /** What a connection gets: the raw payload, or {"stream":"<name>","data":<json>} on a combined stream. */
  payload(combined: boolean, stream: string): Buffer {
    if (!combined) return (this.rawBuf ??= Buffer.from(this.json));
    if (stream === this.envName1) return this.envBuf1!;
    if (stream === this.envName2) return this.envBuf2!;
    const b = Buffer.from(`{"stream":"${stream}","data":${this.json}}`);
    this.envName2 = this.envName1;
    this.envBuf2 = this.envBuf1;
    this.envName1 = stream;
    this.envBuf1 = b;
    return b;
  }
}

/** Binance's diff-depth payload, field order as Binance sends it. bidsJson/asksJson are JSON arrays. */
export function depthUpdateJson(
  symbol: string,
  E: number,
  U: number,
  u: number,
  bidsJson: string,
  asksJson: string,
): string {
  return `{"e":"depthUpdate","E":${E},"s":"${symbol}","U":${U},"u":${u},"b":${bidsJson},"a":${asksJson}}`;
}
