import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { startView } from '../../src/view/run.js';
import { emptyViewState, type ViewState } from '../../src/view/state.js';

/** A stand-in for process.stdout that records every write. */
function fakeOut(isTTY: boolean): { out: NodeJS.WriteStream; writes: string[] } {
  const writes: string[] = [];
  const w = new Writable({
    write(chunk, _enc, cb) {
      writes.push(String(chunk));
      cb();
    },
  });
  Object.assign(w, { isTTY, columns: 80, hasColors: () => false });
  return { out: w as unknown as NodeJS.WriteStream, writes };
}

function state(): ViewState {
  const s = emptyViewState('t', 'binance', 'BTCUSDT');
  s.seq = 7;
  s.bids = [[100, 1]];
  s.asks = [[101, 2]];
  s.feeds = [
    { id: 'a', connected: false, lagP50Us: 0, lagP99Us: 0, messages: 0, duplicates: 0, gapsFilled: 0, resyncs: 0 },
  ];
  return s;
}

test('not a TTY: one plain status line per interval, nothing after stop', async () => {
  const { out, writes } = fakeOut(false);
  const view = startView(state, { out, intervalMs: 40 });
  try {
    await sleep(150);
  } finally {
    view.stop();
  }
  const n = writes.length;
  // One line per 40 ms tick; timers fire late on a busy machine, never early (the sleep may overrun by a tick).
  assert.ok(n >= 1 && n <= 4, `expected about 3 lines in 150 ms at 40 ms, got ${n}`);
  for (const w of writes) {
    assert.equal(w.split('\n').length, 2, 'each write is exactly one line');
    assert.ok(w.endsWith('\n'));
    assert.doesNotMatch(w, /\x1b/);
    assert.match(w, /binance\.BTCUSDT seq=7 NOT-SYNCED bid=100 ask=101 .*\| a: DOWN/);
  }
  await sleep(100);
  assert.equal(writes.length, n, 'no writes after stop');
});

test('not a TTY: default interval is seconds, not the TTY 250 ms', async () => {
  const { out, writes } = fakeOut(false);
  const view = startView(state, { out });
  await sleep(400);
  view.stop();
  assert.equal(writes.length, 0);
});

test('TTY: hides the cursor, redraws in place, restores the cursor on stop', async () => {
  const exitListeners = process.listenerCount('exit');
  const { out, writes } = fakeOut(true);
  const view = startView(state, { out, intervalMs: 30 });
  assert.equal(process.listenerCount('exit'), exitListeners + 1, 'restores the cursor even if the process exits');
  await sleep(200);
  view.stop();
  view.stop(); // idempotent
  assert.ok(writes[0].startsWith('\x1b[?25l'), 'cursor hidden first');
  const frames = writes.filter((w) => w.startsWith('\x1b[H') && w.includes('seq 7'));
  assert.ok(frames.length >= 3, `expected first, timed and final frames, got ${frames.length}`);
  assert.ok(
    frames.every((f) => f.endsWith('\x1b[J')),
    'each frame clears what is below it',
  );
  assert.ok(frames[0].includes('DOWN'));
  assert.ok(writes[writes.length - 1].endsWith('\x1b[?25h'), 'cursor shown again on stop');
  assert.equal(process.listenerCount('exit'), exitListeners);
  const n = writes.length;
  await sleep(80);
  assert.equal(writes.length, n, 'no writes after stop');
});

test('a throwing getState is shown, not thrown', async () => {
  const { out, writes } = fakeOut(false);
  const view = startView(
    () => {
      throw new Error('boom');
    },
    { out, intervalMs: 20 },
  );
  await sleep(70);
  view.stop();
  assert.ok(writes.length >= 1);
  assert.match(writes[0], /view: cannot read state: boom/);
});
