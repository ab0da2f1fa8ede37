/**
 * A whole market in a bounded frame: per-venue counts (synced out of total, the unsynced by reason, REST
 * weight per collector) and the choice of which books get a row when they do not all fit. One pass over
 * the books, no sort of them: the problem rows come from a bounded worst-first list, the synced rows are one
 * page in display order, so a frame of 40 rows costs the same for 20 books or 2,000.
 */
import type { RestView, ViewState } from './state.js';

export interface VenueSummary {
  venue: string;
  total: number;
  synced: number;
  /** Synced, but no live feed: the book may be old. */
  stale: number;
  /** Unsynced books by reason (unsyncedReason), in first-seen order. */
  unsynced: Map<string, number>;
  /** The longest a rate-limited book still waits for the venue's budget, ms (0: none is). */
  rateLimitedMs: number;
  /** Each collector's REST budget as its last status said (the freshest by `at` across the books). */
  rest: Map<string, RestView>;
}

/** Why a book is not synced, in one word or two: the summary's key. */
export function unsyncedReason(b: ViewState): string {
  const w = b.waiting;
  if (w === undefined) return b.clientWaitingMs !== undefined ? 'client snapshot' : 'no stats';
  if (w.noCollector) return 'no collector';
  if ((w.rateLimitedMs ?? 0) > 0) return 'rate-limited';
  return String(w.reason).slice(0, 20);
}

/** How bad a book's state is: 0 fine; higher is worse (unsynced without a collector worst). */
export function severity(b: ViewState): number {
  if (!b.synced) return b.waiting?.noCollector ? 5 : 4;
  if (b.staleSince !== undefined) return 3;
  if ((b.truthChecks?.diff ?? 0) > 0 || b.truthMatches === false) return 2;
  for (const f of b.feeds) if (!f.connected) return 1;
  return 0;
}

/** Within one severity, the longer it has lasted the worse (ms; 0 where unknown). */
function duration(b: ViewState, nowUs: number): number {
  if (!b.synced) return b.waiting?.forMs ?? 0;
  if (b.staleSince !== undefined) return (nowUs - b.staleSince) / 1000;
  return 0;
}

/** Which rows a frame shows, indices into the books. */
export interface RowChoice {
  /** Books with a problem (severity >= 2 unless `problemFrom` says otherwise), worst first, at most `rows`. */
  problems: number[];
  problemCount: number;
  /** One page of the other books, in display order. */
  page: number[];
  /** The page's number (0-based) and how many there are. */
  pageNo: number;
  pages: number;
  restCount: number;
}

/**
 * Picks at most `rows` rows: the problem books first (worst first), then a page of the rest. The page shown
 * is `page` when given (clamped), else the one holding `selected`. Cost O(books x problem rows) at worst,
 * O(books) when few books have problems.
 */
export function chooseRows(
  books: readonly ViewState[],
  rows: number,
  o: { selected?: number; page?: number; nowUs?: number } = {},
): RowChoice {
  const nowUs = o.nowUs ?? Date.now() * 1000;
  const worst: { i: number; sev: number; dur: number }[] = [];
  const maxProblems = Math.max(1, rows);
  let problemCount = 0;
  let restCount = 0;
  let selectedRestIndex = -1;
  const worse = (a: { sev: number; dur: number }, b: { sev: number; dur: number }) =>
    a.sev > b.sev || (a.sev === b.sev && a.dur > b.dur);
  for (let i = 0; i < books.length; i++) {
    const sev = severity(books[i]);
    if (sev < 2) {
      if (i === o.selected) selectedRestIndex = restCount;
      restCount++;
      continue;
    }
    problemCount++;
    const e = { i, sev, dur: duration(books[i], nowUs) };
    if (worst.length === maxProblems && !worse(e, worst[worst.length - 1])) continue;
    let k = worst.length;
    while (k > 0 && worse(e, worst[k - 1])) k--;
    worst.splice(k, 0, e);
    if (worst.length > maxProblems) worst.pop();
  }
  // Problem rows leave room for a few of the others (the selected book's page), when there are any.
  const reserve = restCount > 0 ? Math.min(3, Math.max(1, Math.floor(rows / 4))) : 0;
  worst.length = Math.min(worst.length, Math.max(1, rows - reserve));
  const pageRows = Math.max(0, rows - worst.length);
  const pages = pageRows === 0 ? 1 : Math.max(1, Math.ceil(restCount / pageRows));
  const wanted = o.page ?? (selectedRestIndex >= 0 && pageRows > 0 ? Math.floor(selectedRestIndex / pageRows) : 0);
  const pageNo = Math.min(pages - 1, Math.max(0, Math.floor(wanted)));
  const from = pageNo * pageRows;
  const page: number[] = [];
  for (let i = 0, r = 0; i < books.length && page.length < pageRows; i++) {
    if (severity(books[i]) >= 2) continue;
    if (r++ >= from) page.push(i);
  }
  return { problems: worst.map((e) => e.i), problemCount, page, pageNo, pages, restCount };
}

