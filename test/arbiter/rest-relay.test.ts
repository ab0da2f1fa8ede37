/**
 * What the view shows of the REST budget comes through the arbiter's stats: each book's stats relay per feed
 * the budget its collector's status carries (CollectorStatus.rest), and a book whose snapshot the venue's
 * rate limit holds says for how long (waiting.rateLimitedMs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArbiterService } from '../../src/arbiter/service.js';
import { InprocBus, InprocTransport } from '../../src/transport/inproc.js';
import { decodeAny, encode, topics, type ArbiterStats, type SnapshotRequest } from '../../src/wire/messages.js';
import { rawDelta } from './raw.js';
import { waitFor } from '../helpers.js';

test('stats relay each feed its collector REST budget; a queued snapshot reads rate-limited; junk is ignored', async (t) => {
  const bus = new InprocBus();
  const [arbT, colT, tapT] = [new InprocTransport(bus), new InprocTransport(bus), new InprocTransport(bus)];
  const arb = new ArbiterService({
    transport: arbT,
    symbols: ['BUSDT'],
    snapshotTimeoutMs: 60_000,
    statsIntervalMs: 50,
  });
  t.after(async () => {
    await arb.stop();
    for (const tr of [arbT, colT, tapT]) await tr.close();
  });
  const requests: SnapshotRequest[] = [];
  const stats: ArbiterStats[] = [];
  const ctl = await tapT.subscriber('book', ['ctl.snapshot.', topics.stats('binance', 'BUSDT')]);
  void (async () => {
    for await (const m of ctl) {
      const x = decodeAny(m.payload);
      if (x.type === 'snapshot-request') requests.push(x);
      if (x.type === 'arbiter-stats') stats.push(x);
    }
  })();
  await arb.start();
  const pub = await colT.publisher('ingest');
  for (const id of ['a', 'b'])
    for (let seq = 10; seq < 13; seq++) pub.send(topics.raw('binance', 'BUSDT'), rawDelta('BUSDT', seq, id));
  await waitFor(() => requests.length >= 1, 3000, 'a snapshot request');
  const asked = requests[0].collector;
  const status = (collector: string, rest: unknown) =>
    pub.send(
      topics.status(collector),
      encode({
        v: 1,
        type: 'collector-status',
        collector,
        venue: 'binance',
        time: 1_700_000_000_000_000,
        feeds: [{ symbol: 'BUSDT', connected: true, messages: 3, reconnects: 0, gaps: 0, snapshots: 0, idleMs: 0 }],
        rest,
      }),
    );
  status('a', { used: 1200, limit: 6000, blockedMs: 0, rateLimited: 1, banned: 0 });
  status('b', { used: 'lots', limit: 6000, blockedMs: 0, rateLimited: 0, banned: 0 });
  // both collectors out of weight for a while (else the request moves to the other one)
  for (const c of [asked === 'a' ? 'b' : 'a', asked])
    pub.send(
      topics.status(c),
      encode({
        v: 1,
        type: 'snapshot-status',
        venue: 'binance',
        symbol: 'BUSDT',
        collector: c,
        state: 'queued',
        etaMs: 20_000,
      }),
    );
  const feed = (s: ArbiterStats | undefined, id: string) => s?.feeds.find((f) => f.collector === id);
  const last = () => stats.at(-1);
  await waitFor(
    () => feed(last(), 'a')?.rest !== undefined && (last()!.waiting?.rateLimitedMs ?? 0) > 0,
    3000,
    'stats with the budget and the rate limit',
  );
  const s = last()!;
  assert.deepEqual(feed(s, 'a')!.rest, {
    used: 1200,
    limit: 6000,
    blockedMs: 0,
    rateLimited: 1,
    banned: 0,
    time: 1_700_000_000_000_000,
  });
  assert.equal(feed(s, 'b')!.rest, undefined, 'a budget that is not numbers is dropped');
  assert.equal(s.synced, false);
  assert.ok(s.waiting!.rateLimitedMs! > 15_000 && s.waiting!.rateLimitedMs! <= 20_000, `${s.waiting!.rateLimitedMs}`);
});
