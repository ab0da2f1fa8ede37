/**
 * Request-weight budget for REST snapshots (Binance limits request weight per IP per minute).
 * A token bucket refilled continuously; a 429/418 answer blocks everything until its Retry-After.
 * Time is passed in, so this is pure and unit-testable.
 */
export class WeightLimiter {
  private tokens: number;
  private last: number;
  private blockedUntil = 0;

  constructor(
    private readonly weightPerMinute: number,
    nowMs: number,
  ) {
    this.tokens = weightPerMinute;
    this.last = nowMs;
  }

  private refill(nowMs: number): void {
    const dt = nowMs - this.last;
    if (dt > 0) {
      this.tokens = Math.min(this.weightPerMinute, this.tokens + (dt * this.weightPerMinute) / 60_000);
      this.last = nowMs;
    }
  }

  /** ms to wait before a request of this weight may be sent (0 = now). */
  delayFor(weight: number, nowMs: number): number {
    this.refill(nowMs);
    if (nowMs < this.blockedUntil) return this.blockedUntil - nowMs;
    if (this.tokens >= weight) return 0;
    return Math.ceil(((weight - this.tokens) * 60_000) / this.weightPerMinute);
  }

  take(weight: number, nowMs: number): void {
    this.refill(nowMs);
    this.tokens -= weight;
  }

  /** The venue said "too many requests": stop until then. */
  block(untilMs: number): void {
    this.blockedUntil = Math.max(this.blockedUntil, untilMs);
  }
}

/** Exponential backoff with full jitter (AWS architecture blog): uniform in [0, min(max, base*2^attempt)]. */
export function backoffDelay(
  attempt: number,
  minMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const cap = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.max(minMs, Math.floor(random() * cap));
}

/** A stable fraction in [0,1) from a string, used to stagger collectors' scheduled reconnects. */
export function stableFraction(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return (h >>> 0) / 2 ** 32;
}
