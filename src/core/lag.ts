/**
 * A feed's lag samples over one stats window: how long after the first copy of an update this feed's copy
 * arrived (µs). Both merges (arbiter.ts, replicaArbiter.ts) keep one per feed. Pure.
 */

/** Samples kept per window (the most recent win). Power of two. */
const LAG_SAMPLES = 1024;

export class LagWindow {
  private readonly lags = new Float64Array(LAG_SAMPLES);
  private count = 0;

  add(us: number): void {
    this.lags[this.count & (LAG_SAMPLES - 1)] = us;
    this.count++;
  }

  /** Start a new window. */
  reset(): void {
    this.count = 0;
  }

  /** p50, p99 and the number of samples of the window (0s when empty). */
  percentiles(): { lagP50: number; lagP99: number; lagSamples: number } {
    const n = Math.min(this.count, LAG_SAMPLES);
    const sorted = this.lags.slice(0, n).sort();
    const pct = (p: number) => (n === 0 ? 0 : sorted[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))]);
    return { lagP50: pct(0.5), lagP99: pct(0.99), lagSamples: n };
  }
}
