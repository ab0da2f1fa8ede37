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
 * One depthUpdate, serialized once and shared by every connection. Combined-stream envelopes are built
 * lazily per stream name (a symbol is usually watched under one or two names: @depth, @depth@100ms).
 */
export class DepthEvent {
  private envName1 = '';
  private envJson1 = '';
  private envName2 = '';
  private envJson2 = '';

  constructor(
    readonly symbol: string,
    readonly first: number,
    readonly last: number,
    /** The raw stream payload. */
    readonly json: string,
  ) {}

  /** {"stream":"<name>","data":<json>} for combined streams. */
  envelope(stream: string): string {
    if (stream === this.envName1) return this.envJson1;
    if (stream === this.envName2) return this.envJson2;
    const s = `{"stream":"${stream}","data":${this.json}}`;
    this.envName2 = this.envName1;
    this.envJson2 = this.envJson1;
    this.envName1 = stream;
    this.envJson1 = s;
    return s;
  }
}

/** Binance's diff-depth payload, field order as Binance sends it. bidsJson/asksJson are JSON arrays. */
export function depthUpdateJson(symbol: string, E: number, U: number, u: number, bidsJson: string, asksJson: string): string {
  return `{"e":"depthUpdate","E":${E},"s":"${symbol}","U":${U},"u":${u},"b":${bidsJson},"a":${asksJson}}`;
}
