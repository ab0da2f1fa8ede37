/** What the live terminal view shows. Filled by whoever owns the data (demo, watch); rendered by render.ts. */

export interface FeedView {
  /** Collector id. */
  id: string;
  connected: boolean;
  /** Lag behind the first copy of the same event, µs. */
  lagP50Us: number;
  lagP99Us: number;
  messages: number;
  /** Copies dropped because another feed delivered them first. */
  duplicates: number;
  /** Gaps in this feed that another feed had already filled. */
  gapsFilled: number;
  resyncs: number;
  /**
   * Copies of this feed caught wrong: its venue checksum failed, or its book or copy disagreed with the
   * other feeds' (silent corruption); the view's 'bad' column. Absent: none reported.
   */
  caught?: number;
  /** The demo injects faults into this feed. */
  faulty?: boolean;
  /** The collector's REST budget, where its status reports one (venues with REST snapshots). */
  rest?: RestView;
}

/** A collector's REST weight budget (CollectorStatus.rest, relayed by the arbiter's stats). */
export interface RestView {
  /** Weight counted in the venue's current window, and the most the collector may spend in one. */
  used: number;
  limit: number;
  /** ms until REST may resume after a 429/418 (0: not blocked). */
  blockedMs: number;
  /** 429 and 418 answers so far. */
  rateLimited: number;
  banned: number;
  /** When the collector said so (epoch µs): the freshest of several books' copies wins. */
  at: number;
}

export interface ViewState {
  title: string;
  venue: string;
  symbol: string;
  /** Consolidated sequence of the book shown. */
  seq: number;
  synced: boolean;
  /** While not synced, why (the arbiter's stats: ArbiterStats.waiting). */
  waiting?: { reason: string; attempt: number; forMs: number; noCollector?: true; rateLimitedMs?: number };
  /**
   * Not synced here although the arbiter has the book: this client waits this long (ms) for its own snapshot
   * (a whole venue's requests are paced, docs/config.md). Undefined otherwise.
   */
  clientWaitingMs?: number;
  /** Epoch µs since when the book may be old (no live feed, arbiter silent); undefined while fresh. */
  staleSince?: number;
  /** Top levels (10 are shown), best first. */
  bids: [number, number][];
  asks: [number, number][];
  updatesPerSec: number;
  resyncs: number;
  feeds: FeedView[];
  /** The demo compares the consolidated book with the simulator's true book; undefined = not checked. */
  truthMatches?: boolean;
  /** How many truth checks matched and differed so far (the demo); undefined = not checked. */
  truthChecks?: { ok: number; diff: number };
  /** Free-form lines shown under the feeds (e.g. "fault injection on b: flaky"). */
  notes?: string[];
}

/** Several books at once (the multi-venue demo): one line per book, and the detail of the selected one. */
export interface OverviewState {
  title: string;
  /** Every book, in display order; each one's own title is ignored (the detail gets its own). */
  books: ViewState[];
  /** Index into books of the book shown in detail. */
  selected: number;
  /** Shown above the detail's header, e.g. "detail 2/8 (↑/↓ to choose)". */
  detailTitle?: string;
  /** Free-form lines shown under the table of books. */
  notes?: string[];
  /** With more books than rows: the page of synced books shown (0-based); default the selected book's. */
  page?: number;
}

export function emptyViewState(title: string, venue: string, symbol: string): ViewState {
  return { title, venue, symbol, seq: 0, synced: false, bids: [], asks: [], updatesPerSec: 0, resyncs: 0, feeds: [] };
}
