/**
 * Many books in the live view (the demo's whole market): one subscribeVenue() per venue (one SUB socket, a
 * BookFollower per book, snapshot requests paced) and one subscription to the venue's arbiter stats, in
 * place of a subscription and a stats socket per book (LiveBookView: fine for a few books, not for 2,000).
 * The demo's truth check visits the books in turn, a few at a time, so its cost (HTTP samples, tops kept to
 * compare) does not grow with the market.
 */
import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import { subscribeVenue } from '../client/venue.js';
import type { OrderBook } from '../core/book.js';
import type { Logger } from '../log.js';
import type { Transport } from '../transport/types.js';
import type { ViewState } from '../view/state.js';
import { decodeAny, topics, type ArbiterStats } from '../wire/messages.js';
import { BookTruth, fetchTruth, topKey, TRUTH_DEPTH } from './truth.js';
import { feedViews, type BookSource } from './watch.js';

export interface MarketWatchOptions {
  transport: Transport;
  /** The books, each in its venue's spelling, with the collector the demo makes faulty for it (if any). */
  books: readonly { venue: string; symbol: string; faulty?: string }[];
  /** Simulator REST base: enables the truth check (demo only). */
  simRestBase?: string;
  /** Books whose truth is checked at once (default TRUTH_BOOKS): each for a few seconds, then the next ones. */
  truthBooks?: number;
  logger?: Logger;
}

/** Books in the truth check at once, by default. */
export const TRUTH_BOOKS = 16;
/** Seconds (truth ticks) a book stays in the truth check: samples at ticks 1..CHECK_TICKS-1, then it leaves. */
const CHECK_TICKS = 4;

interface Row {
  venue: string;
  symbol: string;
  faulty?: string;
  /** The client's live book since its first snapshot (the follower's: read its top when drawing). */
  book?: OrderBook;
  seq: number;
  staleSince?: number;
  gaps: number;
  /** The arbiter's last stats of the book. */
  stats?: ArbiterStats;
  truth?: BookTruth;
  /** Truth ticks since the book joined the check; -1 while it is not in it. */
  checkTicks: number;
}

export class MarketWatch implements BookSource {
  private readonly rows: Row[];
  private readonly byKey = new Map<string, Row>();
  private readonly ac = new AbortController();
  private readonly tasks: Promise<void>[] = [];
  private timer?: NodeJS.Timeout;
  private readonly startedAt = performance.now();
  /** Books in the truth check now, and the next one to join it. */
  private readonly checking = new Set<Row>();
  private cursor = 0;

  constructor(private readonly o: MarketWatchOptions) {
    // one abort listener per subscription it ends (a few per venue): seven venues passed Node's warning at 10
    setMaxListeners(0, this.ac.signal);
    this.rows = o.books.map((b) => ({ ...b, seq: 0, gaps: 0, checkTicks: -1 }));
    for (const r of this.rows) this.byKey.set(`${r.venue}.${r.symbol}`, r);
  }

  get count(): number {
    return this.rows.length;
  }

  start(): void {
    const venues = new Map<string, string[]>();
    for (const r of this.rows) venues.set(r.venue, [...(venues.get(r.venue) ?? []), r.symbol]);
    for (const [venue, symbols] of venues) this.tasks.push(this.followVenue(venue, symbols), this.followStats(venue));
    if (this.o.simRestBase) this.timer = setInterval(() => this.truthTick(), 1000);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.ac.abort();
    await Promise.allSettled(this.tasks);
  }

  /** Every book synced here and at its arbiter. */
  allSynced(): boolean {
    return this.rows.every((r) => r.book !== undefined && (r.stats?.synced ?? true));
  }

  /** Each book's truth checks (demo's end of run), `samples` taken of it. */
  truthSummaries(): { book: string; ok: number; diff: number; samples: number }[] {
    return this.rows.map((r) => ({
      book: `${r.venue}.${r.symbol}`,
      ok: r.truth?.checks.ok ?? 0,
      diff: r.truth?.checks.diff ?? 0,
      samples: r.truth?.samples ?? 0,
    }));
  }

