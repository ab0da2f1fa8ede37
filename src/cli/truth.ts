/**
 * The demo's truth check of one book: the client's top of book against the simulator's true book. A
 * sequenced book is compared at the same venue id; a replica venue's book (an epoch in the stream: Kraken,
 * Coinbase, Gemini) has no id to compare at, so a sample is checked by state -- the client's book must have
 * held it (or a later sample: it went past it, an outage's snapshot) within STATE_MATCH_MS.
 */
import { performance } from 'node:perf_hooks';
import type { Level } from '../core/types.js';

/** Levels per side compared. */
export const TRUTH_DEPTH = 10;
/** A replica book's truth sample must be matched (or passed) within this long: DIFF otherwise. */
const STATE_MATCH_MS = 10_000;
/** Tops kept to compare with samples that arrive late (a sample at an id the client has passed). */
const HISTORY = 5000;

export interface TruthSample {
  lastUpdateId: number;
  bids: Level[];
  asks: Level[];
}

/** The key a top of book is compared by (client and simulator alike). */
export function topKey(top: { bids: Level[]; asks: Level[] }): string {
  return JSON.stringify({ bids: top.bids.slice(0, TRUTH_DEPTH), asks: top.asks.slice(0, TRUTH_DEPTH) });
}

/** The simulator's true top of one book, or undefined when it is busy or gone (no verdict then). */
export async function fetchTruth(simRestBase: string, venue: string, symbol: string): Promise<TruthSample | undefined> {
  try {
    const q = new URLSearchParams({ venue, symbol, depth: String(TRUTH_DEPTH) });
    const res = await fetch(`${simRestBase}/sim/truth?${q}`, { signal: AbortSignal.timeout(900) });
    if (!res.ok) return undefined;
    return (await res.json()) as TruthSample;
  } catch {
    return undefined;
  }
}

export class BookTruth {
  /** The venue's own id of the last update: seq minus the reset offset (what the simulator's truth names). */
  private venueSeq = 0;
  private offset = 0;
  /** Client top-of-book by the venue's id, kept briefly so a truth sample can be compared at the same id. */
  private readonly history = new Map<number, string>();
  private pending: { seq: number; top: string; at: number }[] = [];
  /** Replica venues: each top of book the client held, and when. */
  private readonly byState = new Map<string, number>();
  private stateMode = false;
  /** The last verdict; undefined before the first. */
  matches?: boolean;
  readonly checks = { ok: 0, diff: 0 };
  /** Samples taken (each gives at most one verdict). */
  samples = 0;

  /** The client's book changed: its sequence, the venue's reset offset, whether it is a replica (epoch) book. */
  onBook(seq: number, offset: number, replica: boolean, top: string): void {
    if (offset !== this.offset) {
      // The venue reset its ids: what was kept (and truth samples taken before) is in the old numbering.
      this.offset = offset;
      this.history.clear();
      this.pending = [];
    }
    this.venueSeq = seq - offset;
    this.stateMode = replica;
    if (replica) {
      this.byState.delete(top);
      this.byState.set(top, performance.now());
      if (this.byState.size > HISTORY) this.byState.delete(this.byState.keys().next().value!);
    } else {
      this.history.set(this.venueSeq, top);
      if (this.history.size > HISTORY) this.history.delete(this.history.keys().next().value!);
    }
    this.compare();
  }

  onSample(t: TruthSample): void {
    this.samples++;
    this.pending.push({ seq: t.lastUpdateId, top: topKey(t), at: performance.now() });
    if (this.pending.length > 20) this.pending.shift();
    this.compare();
  }

  /** Drop what is kept to compare (the book leaves the check): the counts stay. */
  forget(): void {
    this.history.clear();
    this.byState.clear();
    this.pending = [];
  }

  private compare(): void {
    if (this.stateMode) return this.compareByState();
    const keep: typeof this.pending = [];
    for (const p of this.pending) {
      const mine = this.history.get(p.seq);
      if (mine !== undefined) this.verdict(mine === p.top);
      else if (p.seq > this.venueSeq) keep.push(p); // we have not reached it yet
    }
    this.pending = keep;
  }

  private compareByState(): void {
    const now = performance.now();
    const pending = this.pending;
    let last = -1;
    for (let i = 0; i < pending.length; i++) if (this.byState.has(pending[i].top)) last = i;
    const keep: typeof this.pending = [];
    for (let i = 0; i < pending.length; i++) {
      const p = pending[i];
      if (this.byState.has(p.top)) this.verdict(true);
      else if (i < last) {
        // the client went past it (a snapshot after an outage, a failover's difference): skipped, not wrong,
        // as a sequenced book's samples at ids it jumped over
      } else if (now - p.at < STATE_MATCH_MS)
        keep.push(p); // the client may not be there yet
      else this.verdict(false);
    }
    this.pending = keep;
  }

  private verdict(ok: boolean): void {
    this.matches = ok;
    if (ok) this.checks.ok++;
    else this.checks.diff++;
  }
}
