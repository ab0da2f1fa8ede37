import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BookArbiter,
  type ArbiterOptions,
  type ArbiterSink,
  type ResetReason,
  type SnapshotRequestReason,
} from '../../src/core/arbiter.js';
import type { BookDelta, BookSnapshot, Level } from '../../src/core/types.js';

type Logged =
  | { kind: 'publish'; first: number; last: number; prev: number; collector: string }
  | { kind: 'request'; reason: SnapshotRequestReason; attempt: number }
  | { kind: 'reset'; reason: ResetReason; seq: number; bookSeq: number };

class RecordingSink implements ArbiterSink {
  log: Logged[] = [];
  inputDelayMs?: () => number;
  core!: BookArbiter;
  publish(ev: BookDelta, prev: number): void {
    this.log.push({ kind: 'publish', first: ev.first, last: ev.last, prev, collector: ev.collector });
  }
  requestSnapshot(reason: SnapshotRequestReason, attempt: number): void {
    this.log.push({ kind: 'request', reason, attempt });
  }
  reset(reason: ResetReason, snap: BookSnapshot): void {
    // the core must already be at the snapshot when the shell is told to publish it
    this.log.push({ kind: 'reset', reason, seq: snap.seq, bookSeq: this.core.seq });
  }
  take(): Logged[] {
    const l = this.log;
    this.log = [];
    return l;
  }
  published(): string[] {
    return this.log
      .filter((l) => l.kind === 'publish')
      .map((l) => (l.kind === 'publish' ? `${l.first}-${l.last}` : ''));
  }
}

function setup(opts: ArbiterOptions = {}) {
  const sink = new RecordingSink();
  const core = new BookArbiter('binance', 'BTCUSDT', sink, opts);
  sink.core = core;
  return { sink, core };
}

function delta(
  first: number,
  last: number,
  collector = 'a',
  recvTime = 0,
  bids: Level[] = [],
  asks: Level[] = [],
): BookDelta {
  return {
    type: 'delta',
    venue: 'binance',
    symbol: 'BTCUSDT',
    first,
    last,
    exchTime: 0,
    recvTime,
    collector,
    bids,
    asks,
  };
}

function snapshot(seq: number, bids: Level[] = [[100, 1]], asks: Level[] = [[101, 1]], collector = 'a'): BookSnapshot {
  return { type: 'snapshot', venue: 'binance', symbol: 'BTCUSDT', seq, recvTime: 0, collector, bids, asks };
}

/** A synced core at seq with a small book, log cleared. */
function synced(seq = 100, opts: ArbiterOptions = {}) {
  const s = setup(opts);
  s.core.start(0);
  s.core.onSnapshot(snapshot(seq), 0);
  assert.equal(s.core.state, 'synced');
  s.sink.take();
  return s;
}

test('start() requests the initial snapshot once; so does the first delta without start()', () => {
  const a = setup();
  a.core.start(0);
  a.core.start(1);
  assert.deepEqual(a.sink.take(), [{ kind: 'request', reason: 'initial', attempt: 1 }]);

  const b = setup();
  b.core.onDelta(delta(5, 6), 0);
  b.core.onDelta(delta(7, 8), 0);
  assert.deepEqual(b.sink.take(), [{ kind: 'request', reason: 'initial', attempt: 1 }]);
  assert.equal(b.core.state, 'unsynced');
  assert.equal(b.core.buffered, 2);
});

test('initial sync: Binance first-event edge cases', () => {
  const { sink, core } = setup();
  core.start(0);
  core.onDelta(delta(90, 95), 0); // entirely before the snapshot
  core.onDelta(delta(96, 100), 0); // u == lastUpdateId: stale
  core.onDelta(delta(101, 103), 0); // U == lastUpdateId + 1: applies
  core.onDelta(delta(104, 106), 0);
  sink.take();
  core.onSnapshot(snapshot(100), 0);
  assert.deepEqual(sink.take(), [
    { kind: 'reset', reason: 'initial', seq: 100, bookSeq: 100 },
    { kind: 'publish', first: 101, last: 103, prev: 100, collector: 'a' },
    { kind: 'publish', first: 104, last: 106, prev: 103, collector: 'a' },
  ]);
  assert.equal(core.state, 'synced');
  assert.equal(core.seq, 106);
  assert.equal(core.buffered, 0);
});

