/** The arbiter core's venue checksum (core/integrity.ts), with OKX's as the venue's check. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BookArbiter, type ArbiterSink, type SnapshotRequestReason } from '../../src/core/arbiter.js';
import type { StringLevel } from '../../src/core/book.js';
import type { BookDelta, BookSnapshot } from '../../src/core/types.js';
import { okxChecksum, okxIntegrity } from '../../src/venues/okx.js';

class Sink implements ArbiterSink {
  published: number[] = [];
  requests: SnapshotRequestReason[] = [];
  resets = 0;
  publish(ev: BookDelta): void {
    this.published.push(ev.last);
  }
  requestSnapshot(reason: SnapshotRequestReason): void {
    this.requests.push(reason);
  }
  reset(): void {
    this.resets++;
  }
}

const num = (l: StringLevel[]) => l.map(([p, s]) => [Number(p), Number(s)] as [number, number]);

function snapshot(
  seq: number,
  bids: StringLevel[],
  asks: StringLevel[],
  checksum?: number,
  collector = 'a',
): BookSnapshot {
  return {
    type: 'snapshot',
    venue: 'okx',
    symbol: 'BTC-USDT',
    seq,
    recvTime: 0,
    collector,
    bids: num(bids),
    asks: num(asks),
    ...(checksum === undefined ? {} : { integrity: { bids, asks, checksum } }),
  };
}

function delta(
  prev: number,
  last: number,
  bids: StringLevel[],
  checksum: number | undefined,
  collector: string,
): BookDelta {
  return {
    type: 'delta',
    venue: 'okx',
    symbol: 'BTC-USDT',
    first: prev + 1,
    last,
    prev,
    exchTime: 0,
    recvTime: 0,
    collector,
    bids: num(bids),
    asks: [],
    ...(checksum === undefined ? {} : { integrity: { bids, asks: [], checksum } }),
  };
}

const BIDS: StringLevel[] = [
  ['100.5', '1'],
  ['100.4', '2.25'],
];
const ASKS: StringLevel[] = [['100.6', '3']];

test('a delta whose checksum the book fails is not published, is counted against its feed, and resyncs the book', () => {
  const sink = new Sink();
  const core = new BookArbiter('okx', 'BTC-USDT', sink, { integrity: okxIntegrity });
  core.onSnapshot(snapshot(10, BIDS, ASKS, okxChecksum(BIDS, ASKS)), 0);
  assert.equal(core.book.keepStrings, true, 'the book keeps level strings once a checksum arrives');
  assert.equal(core.state, 'synced');
  // a good copy: the book after it matches
  const good: StringLevel[] = [['100.4', '2.5']];
  const after: StringLevel[] = [
    ['100.5', '1'],
    ['100.4', '2.5'],
  ];
  core.onDelta(delta(10, 11, good, okxChecksum(after, ASKS), 'a'), 1);
  assert.deepEqual(sink.published, [11]);
  // feed b's copy of the next event has a wrong size but the venue's checksum of the right book
  const right: StringLevel[] = [['100.5', '0.5']];
  const wrong: StringLevel[] = [['100.5', '0.7']];
  const checksum = okxChecksum(
    [
      ['100.5', '0.5'],
      ['100.4', '2.5'],
    ],
    ASKS,
  );
  core.onDelta(delta(11, 12, wrong, checksum, 'b'), 2);
  assert.deepEqual(sink.published, [11], 'the wrong copy never reaches clients');
  assert.equal(core.state, 'unsynced');
  assert.deepEqual(sink.requests, ['checksum']);
  assert.equal(core.feedStats().get('b')!.checksumMismatches, 1);
  assert.equal(core.feedStats().get('a')!.checksumMismatches, 0);
  assert.deepEqual([core.counters.checksumsVerified, core.counters.checksumMismatches], [3, 1]);
  // a's right copy arrives while resyncing: held, then applied on top of the next snapshot
  core.onDelta(delta(11, 12, right, checksum, 'a'), 3);
  core.onSnapshot(snapshot(11, after, ASKS, okxChecksum(after, ASKS)), 4);
  assert.equal(core.state, 'synced');
  assert.deepEqual(sink.published, [11, 12]);
  assert.deepEqual(core.book.topStrings(5).bids, [
    ['100.5', '0.5'],
    ['100.4', '2.5'],
  ]);
});

test('checksum 0 or none is not a check, and the book keeps numbers only until a checksum arrives', () => {
  const sink = new Sink();
  const core = new BookArbiter('okx', 'BTC-USDT', sink, { integrity: okxIntegrity });
  core.onSnapshot(snapshot(10, BIDS, ASKS), 0);
  core.onDelta(delta(10, 11, [['100.5', '9']], undefined, 'a'), 1);
  assert.deepEqual(sink.published, [11]);
  assert.equal(core.counters.checksumsVerified, 0);
  assert.equal(core.book.keepStrings, false, 'no checksum yet: numbers only');
  assert.equal(
    okxIntegrity.read(
      '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[["1","2","0","1"]],"ts":"1","checksum":0,"prevSeqId":1,"seqId":2}]}',
    ),
    undefined,
  );
  const read = okxIntegrity.read(
    '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[["1.50","2","0","1"]],"ts":"1","checksum":-5,"prevSeqId":1,"seqId":2}]}',
  );
  assert.deepEqual(read, { bids: [['1.50', '2']], asks: [], checksum: -5 }, 'the spelling is kept');
  assert.equal(new BookArbiter('binance', 'BTCUSDT', sink).book.keepStrings, false);
});

test('a websocket snapshot that fails its own checksum is refused and another requested', () => {
  const sink = new Sink();
  const core = new BookArbiter('okx', 'BTC-USDT', sink, { integrity: okxIntegrity });
  core.onSnapshot(snapshot(10, BIDS, ASKS, okxChecksum(BIDS, ASKS) + 1, 'b'), 0);
  assert.equal(core.state, 'unsynced');
  assert.equal(sink.resets, 0);
  assert.deepEqual(sink.requests, ['checksum']);
  assert.equal(core.feedStats().get('b')!.checksumMismatches, 1);
  core.onSnapshot(snapshot(10, BIDS, ASKS, okxChecksum(BIDS, ASKS), 'a'), 1);
  assert.equal(core.state, 'synced');
});

test('the first checksum after numbers-only events: levels held get their default spelling, a venue spelling that differs fails once and the resync brings the strings', () => {
  const sink = new Sink();
  const core = new BookArbiter('okx', 'BTC-USDT', sink, { integrity: okxIntegrity });
  const tiny: StringLevel[] = [['100.5', '0.00000051']]; // String(5.1e-7) is "5.1e-7"
  core.onSnapshot(snapshot(10, tiny, ASKS), 0);
  const next: StringLevel[] = [['100.4', '1']];
  const book: StringLevel[] = [...tiny, ...next];
  core.onDelta(delta(10, 11, next, okxChecksum(book, ASKS), 'a'), 1);
  assert.equal(core.state, 'unsynced', 'the spelling differed: resync');
  assert.deepEqual(sink.requests, ['checksum']);
  core.onSnapshot(snapshot(11, book, ASKS, okxChecksum(book, ASKS)), 2);
  const more: StringLevel[] = [['100.3', '2']];
  core.onDelta(delta(11, 12, more, okxChecksum([...book, ...more], ASKS), 'a'), 3);
  assert.equal(core.state, 'synced');
  assert.deepEqual(sink.published, [12]);
  assert.deepEqual(core.book.topStrings(1).bids, [['100.5', '0.00000051']]);
});
