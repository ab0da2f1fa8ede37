/**
 * Live view model: a client subscription (the consolidated book) plus the arbiter's stats messages,
 * and, in the demo, a truth check against the simulator's own book. BookOverview holds several of them
 * (the multi-venue demo).
 */
import { subscribe } from '../client/subscribe.js';
import type { Transport } from '../transport/types.js';
import { decodeAny, topics, type ArbiterStats } from '../wire/messages.js';
import type { FeedView, OverviewState, RestView, ViewState } from '../view/state.js';
import type { Level } from '../core/types.js';
import type { Logger } from '../log.js';
import { BookTruth, fetchTruth, topKey, TRUTH_DEPTH } from './truth.js';

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

export class LiveBookView {
  private seq = 0;
  private synced = false;
  private staleSince: number | undefined;
  private bids: Level[] = [];
  private asks: Level[] = [];
  private gaps = 0;
  private stats?: ArbiterStats;
  private readonly ac = new AbortController();
  private readonly truth = new BookTruth();
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
        this.seq = u.seq;
        this.synced = true;
        this.gaps = u.gaps;
        const top = u.book.top(TRUTH_DEPTH);
        this.bids = top.bids;
        this.asks = top.asks;
        if (this.o.simRestBase)
          this.truth.onBook(u.seq, u.message.offset ?? 0, u.message.epoch !== undefined, topKey(top));
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
    const t = await fetchTruth(this.o.simRestBase!, this.o.venue, this.o.symbol);
    if (t) this.truth.onSample(t); // none: simulator busy or gone, keep the last verdict
  }

  state(): ViewState {
    const s = this.stats;
    const notes: string[] = [];
    if (this.o.simRestBase)
      notes.push(`truth checks vs simulator: ${this.truth.checks.ok} OK, ${this.truth.checks.diff} DIFF`);
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
      feeds: feedViews(s, this.o.faultyFeed),
      truthMatches: this.truth.matches,
      truthChecks: this.o.simRestBase ? { ...this.truth.checks } : undefined,
      notes,
    };
  }

  get truthSummary() {
    return { ...this.truth.checks, samples: this.truth.samples, last: this.truth.matches };
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

/** Each feed of a book as its arbiter's last stats said, the faulty one marked. */
export function feedViews(s: ArbiterStats | undefined, faulty?: string): FeedView[] {
  return (s?.feeds ?? []).map((f) => ({
    id: f.collector,
    connected: f.connected,
    lagP50Us: f.lagP50,
    lagP99Us: f.lagP99,
    messages: f.messages,
    duplicates: f.duplicates,
    gapsFilled: f.gapsFilled,
    resyncs: f.resyncs,
    caught: (f.checksumMismatches ?? 0) + (f.disagreements ?? 0),
    faulty: f.collector === faulty,
    ...(f.rest === undefined ? {} : { rest: restView(f.rest) }),
  }));
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

/** What an overview shows: how many books, and their states (the selected one in full: its ladder, notes). */
export interface BookSource {
  readonly count: number;
  start(): void;
  stop(): Promise<void>;
  states(selected: number): ViewState[];
}

/** Several LiveBookViews as one source (a few books, each its own subscription). */
function viewsSource(views: readonly LiveBookView[]): BookSource {
  return {
    count: views.length,
    start: () => views.forEach((v) => v.start()),
    stop: async () => void (await Promise.all(views.map((v) => v.stop()))),
    states: () => views.map((v) => v.state()),
  };
}

/**
 * Several books at once: LiveBookViews (one subscription each) or a whole-venue source (MarketWatch), and
 * which one is shown in detail (keys move the choice).
 */
export class BookOverview {
  private selected = 0;
  /** The page of synced books shown (PgUp/PgDn); undefined: the selected book's. */
  private page: number | undefined;
  private readonly source: BookSource;

  constructor(
    books: readonly LiveBookView[] | BookSource,
    private readonly title: string,
    private readonly notes: () => string[] = () => [],
  ) {
    this.source = Array.isArray(books) ? viewsSource(books) : (books as BookSource);
  }

  start(): void {
    this.source.start();
  }

  async stop(): Promise<void> {
    await this.source.stop();
  }

  /**
   * A keypress: down, j or Tab shows the next book; up, k or Shift-Tab the previous; 1-9 that book (each
   * shows the page holding it again). PgDn/PgUp (or n/p) page through the synced books of a long list.
   */
  onKey(key: string): void {
    const n = this.source.count;
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
      books: this.source.states(this.selected),
      selected: this.selected,
      detailTitle: `book ${this.selected + 1}/${this.source.count} (↑/↓ to choose)`,
      notes: this.notes(),
      ...(this.page === undefined ? {} : { page: this.page }),
    };
  }
}
