/**
 * Kafka transport options without a broker: `bus.lingerMs` / `--kafka-linger-ms` reach the transport
 * (over the env var BOOKWIRE_KAFKA_LINGER_MS, which stays the fallback), and the kafkajs patch
 * (src/transport/kafkajs-patches.ts) is in effect and groups like the original.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { Command } from 'commander';
import { busTransport } from '../../src/cli/commands.js';
import { addBusOptions, overridesFrom } from '../../src/cli/options.js';
import { validateConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import type { LazyTransport } from '../../src/transport/lazy.js';
import { DEFAULT_LINGER_MS, KafkaTransport, kafkajsPatched } from '../../src/transport/kafka.js';

async function lingerOf(input: unknown, flags: string[] = []): Promise<number> {
  const cmd = addBusOptions(new Command('x')).exitOverride();
  cmd.parse(flags, { from: 'user' });
  const cfg = validateConfig(input, overridesFrom(cmd.opts()));
  // the Kafka transport is built when first used
  const t = (await (busTransport(cfg, silentLogger) as LazyTransport).transport()) as KafkaTransport;
  return t.lingerMs;
}

test('bus.lingerMs and --kafka-linger-ms set the producer linger; the env var is the fallback', async (t) => {
  const env = process.env.BOOKWIRE_KAFKA_LINGER_MS;
  t.after(() => {
    if (env === undefined) delete process.env.BOOKWIRE_KAFKA_LINGER_MS;
    else process.env.BOOKWIRE_KAFKA_LINGER_MS = env;
  });
  delete process.env.BOOKWIRE_KAFKA_LINGER_MS;
  const bus = { kind: 'kafka', brokers: ['127.0.0.1:9092'] };
  assert.equal(await lingerOf({ bus }), DEFAULT_LINGER_MS);
  assert.equal(await lingerOf({ bus: { ...bus, lingerMs: 5 } }), 5);
  assert.equal(await lingerOf({ bus: { ...bus, lingerMs: 5 } }, ['--kafka-linger-ms', '0']), 0);
  process.env.BOOKWIRE_KAFKA_LINGER_MS = '7';
  assert.equal(await lingerOf({ bus }), 7);
  assert.equal(await lingerOf({ bus: { ...bus, lingerMs: 3 } }), 3);
  await assert.rejects(
    () => lingerOf({ bus: { ...bus, lingerMs: -1 } }),
    /bus\.lingerMs: expected an integer from 0 to 10000/,
  );
  await assert.rejects(() => lingerOf({ bus }, ['--kafka-linger-ms', 'soon']), /--kafka-linger-ms: expected a number/);
});

// The original copies the array per message: 50k records in one partition would take minutes (test timeout).
test(
  'kafkajs is patched: per-partition grouping is linear and keeps order and explicit partitions',
  { timeout: 60_000 },
  () => {
    assert.equal(kafkajsPatched, true);
    const group = createRequire(import.meta.url)('kafkajs/src/producer/groupMessagesPerPartition.js') as (o: {
      topic: string;
      partitionMetadata: unknown[];
      messages: { key: string; partition?: number }[];
      partitioner: (o: { message: { key: string } }) => number;
    }) => Record<number, { key: string }[]>;
    const messages = Array.from({ length: 50_000 }, (_, i) => ({
      key: `k${i}`,
      partition: i % 3 === 0 ? 5 : undefined,
    }));
    const out = group({
      topic: 't',
      partitionMetadata: [{}, {}],
      messages,
      partitioner: ({ message }) => Number(message.key.slice(1)) % 2,
    });
    assert.deepEqual(Object.keys(out).sort(), ['0', '1', '5']);
    assert.equal(out[5].length, Math.ceil(50_000 / 3));
    assert.equal(out[5][1].key, 'k3');
    assert.equal(out[0].length + out[1].length + out[5].length, 50_000);
    assert.ok(out[1].every((m, i, a) => i === 0 || Number(m.key.slice(1)) > Number(a[i - 1].key.slice(1))));
    assert.deepEqual(group({ topic: 't', partitionMetadata: [], messages, partitioner: () => 0 }), {});
  },
);