test('initial sync: an event overlapping the snapshot (U <= lastUpdateId+1 <= u) applies', () => {
  const { sink, core } = setup();
  core.start(0);
  core.onDelta(delta(95, 104, 'a', 0, [[100, 5]]), 0);
  core.onSnapshot(snapshot(100), 0);
  sink.take();
  assert.equal(core.seq, 104);
  assert.deepEqual(core.book.bestBid(), [100, 5]);
});

test('initial sync: a snapshot older than the earliest held event is rejected and another requested', () => {
  const { sink, core } = setup();
  core.start(0);
  core.onDelta(delta(105, 106), 0);
  sink.take();
  core.onSnapshot(snapshot(100), 5);
  assert.deepEqual(sink.take(), [{ kind: 'request', reason: 'stale-snapshot', attempt: 2 }]);
  assert.equal(core.state, 'unsynced');
  assert.equal(core.counters.snapshotsRejected, 1);
  assert.equal(core.buffered, 1, 'held events are kept');
  core.onSnapshot(snapshot(104), 6);
  assert.deepEqual(sink.take(), [
    { kind: 'reset', reason: 'initial', seq: 104, bookSeq: 104 },
    { kind: 'publish', first: 105, last: 106, prev: 104, collector: 'a' },
  ]);
});

test('initial sync with nothing buffered: a first event that does not chain is held, then resync as stale-snapshot', () => {
  const { sink, core } = setup({ gapTimeoutMs: 50 });
  core.start(0);
  core.onSnapshot(snapshot(100), 0);
  sink.take();
  core.onDelta(delta(110, 111), 10);
  assert.equal(core.state, 'gap');
  assert.deepEqual(sink.take(), [], 'nothing published out of order');
  core.onTimer(59);
  assert.equal(core.state, 'gap');
  core.onTimer(60);
  assert.equal(core.state, 'unsynced');
  assert.deepEqual(sink.take(), [{ kind: 'request', reason: 'stale-snapshot', attempt: 1 }]);
});

test('duplicates are dropped and counted; lag measured against the first copy', () => {
  const { sink, core } = synced(100);
  core.onDelta(delta(101, 102, 'a', 1000), 0);
  core.onDelta(delta(101, 102, 'b', 1250), 0);
  core.onDelta(delta(101, 102, 'c', 1900), 0);
  core.onDelta(delta(101, 102, 'a', 2000), 0); // a repeat on the same feed is a duplicate too
  assert.deepEqual(sink.published(), ['101-102']);
  const st = core.feedStats();
  assert.equal(st.get('a')!.won, 1);
  assert.equal(st.get('a')!.duplicates, 1);
  assert.equal(st.get('b')!.duplicates, 1);
  assert.equal(st.get('b')!.lagP50, 250);
  assert.equal(st.get('c')!.lagP99, 900);
  assert.equal(st.get('c')!.messages, 1);
  assert.equal(core.counters.published, 1);
});

test('in-order events are published from whichever feed delivers first', () => {
  const { sink, core } = synced(100);
  core.onDelta(delta(101, 101, 'a'), 0);
  core.onDelta(delta(102, 102, 'b'), 0);
  core.onDelta(delta(101, 101, 'b'), 0);
  core.onDelta(delta(102, 102, 'a'), 0);
  core.onDelta(delta(103, 103, 'a'), 0);
  assert.deepEqual(
    sink.take().map((l) => (l.kind === 'publish' ? `${l.collector}:${l.first}/${l.prev}` : l.kind)),
    ['a:101/100', 'b:102/101', 'a:103/102'],
  );
  assert.equal(core.feedStats().get('a')!.won, 2);
  assert.equal(core.feedStats().get('b')!.won, 1);
});

