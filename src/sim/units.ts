/**
 * Prices and quantities are kept as integers in units of 1e-8 (Binance spot's finest precision), so the
 * book never accumulates float error and formatting is exact. units / 1e8 is the correctly rounded double,
 * i.e. equal to parseFloat() of the formatted string, so truth() compares exactly with a parsed feed.
 */
export const SCALE = 100_000_000;

const DECIMAL = /^(\d{1,12})(?:\.(\d{1,8})\d*)?$/;

/** Parse "50000.01000000" into units; NaN if it is not a plain non-negative decimal with <= 8 places.
 * Exact up to 90 million (2^53 units); larger values (meme-coin quantities) are approximated. */
export function parseUnits(s: unknown): number {
  if (typeof s !== 'string') return NaN;
  const m = DECIMAL.exec(s);
  if (m === null) return NaN;
  // digits past the 8th must be zeros, or the value is not representable exactly
  const dot = s.indexOf('.');
  if (dot >= 0 && s.length - dot - 1 > 8 && !/^0*$/.test(s.slice(dot + 9))) return NaN;
  const frac = m[2] === undefined ? 0 : Number((m[2] + '00000000').slice(0, 8));
  return Number(m[1]) * SCALE + frac;
}

/** Format units like Binance: always 8 decimals ("0.00000000" for a delete). */
export function formatUnits(u: number): string {
  const int = Math.floor(u / SCALE);
  const frac = String(u - int * SCALE);
  return `${int}.${'00000000'.slice(frac.length)}${frac}`;
}

export function unitsToNumber(u: number): number {
  return u / SCALE;
}

/** Format units as the shortest plain decimal ("65000.1", "0.00123", "0"), as OKX and Bybit send numbers. */
export function formatUnitsShort(u: number): string {
  const int = Math.floor(u / SCALE);
  const frac = u - int * SCALE;
  if (frac === 0) return String(int);
  const digits = String(frac).padStart(8, '0').replace(/0+$/, '');
  return `${int}.${digits}`;
}