  private async followVenue(venue: string, symbols: string[]): Promise<void> {
    try {
      for await (const u of subscribeVenue({
        transport: this.o.transport,
        venue,
        symbols,
        maxBooks: symbols.length,
        signal: this.ac.signal,
        logger: this.o.logger,
      })) {
        const r = this.byKey.get(`${venue}.${u.symbol}`);
        if (r === undefined) continue;
        r.staleSince = u.staleSince;
        if (u.kind === 'stale' || u.kind === 'fresh') continue; // the book itself did not change
        r.book = u.book;
        r.seq = u.seq;
        r.gaps = u.gaps;
        // only the books in the truth check pay for a top of book per update
        if (r.checkTicks >= 0)
          r.truth!.onBook(u.seq, u.message.offset ?? 0, u.message.epoch !== undefined, topKey(u.book.top(TRUTH_DEPTH)));
      }
    } catch (e) {
      this.o.logger?.warn({ err: (e as Error).message, venue }, 'venue subscription ended');
    }
  }

  /** Every book's arbiter stats on one subscription (the prefix stats.<venue>.). */
  private async followStats(venue: string): Promise<void> {
    try {
      const sub = await this.o.transport.subscriber('book', [topics.stats(venue, '')]);
      this.ac.signal.addEventListener('abort', () => void sub.close(), { once: true });
      for await (const m of sub) {
        try {
          const s = decodeAny(m.payload);
          if (s.type !== 'arbiter-stats' || s.venue !== venue) continue;
          const r = this.byKey.get(`${venue}.${s.symbol}`);
          if (r) r.stats = s;
        } catch {
          /* a bad stats message only costs a stale display */
        }
      }
    } catch {
      /* closed */
    }
  }

  /**
   * Once a second: the books in the check take a truth sample each (from their second tick on: by then the
   * tops kept cover a sample the client has already passed); after CHECK_TICKS they leave for the next ones,
   * unless every book fits in the check at once.
   */
  private truthTick(): void {
    const n = this.rows.length;
    const size = Math.min(n, this.o.truthBooks ?? TRUTH_BOOKS);
    for (const r of this.checking) {
      r.checkTicks++;
      if (size < n && r.checkTicks >= CHECK_TICKS) {
        r.checkTicks = -1;
        r.truth!.forget();
        this.checking.delete(r);
      } else void this.sample(r);
    }
    for (let tries = 0; this.checking.size < size && tries < n; tries++) {
      const r = this.rows[this.cursor++ % n];
      if (r.checkTicks >= 0) continue;
      r.checkTicks = 0;
      r.truth ??= new BookTruth();
      this.checking.add(r);
    }
  }

  private async sample(r: Row): Promise<void> {
    if (r.book === undefined) return; // nothing to compare yet: not a sample
    const t = await fetchTruth(this.o.simRestBase!, r.venue, r.symbol);
    if (t && r.checkTicks >= 0) r.truth!.onSample(t);
  }

  /** Every book's state; the selected one with its ladder and notes, the others with their best levels only. */
  states(selected: number): ViewState[] {
    const now = performance.now();
    return this.rows.map((r, i) => {
      const s = r.stats;
      const mine = r.book !== undefined;
      const top = r.book?.top(i === selected ? TRUTH_DEPTH : 1);
      const notes: string[] = [];
      if (i === selected) {
        if (this.o.simRestBase) {
          const c = r.truth?.checks;
          notes.push(`truth checks vs simulator: ${c?.ok ?? 0} OK, ${c?.diff ?? 0} DIFF (${this.truthText()})`);
        }
        if (r.gaps > 0) notes.push(`client gaps healed by snapshot: ${r.gaps}`);
      }
      return {
        title: '',
        venue: r.venue,
        symbol: r.symbol,
        seq: r.seq,
        synced: mine && (s?.synced ?? true),
        ...(s?.waiting === undefined || s.synced ? {} : { waiting: s.waiting }),
        // the arbiter has it, this client not yet: its snapshot request waits its turn (paced) or is on its way
        ...(!mine && s?.synced ? { clientWaitingMs: now - this.startedAt } : {}),
        ...(r.staleSince === undefined ? {} : { staleSince: r.staleSince }),
        bids: top?.bids ?? [],
        asks: top?.asks ?? [],
        updatesPerSec: s?.updatesPerSec ?? 0,
        resyncs: s?.resyncs ?? 0,
        feeds: feedViews(s, r.faulty),
        truthMatches: r.truth?.matches,
        truthChecks: this.o.simRestBase ? { ok: r.truth?.checks.ok ?? 0, diff: r.truth?.checks.diff ?? 0 } : undefined,
        notes,
      };
    });
  }

  /** How the truth check covers the market: "every book each second" or "16 books at a time, in turn". */
  private truthText(): string {
    const size = Math.min(this.rows.length, this.o.truthBooks ?? TRUTH_BOOKS);
    return size === this.rows.length ? 'every book each second' : `${size} books at a time, in turn`;
  }
}
