/**
 * Request-weight budget for REST calls, mirroring how the venue counts (Binance: weight per IP in fixed
 * windows aligned to the clock, 6,000 a minute on spot). A request counts in every window the venue may have
 * counted it in: from when it was taken (less `skewMs`, for clock skew) until its answer came (plus
 * skewMs), so a burst at a window's end is never counted in neither window. The venue's own figure (its
 * used-weight header) corrects the count upward: other clients on the same IP spend it too. A 429/418
 * blocks everything until its Retry-After. Time is passed in (wall-clock ms): pure and unit-testable.
 */
import { stableHash } from '../util/hash.js';
export class WeightLimiter {
  /** Requests that may still count in the current window: taken at t0, answered at t1 (Infinity in flight). */
  private readonly spent: { w: number; t0: number; t1: number }[] = [];
  /** The venue's last figure: weight used in its window `window`, as of `at`. */
  private seen = { window: -1, used: 0, at: 0 };
  private blockedUntil = 0;

  constructor(
    /** Weight the collector may use per window (at most the venue's limit). */
    readonly limit: number,
    readonly windowMs = 60_000,
    readonly skewMs = Math.min(1000, windowMs / 50),
  ) {}

  private windowOf(t: number): number {
    return Math.floor(t / this.windowMs);
  }

  /** Weight counted against the window `nowMs` is in. */
  used(nowMs: number): number {
    const start = this.windowOf(nowMs) * this.windowMs;
    // answered long enough before this window began: the venue counted them in an earlier one
    while (this.spent.length > 0 && this.spent[0].t1 + this.skewMs < start && this.spent[0].t1 !== Infinity)
      this.spent.shift();
    let mine = 0;
    let since = 0;
    for (const r of this.spent) {
      if (r.t1 + this.skewMs < start) continue;
      mine += r.w;
      if (r.t0 > this.seen.at) since += r.w;
    }
    const venue = this.seen.window === this.windowOf(nowMs) ? this.seen.used + since : 0;
    return Math.max(mine, venue);
  }

  /** ms to wait before a request of this weight may be sent (0 = now). */
  delayFor(weight: number, nowMs: number): number {
    if (nowMs < this.blockedUntil) return this.blockedUntil - nowMs;
    if (this.used(nowMs) + weight <= this.limit) return 0;
    // the next window, once every clock agrees it has begun
    return (this.windowOf(nowMs) + 1) * this.windowMs + this.skewMs - nowMs;
  }

  /**
   * ms until a request of this weight may go when `ahead` weight already waits in line before it (0 = now):
   * past the window's room, the line fills whole windows in turn. delayFor tells every waiter "the next
   * window", which holds only the first window's worth of them: the others' arbiters, told too soon, ask
   * another collector as well and the book is fetched twice.
   */
  delayInLine(weight: number, ahead: number, nowMs: number): number {
    const room = Math.max(0, this.limit - this.used(nowMs));
    const blocked = nowMs < this.blockedUntil ? this.blockedUntil - nowMs : 0;
    if (ahead + weight <= room) return blocked;
    const windows = Math.ceil((ahead + weight - room) / this.limit);
    return Math.max(blocked, (this.windowOf(nowMs) + windows) * this.windowMs + this.skewMs - nowMs);
  }

  /** Spend `weight` now; call the result when the answer has come (or the request failed). */
  take(weight: number, nowMs: number): (doneMs: number) => void {
    const r = { w: weight, t0: nowMs, t1: Infinity };
    this.spent.push(r);
    return (doneMs) => {
      r.t1 = doneMs;
      // keep answered requests in answer order for the pruning in used()
      this.spent.sort((a, b) => a.t1 - b.t1);
    };
  }

  /** The venue said how much weight this IP has used in its current window (as of nowMs). */
  observe(used: number, nowMs: number): void {
    const window = this.windowOf(nowMs);
    // answers overtake each other: an older, smaller figure of the same window says nothing new
    if (window < this.seen.window || (window === this.seen.window && used <= this.seen.used)) return;
    this.seen = { window, used, at: nowMs };
  }

  /** The venue said "too many requests": stop until then. */
  block(untilMs: number): void {
    this.blockedUntil = Math.max(this.blockedUntil, untilMs);
  }

  /** When REST is blocked until (0: not blocked). */
  get blocked(): number {
    return this.blockedUntil;
  }
}

/**
 * At most `count` events (connection opens) in any `windowMs` span: the times of the last `count`, oldest
 * first. An event may be stamped again when it is known to be done (answered): the venue counted it when
 * it arrived, which can be well after it was started on a busy link, so its window runs from the answer.
 */
export class OpenGate {
  private readonly times: number[] = [];

  constructor(
    readonly count: number,
    readonly windowMs: number,
  ) {}

  /**
   * ms until one more may happen; 0: it is counted as happening now. `pending`: it is counted as not done
   * until done() (its window has not started).
   */
  tryOpen(nowMs: number, pending = false): number {
    while (this.times.length > 0 && nowMs - this.times[0] >= this.windowMs) this.times.shift();
    if (this.times.length >= this.count)
      return Math.max(1, Math.min(this.windowMs, this.times[0] + this.windowMs - nowMs));
    this.times.push(pending ? Infinity : nowMs);
    return 0;
  }

  /** A pending event is done (its answer came): its window starts now. */
  done(nowMs: number): void {
    const i = this.times.indexOf(Infinity);
    if (i < 0) return;
    this.times.splice(i, 1);
    // every stamp so far is at most now: now goes after them, before the pending ones
    let j = i;
    while (j < this.times.length && this.times[j] <= nowMs) j++;
    this.times.splice(j, 0, nowMs);
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
  return stableHash(s) / 2 ** 32;
}
