/**
 * Live view model: a client subscription (the consolidated book) plus the arbiter's stats messages,
 * and, in the demo, a truth check against the simulator's own book. BookOverview holds several of them
 * (the multi-venue demo).
 */
import { performance } from 'node:perf_hooks';
import { subscribe } from '../client/subscribe.js';
import type { Transport } from '../transport/types.js';
import { decodeAny, topics, type ArbiterStats } from '../wire/messages.js';
import type { OverviewState, RestView, ViewState } from '../view/state.js';
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
  /** Extra lines under the book (the demo's chaos log). */
  notes?: () => string[];
  logger?: Logger;
}

const DEPTH = 10;
/** A replica book's truth sample must be matched (or passed) within this long: DIFF otherwise. */
const STATE_MATCH_MS = 10_000;

export class LiveBookView {
  private seq = 0;
  /** The venue's own id of the last update: seq minus the reset offset (what the simulator's truth names). */
  private venueSeq = 0;
  private offset = 0;
  private synced = false;
  private staleSince: number | undefined;
  private bids: Level[] = [];
  private asks: Level[] = [];
  private gaps = 0;
  private stats?: ArbiterStats;
  private readonly ac = new AbortController();
  /** Client top-of-book by the venue's id, kept briefly so a truth sample can be compared at the same id. */
  private readonly history = new Map<number, string>();
  private pendingTruth: { seq: number; top: string; at: number }[] = [];
  /**
   * Books of replica venues (an epoch in the stream: Kraken, Coinbase, Gemini) have no venue id to compare
   * at: a truth sample is checked by state instead -- the client's book must have held it (byState: each
   * top-of-book seen and when), or a later sample (it went past: an outage's snapshot), within STATE_MATCH_MS.
   */
  private readonly byState = new Map<string, number>();
  private stateMode = false;
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
        this.staleSince = u.staleSince;
        if (u.kind === 'stale' || u.kind === 'fresh') continue; // the book itself did not change
        const offset = u.message.offset ?? 0;
        if (offset !== this.offset) {
          // The venue reset its ids: what was kept (and truth samples taken before) is in the old numbering.
          this.offset = offset;
          this.history.clear();
          this.pendingTruth = [];
        }
        this.seq = u.seq;
        this.venueSeq = u.seq - offset;
        this.synced = true;
        this.gaps = u.gaps;
        const top = u.book.top(DEPTH);
        this.bids = top.bids;
        this.asks = top.asks;
        this.stateMode = u.message.epoch !== undefined;
        if (this.o.simRestBase && this.stateMode) {
          const key = JSON.stringify(top);
          this.byState.delete(key);
          this.byState.set(key, performance.now());
          if (this.byState.size > 5000) this.byState.delete(this.byState.keys().next().value!);
          this.compareTruth();
        } else if (this.o.simRestBase) {
          const key = JSON.stringify(top);
          this.history.set(this.venueSeq, key);
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
      const q = new URLSearchParams({ venue: this.o.venue, symbol: this.o.symbol, depth: String(DEPTH) });
      const res = await fetch(`${this.o.simRestBase}/sim/truth?${q}`, { signal: AbortSignal.timeout(900) });
      if (!res.ok) return;
      const t = (await res.json()) as { lastUpdateId: number; bids: Level[]; asks: Level[] };
      this.pendingTruth.push({
        seq: t.lastUpdateId,
        top: JSON.stringify({ bids: t.bids.slice(0, DEPTH), asks: t.asks.slice(0, DEPTH) }),
        at: performance.now(),
      });
      if (this.pendingTruth.length > 20) this.pendingTruth.shift();
      this.compareTruth();
    } catch {
      /* simulator busy or gone: keep the last verdict */
    }
  }

  private compareTruth(): void {
    if (this.stateMode) return this.compareTruthByState();
    const keep: typeof this.pendingTruth = [];
    for (const p of this.pendingTruth) {
      const mine = this.history.get(p.seq);
      if (mine !== undefined) {
        this.truthMatches = mine === p.top;
        if (this.truthMatches) this.truthChecks.ok++;
        else this.truthChecks.diff++;
      } else if (p.seq > this.venueSeq) keep.push(p); // we have not reached it yet
    }
    this.pendingTruth = keep;
  }

  private compareTruthByState(): void {
    const now = performance.now();
    const pending = this.pendingTruth;
    let last = -1;
    for (let i = 0; i < pending.length; i++) if (this.byState.has(pending[i].top)) last = i;
    const keep: typeof this.pendingTruth = [];
    for (let i = 0; i < pending.length; i++) {
      const p = pending[i];
      if (this.byState.has(p.top)) {
        this.truthMatches = true;
        this.truthChecks.ok++;
      } else if (i < last) {
        // the client went past it (a snapshot after an outage, a failover's difference): skipped, not wrong,
        // as a sequenced book's samples at ids it jumped over
      } else if (now - p.at < STATE_MATCH_MS)
        keep.push(p); // the client may not be there yet
      else {
        this.truthMatches = false;
        this.truthChecks.diff++;
      }
    }
    this.pendingTruth = keep;
  }

  state(): ViewState {
    const s = this.stats;
    const notes: string[] = [];
    if (this.o.simRestBase)
      notes.push(`truth checks vs simulator: ${this.truthChecks.ok} OK, ${this.truthChecks.diff} DIFF`);
    if (this.gaps > 0) notes.push(`client gaps healed by snapshot: ${this.gaps}`);
    if (this.o.notes) notes.push(...this.o.notes());
    if (!this.synced && !s)
      notes.push(`waiting: nothing from an arbiter yet${this.o.where ? ` on ${this.o.where}` : ''} (is one running?)`);
    return {
      title: this.o.title,
      venue: this.o.venue,
      symbol: this.o.symbol,
      seq: this.seq,
      synced: this.synced && (s?.synced ?? true),
      ...(s?.waiting === undefined || s.synced ? {} : { waiting: s.waiting }),
      ...(this.staleSince === undefined ? {} : { staleSince: this.staleSince }),
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
        caught: (f.checksumMismatches ?? 0) + (f.disagreements ?? 0),
        faulty: f.collector === this.o.faultyFeed,
        ...(f.rest === undefined ? {} : { rest: restView(f.rest) }),
      })),
      truthMatches: this.truthMatches,
      truthChecks: this.o.simRestBase ? { ...this.truthChecks } : undefined,
      notes,
    };
  }

  get truthSummary() {
    return { ...this.truthChecks, last: this.truthMatches };
  }

  /** venue.SYMBOL */
  get book(): string {
    return `${this.o.venue}.${this.o.symbol}`;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.ac.abort();
    await Promise.allSettled(this.tasks);
  }
}

