/** Seeded PRNG (mulberry32): fast, 32-bit state, good enough for order-flow simulation and fault dice. */
import { stableHash } from '../util/hash.js';
export type Rng = () => number;

export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Stable 32-bit hash of a string (FNV-1a), to derive per-symbol / per-connection seeds. */
export const hash32 = stableHash;

/** Exponentially distributed value with the given mean. */
export function expo(rng: Rng, mean: number): number {
  return -Math.log(1 - rng()) * mean;
}