test('a gap in one feed is held and filled by another feed: no resync, nothing out of order', () => {
  const { sink, core } = synced(100);
  core.onDelta(delta(101, 101, 'a'), 0);
  core.onDelta(delta(103, 103, 'a'), 1); // a lost 102
  core.onDelta(delta(104, 104, 'a'), 2);
  assert.equal(core.state, 'gap');
  assert.deepEqual(sink.published(), ['101-101']);
  core.onTimer(40);
  core.onDelta(delta(101, 101, 'b'), 41);
  core.onDelta(delta(102, 102, 'b'), 42); // fills it
  assert.equal(core.state, 'synced');
  assert.deepEqual(sink.published(), ['101-101', '102-102', '103-103', '104-104']);
  core.onDelta(delta(103, 103, 'b'), 43);
  core.onDelta(delta(104, 104, 'b'), 43);
  core.onTimer(1000);
  assert.equal(core.counters.resyncs, 0);
  assert.ok(!sink.log.some((l) => l.kind === 'request'));
  const st = core.feedStats();
  assert.equal(st.get('a')!.gapsFilled, 1, "a's skip was covered by b");
  assert.equal(st.get('b')!.gapsFilled, 0);
  assert.equal(st.get('b')!.duplicates, 3);
  assert.equal(st.get('a')!.won, 3);
  assert.equal(st.get('b')!.won, 1);
});

test('a lagging feed whose skip was already covered counts a filled gap at once', () => {
  const { core } = synced(100);
  core.onDelta(delta(101, 101, 'a'), 0);
  core.onDelta(delta(102, 102, 'a'), 0);
  core.onDelta(delta(103, 103, 'a'), 0);
  core.onDelta(delta(101, 101, 'b'), 0);
  core.onDelta(delta(103, 103, 'b'), 0); // b skipped 102, which a already delivered
  assert.equal(core.feedStats().get('b')!.gapsFilled, 1);
});

test('gap timeout -> snapshot request -> new snapshot -> reset, then held events applied', () => {
  const { sink, core } = synced(100, { gapTimeoutMs: 50 });
  core.onDelta(delta(101, 101, 'a'), 0);
  core.onDelta(delta(103, 104, 'a'), 10); // 102 never arrives anywhere
  core.onDelta(delta(105, 106, 'b'), 20);
  core.onDelta(delta(107, 107, 'a'), 30);
  sink.take();
  core.onTimer(59);
  assert.equal(core.state, 'gap');
  core.onTimer(60);
  assert.equal(core.state, 'unsynced');
  assert.deepEqual(sink.take(), [{ kind: 'request', reason: 'gap', attempt: 1 }]);
  assert.equal(core.counters.resyncs, 1);
  core.onDelta(delta(108, 108, 'b'), 61); // still buffered while unsynced
  core.onSnapshot(snapshot(104), 70);
  assert.deepEqual(sink.take(), [
    { kind: 'reset', reason: 'resync', seq: 104, bookSeq: 104 },
    { kind: 'publish', first: 105, last: 106, prev: 104, collector: 'b' },
    { kind: 'publish', first: 107, last: 107, prev: 106, collector: 'a' },
    { kind: 'publish', first: 108, last: 108, prev: 107, collector: 'b' },
  ]);
  assert.equal(core.state, 'synced');
  assert.equal(core.feedStats().get('a')!.gapsFilled, 0, 'the open skip at the resync was not filled');
});

test('a second hole after progress gets its own timeout', () => {
  const { core } = synced(100, { gapTimeoutMs: 50 });
  core.onDelta(delta(102, 102, 'a'), 0);
  core.onDelta(delta(104, 104, 'a'), 0);
  core.onDelta(delta(101, 101, 'b'), 40); // fills the first hole at t=40; 103 still missing
  assert.equal(core.seq, 102);
  assert.equal(core.state, 'gap');
  core.onTimer(80);
  assert.equal(core.state, 'gap');
  core.onTimer(90);
  assert.equal(core.state, 'unsynced');
});

