/** A whole market in the overview: 2,000 books in a bounded frame, the problem books first, counts per venue. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderOverview, renderOverviewLine } from '../../src/view/render.js';
import { chooseRows, reasonsText, restText, summarize, unsyncedReason } from '../../src/view/market.js';
import { emptyViewState, type OverviewState, type RestView, type ViewState } from '../../src/view/state.js';

const strip = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');

function emptyFeed(id: string) {
  return { id, connected: true, lagP50Us: 1, lagP99Us: 2, messages: 1, duplicates: 0, gapsFilled: 0, resyncs: 0 };
}

function rest(used: number, o: Partial<RestView> = {}): RestView {
  return { used, limit: 6000, blockedMs: 0, rateLimited: 0, banned: 0, at: 1, ...o };
}

/**
 * 2,000 books: 1,500 binance, 500 okx. Unsynced: binance #10-59 for a gap (#10 waiting longest), #100-129
 * initial and rate-limited, #200-209 with no collector; okx #1600-1619 initial. Stale: binance #300-304.
 * `reads` counts how often a book's levels are read: formatting a row reads them.
 */
function market(reads = { n: 0 }): OverviewState {
  const books: ViewState[] = [];
  for (let i = 0; i < 2000; i++) {
    const venue = i < 1500 ? 'binance' : 'okx';
    const b: ViewState = { ...emptyViewState('', venue, `SYM${i}`), seq: i, synced: true, updatesPerSec: 1 };
    const feed = (id: string, r?: RestView) => ({
      id,
      connected: true,
      lagP50Us: 1,
      lagP99Us: 2,
      messages: 1,
      duplicates: 0,
      gapsFilled: 0,
      resyncs: 0,
      ...(r ? { rest: r } : {}),
    });
    b.feeds =
      venue === 'binance'
        ? [feed('binance-a', rest(1200, { at: i })), feed('binance-b', rest(25, { rateLimited: 1, at: i }))]
        : [feed('okx-a'), feed('okx-b')];
    if (i >= 10 && i < 60) b.waiting = { reason: 'gap', attempt: 2, forMs: 100_000 - i * 100 };
    if (i >= 100 && i < 130) b.waiting = { reason: 'initial', attempt: 1, forMs: 5000, rateLimitedMs: 20_000 };
    if (i >= 200 && i < 210) b.waiting = { reason: 'initial', attempt: 0, forMs: 0, noCollector: true };
    if (i >= 1600 && i < 1620) b.waiting = { reason: 'initial', attempt: 1, forMs: 1000 };
    if (b.waiting) b.synced = false;
    if (i >= 300 && i < 305) b.staleSince = Date.now() * 1000 - 30e6;
    const levels = { bids: [[100, 1]] as [number, number][], asks: [[101, 1]] as [number, number][] };
    Object.defineProperty(b, 'bids', { enumerable: true, get: () => (reads.n++, levels.bids) });
    Object.defineProperty(b, 'asks', { enumerable: true, get: () => levels.asks });
    books.push(b);
  }
  return { title: 'bookwire demo — whole market', books, selected: 1000, detailTitle: 'book 1001/2000' };
}

test('2,000 books fit the terminal height: problem books first, worst first, then a page of the others', () => {
  const reads = { n: 0 };
  const out = strip(renderOverview(market(reads), { width: 120, color: false, height: 50 }));
  const lines = out.split('\n');
  assert.ok(lines.length <= 50, `${lines.length} lines for a 50-line terminal`);
  for (const l of lines) assert.ok([...l].length <= 120, l);
  assert.match(lines[0], /2000 books {2}1890\/2000 synced$/);
  assert.equal(
    lines[1],
    'binance 1410/1500 synced  5 stale  unsynced: 50 gap, 30 rate-limited (for 20s), 10 no collector',
  );
  assert.equal(lines[2], '  REST weight a 1200/6000 b 25/6000 (b 429s 1)', 'on its own line when both do not fit');
  assert.equal(lines[3], 'okx 480/500 synced  unsynced: 20 initial');
  const rows = lines.filter((l) => /^[ >] (binance|okx) /.test(l));
  const problems = rows.filter((l) => / (NO|STALE) /.test(l));
  assert.ok(problems.length > 10 && problems.length < rows.length, `${problems.length} of ${rows.length}`);
  assert.deepEqual(rows.slice(0, problems.length), problems, 'problem rows come first');
  // worst first: no collector, then the longest waits (gap #10 has waited longest)
  assert.match(rows[0], /SYM200 +NO .*no collector delivers it yet/);
  assert.match(rows[10], /SYM10 +NO .*snapshot for gap, 1m3\ds, attempt 2/);
  assert.match(out, /^\.\.\. \d+ more books not synced or stale$/m);
  assert.match(out, /^\.\.\. \d+ more synced books \(page \d+\/\d+, PgUp\/PgDn\)$/m);
  assert.ok(
    rows.some((l) => l.startsWith('> binance  SYM1000 ')),
    'the selected book is on the page shown',
  );
  assert.match(out, /book 1001\/2000 +binance SYM1000/, 'and in detail');
  // bounded cost: only the rows shown (and the detail) are formatted, not 2,000
  assert.ok(reads.n < 3 * 50, `${reads.n} book levels read for one frame`);
});

test('without truncation the frame would not fit: the same market with every row is 2,000 lines', () => {
  const out = renderOverview(market(), { width: 120, color: false, rows: 5000 });
  assert.ok(out.split('\n').length > 2000);
});

