/**
 * Framing as a third party sees it (docs/wire-format.md, "Framing"): a plain zeromq.js SUB (book channel)
 * or ROUTER (ingest, where each message comes after the sender's routing id), not bookwire's subscriber,
 * reads what ZmqTransport publishers send. By default every message is exactly [topic, payload];
 * batching is opt-in (`coalesce`) and travels as [batch.<topic>, p1, p2, ...] (book channel) or
 * [batch, t1, p1, t2, p2, ...] (ingest), which a conventional subscription never receives. (This test imports zeromq itself on purpose: it plays the outside reader.)
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../src/log.js';
import { BATCH_TOPIC_PREFIX, MIXED_BATCH_TOPIC, ZmqTransport } from '../../src/transport/zeromq.js';
import type { BusPublisher, BusSubscriber } from '../../src/transport/types.js';
import { MessageReader, rawRouter, rawSub, sleep, type RawSub } from './helpers.js';

const ANY = 'tcp://127.0.0.1:*';

function zmqT(
  t: TestContext,
  endpoints: ConstructorParameters<typeof ZmqTransport>[0],
  coalesce?: boolean,
): ZmqTransport {
  const tr = new ZmqTransport(endpoints, { logger: silentLogger, publisherLingerMs: 0, coalesce });
  t.after(() => tr.close());
  return tr;
}

/** Payloads per topic as a conventional reader would take them; throws on anything but two frames. */
function conventional(messages: Buffer[][]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of messages) {
    assert.equal(m.length, 2, `a message of ${m.length} frames on ${m[0]}`);
    const topic = m[0].toString();
    if (!out.has(topic)) out.set(topic, []);
    out.get(topic)!.push(m[1].toString());
  }
  return out;
}

const isProbe = (m: Buffer[]): boolean => m[0].toString().endsWith('.probe');
/** Payloads in ingest messages: [topic, payload] or [batch, t1, p1, ...]. */
const pairsIn = (messages: Buffer[][]): number =>
  messages
    .filter((m) => !isProbe(m))
    .reduce((n, m) => n + (m[0].toString() === MIXED_BATCH_TOPIC ? (m.length - 1) / 2 : m.length - 1), 0);
const payloadsIn = (messages: Buffer[][]): number =>
  messages.filter((m) => !isProbe(m)).reduce((n, m) => n + m.length - 1, 0);

/** Beat the slow joiner: send `probe` every 20 ms until `heard()`. */
async function warmUp(pub: BusPublisher, probe: string, heard: () => Promise<boolean> | boolean): Promise<void> {
  for (let i = 0; !(await heard()); i++) {
    assert.ok(i < 250, `slow joiner: ${probe} never arrived`);
    pub.send(probe, '');
    await sleep(20);
  }
}

/** A burst a batching publisher packs: n payloads over `topics`, all sent in one turn. Returns them by topic. */
function burst(pub: BusPublisher, topics: string[], n: number): Map<string, string[]> {
  const want = new Map<string, string[]>(topics.map((t) => [t, []]));
  for (let i = 0; i < n; i++) {
    const topic = topics[i % topics.length];
    const payload = JSON.stringify({ v: 1, i });
    pub.send(topic, payload);
    want.get(topic)!.push(payload);
  }
  return want;
}

/** Wait until `count()` reaches `want` (5 s at most), then a little longer: anything extra shows up too. */
async function settle(count: () => number, want: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (count() < want && Date.now() < deadline) await sleep(20);
  await sleep(100);
}

const sorted = (m: Map<string, string[]>) => [...m.entries()].sort();

