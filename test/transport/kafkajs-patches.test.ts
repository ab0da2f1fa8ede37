/**
 * The kafkajs patches of src/transport/kafkajs-patches.ts give kafkajs' results: the produce encoding
 * writes exactly the bytes kafkajs' own Produce v3 request writes (for the record shapes bookwire sends
 * and for the ones it hands to kafkajs' encoder: header arrays, explicit timestamps, huge deltas), with
 * and without gzip and transactions; the record decoder returns the same objects; gzip the same bytes.
 * Brokers reading the result are covered by the Kafka transport tests, which run with the patches.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { CompressionTypes } from 'kafkajs';
import { deflateSync, gzipSync } from 'node:zlib';
import {
  SYNC_ZLIB_MAX_BYTES,
  kafkajsDecodePatched,
  kafkajsGzipPatched,
  kafkajsProducePatched,
  originalProduceV3,
  originalRecordDecoder,
  patchedProduceV3,
  patchedRecordDecoder,
} from '../../src/transport/kafkajs-patches.js';

type Req = (o: Record<string, unknown>) => {
  encode(): Promise<{ buffer: Buffer }>;
  apiKey: number;
  apiVersion: number;
};
const Long = createRequire(import.meta.url)('kafkajs/src/utils/long.js') as { fromValue(n: number): unknown };

function messages(n: number, seed: number): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const r = (i * 7919 + seed) % 13;
    const m: Record<string, unknown> = {
      key: r === 0 ? null : r === 1 ? Buffer.from(`k${i}`) : `binance.BTC€USDT.${i % 3}`,
      value:
        r === 2
          ? null
          : r === 3
            ? `{"text":"ü${'x'.repeat(i % 300)}"}`
            : Buffer.from(JSON.stringify({ seq: i, pad: 'y'.repeat((i * 31) % 2000) })),
      partition: 0,
    };
    if (r === 4) m.headers = { 'bookwire-txn': 'arbiter-1', 'bookwire-raw-resume': `0:${i}` };
    if (r === 5) m.headers = { a: Buffer.from([0, 1, 2]), ü: '' };
    if (r === 6) m.headers = { multi: ['x', 'y'] }; // kafkajs' own encoder
    if (r === 7) delete m.key;
    if (r === 8) m.headers = {};
    out.push(m);
  }
  return out;
}

async function bytes(req: Req, o: Record<string, unknown>): Promise<Buffer> {
  return (await req(o).encode()).buffer;
}

test('the produce encoding patch is in effect', () => {
  assert.equal(kafkajsProducePatched, true);
  const loaded = createRequire(import.meta.url)('kafkajs/src/protocol/requests/produce/v3/request.js') as unknown;
  assert.notEqual(loaded, originalProduceV3());
});

test('patched produce requests are byte-identical to kafkajs', async () => {
  const orig = originalProduceV3() as Req;
  const fast = patchedProduceV3() as Req;
  let compared = 0;
  for (const compression of [CompressionTypes.None, CompressionTypes.GZIP])
    for (const txn of [null, 'bookwire-arbiter-0']) {
      const topicData = [
        {
          topic: 'bookwire.raw',
          partitions: [
            { partition: 0, firstSequence: 17, messages: messages(600, 1) },
            { partition: 3, firstSequence: 0, messages: messages(1, 2) },
          ],
        },
        { topic: 'bookwire.status', partitions: [{ partition: 1, firstSequence: 5, messages: messages(40, 3) }] },
      ];
      const o = {
        acks: -1,
        timeout: 30000,
        transactionalId: txn,
        producerId: Long.fromValue(4242),
        producerEpoch: 3,
        compression,
        topicData,
      };
      // Date.now() goes into the batch: compare with a frozen clock.
      const now = Date.now;
      Date.now = () => 1_700_000_000_123;
      try {
        const a = await bytes(orig, o);
        const b = await bytes(fast, o);
        assert.equal(b.length, a.length, `length, compression ${compression}, txn ${txn}`);
        assert.ok(a.equals(b), `bytes, compression ${compression}, txn ${txn}`);
        compared++;
      } finally {
        Date.now = now;
      }
      const r = fast(o);
      assert.equal(r.apiVersion, 3);
      assert.equal(r.apiKey, 0);
    }
  assert.equal(compared, 4);
});

test('explicit timestamps and defaults (no producer id, no compression) encode the same', async () => {
  const orig = originalProduceV3() as Req;
  const fast = patchedProduceV3() as Req;
  const msgs = [
    { key: 'a', value: 'v1', timestamp: '1700000000500' },
    { key: 'b', value: 'v2' },
    { key: 'c', value: 'v3', timestamp: 1_699_999_999_000 },
    { key: 'd', value: 'v4', timestamp: 1 }, // a huge delta: kafkajs' own varlong
  ];
  const o = { acks: 1, timeout: 1000, topicData: [{ topic: 't', partitions: [{ partition: 2, messages: msgs }] }] };
  const now = Date.now;
  Date.now = () => 1_700_000_000_000;
  try {
    assert.ok((await bytes(orig, o)).equals(await bytes(fast, o)));
  } finally {
    Date.now = now;
  }
});

test('the record decoding patch is in effect and decodes like kafkajs', () => {
  assert.equal(kafkajsDecodePatched, true);
  const req = createRequire(import.meta.url);
  const Record = req('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (r: Record<string, unknown>) => {
    buffer: Buffer;
  };
  const Decoder = req('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => { readVarIntBytes(): Buffer };
  const orig = originalRecordDecoder() as (d: unknown, c?: unknown) => Record<string, unknown>;
  const fast = patchedRecordDecoder() as typeof orig;
  assert.notEqual(req('kafkajs/src/protocol/recordBatch/record/v0/decoder.js'), orig);
  const records: Record<string, unknown>[] = [
    { key: 'binance.BTCUSDT', value: Buffer.from('{"a":1}'), offsetDelta: 0, timestampDelta: 0 },
    { key: null, value: null, offsetDelta: 5, timestampDelta: -3 },
    {
      key: Buffer.from([1, 2]),
      value: 'x'.repeat(5000),
      offsetDelta: 70_000,
      timestampDelta: 123_456,
      headers: { 'bookwire-txn': 'a', 'bookwire-raw-resume': '0:17', dup: ['x', 'y', 'z'], ü: Buffer.from([9]) },
    },
    { key: 'k', value: 'v', offsetDelta: 1, timestampDelta: 2 ** 40 }, // kafkajs' own path (large delta)
  ];
  const contexts = [
    {
      firstOffset: '1000',
      firstTimestamp: '1700000000000',
      magicByte: 2,
      timestampType: 0,
      maxTimestamp: '1700000000999',
    },
    { firstOffset: '9007199254740000', firstTimestamp: '1700000000000', magicByte: 2 }, // kafkajs' own path
    { firstOffset: '0', firstTimestamp: '5', isControlBatch: true, timestampType: 1, maxTimestamp: '77' },
  ];
  let n = 0;
  for (const ctx of contexts)
    for (const r of records) {
      const bytes = Record(r).buffer;
      const decode = (fn: typeof orig) => fn(new Decoder(new Decoder(bytes).readVarIntBytes()), ctx);
      assert.deepStrictEqual(decode(fast), decode(orig));
      n++;
    }
  assert.equal(n, 12);
});

test('gzip: small batches synchronously, large ones as kafkajs, same bytes both ways', async () => {
  assert.equal(kafkajsGzipPatched, true);
  const req = createRequire(import.meta.url);
  const { lookupCodec } = req('kafkajs/src/protocol/message/compression/index.js') as {
    lookupCodec(t: number): {
      compress(e: { buffer: Buffer }): Promise<Buffer>;
      decompress(b: Buffer): Promise<Buffer>;
    };
  };
  const codec = lookupCodec(CompressionTypes.GZIP);
  for (const size of [0, 1000, SYNC_ZLIB_MAX_BYTES, SYNC_ZLIB_MAX_BYTES + 1, 3 * SYNC_ZLIB_MAX_BYTES]) {
    const input = Buffer.alloc(size);
    for (let i = 0; i < size; i++) input[i] = (i * 7919) % 251 < 60 ? (i * 31) % 256 : 65;
    const z = await codec.compress({ buffer: input });
    assert.ok(z.equals(gzipSync(input)), `compressed ${size}`);
    assert.ok((await codec.decompress(z)).equals(input), `round trip ${size}`);
  }
  // unzip, as kafkajs: zlib framing too.
  assert.equal((await codec.decompress(deflateSync(Buffer.from('abc')))).toString(), 'abc');
  await assert.rejects(codec.decompress(Buffer.from('not gzip')));
});
