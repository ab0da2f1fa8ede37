/** The multi-book view of `bookwire demo --venues`: one row per book, the selected book in detail, one status line. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { renderOverview, renderOverviewLine } from '../../src/view/render.js';
import { startOverview } from '../../src/view/run.js';
import { emptyViewState, type OverviewState, type ViewState } from '../../src/view/state.js';

const strip = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');

function book(venue: string, symbol: string, o: Partial<ViewState> = {}): ViewState {
  const s = emptyViewState('ignored', venue, symbol);
  const bids: [number, number][] = [];
  const asks: [number, number][] = [];
  for (let i = 0; i < 12; i++) {
    bids.push([100 - i * 0.5, 1 + i]);
    asks.push([100.5 + i * 0.5, 2 + i]);
  }
  const feed = (id: string, connected: boolean) => ({
    id,
    connected,
    lagP50Us: 50,
    lagP99Us: 900,
    messages: 100,
    duplicates: 90,
    gapsFilled: 1,
    resyncs: 0,
  });
  return {
    ...s,
    seq: 42,
    synced: true,
    bids,
    asks,
    updatesPerSec: 10,
    feeds: [feed(`${venue}-a`, true), { ...feed(`${venue}-b`, false), faulty: true }],
    truthChecks: { ok: 5, diff: 0 },
    truthMatches: true,
    ...o,
  };
}

function overview(selected = 1): OverviewState {
  return {
    title: 'bookwire demo — 2 venues',
    books: [
      book('binance', 'BTCUSDT'),
      book('okx', 'BTC-USDT', { truthChecks: { ok: 3, diff: 2 }, truthMatches: false }),
      book('bybit', 'ETHUSDT', { synced: false, bids: [], asks: [], truthChecks: undefined, updatesPerSec: 0 }),
    ],
    selected,
    detailTitle: 'book 2/3',
    notes: ['the b collector of each venue goes through the flaky profile'],
  };
}

test('overview: one row per book with venue, symbol, synced, spread, upd/s, feeds, truth counts', () => {
  const out = renderOverview(overview(), { width: 100, color: false });
  const lines = out.split('\n');
  assert.match(lines[0], /^bookwire demo — 2 venues +3 books {2}2\/3 synced$/);
  // one line per venue: synced out of total, the unsynced by reason
  assert.deepEqual(lines.slice(1, 4), [
    'binance 1/1 synced',
    'okx 1/1 synced',
    'bybit 0/1 synced  unsynced: 1 no stats',
  ]);
  assert.match(lines[4], /venue +symbol +synced +spread +upd\/s +feeds +truth/);
  assert.match(lines[5], /^ {2}binance +BTCUSDT +SYNCED +0\.5 +10\.0 +1\/2 +5 OK {2}0 DIFF$/);
  assert.match(lines[6], /^> okx +BTC-USDT +SYNCED +0\.5 +10\.0 +1\/2 +3 OK {2}2 DIFF$/);
  assert.match(lines[7], /^ {2}bybit +ETHUSDT +NO +- +0\.0 +1\/2 +-$/);
  assert.match(lines[8], /flaky profile/);
  // the detail: the selected book's header, ladder and feeds
  assert.match(out, /book 2\/3 +okx BTC-USDT {2}seq 42 {2}SYNCED/);
  assert.match(out, /^b +DOWN .* faulty$/m, 'feeds named by their suffix under the book');
  assert.equal(out.split('\n').filter((l) => l.includes('│')).length, 11, 'ladder header + 10 rows');
});

test('overview: the detail ladder shortens to fit the terminal height, never below 3 rows', () => {
  const short = renderOverview(overview(), { width: 80, color: false, height: 24 });
  assert.ok(short.split('\n').length <= 24, short);
  const rows = short.split('\n').filter((l) => l.includes('│')).length - 1;
  assert.ok(rows >= 3 && rows < 10, `${rows} ladder rows`);
  const tiny = renderOverview(overview(), { width: 80, color: false, height: 5 });
  assert.equal(tiny.split('\n').filter((l) => l.includes('│')).length - 1, 3);
});

test('overview: fits the width; colors change nothing visible', () => {
  for (const width of [80, 60]) {
    const plain = renderOverview(overview(), { width, color: false });
    for (const l of plain.split('\n')) assert.ok([...l].length <= width, `${[...l].length} > ${width}: ${l}`);
    assert.equal(strip(renderOverview(overview(), { width, color: true })), plain);
  }
});

test('overview: no books, or a selection past the end, renders without throwing', () => {
  assert.match(renderOverview({ title: 't', books: [], selected: 0 }, { width: 80, color: false }), /0 books/);
  assert.doesNotThrow(() => renderOverview(overview(7), { width: 80, color: false }));
});

test('overview status line: one plain line naming every book with its state and truth counts', () => {
  const line = renderOverviewLine(overview(), new Date('2026-11-23T10:00:00.5Z'));
  assert.doesNotMatch(line, /\n|\x1b/);
  assert.match(line, /^2026-11-23T10:00:00Z 3 books \| /);
  assert.match(line, /\| binance\.BTCUSDT seq=42 spread=0\.5 upd\/s=10\.0 feeds=1\/2 truth ok=5 diff=0 \|/);
  assert.match(line, /\| okx\.BTC-USDT seq=42 spread=0\.5 .* truth ok=3 diff=2 \|/);
  assert.match(line, /\| bybit\.ETHUSDT seq=42 NOT-SYNCED spread=- .* truth unchecked$/);
});

test('startOverview: keys move the selection on a terminal; Ctrl-C raises SIGINT; raw mode is undone on stop', async () => {
  const writes: string[] = [];
  const out = new Writable({
    write(chunk, _enc, cb) {
      writes.push(String(chunk));
      cb();
    },
  });
  Object.assign(out, { isTTY: true, columns: 80, rows: 40, hasColors: () => false });
  const { PassThrough } = await import('node:stream');
  const input = new PassThrough();
  const raw: boolean[] = [];
  Object.assign(input, { isTTY: true, setRawMode: (on: boolean) => raw.push(on) });
  let selected = 0;
  const keys: string[] = [];
  const view = startOverview(() => overview(selected), {
    out: out as unknown as NodeJS.WriteStream,
    intervalMs: 10_000,
    keys: {
      input: input as unknown as NodeJS.ReadStream,
      onKey: (k) => {
        keys.push(k);
        selected = 2;
      },
    },
  });
  let sigints = 0;
  const onSigint = () => sigints++;
  process.on('SIGINT', onSigint);
  try {
    input.write('j');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(keys, ['j']);
    assert.match(strip(writes.at(-1)!), /> bybit/, 'redrawn with the new selection');
    input.write('\x03');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(sigints, 1);
    assert.deepEqual(keys, ['j'], 'Ctrl-C is not a selection key');
  } finally {
    view.stop();
    process.off('SIGINT', onSigint);
  }
  assert.deepEqual(raw, [true, false]);
});
