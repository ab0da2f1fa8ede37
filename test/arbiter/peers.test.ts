/** A peer arbiter's reply is one more snapshot source: checked before the core sees it (peers.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PEER_FEED, peerSnapshot } from '../../src/arbiter/peers.js';
import type { ConsolidatedSnapshot } from '../../src/core/consolidated.js';
import { BookArbiter, type ArbiterSink } from '../../src/core/arbiter.js';

const reply = (o: Partial<ConsolidatedSnapshot> = {}): ConsolidatedSnapshot => ({
  v: 1,
  type: 'snapshot',
  venue: 'okx',
  symbol: 'BTC-USDT',
  seq: 5_000_000_123,
  offset: 5_000_000_000,
  bids: [[100, 1]],
  asks: [[101, 2]],
  exchTime: 0,
  pubTime: 0,
  reason: 'reply',
  ...o,
});

test("a peer's book becomes a core snapshot in the venue's ids, with the peer's numbering", () => {
  const a = peerSnapshot(reply({ exactTo: { bid: 90, ask: 110 } }), 'okx', 'BTC-USDT');
  assert.ok('snap' in a);
  assert.equal(a.snap.seq, 123);
  assert.equal(a.snap.offset, 5_000_000_000);
  assert.equal(a.snap.collector, PEER_FEED);
  assert.deepEqual(a.snap.exactTo, { bid: 90, ask: 110 });
});

test("a peer's reply is refused when stale, for another book, or with implausible numbers or levels", () => {
  const why = (r: ConsolidatedSnapshot) => {
    const a = peerSnapshot(r, 'okx', 'BTC-USDT');
    return 'error' in a ? a.error : 'accepted';
  };
  assert.match(why(reply({ stale: true })), /stale/);
  assert.match(why(reply({ symbol: 'ETH-USDT' })), /ETH-USDT/);
  assert.match(why(reply({ seq: 1e300 })), /implausible/);
  assert.match(why(reply({ offset: -5 })), /implausible/);
  assert.match(why(reply({ seq: 10, offset: 20 })), /implausible/);
  assert.match(why(reply({ bids: [[100, -1]] })), /level/);
  assert.match(why(reply({ asks: [[Number.NaN, 1]] })), /level/);
  assert.match(why(reply({ asks: [[1, 2, 3]] as never })), /level/);
  assert.equal(why(reply()), 'accepted');
});

test("the core takes a peer snapshot's numbering, and refuses one numbered after another venue reset", () => {
  const log: string[] = [];
  const sink: ArbiterSink = {
    publish: () => log.push('publish'),
    requestSnapshot: (reason) => log.push(`request ${reason}`),
    reset: () => log.push('reset'),
  };
  const core = new BookArbiter('okx', 'BTC-USDT', sink);
  core.start(0);
  const a = peerSnapshot(reply(), 'okx', 'BTC-USDT');
  assert.ok('snap' in a);
  core.onSnapshot(a.snap, 0);
  assert.equal(core.state, 'synced');
  assert.equal(core.consolidatedSeq, 5_000_000_123, 'numbered as the peer numbers it');
  assert.equal(core.offset, 5_000_000_000);

  // a core already numbering its own way (it synced before) refuses a snapshot with another offset
  const other = new BookArbiter('okx', 'BTC-USDT', sink);
  other.start(0);
  other.onSnapshot({ ...a.snap, offset: undefined, collector: 'a' }, 0);
  assert.equal(other.offset, 0);
  // resync: unsynced again, then a peer numbered differently
  other.onDelta({ ...delta(200), collector: 'a' }, 1);
  other.onTimer(10_000);
  assert.equal(other.state, 'unsynced');
  log.length = 0;
  other.onSnapshot(a.snap, 10_001);
  assert.equal(other.state, 'unsynced');
  assert.equal(other.counters.snapshotsRejected, 1);
  assert.deepEqual(log, ['request stale-snapshot']);
});

function delta(last: number) {
  return {
    type: 'delta' as const,
    venue: 'okx',
    symbol: 'BTC-USDT',
    first: last,
    last,
    prev: last - 1,
    exchTime: 0,
    recvTime: 0,
    collector: 'a',
    bids: [],
    asks: [],
  };
}
