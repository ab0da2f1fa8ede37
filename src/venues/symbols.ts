/**
 * Symbol spelling helpers shared by adapters: the unified form is ccxt's, BASE/QUOTE for spot and
 * BASE/QUOTE:SETTLE for perpetuals. Venues that glue base and quote together (Binance, Bybit: BTCUSDT) are
 * split by their known quote assets, longest first.
 */

/** Quote assets of concatenated symbols, longest first so FDUSD wins over USD and USDT over USD. */
const QUOTES = [
  'FDUSD',
  'USDT',
  'USDC',
  'BUSD',
  'TUSD',
  'USDE',
  'EUR',
  'TRY',
  'BRL',
  'BTC',
  'ETH',
  'BNB',
  'USD',
  'DAI',
  'JPY',
  'GBP',
]
  .slice()
  .sort((a, b) => b.length - a.length);

const ASSET = /^[A-Z0-9]{1,20}$/;

/** Parse a unified symbol: BASE/QUOTE or BASE/QUOTE:SETTLE (upper case); undefined if it is not one. */
export function parseUnified(s: string): { base: string; quote: string; settle?: string } | undefined {
  const m = /^([A-Z0-9]{1,20})\/([A-Z0-9]{1,20})(?::([A-Z0-9]{1,20}))?$/.exec(s.toUpperCase());
  if (!m) return undefined;
  return m[3] === undefined ? { base: m[1], quote: m[2] } : { base: m[1], quote: m[2], settle: m[3] };
}

/** Split a concatenated symbol (BTCUSDT) into base and quote by the known quotes; undefined if none fits. */
export function splitConcatenated(s: string): { base: string; quote: string } | undefined {
  const u = s.toUpperCase();
  if (!ASSET.test(u)) return undefined;
  for (const q of QUOTES) if (u.length > q.length && u.endsWith(q)) return { base: u.slice(0, -q.length), quote: q };
  return undefined;
}

/**
 * Symbol spelling for venues that concatenate (Binance, Bybit). `settle` decides the market: undefined for
 * spot (BTC/USDT), 'quote' for linear perpetuals settled in the quote asset (BTC/USDT:USDT).
 */
export function concatenatedSymbols(settle: 'spot' | 'quote'): {
  venueSymbol(input: string): string | undefined;
  unifiedSymbol(venueSymbol: string): string | undefined;
} {
  return {
    venueSymbol(input) {
      if (input.includes('/')) {
        const u = parseUnified(input);
        if (!u) return undefined;
        if (settle === 'spot' ? u.settle !== undefined : u.settle !== u.quote) return undefined;
        return u.base + u.quote;
      }
      const s = input.toUpperCase();
      return ASSET.test(s) ? s : undefined;
    },
    unifiedSymbol(venueSymbol) {
      const p = splitConcatenated(venueSymbol);
      if (!p) return undefined;
      return settle === 'spot' ? `${p.base}/${p.quote}` : `${p.base}/${p.quote}:${p.quote}`;
    },
  };
}

/**
 * Parse a unified symbol that may name a dated future: BASE/QUOTE, BASE/QUOTE:SETTLE or
 * BASE/QUOTE:SETTLE-YYMMDD (ccxt's spelling, e.g. BTC/USD:BTC-220527); undefined if it is none of them.
 */
export function parseUnifiedDated(
  s: string,
): { base: string; quote: string; settle?: string; expiry?: string } | undefined {
  const m = /^([A-Z0-9]{1,20}\/[A-Z0-9]{1,20}(?::[A-Z0-9]{1,20})?)(?:-([0-9]{6}))?$/.exec(s.toUpperCase());
  if (!m) return undefined;
  const u = parseUnified(m[1]);
  if (!u || (m[2] !== undefined && u.settle === undefined)) return undefined;
  return m[2] === undefined ? u : { ...u, expiry: m[2] };
}
