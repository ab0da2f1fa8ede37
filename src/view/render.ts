/**
 * Pure renderers for the live view: a full-screen frame for a terminal (renderView) and a one-line
 * status for logs and pipes (renderStatusLine). No I/O, no clock except the `now` argument.
 */
import { chooseRows, reasonsText, restText, summarize, venueLines } from './market.js';
import type { FeedView, OverviewState, ViewState } from './state.js';

export const LADDER_DEPTH = 10;

export interface RenderOptions {
  /** Terminal columns; the layout is designed for 80 and never exceeds `width`. */
  width: number;
  /** ANSI colors; false gives plain text with no escape sequences at all. */
  color: boolean;
  /** Ladder rows per side, default LADDER_DEPTH (the overview picks fewer to fit `height`). */
  depth?: number;
  /** Terminal rows, where known: the overview shortens the detail's ladder and its list of books to fit. */
  height?: number;
  /** The overview's most book rows (`--rows`), within `height`; default what fits, DEFAULT_BOOK_ROWS without a height. */
  rows?: number;
}

type Paint = (code: string, s: string) => string;
const painter = (color: boolean): Paint => (color ? (code, s) => `\x1b[${code}m${s}\x1b[0m` : (_code, s) => s);
const GREEN = '32';
const RED = '31';
const YELLOW = '33';
const BOLD = '1';
const DIM = '2';

/** Decimal places needed to print n exactly (float noise removed), at most 8. */
function decimalsOf(n: number): number {
  if (!Number.isFinite(n)) return 0;
  const s = String(Number(n.toPrecision(12)));
  const e = s.indexOf('e');
  if (e >= 0) {
    const mantissa = s.slice(0, e);
    const dot = mantissa.indexOf('.');
    const mantDecimals = dot < 0 ? 0 : mantissa.length - dot - 1;
    return Math.max(0, Math.min(8, mantDecimals - Number(s.slice(e + 1))));
  }
  const dot = s.indexOf('.');
  return dot < 0 ? 0 : Math.min(8, s.length - dot - 1);
}

const maxDecimals = (values: number[]): number => values.reduce((d, v) => Math.max(d, decimalsOf(v)), 0);

