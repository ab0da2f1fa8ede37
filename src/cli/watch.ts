/**
 * Live view model: a client subscription (the consolidated book) plus the arbiter's stats messages,
 * and, in the demo, a truth check against the simulator's own book.
 */
import { subscribe } from '../client/subscribe.js';
import type { Transport } from '../transport/types.js';
import { decodeAny, topics, type ArbiterStats } from '../wire/messages.js';
import type { ViewState } from '../view/state.js';
import type { Level } from '../core/types.js';
import type { Logger } from '../log.js';

export interface WatchOptions {
  transport: Transport;
  venue: string;
  symbol: string;
  title: string;
  /** Simulator REST base: enables the truth check (demo only). */
  simRestBase?: string;
  faultyFeed?: string;
  /** Where the book is read from (endpoints or brokers), named while nothing has arrived from there. */
  where?: string;
  logger?: Logger;
}

const DEPTH = 10;

export class LiveBookView {
  private seq = 0;
  private synced = false;
  private bids: Level[] = [];
  private asks: Level[] = [];
  private gaps = 0;
  private stats?: ArbiterStats;
  private readonly ac = new AbortController();
  /** Client top-of-book by seq, kept briefly so a truth sample can be compared at the same seq. */
  private readonly history = new Map<number, string>();
  private pendingTruth: { seq: number; top: string }[] = [];
  private truthMatches?: boolean;
  private truthChecks = { ok: 0, diff: 0 };
  private timers: NodeJS.Timeout[] = [];
  private tasks: Promise<void>[] = [];

  constructor(private readonly o: WatchOptions) {}

  start(): void {
    this.tasks.push(this.followBook(), this.followStats());
    if (this.o.simRestBase) this.timers.push(setInterval(() => void this.sampleTruth(), 1000));
  }

  private async followBook(): Promise<void> {
    try {
      for await (const u of subscribe({
        transport: this.o.transport,
        venue: this.o.venue,
        symbol: this.o.symbol,
        signal: this.ac.signal,
        logger: this.o.logger,
      })) {
        this.seq = u.seq;
        this.synced = true;
        this.gaps = u.gaps;
        const top = u.book.top(DEPTH);
        this.bids = top.bids;
        this.asks = top.asks;
        if (this.o.simRestBase) {
          const key = JSON.stringify(top);
          this.history.set(u.seq, key);
          if (this.history.size > 5000) this.history.delete(this.history.keys().next().value!);
          this.compareTruth();
        }
      }
    } catch (e) {
      this.o.logger?.warn({ err: (e as Error).message }, 'book subscription ended');
    }
  }

  private async followStats(): Promise<void> {
    const sub = await this.o.transport.subscriber('book', [topics.stats(this.o.venue, this.o.symbol)]);
    this.ac.signal.addEventListener('abort', () => void sub.close(), { once: true });
    try {
      for await (const m of sub) {
        try {
          const s = decodeAny(m.payload);
          if (s.type === 'arbiter-stats') this.stats = s;
        } catch {
          /* a bad stats message only costs a stale display */
        }
      }
    } catch {
      /* closed */
    }
  }

  private async sampleTruth(): Promise<void> {
    try {
      const res = await fetch(`${this.o.simRestBase}/sim/truth?symbol=${this.o.symbol}&depth=${DEPTH}`, {
        signal: AbortSignal.timeout(900),
      });
      if (!res.ok) return;
      const t = (await res.json()) as { lastUpdateId: number; bids: Level[]; asks: Level[] };
      this.pendingTruth.push({
        seq: t.lastUpdateId,
        top: JSON.stringify({ bids: t.bids.slice(0, DEPTH), asks: t.asks.slice(0, DEPTH) }),
      });
      if (this.pendingTruth.length > 20) this.pendingTruth.shift();
      this.compareTruth();
    } catch {
      /* simulator busy or gone: keep the last verdict */
    }
  }

  private compareTruth(): void {
    const keep: typeof this.pendingTruth = [];
    for (const p of this.pendingTruth) {
      const mine = this.history.get(p.seq);
      if (mine !== undefined) {
        this.truthMatches = mine === p.top;
        if (this.truthMatches) this.truthChecks.ok++;
        else this.truthChecks.diff++;
      } else if (p.seq > this.seq) keep.push(p); // we have not reached it yet
    }
    this.pendingTruth = keep;
  }

  state(): ViewState {
    const s = this.stats;
    const notes: string[] = [];
    if (this.o.simRestBase)
      notes.push(`truth checks vs simulator: ${this.truthChecks.ok} OK, ${this.truthChecks.diff} DIFF`);
    if (this.gaps > 0) notes.push(`client gaps healed by snapshot: ${this.gaps}`);
    if (!this.synced && !s)
      notes.push(`waiting: nothing from an arbiter yet${this.o.where ? ` on ${this.o.where}` : ''} (is one running?)`);
    return {
      title: this.o.title,
      venue: this.o.venue,
      symbol: this.o.symbol,
      seq: this.seq,
      synced: this.synced && (s?.synced ?? true),
      bids: this.bids,
      asks: this.asks,
      updatesPerSec: s?.updatesPerSec ?? 0,
      resyncs: s?.resyncs ?? 0,
      feeds: (s?.feeds ?? []).map((f) => ({
        id: f.collector,
        connected: f.connected,
        lagP50Us: f.lagP50,
        lagP99Us: f.lagP99,
        messages: f.messages,
        duplicates: f.duplicates,
        gapsFilled: f.gapsFilled,
        resyncs: f.resyncs,
        faulty: f.collector === this.o.faultyFeed,
      })),
      truthMatches: this.truthMatches,
      notes,
    };
  }

  get truthSummary() {
    return { ...this.truthChecks, last: this.truthMatches };
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.ac.abort();
    await Promise.allSettled(this.tasks);
  }
}