test('a delta that crosses the book triggers a resync; the event is kept for the next snapshot', () => {
  const { sink, core } = synced(100); // bid 100, ask 101
  core.onDelta(delta(101, 101, 'a', 0, [[101.5, 1]]), 0);
  assert.equal(core.state, 'unsynced');
  assert.deepEqual(
    sink.take(),
    [{ kind: 'request', reason: 'crossed', attempt: 1 }],
    'the crossing delta is not published',
  );
  assert.equal(core.counters.resyncs, 1);
  core.onDelta(delta(102, 102, 'a', 0, [[101.5, 0]]), 0);
  core.onSnapshot(snapshot(100, [[100, 1]], [[102, 1]]), 0);
  assert.deepEqual(sink.published(), ['101-101', '102-102']);
  assert.deepEqual(core.book.bestBid(), [100, 1]);
  assert.equal(core.state, 'synced');
});

test('a crossed snapshot is rejected and another requested', () => {
  const { sink, core } = setup();
  core.start(0);
  core.onSnapshot(snapshot(100, [[101, 1]], [[101, 2]]), 0);
  assert.equal(core.state, 'unsynced');
  assert.equal(core.counters.snapshotsRejected, 1);
  assert.deepEqual(sink.take().slice(1), [{ kind: 'request', reason: 'crossed', attempt: 2 }]);
  core.onSnapshot(
    snapshot(
      100,
      [
        [101, 1],
        [99, 0],
      ],
      [
        [101, 0],
        [102, 1],
      ],
    ),
    0,
  ); // zero-size levels do not count
  assert.equal(core.state, 'synced');
});

test('snapshots are ignored while synced and rejected for another book', () => {
  const { core } = synced(100);
  core.onSnapshot(snapshot(200), 0);
  assert.equal(core.counters.snapshotsIgnored, 1);
  assert.equal(core.seq, 100);
  const u = setup();
  u.core.start(0);
  u.core.onSnapshot({ ...snapshot(100), symbol: 'ETHUSDT' }, 0);
  assert.equal(u.core.state, 'unsynced');
  assert.equal(u.core.counters.snapshotsRejected, 1);
});

test('buffer overflow drops the oldest held event and resyncs', () => {
  const { sink, core } = synced(100, { maxBuffer: 3 });
  core.onDelta(delta(102, 102), 0);
  core.onDelta(delta(103, 103), 0);
  core.onDelta(delta(104, 104), 0);
  assert.equal(core.state, 'gap');
  core.onDelta(delta(105, 105), 0);
  assert.equal(core.state, 'unsynced');
  assert.equal(core.buffered, 3);
  assert.equal(core.counters.overflowDrops, 1);
  assert.deepEqual(sink.take(), [{ kind: 'request', reason: 'overflow', attempt: 1 }]);
  core.onDelta(delta(106, 106), 0); // while unsynced: drop oldest, no new request
  assert.equal(core.counters.overflowDrops, 2);
  assert.deepEqual(sink.take(), []);
  core.onSnapshot(snapshot(103), 0);
  assert.deepEqual(sink.published(), ['104-104', '105-105', '106-106']);
});

test('an unanswered snapshot request is retried once fast, then with backoff (3 s doubling, capped at snapshotTimeoutMs)', () => {
  const { sink, core } = setup({ snapshotTimeoutMs: 10_000 });
  core.start(1000);
  core.onTimer(1249); // too early
  core.onTimer(1250); // attempt 2 after 250 ms (a request lost to ZeroMQ's slow joiner)
  core.onTimer(4249); // < 3 s: a whole market's collectors answer late; a queued request must not be sent twice
  core.onTimer(4250); // attempt 3 after 3 s
  core.onTimer(10249);
  core.onTimer(10250); // attempt 4 after 6 s
  core.onTimer(20249); // capped at 10 s, not 12 s
  core.onTimer(20250); // attempt 5
  assert.deepEqual(sink.take(), [
    { kind: 'request', reason: 'initial', attempt: 1 },
    { kind: 'request', reason: 'retry', attempt: 2 },
    { kind: 'request', reason: 'retry', attempt: 3 },
    { kind: 'request', reason: 'retry', attempt: 4 },
    { kind: 'request', reason: 'retry', attempt: 5 },
  ]);
  core.onSnapshot(snapshot(1), 20_001);
  core.onTimer(40_000);
  assert.deepEqual(
    sink.take().map((l) => l.kind),
    ['reset'],
    'no requests once synced',
  );
});