/** µs -> "35µs", "12.3ms", "1.50s". */
export function formatMicros(us: number): string {
  if (!Number.isFinite(us) || us < 0) return '-';
  if (us < 1000) return `${Math.round(us)}µs`;
  if (us < 10_000) return `${(us / 1000).toFixed(2)}ms`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(1)}ms`;
  return `${(us / 1e6).toFixed(2)}s`;
}

/** Counts in a fixed-width column: 999999, 1.2M, 3.4G. */
function formatCount(n: number): string {
  if (n < 1e6) return String(n);
  if (n < 1e9) return `${(n / 1e6).toFixed(1)}M`;
  return `${(n / 1e9).toFixed(1)}G`;
}

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/y;

/** Cut a line to `width` visible characters, keeping escape sequences intact and closing any open color. */
function fit(line: string, width: number): string {
  let visible = 0;
  let out = '';
  let colored = false;
  for (let i = 0; i < line.length;) {
    ANSI.lastIndex = i;
    const m = ANSI.exec(line);
    if (m) {
      out += m[0];
      colored = m[0] !== '\x1b[0m';
      i += m[0].length;
      continue;
    }
    if (visible === width) return colored ? `${out}\x1b[0m` : out;
    const cp = line.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    out += ch;
    i += ch.length;
    visible++;
  }
  return out;
}

function visibleLength(s: string): number {
  return [...s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')].length;
}

/** Left and right parts on one line, the right one flush with `width` (if there is room). */
function spread(left: string, right: string, width: number): string {
  const gap = width - visibleLength(left) - visibleLength(right);
  return gap >= 2 ? left + ' '.repeat(gap) + right : `${left}  ${right}`;
}

interface Top {
  bid?: [number, number];
  ask?: [number, number];
  priceDecimals: number;
}

function bookSummary(s: ViewState): Top {
  const bids = s.bids.slice(0, LADDER_DEPTH);
  const asks = s.asks.slice(0, LADDER_DEPTH);
  return { bid: bids[0], ask: asks[0], priceDecimals: maxDecimals([...bids, ...asks].map((l) => l[0])) };
}

function spreadAndMid(t: Top): { spread: string; mid: string } {
  if (!t.bid || !t.ask) return { spread: '-', mid: '-' };
  const d = t.priceDecimals;
  return { spread: (t.ask[0] - t.bid[0]).toFixed(d), mid: ((t.ask[0] + t.bid[0]) / 2).toFixed(d + 1) };
}

function header(s: ViewState, t: Top, o: RenderOptions, p: Paint): string[] {
  const sync =
    s.staleSince !== undefined
      ? p(RED + ';' + BOLD, `STALE ${staleFor(s.staleSince)}`)
      : s.synced
        ? p(GREEN, 'SYNCED')
        : p(RED + ';' + BOLD, `NOT SYNCED${whyText(s) ? ` (${whyText(s)})` : ''}`);
  // The book's identity and state always show; a long title is what gets shortened.
  const right = `${p(BOLD, `${s.venue} ${s.symbol}`)}  seq ${s.seq}  ${sync}`;
  const room = o.width - visibleLength(right) - 2;
  const title = s.title.length <= room ? s.title : room > 1 ? `${s.title.slice(0, room - 1)}…` : '';
  const line1 = spread(title, right, o.width);
  const { spread: spr, mid } = spreadAndMid(t);
  const up = s.feeds.filter((f) => f.connected).length;
  const feeds =
    up === s.feeds.length ? p(GREEN, `${up}/${s.feeds.length} up`) : p(YELLOW, `${up}/${s.feeds.length} up`);
  const parts = [
    `upd/s ${s.updatesPerSec.toFixed(1)}`,
    `spread ${spr}`,
    `mid ${mid}`,
    `resyncs ${s.resyncs}`,
    `feeds ${feeds}`,
  ];
  if (s.truthMatches !== undefined)
    parts.push(`truth ${s.truthMatches ? p(GREEN, 'OK') : p(RED + ';' + BOLD, 'DIFF')}`);
  return [line1, parts.join('  ')];
}

function ladder(s: ViewState, t: Top, o: RenderOptions, p: Paint): string[] {
  const depth = o.depth ?? LADDER_DEPTH;
  const bids = s.bids.slice(0, depth);
  const asks = s.asks.slice(0, depth);
  if (bids.length === 0 && asks.length === 0) return [p(DIM, '(book empty)')];
  const sizeDecimals = maxDecimals([...bids, ...asks].map((l) => l[1]));
  const price = (x: number) => x.toFixed(t.priceDecimals);
  const size = (x: number) => x.toFixed(sizeDecimals);
  const all = [...bids, ...asks];
  const priceW = Math.max(5, ...all.map((l) => price(l[0]).length));
  const sizeW = Math.max(4, ...all.map((l) => size(l[1]).length));
  const sideW = Math.floor((o.width - 3) / 2);
  let barW = Math.min(16, sideW - priceW - sizeW - 3);
  if (barW < 3) barW = 0;
  const maxSize = Math.max(...all.map((l) => l[1]));
  const bar = (x: number) =>
    barW === 0 || maxSize <= 0 ? '' : '█'.repeat(Math.max(x > 0 ? 1 : 0, Math.round((x / maxSize) * barW)));
  const blank = ' '.repeat(sideW);
  const bidCell = (l?: [number, number]) =>
    l
      ? ' '.repeat(Math.max(0, sideW - barW - sizeW - priceW - 3)) +
        p(DIM + ';' + GREEN, bar(l[1]).padStart(barW)) +
        ' ' +
        size(l[1]).padStart(sizeW) +
        '  ' +
        p(GREEN, price(l[0]).padStart(priceW))
      : blank;
  const askCell = (l?: [number, number]) =>
    l
      ? p(RED, price(l[0]).padEnd(priceW)) + '  ' + size(l[1]).padStart(sizeW) + ' ' + p(DIM + ';' + RED, bar(l[1]))
      : '';
  const head =
    `${'size'.padStart(Math.max(4, sideW - priceW - 2))}  ${'bid'.padStart(priceW)}` +
    ' │ ' +
    `${'ask'.padEnd(priceW)}  ${'size'.padStart(sizeW)}`;
  const rows = [p(BOLD, head)];
  for (let i = 0; i < Math.max(bids.length, asks.length); i++) rows.push(`${bidCell(bids[i])} │ ${askCell(asks[i])}`);
  return rows;
}

function feedTable(feeds: FeedView[], p: Paint): string[] {
  if (feeds.length === 0) return [p(DIM, '(no feeds yet)')];
  const idW = Math.min(12, Math.max(4, ...feeds.map((f) => f.id.length)));
  const cols = (id: string, state: string, rest: string[]) =>
    `${id.slice(0, idW).padEnd(idW)} ${state} ${rest[0].padStart(9)}${rest[1].padStart(9)}${rest[2].padStart(9)}${rest[3].padStart(9)}${rest[4].padStart(12)}${rest[5].padStart(8)}${rest[6].padStart(6)}`;
  const rows = [
    p(BOLD, cols('feed', 'state', ['lag p50', 'lag p99', 'messages', 'dups', 'gaps filled', 'resyncs', 'bad'])),
  ];
  for (const f of feeds) {
    const state = f.connected ? p(GREEN, 'UP   ') : p(RED + ';' + BOLD, 'DOWN ');
    const row = cols(f.id, state, [
      formatMicros(f.lagP50Us),
      formatMicros(f.lagP99Us),
      formatCount(f.messages),
      formatCount(f.duplicates),
      formatCount(f.gapsFilled),
      formatCount(f.resyncs),
      formatCount(f.caught ?? 0),
    ]);
    rows.push(f.faulty ? `${row} ${p(YELLOW, 'faulty')}` : row);
  }
  return rows;
}

/** The full-screen frame: header, top-10 ladder, one row per feed, notes. No trailing newline. */
export function renderView(state: ViewState, opts: RenderOptions): string {
  const p = painter(opts.color);
  const t = bookSummary(state);
  const lines = [
    ...header(state, t, opts, p),
    '',
    ...ladder(state, t, opts, p),
    '',
    ...feedTable(state.feeds, p),
    ...(state.notes ?? []).map((n) => p(DIM, n)),
  ];
  return lines.map((l) => fit(l, opts.width)).join('\n');
}

/** One plain line for a log or pipe: time, book top, then each feed. */
export function renderStatusLine(state: ViewState, now: Date = new Date()): string {
  const t = bookSummary(state);
  const { spread: spr } = spreadAndMid(t);
  const px = (l?: [number, number]) => (l ? l[0].toFixed(t.priceDecimals) : '-');
  const time = now.toISOString().replace(/\.\d+Z$/, 'Z');
  let line = `${time} ${state.venue}.${state.symbol} seq=${state.seq}${notSynced(state)}${staleMark(state)} bid=${px(t.bid)} ask=${px(t.ask)} spread=${spr} upd/s=${state.updatesPerSec.toFixed(1)} resyncs=${state.resyncs}`;
  if (state.truthMatches !== undefined) line += ` truth=${state.truthMatches ? 'OK' : 'DIFF'}`;
  const waiting = state.notes?.find((n) => n.startsWith('waiting:'));
  if (waiting) line += ` | ${waiting}`;
  for (const f of state.feeds) {
    line +=
      ` | ${f.id}: ${f.connected ? 'up' : 'DOWN'} lag=${formatMicros(f.lagP50Us)} p99=${formatMicros(f.lagP99Us)}` +
      ` msgs=${f.messages} dups=${f.duplicates} gaps=${f.gapsFilled} resyncs=${f.resyncs}` +
      `${f.caught ? ` caught=${f.caught}` : ''}${f.faulty ? ' faulty' : ''}`;
  }
  return line;
}

// ---- several books: the multi-venue demo, up to a whole market ----

function truthCounts(s: ViewState): string {
  return s.truthChecks ? `ok=${s.truthChecks.ok} diff=${s.truthChecks.diff}` : 'unchecked';
}

/** Lines the detail of one book takes besides its ladder rows (header, blanks, ladder head, feeds, notes). */
function detailOverhead(s: ViewState): number {
  return 2 + 1 + 1 + 1 + 1 + Math.max(1, s.feeds.length) + (s.notes?.length ?? 0);
}

/** Book rows when neither `rows` nor `height` says (a frame for a log or a test): bounded all the same. */
export const DEFAULT_BOOK_ROWS = 40;
/** Fewest book rows a short terminal still gets (the detail's ladder gives way first). */
const MIN_BOOK_ROWS = 3;

/** The selected book as the detail shows it: feeds named <venue>-a, <venue>-b read a, b under its venue. */
function detailOf(state: OverviewState): ViewState | undefined {
  const sel = state.books[state.selected];
  if (!sel) return undefined;
  const feeds = sel.feeds.map((f) =>
    f.id.startsWith(`${sel.venue}-`) ? { ...f, id: f.id.slice(sel.venue.length + 1) } : f,
  );
  return { ...sel, feeds, title: state.detailTitle ?? '' };
}

/** Book rows that fit: `rows` if given, within what `height` leaves after every other line. */
function bookRows(state: OverviewState, o: RenderOptions, venueLines: number, detail?: ViewState): number {
  if (o.height === undefined) return Math.max(1, Math.floor(o.rows ?? DEFAULT_BOOK_ROWS));
  // title, venue lines, column heads, up to two "... more" lines, notes, then a blank and the detail
  const detailMin = detail ? 1 + detailOverhead(detail) + MIN_BOOK_ROWS : 0;
  const fixed = 1 + venueLines + 1 + 2 + (state.notes?.length ?? 0) + detailMin;
  const fits = Math.max(MIN_BOOK_ROWS, o.height - fixed);
  return o.rows === undefined ? fits : Math.max(1, Math.min(Math.floor(o.rows), fits));
}

/**
 * Several books: a title line, one line per venue (synced out of total, the unsynced by reason, REST weight
 * per collector), one row per book (venue, symbol, synced, spread, upd/s, feeds up, truth checks), the
 * overview's notes, then the selected book in detail (its ladder shortened to fit `height` when given). More
 * books than rows: the problem books first (worst first), one page of the others, and a line saying how
 * many are not shown. No trailing newline.
 */
export function renderOverview(state: OverviewState, opts: RenderOptions): string {
  const p = painter(opts.color);
  const books = state.books;
  const venues = summarize(books);
  const synced = venues.reduce((n, v) => n + v.synced, 0);
  const right = `${books.length} books  ${synced === books.length ? p(GREEN, `${synced} synced`) : p(YELLOW, `${synced}/${books.length} synced`)}`;
  const room = opts.width - visibleLength(right) - 2;
  const title = state.title.length <= room ? state.title : room > 1 ? `${state.title.slice(0, room - 1)}…` : '';
  const lines = [spread(title, right, opts.width)];
  for (const v of venues)
    for (const l of venueLines(v, opts.width)) lines.push(v.synced === v.total && v.rest.size === 0 ? p(DIM, l) : l);
  const detail = detailOf(state);
  const rows = bookRows(state, opts, lines.length - 1, detail);
  let shown: number[];
  const more: string[] = [];
  if (books.length <= rows) shown = books.map((_b, i) => i);
  else {
    const c = chooseRows(books, rows, { selected: state.selected, page: state.page });
    shown = [...c.problems, ...c.page];
    if (c.problemCount > c.problems.length)
      more.push(p(RED, `... ${c.problemCount - c.problems.length} more books not synced or stale`));
    const restHidden = c.restCount - c.page.length;
    if (restHidden > 0)
      more.push(p(DIM, `... ${restHidden} more synced books (page ${c.pageNo + 1}/${c.pages}, PgUp/PgDn)`));
  }
  lines.push(...bookTable(state, shown, p));
  lines.push(...more);
  for (const n of state.notes ?? []) lines.push(p(DIM, n));
  if (detail) {
    let depth = opts.depth;
    if (depth === undefined && opts.height !== undefined)
      depth = Math.max(3, Math.min(LADDER_DEPTH, opts.height - lines.length - 1 - detailOverhead(detail)));
    lines.push('', ...renderView(detail, { ...opts, depth }).split('\n'));
  }
  return lines.map((l) => fit(l, opts.width)).join('\n');
}

/** The column heads and one row for each of `shown` (indices into the books): only these are formatted. */
function bookTable(state: OverviewState, shown: number[], p: Paint): string[] {
  const books = shown.map((i) => state.books[i]);
  const venueW = Math.max(5, ...books.map((b) => b.venue.length));
  const symbolW = Math.max(6, ...books.map((b) => b.symbol.length));
  const spreads = books.map((b) => spreadAndMid(bookSummary(b)).spread);
  const spreadW = Math.max(6, ...spreads.map((x) => x.length));
  const row = (mark: string, venue: string, symbol: string, sync: string, spr: string, upd: string, feeds: string) =>
    `${mark} ${venue.padEnd(venueW)}  ${symbol.padEnd(symbolW)}  ${sync}  ${spr.padStart(spreadW)}  ${upd.padStart(7)}  ${feeds.padStart(5)}  `;
  const lines = [p(BOLD, `${row(' ', 'venue', 'symbol', 'synced', 'spread', 'upd/s', 'feeds')}truth`)];
  books.forEach((b, k) => {
    const selected = shown[k] === state.selected;
    const sync =
      b.staleSince !== undefined
        ? p(RED + ';' + BOLD, 'STALE ')
        : b.synced
          ? p(GREEN, 'SYNCED')
          : p(RED + ';' + BOLD, 'NO    ');
    const up = b.feeds.filter((f) => f.connected).length;
    const t = b.truthChecks;
    const truth =
      t === undefined
        ? '-'
        : `${p(t.ok > 0 ? GREEN : DIM, `${t.ok} OK`)}  ${t.diff > 0 ? p(RED + ';' + BOLD, `${t.diff} DIFF`) : `${t.diff} DIFF`}`;
    // why a book is not synced, after its truth counts (the summary counts the reasons)
    const why = b.synced ? '' : whyText(b);
    const whyCell = why ? `  ${p(DIM, why)}` : '';
    const line =
      row(
        selected ? '>' : ' ',
        b.venue,
        b.symbol,
        sync,
        spreads[k],
        b.updatesPerSec.toFixed(1),
        `${up}/${b.feeds.length}`,
      ) +
      truth +
      whyCell;
    lines.push(selected ? p(BOLD, line) : line);
  });
  return lines;
}

/** Books a status line names one by one; past this it names only the problem ones (at most this many). */
export const STATUS_LINE_BOOKS = 20;

/**
 * One plain line for a log or pipe: time, the count of books, synced out of total per venue with the reasons
 * and REST weight, then each book (state, spread, rate, feeds, truth); past STATUS_LINE_BOOKS books only the
 * worst problem books, and how many more there are.
 */
export function renderOverviewLine(state: OverviewState, now: Date = new Date()): string {
  const time = now.toISOString().replace(/\.\d+Z$/, 'Z');
  const books = state.books;
  const venues = summarize(books);
  const synced = venues.reduce((n, v) => n + v.synced, 0);
  let line = `${time} ${books.length} books | ${synced}/${books.length} synced`;
  for (const v of venues) {
    const extra = [reasonsText(v), restText(v)].filter(Boolean).join(' ');
    line += ` | ${v.venue} ${v.synced}/${v.total}${v.stale ? ` stale=${v.stale}` : ''}${extra ? ` ${extra}` : ''}`;
  }
  let shown = books.map((_b, i) => i);
  let hidden = 0;
  if (books.length > STATUS_LINE_BOOKS) {
    const c = chooseRows(books, STATUS_LINE_BOOKS, { page: 0 });
    shown = c.problems;
    hidden = books.length - shown.length;
  }
  for (const i of shown) {
    const b = books[i];
    const { spread: spr } = spreadAndMid(bookSummary(b));
    const up = b.feeds.filter((f) => f.connected).length;
    line +=
      ` | ${b.venue}.${b.symbol} seq=${b.seq}${notSynced(b)}${staleMark(b)} spread=${spr}` +
      ` upd/s=${b.updatesPerSec.toFixed(1)} feeds=${up}/${b.feeds.length} truth ${truthCounts(b)}`;
  }
  if (hidden > 0) line += ` | ... ${hidden} more books`;
  return line;
}

/** Why a book is not synced, for people: "no collector yet", "snapshot for gap, 3s, attempt 2". */
function waitingText(w: NonNullable<ViewState['waiting']>): string {
  if (w.noCollector) return 'no collector delivers it yet';
  const t = w.forMs < 60_000 ? `${Math.floor(w.forMs / 1000)}s` : staleFor(Date.now() * 1000 - w.forMs * 1000);
  const limited = (w.rateLimitedMs ?? 0) > 0 ? `, rate-limited ${Math.ceil(w.rateLimitedMs! / 1000)}s more` : '';
  return `snapshot for ${w.reason}, ${t}${w.attempt > 1 ? `, attempt ${w.attempt}` : ''}${limited}`;
}

/** Why an unsynced book is not synced, '' where nobody said: the arbiter's wait, or this client's own. */
function whyText(s: ViewState): string {
  if (s.waiting) return waitingText(s.waiting);
  if (s.clientWaitingMs !== undefined) return `client snapshot, ${Math.floor(s.clientWaitingMs / 1000)}s`;
  return '';
}

/** " NOT-SYNCED" (with why, when the arbiter or the client said) for a status line; "" when synced. */
function notSynced(s: ViewState): string {
  if (s.synced) return '';
  const why = whyText(s);
  return why ? ` NOT-SYNCED(${why.replace(/ /g, '_')})` : ' NOT-SYNCED';
}

/** How long a book has been stale, for people: "12s", "3m04s". */
function staleFor(sinceUs: number, nowUs = Date.now() * 1000): string {
  const s = Math.max(0, Math.floor((nowUs - sinceUs) / 1e6));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

function staleMark(s: ViewState): string {
  return s.staleSince === undefined ? '' : ` STALE=${staleFor(s.staleSince)}`;
}