describe('framing over real ZeroMQ sockets', { timeout: 30_000 }, () => {
  test('default: a burst on the publish endpoint (book., stats., ctl.) reaches a plain SUB as [topic, payload] only', async (t) => {
    const pub = await zmqT(t, { publish: [ANY] }).publisher('book');
    const sub = await rawSub(t, pub.endpoint!, []); // everything, as recv_multipart() tutorials do
    await warmUp(pub, 'book.probe', () => sub.messages.some(isProbe));
    const want = burst(pub, ['book.binance.A', 'book.binance.B', 'stats.binance.A', 'ctl.snapshot.binance.A'], 2000);
    await settle(() => payloadsIn(sub.messages), 2000);
    assert.deepEqual(sorted(conventional(sub.messages.filter((m) => !isProbe(m)))), sorted(want));
  });

  test('default: a burst on the ingest endpoint (raw., status.) reaches a plain ROUTER as [peer, topic, payload] only', async (t) => {
    const sub = await rawRouter(t, ANY);
    const pub = await zmqT(t, { ingest: [sub.endpoint] }).publisher('ingest');
    await warmUp(pub, 'raw.probe', () => sub.messages.some(isProbe));
    const want = burst(pub, ['raw.binance.A', 'raw.binance.B', 'status.a'], 2000);
    await settle(() => payloadsIn(sub.messages), 2000);
    assert.deepEqual(sorted(conventional(sub.messages.filter((m) => !isProbe(m)))), sorted(want));
  });

  for (const channel of ['book', 'ingest'] as const)
    test(`coalesce on the ${channel} channel: batches travel as ${channel === 'book' ? 'batch.<topic>' : 'one message of every topic'}, a conventional subscription gets [topic, payload] only, bookwire's subscriber every payload in order`, async (t) => {
      const prefix = channel === 'book' ? 'book.' : 'raw.';
      const topics = channel === 'book' ? ['book.binance.A', 'book.binance.B'] : ['raw.binance.A', 'raw.binance.B'];
      let pub: BusPublisher;
      let all: RawSub; // subscribed to everything
      let plain: RawSub; // a conventional subscription, `book.` or `raw.`
      let own: BusSubscriber; // bookwire's
      if (channel === 'book') {
        const p = await zmqT(t, { publish: [ANY] }, true).publisher('book');
        pub = p;
        all = await rawSub(t, p.endpoint!, []);
        plain = await rawSub(t, p.endpoint!, [prefix]);
        own = await zmqT(t, { publish: [p.endpoint!] }).subscriber('book', [prefix]);
      } else {
        all = await rawRouter(t, ANY);
        plain = await rawRouter(t, ANY, [prefix]); // a reader that takes only what starts with raw.
        own = await zmqT(t, { ingest: [ANY] }).subscriber('ingest', [prefix]);
        pub = await zmqT(
          t,
          { ingest: [all.endpoint, plain.endpoint, (own as { endpoint?: string }).endpoint!] },
          true,
        ).publisher('ingest');
      }
      const reader = new MessageReader(own);
      let ownHeard = false;
      // probes go out one per turn, so alone: conventionally framed
      await warmUp(pub, `${prefix}probe`, async () => {
        for (let m = await reader.nextRaw(1); m !== undefined; m = await reader.nextRaw(1)) ownHeard = true;
        return ownHeard && all.messages.some(isProbe) && plain.messages.some(isProbe);
      });
      // the ingest's batches also carry the odd topic bookwire's subscriber does not want (filtered out)
      const sent = channel === 'book' ? topics : [...topics, 'status.x'];
      const want = burst(pub, sent, 2001);
      want.delete('status.x');
      const inOrder: string[] = [];
      const got = new Map<string, string[]>(topics.map((x) => [x, []]));
      for (const m of await reader.take(channel === 'book' ? 2001 : 1334)) {
        got.get(m.topic)!.push(m.payload.toString());
        inOrder.push(m.payload.toString());
      }
      await settle(() => (channel === 'book' ? payloadsIn(all.messages) : pairsIn(all.messages)), 2001);

      // It did batch: the burst went out as a few batch messages (fails if nothing batches).
      const data = all.messages.filter((m) => !isProbe(m));
      assert.ok(data.length < 500, `${data.length} messages for 2001 payloads: not batched`);
      if (channel === 'book') {
        assert.ok(
          data.some((m) => m[0].toString().startsWith(BATCH_TOPIC_PREFIX)),
          'no batch.<topic> message',
        );
        for (const m of data)
          if (m.length > 2)
            assert.ok(m[0].toString().startsWith(BATCH_TOPIC_PREFIX), `${m.length} frames under ${m[0]}`);
      } else {
        // a collector's turn spans many books: one message for all of them, [batch, t1, p1, t2, p2, ...]
        const mixed = data.filter((m) => m[0].toString() === MIXED_BATCH_TOPIC);
        assert.ok(mixed.length > 0, 'no mixed batch');
        for (const m of data) if (m.length > 2) assert.equal(m[0].toString(), MIXED_BATCH_TOPIC);
        assert.ok(
          mixed.some(
            (m) =>
              new Set(
                m
                  .slice(1)
                  .filter((_, i) => i % 2 === 0)
                  .map(String),
              ).size === 3,
          ),
          'a batch carries several topics',
        );
        // and bookwire's subscriber hands them out in publish order across topics, not grouped by topic
        const order = (m: Map<string, string[]>) =>
          [...m.values()].flat().sort((a, b) => JSON.parse(a).i - JSON.parse(b).i);
        assert.deepEqual(inOrder, order(want));
      }
      // A conventional reader: nothing it cannot parse (at most a lone payload sent as [topic, payload]).
      for (const m of plain.messages) {
        assert.equal(m.length, 2, `${m.length} frames under ${m[0]}`);
        assert.ok(m[0].toString().startsWith(prefix));
      }
      // bookwire's subscriber: every payload once, per-topic order kept, under the plain topic.
      assert.deepEqual(sorted(got), sorted(want));
    });
});