test('events held while unsynced are deduplicated by last', () => {
  const { sink, core } = setup();
  core.onDelta(delta(101, 101, 'a'), 0);
  core.onDelta(delta(101, 101, 'b', 70), 0);
  core.onDelta(delta(102, 102, 'b'), 0);
  assert.equal(core.buffered, 2);
  assert.equal(core.feedStats().get('b')!.duplicates, 1);
  core.onSnapshot(snapshot(100), 0);
  assert.deepEqual(sink.published(), ['101-101', '102-102']);
  assert.equal(core.feedStats().get('a')!.won, 1);
  assert.equal(core.feedStats().get('b')!.won, 1);
});

test('out-of-order held events are applied sorted by first', () => {
  const { sink, core } = synced(100);
  core.onDelta(delta(104, 104, 'a'), 0);
  core.onDelta(delta(102, 103, 'b'), 0);
  core.onDelta(delta(101, 101, 'c'), 0);
  assert.deepEqual(sink.published(), ['101-101', '102-103', '104-104']);
  assert.equal(core.state, 'synced');
});

test('malformed deltas are counted and dropped', () => {
  const { sink, core } = synced(100);
  core.onDelta(delta(105, 101), 0);
  core.onDelta(delta(NaN, 101), 0);
  assert.equal(core.counters.invalid, 2);
  assert.equal(core.state, 'synced');
  assert.deepEqual(sink.log, []);
});

test('lag window: bounded sample, percentiles, reset', () => {
  const { core } = synced(0);
  for (let i = 1; i <= 100; i++) {
    core.onDelta(delta(i, i, 'a', i * 1000), 0);
    core.onDelta(delta(i, i, 'b', i * 1000 + i), 0); // lag i µs
  }
  let b = core.feedStats().get('b')!;
  assert.equal(b.lagSamples, 100);
  assert.equal(b.lagP50, 50);
  assert.equal(b.lagP99, 99);
  core.resetLagWindow();
  b = core.feedStats().get('b')!;
  assert.equal(b.lagSamples, 0);
  assert.equal(b.lagP50, 0);
  assert.equal(b.duplicates, 100, 'counters survive the window reset');
  for (let i = 101; i <= 3000; i++) {
    core.onDelta(delta(i, i, 'a', i * 1000), 0);
    core.onDelta(delta(i, i, 'b', i * 1000 + 7), 0);
  }
  b = core.feedStats().get('b')!;
  assert.equal(b.lagSamples, 1024);
  assert.equal(b.lagP99, 7);
});

test('OKX maintenance reset (seqId < prevSeqId) in place: published right after the last seq, later ids continue above', () => {
  const { sink, core } = setup();
  core.onSnapshot(snapshot(100), 0);
  core.onDelta({ ...delta(101, 101, 'a', 0, [[100, 2]]), prev: 100 }, 0);
  core.onDelta({ ...delta(101, 101, 'b'), prev: 100 }, 0); // b's copy
  sink.take();
  // prevSeqId 101 -> seqId 3: by the interval rule alone it is stale (3 <= 101), and so would 3 -> 5 be
  core.onDelta({ ...delta(3, 3, 'a', 0, [[100, 3]]), prev: 101, reset: true }, 0);
  assert.equal(core.counters.venueResets, 1);
  assert.equal(core.state, 'synced');
  assert.equal(core.seq, 3);
  assert.equal(core.consolidatedSeq, 102, 'numbered right after the last consolidated seq');
  assert.deepEqual(sink.take(), [{ kind: 'publish', first: 3, last: 3, prev: 101, collector: 'a' }]);
  // b is still in the old id space: its late old events are dropped, never compared with new ids
  core.onDelta({ ...delta(102, 104, 'b'), prev: 101 }, 0);
  assert.deepEqual(sink.take(), []);
  // a continues in the new space; b's copy of the reset brings b over
  core.onDelta({ ...delta(4, 5, 'a', 0, [[99, 1]]), prev: 3 }, 0);
  core.onDelta({ ...delta(3, 3, 'b'), prev: 101, reset: true }, 0);
  assert.equal(core.counters.venueResets, 1, "b's copy is not a second reset");
  core.onDelta({ ...delta(6, 6, 'b', 0, [[98, 1]]), prev: 5 }, 0);
  assert.deepEqual(sink.take(), [
    { kind: 'publish', first: 4, last: 5, prev: 102, collector: 'a' },
    { kind: 'publish', first: 6, last: 6, prev: 104, collector: 'b' },
  ]);
  assert.equal(core.consolidatedSeq, 105);
  assert.deepEqual(core.book.top(5).bids, [
    [100, 3],
    [99, 1],
    [98, 1],
  ]);
});

