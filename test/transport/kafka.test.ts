/**
 * The Kafka transport against the 3-broker test cluster (real sockets): prefix filtering, per-key order,
 * snapshots through the compacted topic, a broker down and up while producing, and bad input.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { silentLogger } from '../../src/log.js';
import { KafkaTransport, type KafkaTransportOptions } from '../../src/transport/kafka.js';
import type { BusSubscriber } from '../../src/transport/types.js';
import { encode, type ConsolidatedDelta, type ConsolidatedSnapshot } from '../../src/wire/messages.js';
import { kafkaSkip, startTestBroker, type TestBroker } from '../kafka-helpers.js';
import { MessageReader } from './helpers.js';

function transport(t: TestContext, broker: TestBroker, o: Partial<KafkaTransportOptions> = {}): KafkaTransport {
  const tr = new KafkaTransport({ brokers: broker.bootstrap, logger: silentLogger, closeTimeoutMs: 2000, ...o });
  broker.beforeStop(() => tr.close());
  return tr;
}

const snap = (seq: number): ConsolidatedSnapshot => ({
  v: 1,
  type: 'snapshot',
  venue: 'binance',
  symbol: 'BTCUSDT',
  seq,
  bids: [[100, seq]],
  asks: [[101, 1]],
  exchTime: 0,
  pubTime: 1,
  reason: 'periodic',
});
const delta = (seq: number): ConsolidatedDelta => ({
  v: 1,
  type: 'delta',
  venue: 'binance',
  symbol: 'BTCUSDT',
  seq,
  prev: seq - 1,
  first: seq,
  bids: [[100, seq]],
  asks: [],
  exchTime: 0,
  recvTime: 1,
  pubTime: 1,
  feed: 'a',
});
const seqOf = (b: Buffer) => (JSON.parse(b.toString()) as { seq: number }).seq;

describe('kafka transport', { skip: kafkaSkip, timeout: 60_000 }, () => {
  test('book channel: each subscriber gets only its prefixes, in order', async (t) => {
    const broker = await startTestBroker(t);
    const tr = transport(t, broker);
    const pub = await tr.publisher('book');
    const subs: Record<string, BusSubscriber> = {
      binance: await tr.subscriber('book', ['book.binance.']),
      all: await tr.subscriber('book', []),
      two: await tr.subscriber('book', ['stats.', 'book.kraken.']),
    };
    const sent = [
      'book.binance.BTCUSDT=1',
      'stats.binance.BTCUSDT=2',
      'book.kraken.XBTUSD=3',
      'ctl.snapshot.binance.BTCUSDT=4',
      'book.binance.BTCUSDT=5',
    ];
    for (const s of sent) pub.send(s.split('=')[0], s.split('=')[1]);
    await pub.flush();
    const got = async (s: BusSubscriber, n: number) =>
      (await new MessageReader(s).take(n, 5000)).map((m) => `${m.topic}=${m.payload.toString()}`);
    assert.deepEqual(await got(subs.binance, 2), ['book.binance.BTCUSDT=1', 'book.binance.BTCUSDT=5']);
    // different Kafka topics: order holds per key, not across topics
    assert.deepEqual((await got(subs.all, 5)).sort(), [...sent].sort());
    assert.deepEqual((await got(subs.two, 2)).sort(), ['book.kraken.XBTUSD=3', 'stats.binance.BTCUSDT=2']);
  });

  test('ingest channel: per-key order holds across partitions, nothing lost or doubled', async (t) => {
    const broker = await startTestBroker(t);
    const tr = transport(t, broker);
    const sub = await tr.subscriber('ingest', ['raw.']);
    const pub = await tr.publisher('ingest');
    const keys = Array.from({ length: 12 }, (_, i) => `raw.binance.SYM${i}`);
    const n = 3000;
    for (let i = 0; i < n; i++) pub.send(keys[i % keys.length], String(i));
    await pub.flush();
    const msgs = await new MessageReader(sub).take(n, 15_000);
    const last = new Map<string, number>();
    for (const m of msgs) {
      const v = Number(m.payload.toString());
      assert.ok(v > (last.get(m.topic) ?? -1), `out of order or doubled on ${m.topic}: ${v}`);
      last.set(m.topic, v);
    }
    assert.equal(new Set(msgs.map((m) => m.payload.toString())).size, n);
  });

  test('rawCompression none: collectors publish uncompressed, the records arrive the same, book stays gzip', async (t) => {
    const gzip = createRequire(import.meta.url)('kafkajs/src/protocol/message/compression/gzip.js') as {
      compress: (e: unknown) => Promise<Buffer>;
    };
    const compress = gzip.compress;
    let compressed = 0;
    gzip.compress = (e) => (compressed++, compress(e));
    t.after(() => (gzip.compress = compress));
    const broker = await startTestBroker(t);
    assert.throws(() => transport(t, broker, { rawCompression: 'lz4' as 'none' }), /must be gzip or none, got lz4/);
    const tr = transport(t, broker, { rawCompression: 'none' });
    assert.equal(tr.rawCompression, 'none');
    const sub = await tr.subscriber('ingest', ['raw.']);
    const pub = await tr.publisher('ingest');
    for (let i = 0; i < 500; i++) pub.send('raw.binance.BTCUSDT', `{"i":${i}}`);
    await pub.flush();
    const msgs = await new MessageReader(sub).take(500, 10_000);
    assert.deepEqual(
      msgs.map((m) => m.payload.toString()),
      Array.from({ length: 500 }, (_, i) => `{"i":${i}}`),
    );
    assert.equal(compressed, 0);
    const book = await tr.publisher('book');
    book.send('book.binance.BTCUSDT', encode(delta(1)));
    await book.flush();
    assert.ok(compressed > 0, 'the book publisher compresses');
  });

  test('snapshots: the client reads the latest from the compacted topic; a late subscriber starts at it', async (t) => {
    const broker = await startTestBroker(t);
    const tr = transport(t, broker);
    const pub = await tr.publisher('book');
    const topic = 'book.binance.BTCUSDT';
    const client = await tr.snapshotClient();
    await assert.rejects(client.request(topic, Buffer.from('{}'), 3000), /no snapshot of book\.binance\.BTCUSDT/);
    pub.send(topic, encode(snap(10)));
    for (let s = 11; s <= 15; s++) pub.send(topic, encode(delta(s)));
    pub.send(topic, encode(snap(15)));
    for (let s = 16; s <= 20; s++) pub.send(topic, encode(delta(s)));
    await pub.flush();
    assert.equal(seqOf(await client.request(topic, Buffer.from('{}'), 3000)), 15);
    // A second transport (another process) subscribing late: its stream begins with snapshot 15.
    const late = transport(t, broker);
    const sub = await late.subscriber('book', [topic]);
    pub.send(topic, encode(delta(21)));
    const got = (await new MessageReader(sub).take(7, 8000)).map(
      (m) => JSON.parse(m.payload.toString()) as { type: string; seq: number },
    );
    assert.deepEqual(
      got.map((m) => `${m.type[0]}${m.seq}`),
      ['s15', 'd16', 'd17', 'd18', 'd19', 'd20', 'd21'],
    );
  });

  test('a broker down and up while producing loses no acknowledged message', async (t) => {
    const broker = await startTestBroker(t);
    const tr = transport(t, broker);
    const sub = await tr.subscriber('ingest', ['raw.']);
    const pub = await tr.publisher('ingest');
    const reader = new MessageReader(sub);
    let i = 0;
    const produce = async (ms: number) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        for (let k = 0; k < 20; k++, i++) pub.send(`raw.binance.K${i % 7}`, String(i));
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    await produce(500);
    assert.equal(await broker.control('down 2'), 'OK');
    await produce(1500);
    assert.equal(await broker.control('up 2'), 'OK');
    await produce(500);
    await pub.flush();
    const msgs = await reader.take(i, 30_000);
    const seen = new Set(msgs.map((m) => Number(m.payload.toString())));
    for (let x = 0; x < i; x++) assert.ok(seen.has(x), `acknowledged message ${x} lost`);
  });

  test('with groupId a restarted consumer resumes from its committed offsets', async (t) => {
    const broker = await startTestBroker(t);
    const pubT = transport(t, broker);
    const pub = await pubT.publisher('ingest');
    const first = transport(t, broker, { groupId: 'resume-test' });
    const sub1 = await first.subscriber('ingest', ['raw.']);
    const r1 = new MessageReader(sub1);
    // A fresh group positions each partition when it is assigned: wait until every key's partition
    // delivers (a 'ready' marker per key) before the counted messages go out.
    const ready = new Set<string>();
    const t0 = Date.now();
    while (ready.size < 5 && Date.now() - t0 < 20_000) {
      for (let k = 0; k < 5; k++) if (!ready.has(`raw.binance.K${k}`)) pub.send(`raw.binance.K${k}`, 'ready');
      await pub.flush();
      for (let m = await r1.next(300); m !== undefined; m = await r1.next(300)) ready.add(m.topic);
    }
    assert.equal(ready.size, 5, 'every partition of the group was assigned');
    for (let i = 0; i < 50; i++) pub.send(`raw.binance.K${i % 5}`, String(i));
    await pub.flush();
    const firstGot: number[] = [];
    for (
      let m = await r1.next(8000);
      m !== undefined && firstGot.length < 50;
      m = firstGot.length < 50 ? await r1.next(8000) : undefined
    )
      if (m.payload.toString() !== 'ready') firstGot.push(Number(m.payload.toString()));
    assert.equal(firstGot.length, 50);
    await first.close(); // commits what it consumed and leaves the group
    for (let i = 50; i < 80; i++) pub.send(`raw.binance.K${i % 5}`, String(i));
    await pub.flush();
    const second = transport(t, broker, { groupId: 'resume-test' });
    const sub2 = await second.subscriber('ingest', ['raw.']);
    const got = (await new MessageReader(sub2).take(30, 10_000)).map((m) => Number(m.payload.toString()));
    assert.deepEqual(
      [...got].sort((a, b) => a - b),
      Array.from({ length: 30 }, (_, i) => 50 + i),
    );
    assert.equal(await new MessageReader(sub2).next(500), undefined, 'nothing consumed twice');
  });

  test('bad input: a missing topic names it and how to create it; unreachable brokers give a clear error', async (t) => {
    const broker = await startTestBroker(t, { topics: ['bookwire.raw:1:1'] });
    const tr = transport(t, broker);
    await assert.rejects(
      tr.publisher('ingest'),
      /Kafka topic "bookwire\.status" does not exist.*--create --topic bookwire\.status/,
    );
    await assert.rejects(tr.subscriber('book', ['book.']), /Kafka topic "bookwire\.book" does not exist/);
    const t0 = Date.now();
    const dead = new KafkaTransport({ brokers: ['127.0.0.1:1'], logger: silentLogger, connectTimeoutMs: 1500 });
    broker.beforeStop(() => dead.close());
    await assert.rejects(dead.publisher('ingest'), /cannot reach Kafka brokers 127\.0\.0\.1:1/);
    assert.ok(Date.now() - t0 < 10_000, 'gave up in reasonable time');
  });
});