/** Counts per venue, in first-seen order: one pass. */
export function summarize(books: readonly ViewState[]): VenueSummary[] {
  const byVenue = new Map<string, VenueSummary>();
  for (const b of books) {
    let v = byVenue.get(b.venue);
    if (v === undefined) {
      v = { venue: b.venue, total: 0, synced: 0, stale: 0, unsynced: new Map(), rateLimitedMs: 0, rest: new Map() };
      byVenue.set(b.venue, v);
    }
    v.total++;
    if (b.synced) {
      v.synced++;
      if (b.staleSince !== undefined) v.stale++;
    } else {
      const r = unsyncedReason(b);
      v.unsynced.set(r, (v.unsynced.get(r) ?? 0) + 1);
      if (r === 'rate-limited') v.rateLimitedMs = Math.max(v.rateLimitedMs, b.waiting?.rateLimitedMs ?? 0);
    }
    for (const f of b.feeds) {
      if (f.rest === undefined) continue;
      const had = v.rest.get(f.id);
      if (had === undefined || f.rest.at > had.at) v.rest.set(f.id, f.rest);
    }
  }
  return [...byVenue.values()];
}

/**
 * "unsynced: 120 gap, 40 rate-limited (for 12s), 3 client snapshot" (the most frequent first; the longest wait
 * for the venue's budget), '' when every book is synced.
 */
export function reasonsText(v: VenueSummary): string {
  if (v.unsynced.size === 0) return '';
  const forS = (r: string) =>
    r === 'rate-limited' && v.rateLimitedMs > 0 ? ` (for ${Math.ceil(v.rateLimitedMs / 1000)}s)` : '';
  const parts = [...v.unsynced].sort((a, b) => b[1] - a[1]).map(([r, n]) => `${n} ${r}${forS(r)}`);
  return `unsynced: ${parts.join(', ')}`;
}

/** "REST weight a 1200/6000 b 25/6000 (a blocked 12s, b 429s 1)"; '' when no collector reported its budget. */
export function restText(v: VenueSummary): string {
  if (v.rest.size === 0) return '';
  const used: string[] = [];
  const trouble: string[] = [];
  // by collector id: a, b in that order whichever spoke first
  for (const [collector, r] of [...v.rest].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) {
    // collectors named <venue>-a, <venue>-b read a, b on their venue's line
    const id = collector.startsWith(`${v.venue}-`) ? collector.slice(v.venue.length + 1) : collector;
    used.push(`${id} ${Math.round(r.used)}/${Math.round(r.limit)}`);
    if (r.blockedMs > 0) trouble.push(`${id} blocked ${Math.ceil(r.blockedMs / 1000)}s`);
    if (r.rateLimited > 0) trouble.push(`${id} 429s ${r.rateLimited}`);
    if (r.banned > 0) trouble.push(`${id} 418s ${r.banned}`);
  }
  return `REST weight ${used.join(' ')}${trouble.length ? ` (${trouble.join(', ')})` : ''}`;
}

/** One venue in one line, "binance 1834/2000 synced  unsynced: ...  REST weight ...", or two if `width` is short. */
export function venueLines(v: VenueSummary, width: number): string[] {
  const parts = [`${v.venue} ${v.synced}/${v.total} synced`];
  if (v.stale > 0) parts.push(`${v.stale} stale`);
  const reasons = reasonsText(v);
  if (reasons) parts.push(reasons);
  const rest = restText(v);
  const line = parts.join('  ');
  if (!rest) return [line];
  return line.length + 2 + rest.length <= width ? [`${line}  ${rest}`] : [line, `  ${rest}`];
}
