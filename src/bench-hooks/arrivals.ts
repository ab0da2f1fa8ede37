/**
 * Benchmark instrumentation: when every delta copy reached the arbiter, per collector. With it a benchmark
 * compares each feed with the consolidated stream inside the same process, over the same hops
 * (bench/e2e.ts), instead of at a separate probe that is less loaded than the arbiter. An ArbiterProbe:
 * `bookwire arbitrate` installs one only when BOOKWIRE_ARRIVAL_LOG names a file; bounded; written once,
 * when the arbiter stops.
 */
import { writeFileSync } from 'node:fs';
import type { ArbiterProbe } from '../arbiter/service.js';

export class ArrivalLog implements ArbiterProbe {
  private readonly last: Float64Array;
  private readonly at: Float64Array;
  private readonly feed: Uint16Array;
  private readonly feeds: string[] = [];
  private readonly feedIndex = new Map<string, number>();
  private n = 0;

  constructor(
    readonly file: string,
    readonly capacity = 1_000_000,
  ) {
    this.last = new Float64Array(capacity);
    this.at = new Float64Array(capacity);
    this.feed = new Uint16Array(capacity);
  }

  /** A delta copy from `collector`, ending at exchange sequence `last`, arrived at `at` (epoch µs). */
  onDelta(collector: string, last: number, at: number): void {
    if (this.n >= this.capacity) return;
    let f = this.feedIndex.get(collector);
    if (f === undefined) {
      f = this.feeds.push(collector) - 1;
      this.feedIndex.set(collector, f);
    }
    this.last[this.n] = last;
    this.at[this.n] = at;
    this.feed[this.n++] = f;
  }

  /** Writes {collector: [last, at, last, at, ...]} in arrival order. */
  onStop(): void {
    const out: Record<string, number[]> = {};
    for (const c of this.feeds) out[c] = [];
    for (let i = 0; i < this.n; i++) out[this.feeds[this.feed[i]]].push(this.last[i], this.at[i]);
    writeFileSync(this.file, JSON.stringify(out));
  }
}