test('a venue reset that does not continue the book (a gap before it) resyncs; numbering goes on above the last publish', () => {
  const { sink, core } = setup();
  core.onSnapshot(snapshot(100), 0);
  core.onDelta({ ...delta(101, 101), prev: 100 }, 0);
  sink.take();
  core.onDelta({ ...delta(3, 3), prev: 150, reset: true }, 0); // we are at 101, the reset continues 150
  assert.equal(core.state, 'unsynced');
  assert.deepEqual(sink.take(), [{ kind: 'request', reason: 'venue-reset', attempt: 1 }]);
  core.onSnapshot(snapshot(7), 0);
  assert.equal(core.state, 'synced');
  // the reset's own id (3) was numbered right after the last publish (101): 7 is 4 ids later
  assert.equal(core.consolidatedSeq, 106);
  core.onDelta({ ...delta(8, 9), prev: 7 }, 0);
  assert.equal(core.consolidatedSeq, 108);
});

test('Bybit restart (a snapshot with u = 1): adopted while synced, numbered on; copies and old events of other feeds are dropped', () => {
  const { sink, core } = setup();
  core.onSnapshot(snapshot(500), 0);
  core.onDelta({ ...delta(501, 501, 'b'), prev: 500 }, 0);
  sink.take();
  core.onSnapshot({ ...snapshot(1, [[90, 1]], [[91, 1]], 'a'), reset: true }, 0);
  assert.equal(core.counters.venueResets, 1);
  assert.equal(core.consolidatedSeq, 502);
  assert.deepEqual(core.book.top(1).bids, [[90, 1]]);
  core.onDelta({ ...delta(502, 502, 'b'), prev: 501 }, 0); // b before it saw the restart: old ids
  core.onDelta({ ...delta(2, 2, 'a', 0, [[89, 1]]), prev: 1 }, 0);
  core.onSnapshot({ ...snapshot(1, [[90, 1]], [[91, 1]], 'b'), reset: true }, 0); // b's copy
  core.onDelta({ ...delta(2, 2, 'b'), prev: 1 }, 0);
  core.onDelta({ ...delta(3, 3, 'b', 0, [[88, 1]]), prev: 2 }, 0);
  assert.equal(core.counters.venueResets, 1);
  assert.deepEqual(
    sink.take().map((l) => l.kind),
    ['reset', 'publish', 'publish'],
  );
  assert.equal(core.consolidatedSeq, 504);
  assert.deepEqual(core.book.top(5).bids, [
    [90, 1],
    [89, 1],
    [88, 1],
  ]);
});

