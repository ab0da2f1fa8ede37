/** FNV-1a of a string, 32 bits unsigned: a stable spread of names (books over collectors, staggered timers). */
export function stableHash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}
