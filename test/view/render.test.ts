import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatMicros, renderStatusLine, renderView } from '../../src/view/render.js';
import { emptyViewState, type ViewState } from '../../src/view/state.js';

const ANSI = /\x1b\[/;
const strip = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');

function sampleState(): ViewState {
  const bids: [number, number][] = [];
  const asks: [number, number][] = [];
  for (let i = 0; i < 12; i++) {
    bids.push([50000.01 - i * 0.01, 1 + i * 0.125]);
    asks.push([50000.02 + i * 0.01, 0.5 + i]);
  }
  return {
    title: 'bookwire demo',
    venue: 'binance',
    symbol: 'BTCUSDT',
    seq: 123456789,
    synced: true,
    bids,
    asks,
    updatesPerSec: 10,
    resyncs: 0,
    truthMatches: true,
    feeds: [
      {
        id: 'a',
        connected: true,
        lagP50Us: 85,
        lagP99Us: 1200,
        messages: 12000,
        duplicates: 3,
        gapsFilled: 0,
        resyncs: 0,
      },
      {
        id: 'b',
        connected: false,
        lagP50Us: 150,
        lagP99Us: 25000,
        messages: 11000,
        duplicates: 10990,
        gapsFilled: 240,
        resyncs: 2,
        faulty: true,
      },
    ],
    notes: ['faults injected on b: flaky'],
  };
}

test('frame shows header, best bid/ask on the first ladder row, spread and mid', () => {
  const out = renderView(sampleState(), { width: 80, color: false });
  const lines = out.split('\n');
  assert.match(lines[0], /^bookwire demo +binance BTCUSDT {2}seq 123456789 {2}SYNCED$/);
  assert.match(lines[1], /spread 0\.01\b/);
  assert.match(lines[1], /mid 50000\.015\b/);
  assert.match(lines[1], /truth OK/);
  assert.match(lines[1], /feeds 1\/2 up/);
  const firstRow = lines.find((l) => l.includes('│') && /\d/.test(l))!;
  assert.match(firstRow, /1\.000 +50000\.01 │ 50000\.02 +0\.500/);
});

test('a long title is shortened, never the symbol, seq or sync state', () => {
  const s = { ...sampleState(), title: 'bookwire demo — 2 collectors (b faulty), logs in /a/rather/long/path/to/logs' };
  const line = renderView(s, { width: 80, color: true }).split('\n')[0];
  assert.equal([...strip(line)].length, 80);
  assert.match(strip(line), /^bookwire demo — 2 collectors.*… {2}binance BTCUSDT {2}seq 123456789 {2}SYNCED$/);
});

test('ladder has exactly 10 rows per side, prices aligned on the separator', () => {
  const out = renderView(sampleState(), { width: 80, color: false });
  const rows = out.split('\n').filter((l) => l.includes('│'));
  assert.equal(rows.length, 11); // header + 10 levels (12 given)
  const sep = rows.map((r) => r.indexOf('│'));
  assert.ok(
    sep.every((c) => c === sep[0]),
    `separator columns differ: ${sep.join(',')}`,
  );
  assert.ok(rows[10].includes('49999.92') && rows[10].includes('50000.11'));
  assert.ok(!out.includes('49999.91'), '11th level must not be shown');
});

test('disconnected feed reads DOWN, connected UP, faulty marked', () => {
  const out = renderView(sampleState(), { width: 80, color: false });
  const a = out.split('\n').find((l) => l.startsWith('a '))!;
  const b = out.split('\n').find((l) => l.startsWith('b '))!;
  assert.match(a, /^a +UP +85µs +1\.20ms +12000 +3 +0 +0 +0$/);
  assert.match(b, /^b +DOWN +150µs +25\.0ms +11000 +10990 +240 +2 +0 faulty$/);
});

test('no escape sequences without color; colors with it, same visible text', () => {
  const plain = renderView(sampleState(), { width: 80, color: false });
  assert.doesNotMatch(plain, ANSI);
  const colored = renderView(sampleState(), { width: 80, color: true });
  assert.match(colored, /\x1b\[31;1mDOWN/);
  assert.match(colored, /\x1b\[32mUP/);
  assert.equal(strip(colored), plain);
});

test('fits the width: 80 and narrower', () => {
  for (const width of [80, 60]) {
    for (const color of [false, true]) {
      const out = renderView(sampleState(), { width, color });
      for (const line of out.split('\n'))
        assert.ok([...strip(line)].length <= width, `line too long at ${width}: ${line}`);
    }
  }
});

test('not synced, truth DIFF, empty book and no feeds render without throwing', () => {
  const s = { ...emptyViewState('watch', 'binance', 'ETHUSDT'), truthMatches: false };
  const out = renderView(s, { width: 80, color: false });
  assert.match(out, /NOT SYNCED/);
  assert.match(out, /truth DIFF/);
  assert.match(out, /spread -/);
  assert.match(out, /\(book empty\)/);
  assert.match(out, /\(no feeds yet\)/);
});

test('a book that is not synced says why: the snapshot it waits for, or no collector', () => {
  const base = emptyViewState('watch', 'binance', 'ETHUSDT');
  const gap = { ...base, waiting: { reason: 'gap', attempt: 2, forMs: 3400 } };
  assert.match(renderView(gap, { width: 100, color: false }), /NOT SYNCED \(snapshot for gap, 3s, attempt 2\)/);
  assert.match(renderStatusLine(gap), / NOT-SYNCED\(snapshot_for_gap,_3s,_attempt_2\) /);
  const none = { ...base, waiting: { reason: 'initial', attempt: 0, forMs: 0, noCollector: true as const } };
  assert.match(renderView(none, { width: 100, color: false }), /NOT SYNCED \(no collector delivers it yet\)/);
});

test('one-sided book and float noise in prices', () => {
  const s: ViewState = { ...sampleState(), asks: [], bids: [[0.1 + 0.2, 1e-7]] };
  const out = renderView(s, { width: 80, color: false });
  assert.match(out, /0\.0000001 +0\.3 │/);
  assert.match(out, /spread -/);
});

test('status line: one line with book top and every feed', () => {
  const line = renderStatusLine(sampleState(), new Date('2026-11-23T10:00:00.123Z'));
  assert.doesNotMatch(line, /\n/);
  assert.doesNotMatch(line, ANSI);
  assert.match(
    line,
    /^2026-11-23T10:00:00Z binance\.BTCUSDT seq=123456789 bid=50000\.01 ask=50000\.02 spread=0\.01 upd\/s=10\.0 /,
  );
  assert.match(line, /\| a: up lag=85µs p99=1\.20ms msgs=12000 dups=3 gaps=0 resyncs=0 \|/);
  assert.match(line, /\| b: DOWN .* gaps=240 resyncs=2 faulty$/);
});

test('status line: while nothing has arrived it says where it is waiting', () => {
  const s = {
    ...emptyViewState('bookwire watch', 'binance', 'BTCUSDT'),
    notes: ['waiting: nothing from an arbiter yet on tcp://127.0.0.1:5556 (is one running?)'],
  };
  assert.match(
    renderStatusLine(s),
    / NOT-SYNCED .* \| waiting: nothing from an arbiter yet on tcp:\/\/127\.0\.0\.1:5556 \(is one running\?\)$/,
  );
  assert.doesNotMatch(renderStatusLine(sampleState()), /waiting/);
});

test('formatMicros picks a readable unit', () => {
  assert.equal(formatMicros(35.4), '35µs');
  assert.equal(formatMicros(1234), '1.23ms');
  assert.equal(formatMicros(56_700), '56.7ms');
  assert.equal(formatMicros(2_500_000), '2.50s');
  assert.equal(formatMicros(NaN), '-');
});
