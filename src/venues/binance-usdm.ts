/**
 * Binance USD-M futures L2 depth adapter. Same message shapes as spot plus `pu` (the previous event's `u`)
 * and `T`; update ids are one id space shared by all symbols, so `U` jumps and only `pu` shows continuity.
 * Merge: interval cover with lo = pu (core/sequence.ts). Two connections may group the same updates into
 * different messages (ccxt issue 26819), each with an unbroken pu chain: cover stays exact.
 *
 * Streams: https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/Diff-Book-Depth-Streams
 * (wss://fstream.binance.com/public/stream?streams=...; the paths without /public were retired 2026-04-23).
 * Local book: same docs, "How to manage a local order book correctly": GET /fapi/v1/depth, drop u < lastUpdateId,
 * the first applied event has U <= lastUpdateId <= u (cover's pu <= lastUpdateId < u admits the same events
 * except one ending exactly at lastUpdateId, which the snapshot already contains).
 */
import { intervalRule } from '../core/sequence.js';
import { parseMessage, parseSnapshot } from './binance.js';
import { trimSlash } from './decimal.js';
import { concatenatedSymbols } from './symbols.js';
import type { VenueAdapter } from './types.js';

export const BINANCE_USDM_VENUE = 'binance-usdm';
export const BINANCE_USDM_WS_BASE = 'wss://fstream.binance.com/public';
export const BINANCE_USDM_REST_BASE = 'https://fapi.binance.com';

export type UsdmSpeed = '100ms' | '250ms' | '500ms';

/** Diff-depth stream name; 250 ms is the default speed and has no suffix. */
export function usdmStreamName(symbol: string, speed: UsdmSpeed = '100ms'): string {
  const s = symbol.toLowerCase();
  return speed === '250ms' ? `${s}@depth` : `${s}@depth@${speed}`;
}

/** Request weight of GET /fapi/v1/depth: 2/5/10/20 for limits 5-50/100/500/1000. */
export function usdmSnapshotWeight(limit: number): number {
  if (limit <= 50) return 2;
  if (limit <= 100) return 5;
  if (limit <= 500) return 10;
  return 20;
}

export const binanceUsdm: VenueAdapter = {
  id: BINANCE_USDM_VENUE,
  name: 'Binance USD-M futures',
  markets: ['perp', 'future'],
  rule: intervalRule,
  // one id space for every symbol, so a quiet book sees large jumps: 1e11 (an estimate: days at 1e5 ids/s)
  seqWindow: 1e11,
  snapshotSource: 'rest',
  defaultWsUrl: BINANCE_USDM_WS_BASE,
  defaultRestUrl: BINANCE_USDM_REST_BASE,
  maxBooksPerConnection: 200, // Binance: 200 streams per connection
  // USD-M "General Info": 2,400 weight per minute per IP, X-MBX-USED-WEIGHT-1M on every answer
  restLimit: { weight: 2400, windowMs: 60_000, usedWeightHeader: 'x-mbx-used-weight-1m' },
  defaultSnapshotLimit: 1000,
  ...concatenatedSymbols('quote'),
  wsUrl(base, symbols) {
    if (symbols.length === 0) throw new RangeError('wsUrl: at least one symbol is required');
    return `${trimSlash(base)}/stream?streams=${symbols.map((s) => usdmStreamName(s)).join('/')}`;
  },
  subscribeMessages: () => [],
  parse(text, collector, recvTime) {
    const r = parseMessage(text, collector, recvTime, BINANCE_USDM_VENUE);
    // Without pu the event cannot be placed in the shared id space: never guess from U.
    if (r.delta !== undefined && r.delta.prev === undefined)
      return { error: 'depthUpdate without "pu" on a USD-M stream' };
    return r;
  },
  snapshotRequest: (base, symbol, limit) => ({
    url: `${trimSlash(base)}/fapi/v1/depth?symbol=${symbol.toUpperCase()}&limit=${limit}`,
    weight: usdmSnapshotWeight(limit),
  }),
  parseSnapshot: (text, symbol, collector, recvTime) =>
    parseSnapshot(text, symbol, collector, recvTime, BINANCE_USDM_VENUE),
  symbolCheckUrl: (base) => `${trimSlash(base)}/fapi/v1/exchangeInfo`,
};
