/** A collector's word on a snapshot request counts only from the collector asked (SnapshotStatus). */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { ArbiterService } from '../../src/arbiter/service.js';
import { InprocBus, InprocTransport } from '../../src/transport/inproc.js';
import type { BusPublisher } from '../../src/transport/types.js';
import { decodeAny, encode, encodeCollectorEvent, topics, type SnapshotRequest } from '../../src/wire/messages.js';
import { rawDelta } from './raw.js';
import { sleep, waitFor } from '../helpers.js';

/**
 * An arbiter of BUSDT fed by collectors a and b (no snapshot), its snapshot requests captured: resolves once
 * `until` requests went out (2: the first and its fast retry; 1: before the fast retry, 250 ms after).
 */
async function asking(t: TestContext, snapshotTimeoutMs: number, until = 2) {
  const bus = new InprocBus();
  const [arbT, colT, tapT] = [new InprocTransport(bus), new InprocTransport(bus), new InprocTransport(bus)];
  const arb = new ArbiterService({ transport: arbT, symbols: ['BUSDT'], snapshotTimeoutMs });
  t.after(async () => {
    await arb.stop();
    for (const tr of [arbT, colT, tapT]) await tr.close();
  });
  const requests: SnapshotRequest[] = [];
  const ctl = await tapT.subscriber('book', ['ctl.snapshot.']);
  void (async () => {
    for await (const m of ctl) requests.push(decodeAny(m.payload) as SnapshotRequest);
  })();
  await arb.start();
  const pub = await colT.publisher('ingest');
  for (const id of ['a', 'b'])
    for (let seq = 10; seq < 13; seq++) pub.send(topics.raw('binance', 'BUSDT'), rawDelta('BUSDT', seq, id));
  await waitFor(() => requests.length >= until, 3000, `${until} snapshot request(s)`);
  return { requests, pub };
}

/** Collector `collector`'s snapshot-status word on BUSDT, with `fields` (state, reason, etaMs, ...). */
function word(pub: BusPublisher, collector: string, fields: Record<string, unknown>): void {
  pub.send(
    topics.status(collector),
    encode({ v: 1, type: 'snapshot-status', venue: 'binance', symbol: 'BUSDT', collector, ...fields }),
  );
}

test("'failed' from the collector asked brings the next request at once; a word from another is ignored", async (t) => {
  // a long timeout: any request after the first two must come from a collector's word
  const { requests, pub } = await asking(t, 60_000);
  await sleep(300);
  assert.equal(requests.length, 2);
  assert.equal(requests[0].collector, requests[1].collector, 'the fast retry goes to the same collector');
  assert.equal(requests[0].repeat, undefined);
  assert.equal(requests[1].repeat, true, 'marked as a repeat: the collector drops it if the first arrived');
  const asked = requests[0].collector;
  const other = asked === 'a' ? 'b' : 'a';
  word(pub, other, { state: 'failed' }); // not asked: no effect
  await sleep(300);
  assert.equal(requests.length, 2, 'a word from a collector not asked changes nothing');
  word(pub, asked, { state: 'failed' });
  await waitFor(() => requests.length === 3, 2000, 'the next request after failed');
  assert.equal(requests[2].collector, other, 'the next collector');
});

test("a repeat's 'queued' (no eta, no due time) keeps the hold the first word set: no retry elsewhere", async (t) => {
  const { requests, pub } = await asking(t, 1000);
  const asked = requests[0].collector;
  // both collectors are out of weight for a while (so nothing moves), and the one asked says when this goes
  word(pub, asked === 'a' ? 'b' : 'a', { state: 'queued', reason: 'rate limit', etaMs: 20_000 });
  word(pub, asked, { state: 'queued', reason: 'rate limit', etaMs: 5000 });
  // then the fast retry's answer: the request is in hand
  word(pub, asked, { state: 'queued', reason: 'in progress', etaMs: 0 });
  const n = requests.length;
  await sleep(3000); // three snapshot timeouts: without the hold, retries would go out
  assert.equal(requests.length, n, `held for the eta: ${requests.slice(n).map((r) => r.collector)}`);
});

test('a book built from another collector than the one asked drops the request still waiting there', async (t) => {
  // a long timeout: no retry of ours; the other collector's snapshot arrives (a retry elsewhere, answered
  // first, as over Kafka when the first collector's answer is still on its way)
  const { requests, pub } = await asking(t, 60_000);
  const asked = requests[0].collector;
  const other = asked === 'a' ? 'b' : 'a';
  pub.send(
    topics.raw('binance', 'BUSDT'),
    encodeCollectorEvent({
      type: 'snapshot',
      venue: 'binance',
      symbol: 'BUSDT',
      seq: 11,
      recvTime: 0,
      collector: other,
      bids: [[1, 1]],
      asks: [[2, 1]],
    }),
  );
  await waitFor(
    () => requests.some((r) => (r.type as string) === 'snapshot-cancel'),
    3000,
    'a snapshot-cancel once the book is up',
  );
  const cancels = requests.filter((r) => (r.type as string) === 'snapshot-cancel');
  assert.deepEqual(
    cancels.map((r) => r.collector),
    [asked],
    'to the collector asked, once',
  );
});

test("a retry elsewhere after the hold drops the request still waiting at the collector asked: the weight is spent once", async (t) => {
  // the collector asked says its line sends the request in 200 ms; it does not (its ETA is a floor: an
  // answer that crosses a window's end counts in both): after the hold the next collector is asked
  const { requests, pub } = await asking(t, 300);
  const asked = requests[0].collector;
  const other = asked === 'a' ? 'b' : 'a';
  word(pub, asked, { state: 'queued', reason: 'rate limit', etaMs: 200 });
  await waitFor(
    () => requests.some((r) => r.type === 'snapshot-request' && r.collector === other),
    5000,
    'the retry at the other collector',
  );
  const toOther = requests.findIndex((r) => r.type === 'snapshot-request' && r.collector === other);
  const cancel = requests.findIndex((r) => (r.type as string) === 'snapshot-cancel');
  assert.ok(cancel >= 0, `a snapshot-cancel: ${JSON.stringify(requests)}`);
  assert.equal(requests[cancel].collector, asked, 'to the collector first asked');
  assert.ok(cancel < toOther, 'sent before the request elsewhere');
});

test('a request moved from a collector out of weight goes to the other, not back where it was dropped', async (t) => {
  const { requests, pub } = await asking(t, 60_000, 1);
  // before the fast retry (250 ms): the collector asked has no weight for 20 s, the other has
  const asked = requests[0].collector;
  const other = asked === 'a' ? 'b' : 'a';
  word(pub, asked, { state: 'queued', reason: 'rate limit', etaMs: 20_000 });
  await waitFor(
    () => requests.some((r) => (r.type as string) === 'snapshot-cancel'),
    3000,
    'the request dropped where it waits',
  );
  await waitFor(() => requests.length >= 3, 3000, 'the moved request');
  const after = requests.slice(requests.findIndex((r) => (r.type as string) === 'snapshot-cancel') + 1);
  assert.equal(after[0].type, 'snapshot-request');
  assert.equal(after[0].collector, other, `moved to the other collector: ${JSON.stringify(requests)}`);
});
