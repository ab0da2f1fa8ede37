/** Generators shared by the venue scanners' property tests (fast path vs careful path). */
import fc from 'fast-check';

/** Plain decimals as venues write them, and (`odd`) a few they do not: leading zeros, a trailing dot. */
export function decimalText(odd: boolean): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.oneof(
        { arbitrary: fc.bigInt({ min: 0n, max: 10n ** 12n }), weight: 9 },
        fc.bigInt({ min: 0n, max: 10n ** 18n }),
      ),
      fc.integer({ min: 0, max: 10 }),
      fc.nat({ max: odd ? 400 : 5 }),
    )
    .map(([int, decimals, oddity]) => {
      const digits = int.toString();
      if (oddity === 0) return `0${digits}`;
      if (oddity === 1) return `${digits}.`;
      if (decimals === 0) return digits;
      const padded = digits.padStart(decimals + 1, '0');
      return `${padded.slice(0, -decimals)}.${padded.slice(-decimals)}`;
    })
    .filter((t) => odd || /^(0|[1-9][0-9]*)(\.[0-9]+)?$/.test(t));
}

/** The text inside a quoted price or size: decimalText, and (`odd`) strings that are no decimal now and then. */
export function quotedDecimalText(odd: boolean): fc.Arbitrary<string> {
  if (!odd) return decimalText(false);
  return fc.oneof(
    { arbitrary: decimalText(true), weight: 30 },
    fc.constantFrom('', '.5', '1e5', '-1', 'NaN', ' 1', '1.2.3', '9'.repeat(400), '0x10', 'Infinity'),
  );
}

const two = (x: number) => String(x).padStart(2, '0');
/** RFC 3339 times, mostly valid; out-of-range fields (month 13, hour 24, minute 60) and 10 fraction digits now and then. */
export const timestampArb = fc
  .tuple(
    fc.integer({ min: 1960, max: 2100 }),
    fc.oneof({ arbitrary: fc.integer({ min: 1, max: 12 }), weight: 40 }, fc.constantFrom(0, 13)),
    fc.oneof({ arbitrary: fc.integer({ min: 1, max: 28 }), weight: 40 }, fc.constantFrom(0, 29, 30, 31, 32)),
    fc.oneof({ arbitrary: fc.integer({ min: 0, max: 23 }), weight: 40 }, fc.constantFrom(24, 25)),
    fc.oneof({ arbitrary: fc.integer({ min: 0, max: 59 }), weight: 40 }, fc.constant(60)),
    fc.nat({ max: 10 }),
    fc.nat({ max: 999_999_999 }),
  )
  .map(([y, mo, d, h, mi, digits, frac]) => {
    const fraction = digits === 0 ? '' : `.${String(frac).padStart(10, '0').slice(0, digits)}`;
    return `${y}-${two(mo)}-${two(d)}T${two(h)}:${two(mi)}:${two(mi % 60)}${fraction}Z`;
  });
