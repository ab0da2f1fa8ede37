/**
 * The venue registry: every adapter bookwire ships, by id. Adding a venue = one adapter file + one line
 * here (+ a simulator protocol module); see docs/adding-a-venue.md.
 */
import { binanceSpot } from './binance.js';
import { binanceUsdm } from './binance-usdm.js';
import { bybitLinear, bybitSpot } from './bybit.js';
import { coinbase } from './coinbase.js';
import { gemini } from './gemini.js';
import { geminiV2 } from './gemini-v2.js';
import { kraken } from './kraken.js';
import { okx } from './okx.js';
import type { VenueAdapter } from './types.js';

export type { Market, ParsedFrame, ParsedSnapshot, SnapshotRequestSpec, StreamOptions, VenueAdapter } from './types.js';

/** Every adapter, in the order docs and help list them. */
export const ADAPTERS: readonly VenueAdapter[] = [
  binanceSpot,
  binanceUsdm,
  okx,
  bybitSpot,
  bybitLinear,
  kraken,
  coinbase,
  gemini,
  geminiV2,
];

export const VENUE_IDS: readonly string[] = ADAPTERS.map((a) => a.id);

/** The venue of a bare symbol where none is named (CLI flags, old configs): Binance spot, bookwire's first. */
export const DEFAULT_VENUE = 'binance';

/** "venue.SYMBOL" for a book named either way ("okx.BTC-USDT", or "BTCUSDT" of defaultVenue). */
export function bookKeyOf(entry: string, defaultVenue: string = DEFAULT_VENUE): string {
  const dot = entry.indexOf('.');
  return dot > 0 && byId.has(entry.slice(0, dot)) ? entry : `${defaultVenue}.${entry}`;
}

const byId = new Map(ADAPTERS.map((a) => [a.id, a]));

/** The adapter for a venue id, or undefined. */
export function findVenue(id: string): VenueAdapter | undefined {
  return byId.get(id);
}

/** The adapter for a venue id; throws a RangeError naming the known venues otherwise (callers turn it into a user error). */
export function venue(id: string): VenueAdapter {
  const a = byId.get(id);
  if (!a) throw new RangeError(`unknown venue "${id}" (known: ${VENUE_IDS.join(', ')})`);
  return a;
}

/**
 * A venue's websocket and REST base URLs moved under another origin and path prefix, keeping the venue's
 * own paths: the simulator serves each venue under /<venue>[/p/<profile>] (src/sim/index.ts), so
 * `underPrefix(okx, 'ws://127.0.0.1:9443/okx', 'http://127.0.0.1:9443/okx')` gives ws://127.0.0.1:9443/okx/ws/v5/public.
 */
export function underPrefix(a: VenueAdapter, wsPrefix: string, restPrefix: string): { wsUrl: string; restUrl: string } {
  const path = (u: string) => {
    const p = new URL(u).pathname;
    return p === '/' ? '' : p.replace(/\/$/, '');
  };
  const trim = (s: string) => s.replace(/\/$/, '');
  return { wsUrl: trim(wsPrefix) + path(a.defaultWsUrl), restUrl: trim(restPrefix) + path(a.defaultRestUrl) };
}

/**
 * A book's spelling on venue `id` from a name in any venue's spelling or the unified form: the venue's own
 * reading first (BTCUSDT on Binance, BTC-USDT-SWAP or BTC/USDT:USDT on OKX), else another venue's spelling
 * through its unified form (BTCUSDT, Binance spot's BTC/USDT, is BTC-USDT on OKX; OKX's BTC-USDT-SWAP,
 * BTC/USDT:USDT, is BTCUSDT on Binance USD-M). undefined: the venue has no such market (a perpetual on a
 * spot venue) or nobody reads the name.
 */
export function venueSymbolFrom(id: string, input: string): string | undefined {
  const a = venue(id);
  const own = a.venueSymbol(input);
  if (own !== undefined) return own;
  for (const other of ADAPTERS) {
    if (other === a) continue;
    const v = other.venueSymbol(input);
    const unified = v === undefined ? undefined : other.unifiedSymbol(v);
    if (unified !== undefined) return a.venueSymbol(unified);
  }
  return undefined;
}