test("a collector's word on a request: 'queued' holds retries off (bounded), 'failed' asks the next at once", () => {
  const { sink, core } = setup({ snapshotTimeoutMs: 3000 });
  core.start(0);
  core.onSnapshotStatus('queued', 20_000, 100); // rate-limited for 20 s
  core.onTimer(250); // the fast retry waits too
  core.onTimer(20_000);
  assert.deepEqual(sink.take(), [{ kind: 'request', reason: 'initial', attempt: 1 }], 'no retry while it is queued');
  core.onTimer(23_100); // eta + snapshotTimeoutMs passed: retry
  assert.deepEqual(sink.take(), [{ kind: 'request', reason: 'retry', attempt: 2 }]);
  core.onSnapshotStatus('failed', 0, 23_200); // will not come: the next one now, not after the timeout
  assert.deepEqual(sink.take(), [{ kind: 'request', reason: 'retry', attempt: 3 }]);
  // a collector that keeps saying "queued, for ever" holds the book at most 70 s
  core.onSnapshotStatus('queued', 1e12, 24_000);
  core.onTimer(93_999);
  assert.deepEqual(sink.take(), []);
  core.onTimer(94_000);
  assert.deepEqual(sink.take(), [{ kind: 'request', reason: 'retry', attempt: 4 }]);
  // once synced, a late word changes nothing
  core.onSnapshot(snapshot(1), 94_001);
  sink.take();
  core.onSnapshotStatus('failed', 0, 95_000);
  assert.deepEqual(sink.take(), []);
});

test("a retry at another collector waits at least twice the input's delay (a snapshot cannot come sooner)", () => {
  // the shell reads its input 5 s behind the collectors (a Kafka cold start of 2,000 books: 5-8 s)
  const { sink, core } = setup({ snapshotTimeoutMs: 3000 });
  let delay = 5000;
  sink.inputDelayMs = () => delay;
  core.start(0);
  core.onTimer(250); // the fast retry, to the same collector, is not held
  assert.deepEqual(
    sink.take().map((l) => (l.kind === 'request' ? l.attempt : l.kind)),
    [1, 2],
  );
  core.onTimer(3_250); // where another collector was asked before
  core.onTimer(10_249);
  assert.deepEqual(sink.take(), [], 'no retry elsewhere before 2 x 5 s');
  core.onTimer(10_250);
  assert.deepEqual(sink.take(), [{ kind: 'request', reason: 'retry', attempt: 3 }]);
  // the input caught up: the usual timing (3 s)
  delay = 20;
  core.onTimer(13_249);
  assert.deepEqual(sink.take(), []);
  core.onTimer(13_250);
  assert.deepEqual(sink.take(), [{ kind: 'request', reason: 'retry', attempt: 4 }]);
  // a clock far off is bounded: 30 s at most
  delay = 1e9;
  core.onTimer(43_249);
  assert.deepEqual(sink.take(), []);
  core.onTimer(43_250);
  assert.deepEqual(sink.take(), [{ kind: 'request', reason: 'retry', attempt: 5 }]);
});

test('copies are evidence: a later copy of the same ids whose levels print otherwise resyncs the book and charges both feeds', () => {
  const { sink, core } = synced(100);
  const a = { ...delta(101, 102, 'a', 0, [[100, 2]]), levelsPrint: 111 };
  core.onDelta(a, 1);
  core.onDelta({ ...delta(101, 102, 'b', 0, [[100, 2]]), levelsPrint: 111 }, 2); // the same: a plain duplicate
  assert.equal(core.counters.copyMismatches, 0);
  core.onDelta({ ...delta(103, 103, 'a', 0, [[100, 3]]), levelsPrint: 222 }, 3);
  core.onDelta({ ...delta(103, 103, 'b', 0, [[100, 7]]), levelsPrint: 999 }, 4); // says something else
  assert.equal(core.counters.copyMismatches, 1);
  assert.equal(core.feedStats().get('a')!.disagreements, 1);
  assert.equal(core.feedStats().get('b')!.disagreements, 1);
  assert.equal(core.state, 'unsynced');
  assert.deepEqual(sink.take().at(-1), { kind: 'request', reason: 'disagreement', attempt: 1 });
  // a copy covering other ids (another grouping) is not compared
  const s2 = synced(100);
  s2.core.onDelta({ ...delta(101, 103, 'a'), levelsPrint: 1 }, 1);
  s2.core.onDelta({ ...delta(103, 103, 'b'), levelsPrint: 2 }, 2);
  assert.equal(s2.core.counters.copyMismatches, 0);
  assert.equal(s2.core.state, 'synced');
});