/** A feed's REST budget as the view keeps it: `at` the collector's status time. */
function restView(r: NonNullable<ArbiterStats['feeds'][number]['rest']>): RestView {
  return {
    used: r.used,
    limit: r.limit,
    blockedMs: r.blockedMs,
    rateLimited: r.rateLimited,
    banned: r.banned,
    at: r.time,
  };
}

/** Several books at once: one LiveBookView each, and which one is shown in detail (keys move the choice). */
export class BookOverview {
  private selected = 0;
  /** The page of synced books shown (PgUp/PgDn); undefined: the selected book's. */
  private page: number | undefined;

  constructor(
    readonly views: readonly LiveBookView[],
    private readonly title: string,
    private readonly notes: () => string[] = () => [],
  ) {}

  start(): void {
    for (const v of this.views) v.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.views.map((v) => v.stop()));
  }

  /**
   * A keypress: down, j or Tab shows the next book; up, k or Shift-Tab the previous; 1-9 that book (each
   * shows the page holding it again). PgDn/PgUp (or n/p) page through the synced books of a long list.
   */
  onKey(key: string): void {
    const n = this.views.length;
    if (n === 0) return;
    if (key === '\x1b[6~' || key === 'n') {
      this.page = Math.min(n, (this.page ?? 0) + 1); // the renderer clamps it to the last page
      return;
    }
    if (key === '\x1b[5~' || key === 'p') {
      this.page = Math.max(0, (this.page ?? 1) - 1);
      return;
    }
    this.page = undefined;
    if (key === '\x1b[B' || key === 'j' || key === '\t') this.selected = (this.selected + 1) % n;
    else if (key === '\x1b[A' || key === 'k' || key === '\x1b[Z') this.selected = (this.selected + n - 1) % n;
    else if (/^[1-9]$/.test(key) && Number(key) <= n) this.selected = Number(key) - 1;
  }

  state(): OverviewState {
    return {
      title: this.title,
      books: this.views.map((v) => v.state()),
      selected: this.selected,
      detailTitle: `book ${this.selected + 1}/${this.views.length} (↑/↓ to choose)`,
      notes: this.notes(),
      ...(this.page === undefined ? {} : { page: this.page }),
    };
  }
}