test('--rows bounds the book rows; without a height the default is bounded too', () => {
  const rowsOf = (s: string) =>
    strip(s)
      .split('\n')
      .filter((l) => /^[ >] (binance|okx) /.test(l)).length;
  assert.equal(rowsOf(renderOverview(market(), { width: 120, color: false, rows: 12 })), 12);
  assert.equal(rowsOf(renderOverview(market(), { width: 120, color: false, rows: 12, height: 40 })), 12);
  assert.equal(rowsOf(renderOverview(market(), { width: 120, color: false, rows: 12, height: 30 })), 11, 'height wins');
  assert.ok(rowsOf(renderOverview(market(), { width: 120, color: false })) <= 40);
  const few = renderOverview({ ...market(), books: market().books.slice(1990) }, { width: 120, color: false });
  assert.equal(rowsOf(few), 10, 'few books: every one, as before');
});

test('paging: page N of the synced books, clamped; the selected book picks the page otherwise', () => {
  const m = market();
  const first = chooseRows(m.books, 20, { page: 0 });
  const second = chooseRows(m.books, 20, { page: 1 });
  assert.equal(first.problemCount, 115);
  assert.equal(first.problems.length, 17, 'rows left for a few synced books');
  assert.deepEqual(first.page, [0, 1, 2]);
  assert.deepEqual(second.page, [3, 4, 5]);
  assert.equal(chooseRows(m.books, 20, { page: 1e9 }).pageNo, first.pages - 1);
  const sel = chooseRows(m.books, 20, { selected: 1000 });
  assert.ok(sel.page.includes(1000));
  // every synced book: one page after another covers each exactly once
  const seen = new Set<number>();
  for (let p = 0; p < first.pages; p++) for (const i of chooseRows(m.books, 20, { page: p }).page) seen.add(i);
  assert.equal(seen.size, first.restCount);
});

test('summary: counts per venue and reasons; the freshest REST word per collector wins', () => {
  const [binance, okx] = summarize(market().books);
  assert.equal(binance.total, 1500);
  assert.equal(binance.synced, 1410);
  assert.deepEqual(
    [...binance.unsynced],
    [
      ['gap', 50],
      ['rate-limited', 30],
      ['no collector', 10],
    ],
  );
  assert.equal(binance.rest.get('binance-a')!.at, 1499);
  assert.deepEqual([...okx.unsynced], [['initial', 20]]);
  assert.equal(okx.rest.size, 0);
  assert.equal(unsyncedReason(emptyViewState('', 'x', 'Y')), 'no stats');
});

test('status line of 2,000 books: synced/total and reasons per venue, only the worst books named', () => {
  const line = renderOverviewLine(market(), new Date('2026-12-04T10:00:00Z'));
  assert.doesNotMatch(line, /\n|\x1b/);
  assert.match(
    line,
    /^2026-12-04T10:00:00Z 2000 books \| 1890\/2000 synced \| binance 1410\/1500 stale=5 unsynced: 50 gap, 30 rate-limited \(for 20s\), 10 no collector REST weight a 1200\/6000 b 25\/6000 \(b 429s 1\) /,
  );
  assert.match(line, /\| okx 480\/500 unsynced: 20 initial \| binance\.SYM200 seq=200 NOT-SYNCED\(no_collector/);
  assert.match(line, /\| \.\.\. 19\d\d more books$/);
  assert.ok(line.length < 5000, `${line.length} characters`);
  assert.doesNotMatch(line, /SYM1000 /, 'a synced book is not named');
});

test('a book the arbiter has but this client has not had its snapshot of yet: "client snapshot", with how long', () => {
  const mk = (symbol: string, o: Partial<ViewState>): ViewState => ({ ...emptyViewState('', 'binance', symbol), ...o });
  const books = [
    mk('A', { synced: true }),
    mk('B', { clientWaitingMs: 4200 }),
    mk('C', { clientWaitingMs: 100 }),
    mk('D', { waiting: { reason: 'initial', attempt: 1, forMs: 0, rateLimitedMs: 3000 } }),
    mk('E', { waiting: { reason: 'initial', attempt: 1, forMs: 0, rateLimitedMs: 11_200 } }),
    mk('F', {}),
  ];
  const feed = (id: string, used: number) => ({ ...emptyFeed(id), rest: rest(used) });
  books[0].feeds = [feed('binance-b', 25), feed('binance-a', 1200)];
  assert.equal(restText(summarize(books)[0]), 'REST weight a 1200/6000 b 25/6000', 'by collector, whoever spoke first');
  assert.equal(unsyncedReason(books[1]), 'client snapshot');
  assert.equal(unsyncedReason(books[5]), 'no stats');
  const [v] = summarize(books);
  assert.equal(v.rateLimitedMs, 11_200, 'the longest wait for the budget');
  assert.equal(reasonsText(v), 'unsynced: 2 client snapshot, 2 rate-limited (for 12s), 1 no stats');
  const line = renderOverviewLine({ title: 't', books, selected: 0 }, new Date('2026-12-04T10:00:00Z'));
  assert.match(
    line,
    /\| binance 1\/6 unsynced: 2 client snapshot, 2 rate-limited \(for 12s\), 1 no stats REST weight a 1200\/6000 b 25\/6000 \|/,
  );
  assert.match(line, /binance\.B seq=0 NOT-SYNCED\(client_snapshot,_4s\)/);
  const frame = strip(renderOverview({ title: 't', books, selected: 1 }, { width: 120, color: false }));
  assert.match(frame, /binance {2}B .* client snapshot, 4s/);
  assert.match(frame, /NOT SYNCED \(client snapshot, 4s\)/, 'the detail says it too');
});
